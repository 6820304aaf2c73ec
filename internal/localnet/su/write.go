package su

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aocu/aocu/internal/arweave"
)

// Error messages of the Rust SU (servers/su/src/domain/core/flows.rs and the
// Debug form of its store errors).
const (
	errTypeMissing    = "Type tag not present"
	errTypeValue      = "Unsupported Type tag value"
	errProtoMissing   = "Data-Protocol tag not present"
	errProcessTags    = "Required Module and Scheduler tags for Process type not present"
	errNotThisSU      = "Process does not belong on this SU"
	errOnBoot         = "Invalid tx id for On-Boot tag"
	errBoth           = "If sending assign or process-id, you must send both."
	errProcNotFound   = `NotFound("Process not found")`
	errMessageExists  = `MessageExists("Message already exists")`
	errDeepHashExists = `MessageExists("Deep hash already exists")`
	errAssignLen      = `error in builder: BuilderError("assign param must be 43 characters")`
	errAssignTx       = "Invalid gateway tx for assignming"
	errPayloadTooBig  = "A payload reached size limit."
	errSelfAssign     = "A process cannot be assigned to itself"
	errTagEncoding    = "Byte error: InvalidTagEncoding"
)

// builderErr formats a parse/verify failure as the Rust SU does.
func builderErr(msg string) string {
	return fmt.Sprintf("error in builder: BuilderError(%q)", "Byte error in builder: ByteError("+strconv.Quote(msg)+")")
}

func tagValue(tags []arweave.Tag, names ...string) (string, bool) {
	for _, t := range tags {
		for _, n := range names {
			if t.Name == n {
				return t.Value, true
			}
		}
	}
	return "", false
}

// hashChain is the Rust SU's gen_hash_chain: base64url(SHA-256(prevID ||
// prev)), or SHA-256(seed) when there is no previous assignment.
func hashChain(prevOrSeed, prevAssignmentID string) (string, error) {
	prev, err := arweave.B64Decode(prevOrSeed)
	if err != nil || len(prev) != 32 {
		return "", fmt.Errorf("su: hash chain: bad previous value %q", prevOrSeed)
	}
	h := sha256.New()
	if prevAssignmentID != "" {
		id, err := arweave.B64Decode(prevAssignmentID)
		if err != nil || len(id) != 32 {
			return "", fmt.Errorf("su: hash chain: bad assignment id %q", prevAssignmentID)
		}
		h.Write(id)
	}
	h.Write(prev)
	return arweave.B64Encode(h.Sum(nil)), nil
}

// pushedDeepHashes are the Rust SU's dedup hashes of a message: the deep hash
// of ["dataitem","1","1", "", target, anchor, tags without Pushed-For, data],
// with the tags sorted by name then value, and in their original order.
func pushedDeepHashes(target, anchor []byte, tags []arweave.Tag, data []byte) (ordered, unordered string) {
	var filtered []arweave.Tag
	for _, t := range tags {
		if t.Name != "Pushed-For" {
			filtered = append(filtered, t)
		}
	}
	dh := func(ts []arweave.Tag) string {
		var enc []byte
		if len(ts) > 0 {
			enc = arweave.EncodeTags(ts)
		}
		h := arweave.DeepHash([]any{[]byte("dataitem"), []byte("1"), []byte("1"), []byte{}, target, anchor, enc, data})
		return arweave.B64Encode(h[:])
	}
	unordered = dh(filtered)
	sorted := append([]arweave.Tag(nil), filtered...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Value < sorted[j].Value
	})
	return dh(sorted), unordered
}

// errBad is a client error answered with 400 {"error": msg}.
type errBad struct{ msg string }

func (e *errBad) Error() string { return e.msg }

func bad(msg string) error { return &errBad{msg} }

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, errPayloadTooBig)
			return
		}
		writeErr(w, fmt.Sprintf("read body: %v", err))
		return
	}
	q := r.URL.Query()
	pid, assign := q.Get("process-id"), q.Get("assign")
	var id string
	var ts int64
	switch {
	case q.Has("process-id") != q.Has("assign"):
		err = bad(errBoth)
	case q.Has("assign"):
		var excl []string
		if e := q.Get("exclude"); e != "" {
			excl = strings.Split(e, ",")
		}
		id, ts, err = s.assignExisting(r.Context(), pid, assign, excl)
	default:
		id, ts, err = s.writeItem(r.Context(), body)
	}
	if err != nil {
		var b *errBad
		if errors.As(err, &b) {
			writeErr(w, b.msg)
			return
		}
		s.log.Error("su: write item", "err", err)
		writeErr(w, err.Error())
		return
	}
	// Committed: the answer waits for the upload loop to post the item and
	// its assignment to the gateway (in queue order, one poster for every
	// writer), unless it fails; then the loop retries in the background.
	if uerr := s.waitUploaded(r.Context(), s.commits.queuedSeq.Load()); uerr != nil {
		s.log.Warn("su: upload to gateway (will retry)", "err", uerr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"timestamp": ts, "id": id})
}

// writeItem schedules a Process or Message item.
func (s *Server) writeItem(ctx context.Context, body []byte) (string, int64, error) {
	item, err := arweave.ParseDataItem(body)
	if err == nil {
		err = item.Verify()
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, arweave.ErrInvalidSignature) {
			msg = "Signature verification failed"
		}
		return "", 0, bad(builderErr(msg))
	}
	// The Rust SU decodes tags as Avro strings, which must be UTF-8; its
	// JSON could not hold other bytes either.
	for _, t := range item.Tags {
		if !utf8.ValidString(t.Name) || !utf8.ValidString(t.Value) {
			return "", 0, bad(builderErr(errTagEncoding))
		}
	}
	typ, ok := tagValue(item.Tags, "Type", "type")
	if !ok {
		return "", 0, bad(errTypeMissing)
	}
	if typ != "Process" && typ != "Message" {
		return "", 0, bad(errTypeValue)
	}
	if _, ok := tagValue(item.Tags, "Data-Protocol", "data-protocol"); !ok {
		return "", 0, bad(errProtoMissing)
	}
	for _, t := range item.Tags {
		if strings.HasSuffix(t.Name, "+link") || strings.HasSuffix(t.Value, "+link") {
			return "", 0, bad(fmt.Sprintf("Tag %s cannot contain +link", t.Name))
		}
	}
	id := item.ID()
	if typ == "Process" {
		_, hasMod := tagValue(item.Tags, "Module")
		sched, hasSched := tagValue(item.Tags, "Scheduler")
		if !hasMod || !hasSched {
			return "", 0, bad(errProcessTags)
		}
		if sched != s.addr {
			return "", 0, bad(errNotThisSU)
		}
		if boot, ok := tagValue(item.Tags, "On-Boot"); ok && boot != "Data" {
			found, err := s.gw.exists(ctx, boot)
			if err != nil {
				return "", 0, fmt.Errorf("su: check On-Boot tx %s: %w", boot, err)
			}
			if !found {
				return "", 0, bad(errOnBoot)
			}
		}
		ts, err := s.schedule(ctx, id, id, body, true, nil, nil)
		return id, ts, err
	}
	target := arweave.B64Encode(item.Target)
	if len(item.Target) == 0 {
		return "", 0, bad(errProcNotFound)
	}
	var hashes []string
	if _, pushed := tagValue(item.Tags, "From-Process"); pushed {
		o, u := pushedDeepHashes(item.Target, item.Anchor, item.Tags, item.Data)
		hashes = []string{o, u}
	}
	ts, err := s.schedule(ctx, target, id, body, false, hashes, nil)
	return id, ts, err
}

// assignExisting assigns a tx the gateway holds to a process.
func (s *Server) assignExisting(ctx context.Context, pid, txID string, exclude []string) (string, int64, error) {
	if len(txID) != 43 {
		return "", 0, bad(errAssignLen)
	}
	// A process is its own first message (nonce 0); assigning it again, or
	// a message the process holds already, would schedule it twice. The
	// Rust SU checks neither.
	if exists, err := s.store.processExists(ctx, pid); err != nil {
		return "", 0, err
	} else if !exists {
		return "", 0, bad(errProcNotFound)
	}
	if txID == pid {
		return "", 0, bad(errSelfAssign)
	}
	if held, err := s.store.messageExists(ctx, pid, txID); err != nil {
		return "", 0, err
	} else if held {
		return "", 0, bad(errMessageExists)
	}
	tx, err := s.gw.tx(ctx, txID)
	if err != nil {
		return "", 0, fmt.Errorf("su: look up %s on the gateway: %w", txID, err)
	}
	if tx == nil {
		return "", 0, bad(errAssignTx)
	}
	data, err := s.gw.raw(ctx, txID)
	if err != nil {
		return "", 0, fmt.Errorf("su: data of %s: %w", txID, err)
	}
	target, _ := arweave.B64Decode(tx.Recipient)
	anchor, aerr := arweave.B64Decode(tx.Anchor)
	if aerr != nil {
		anchor = []byte(tx.Anchor)
	}
	o, u := pushedDeepHashes(target, anchor, tx.Tags, data)
	var assignID string
	ts, err := s.scheduleAssign(ctx, pid, txID, []string{o, u}, exclude, &assignID)
	return assignID, ts, err
}

func (s *Server) scheduleAssign(ctx context.Context, pid, txID string, hashes, exclude []string, assignID *string) (int64, error) {
	return s.schedule(ctx, pid, txID, nil, false, hashes, &assignOpts{exclude: exclude, id: assignID})
}

type assignOpts struct {
	exclude []string
	id      *string // receives the assignment id
}

// schedule takes the process lock, checks for duplicates, builds and signs
// the next assignment, queues it for the committer, releases the lock and
// waits until the assignment is on disk (commit.go). msg is nil for an
// assignment of an existing tx. It returns the assignment timestamp.
func (s *Server) schedule(ctx context.Context, pid, msgID string, msg []byte, isProcess bool, hashes []string, ao *assignOpts) (int64, error) {
	// The block height does not depend on the order: read outside the lock
	// (and kept from going down within a process below).
	height, err := s.gw.height(ctx)
	if err != nil {
		return 0, fmt.Errorf("su: block height: %w", err)
	}
	c, err := s.sign(ctx, pid, msgID, msg, isProcess, hashes, ao, height)
	if err != nil {
		return 0, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// The assignment still commits (later ones may be built on it);
		// only this answer is lost, as when a client leaves after a commit.
		return 0, fmt.Errorf("su: wait for the commit of %s: %w", msgID, ctx.Err())
	}
	if c.err != nil {
		return 0, c.err
	}
	if ao != nil && ao.id != nil {
		*ao.id = c.row.AssignmentID
	}
	return c.row.Timestamp, nil
}

// sign runs under the process lock: the checks, the next slot, the
// signature; it queues the signed assignment for the committer.
func (s *Server) sign(ctx context.Context, pid, msgID string, msg []byte, isProcess bool, hashes []string, ao *assignOpts, height int64) (*commitReq, error) {
	unlock, err := s.locks.lock(ctx, pid)
	if err != nil {
		return nil, err
	}
	defer unlock()

	tail, err := s.tail(ctx, pid)
	if err != nil {
		return nil, err
	}
	var keys []string
	if isProcess {
		if tail != nil {
			return nil, bad(errMessageExists)
		}
	} else {
		if tail == nil {
			return nil, bad(errProcNotFound)
		}
		if msg != nil {
			key := pendingKey(pid, "msg", msgID)
			dup := s.pending.has(key) // before the database: see pendingSet
			if !dup {
				if dup, err = s.store.messageExists(ctx, pid, msgID); err != nil {
					return nil, err
				}
			}
			if dup {
				return nil, bad(errMessageExists)
			}
			keys = append(keys, key)
		}
		if len(hashes) > 0 {
			dup := false
			for _, h := range hashes {
				dup = dup || s.pending.has(pendingKey(pid, "hash", h))
			}
			if !dup {
				if dup, err = s.store.deepHashExists(ctx, pid, hashes...); err != nil {
					return nil, err
				}
			}
			if dup {
				return nil, bad(errDeepHashExists)
			}
			keys = append(keys, pendingKey(pid, "hash", hashes[0]))
		}
	}

	// Next nonce, hash chain and timestamp.
	var nonce, epoch int64
	var chain string
	ts := s.now().UnixMilli()
	if tail == nil {
		chain, err = hashChain(pid, "")
	} else {
		nonce, epoch = tail.nonce+1, tail.epoch
		chain, err = hashChain(tail.chain, tail.assignmentID)
		if ts <= tail.ts {
			ts = tail.ts + 1
		}
		height = max(height, tail.height)
	}
	if err != nil {
		return nil, err
	}

	tags := []arweave.Tag{
		{Name: "Process", Value: pid},
		{Name: "Epoch", Value: strconv.FormatInt(epoch, 10)},
		{Name: "Nonce", Value: strconv.FormatInt(nonce, 10)},
		{Name: "Hash-Chain", Value: chain},
		{Name: "Block-Height", Value: fmt.Sprintf("%012d", height)},
		{Name: "Timestamp", Value: strconv.FormatInt(ts, 10)},
		{Name: "Data-Protocol", Value: "ao"},
		{Name: "Type", Value: "Assignment"},
		{Name: "Variant", Value: "ao.TN.1"},
	}
	if !isProcess {
		tags = append(tags, arweave.Tag{Name: "Message", Value: msgID})
	}
	if ao != nil {
		for _, e := range ao.exclude {
			tags = append(tags, arweave.Tag{Name: "Exclude", Value: e})
		}
	}
	a, err := arweave.NewDataItem(nil, "", "", tags)
	if err != nil {
		return nil, fmt.Errorf("su: build assignment: %w", err)
	}
	if err := a.Sign(s.wallet); err != nil {
		return nil, fmt.Errorf("su: sign assignment: %w", err)
	}
	araw, err := a.Bytes()
	if err != nil {
		return nil, fmt.Errorf("su: encode assignment: %w", err)
	}
	c := &commitReq{
		row: &row{ProcessID: pid, Nonce: nonce, Epoch: epoch, Timestamp: ts, HashChain: chain,
			AssignmentID: a.ID(), MessageID: msgID, Assignment: araw, Message: msg},
		isProcess: isProcess,
		uploads:   [][]byte{araw},
		keys:      keys,
		done:      make(chan struct{}),
	}
	if msg != nil {
		c.uploads = [][]byte{msg, araw}
	}
	if len(hashes) > 0 {
		c.deepHash = hashes[0]
	}
	if tail != nil {
		// Resolved or not: the committer checks it (it may have failed
		// since tail() looked).
		c.prev = tail.last
	}
	s.pending.add(keys)
	if err := s.commits.enqueue(c); err != nil {
		s.pending.drop(keys)
		return nil, err
	}
	next := &procTail{nonce: nonce, epoch: epoch, ts: ts, height: height, chain: chain, assignmentID: a.ID(), last: c}
	s.tails.set(pid, next)
	return c, nil
}
