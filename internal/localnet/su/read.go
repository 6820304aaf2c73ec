package su

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aocu/aocu/internal/arweave"
)

// JSON shapes of the Rust SU (servers/su/src/domain/core/json.rs).

type ownerJSON struct {
	Address string `json:"address"`
	Key     string `json:"key"`
}

type messageInner struct {
	ID        string        `json:"id"`
	Owner     ownerJSON     `json:"owner"`
	Data      *string       `json:"data"`
	Tags      []arweave.Tag `json:"tags"`
	Signature string        `json:"signature"`
	Anchor    *string       `json:"anchor"`
	Target    *string       `json:"target"`
}

type assignmentInner struct {
	ID        string        `json:"id"`
	Owner     ownerJSON     `json:"owner"`
	Tags      []arweave.Tag `json:"tags"`
	Signature string        `json:"signature"`
	Anchor    *string       `json:"anchor"`
	Target    *string       `json:"target"`
}

type messageJSON struct {
	Message    *messageInner   `json:"message"`
	Assignment assignmentInner `json:"assignment"`
}

type processJSON struct {
	ProcessID string        `json:"process_id"`
	Block     string        `json:"block"`
	Owner     ownerJSON     `json:"owner"`
	Tags      []arweave.Tag `json:"tags"`
	Timestamp int64         `json:"timestamp"`
	Data      *string       `json:"data"`
	Anchor    *string       `json:"anchor"`
	Signature *string       `json:"signature"`
	Target    *string       `json:"target"`
}

type edgeJSON struct {
	Node   messageJSON `json:"node"`
	Cursor string      `json:"cursor"`
}

type pageJSON struct {
	PageInfo struct {
		HasNextPage bool `json:"has_next_page"`
	} `json:"page_info"`
	Edges []edgeJSON `json:"edges"`
}

func strp(s string) *string { return &s }

func owner(d *arweave.DataItem) ownerJSON {
	return ownerJSON{Address: sha256b64(d.Owner), Key: arweave.B64Encode(d.Owner)}
}

// anchorOf is an item's anchor as the Rust SU writes it (DataItem::anchor):
// the anchor as a string if it is UTF-8, else none; empty is none.
func anchorOf(d *arweave.DataItem) *string {
	if len(d.Anchor) == 0 || !utf8.Valid(d.Anchor) {
		return nil
	}
	return strp(string(d.Anchor))
}

// anchorB64Of is DataItem::anchor_b64, the assignment's anchor with
// show-anchor: the anchor as a string if it is UTF-8, else base64url.
func anchorB64Of(d *arweave.DataItem) *string {
	if len(d.Anchor) == 0 {
		return nil
	}
	if !utf8.Valid(d.Anchor) {
		return strp(arweave.B64Encode(d.Anchor))
	}
	return strp(string(d.Anchor))
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal prefix of a
// valid UTF-8 sequence that does not complete (or a byte that starts none)
// becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[:size])
			b = b[size:]
			continue
		}
		sb.WriteString("\uFFFD")
		b = b[invalidPrefixLen(b):]
	}
	return sb.String()
}

// invalidPrefixLen is how many bytes at the start of b (which does not start
// with a valid UTF-8 sequence) Rust's UTF-8 decoder drops as one error: the
// lead byte and the continuation bytes that could still have been part of a
// valid sequence (Unicode's "maximal subpart").
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var width int
	lo, hi := byte(0x80), byte(0xBF) // the range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		width = 2
	case c == 0xE0:
		width, lo = 3, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		width = 3
	case c == 0xED:
		width, hi = 3, 0x9F
	case c == 0xF0:
		width, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		width = 4
	case c == 0xF4:
		width, hi = 4, 0x8F
	default:
		return 1
	}
	n := 1
	for i := 1; i < width && i < len(b); i++ {
		if i == 1 && (b[i] < lo || b[i] > hi) || i > 1 && (b[i] < 0x80 || b[i] > 0xBF) {
			break
		}
		n++
	}
	return n
}

func tagsOf(d *arweave.DataItem) []arweave.Tag {
	if d.Tags == nil {
		return []arweave.Tag{}
	}
	return d.Tags
}

// toMessageJSON is a stored assignment as the Rust SU's Message JSON
// (json.rs Message::from_bundle, and Message::from_process for a process's
// own row): a message's data is its bytes as a lossy UTF-8 string (never
// null) and its target a string ("" if none); the process's data is null
// unless it is UTF-8 and its target null if none. Anchors are strings if
// UTF-8 and null otherwise; show-anchor writes the assignment's other
// anchors in base64url.
func toMessageJSON(r *row, showAnchor bool) (messageJSON, error) {
	a, err := arweave.ParseDataItem(r.Assignment)
	if err != nil {
		return messageJSON{}, fmt.Errorf("su: stored assignment %s: %w", r.AssignmentID, err)
	}
	out := messageJSON{Assignment: assignmentInner{
		ID: a.ID(), Owner: owner(a), Tags: tagsOf(a), Signature: arweave.B64Encode(a.Signature),
		Anchor: anchorOf(a), Target: strp(""),
	}}
	if showAnchor {
		out.Assignment.Anchor = anchorB64Of(a)
	}
	if len(a.Target) > 0 {
		out.Assignment.Target = strp(arweave.B64Encode(a.Target))
	}
	if r.Message != nil {
		m, err := arweave.ParseDataItem(r.Message)
		if err != nil {
			return messageJSON{}, fmt.Errorf("su: stored message %s: %w", r.MessageID, err)
		}
		mi := &messageInner{ID: m.ID(), Owner: owner(m), Tags: tagsOf(m),
			Signature: arweave.B64Encode(m.Signature), Anchor: anchorOf(m)}
		if r.MessageID == r.ProcessID {
			// The process as its own first message: its Process JSON.
			if utf8.Valid(m.Data) {
				mi.Data = strp(string(m.Data))
			}
			if len(m.Target) > 0 {
				mi.Target = strp(arweave.B64Encode(m.Target))
			}
		} else {
			mi.Data = strp(lossyUTF8(m.Data))
			mi.Target = strp(arweave.B64Encode(m.Target))
		}
		out.Message = mi
	}
	return out, nil
}

// handleHealth is GET /: the Rust SU's {timestamp, address} with the spec
// draft's Unit, Address, Timestamp and Processes (every process this SU
// schedules). With ?process-id= it is a client's redirect check (as
// ao-scheduler-utils' locate makes for each process it locates), answered
// without the list, whose cost grows with the processes.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	out := map[string]any{"Unit": "Scheduler", "Address": s.addr, "Timestamp": ts, "timestamp": ts, "address": s.addr}
	if !r.URL.Query().Has("process-id") {
		procs, err := s.store.processIDs(r.Context())
		if err != nil {
			writeErr(w, err.Error())
			return
		}
		out["Processes"] = procs
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTimestamp(w http.ResponseWriter, r *http.Request) {
	h, err := s.gw.height(r.Context())
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"timestamp":    strconv.FormatInt(s.now().UnixMilli(), 10),
		"block_height": fmt.Sprintf("%012d", h),
	})
}

func (s *Server) handleProcess(w http.ResponseWriter, r *http.Request, id string) {
	row, err := s.store.byNonce(r.Context(), id, 0)
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	if row == nil || row.MessageID != id {
		writeErr(w, errProcNotFound)
		return
	}
	p, err := arweave.ParseDataItem(row.Message)
	if err != nil {
		writeErr(w, fmt.Sprintf("su: stored process %s: %v", id, err))
		return
	}
	out := processJSON{ProcessID: id, Block: "", Owner: owner(p), Tags: tagsOf(p), Timestamp: row.Timestamp,
		Anchor: anchorOf(p), Signature: strp(arweave.B64Encode(p.Signature))}
	if a, err := arweave.ParseDataItem(row.Assignment); err == nil {
		out.Block, _ = a.TagValue("Block-Height")
	}
	if utf8.Valid(p.Data) {
		out.Data = strp(string(p.Data))
	}
	if len(p.Target) > 0 {
		out.Target = strp(arweave.B64Encode(p.Target))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleLatest(w http.ResponseWriter, r *http.Request, id string) {
	row, err := s.store.latest(r.Context(), id)
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	if row == nil {
		writeErr(w, errProcNotFound)
		return
	}
	m, err := toMessageJSON(row, r.URL.Query().Has("show-anchor"))
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// handleRead answers GET /{id}: a process's messages, or one message.
func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	q := r.URL.Query()
	showAnchor := q.Has("show-anchor")
	isProc, err := s.store.processExists(ctx, id)
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	if !isProc {
		row, err := s.store.message(ctx, id, q.Get("process-id"))
		if err != nil {
			writeErr(w, err.Error())
			return
		}
		if row == nil {
			writeErr(w, "Message or Process not found")
			return
		}
		m, err := toMessageJSON(row, showAnchor)
		if err != nil {
			writeErr(w, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	page, err := s.page(r, id, showAnchor)
	if err != nil {
		writeErr(w, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func parseOptInt(q map[string][]string, name string) (*int64, error) {
	v, ok := q[name]
	if !ok || len(v) == 0 || v[0] == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil {
		return nil, bad(fmt.Sprintf("invalid %s %q: not an integer", name, v[0]))
	}
	return &n, nil
}

// page follows the Rust SU's local store get_messages
// (servers/su/src/domain/clients/local_store/store.rs, ao@ff178d5).
//
// Timestamp mode (the default): from is exclusive, to inclusive, the cursor
// is the assignment timestamp, and the process (nonce 0) leads the first
// page (no from).
//
// Nonce mode (from-nonce or to-nonce given; from and to are then ignored):
// from-nonce is exclusive, to-nonce inclusive, the cursor is the nonce, and
// the process leads the page when from-nonce is absent or -1. For the
// limit=1 edge case the Rust SU compares the timestamp parameter "to"
// against the process nonce (a slip); this SU compares to-nonce.
func (s *Server) page(r *http.Request, pid string, showAnchor bool) (*pageJSON, error) {
	ctx := r.Context()
	q := r.URL.Query()
	fromName, toName := "from", "to"
	byNonce := q.Get("from-nonce") != "" || q.Get("to-nonce") != ""
	if byNonce {
		fromName, toName = "from-nonce", "to-nonce"
	}
	from, err := parseOptInt(q, fromName)
	if err != nil {
		return nil, err
	}
	to, err := parseOptInt(q, toName)
	if err != nil {
		return nil, err
	}
	limit := int64(100)
	if l, err := parseOptInt(q, "limit"); err != nil {
		return nil, err
	} else if l != nil {
		// The Rust SU reads limit as an i32 and converts it to usize, so a
		// negative limit means "everything" there and 0 underflows; both
		// are client mistakes here.
		if *l < 1 || *l > math.MaxInt32 {
			return nil, bad(fmt.Sprintf("invalid limit %d: must be between 1 and %d", *l, math.MaxInt32))
		}
		limit = *l
	}
	if byNonce && from != nil && *from < -1 {
		return nil, bad(fmt.Sprintf("invalid from-nonce %d: must be -1 or more", *from))
	}
	cursor := func(r *row) int64 {
		if byNonce {
			return r.Nonce
		}
		return r.Timestamp
	}
	out := &pageJSON{Edges: []edgeJSON{}}
	add := func(row *row) error {
		m, err := toMessageJSON(row, showAnchor)
		if err != nil {
			return err
		}
		out.Edges = append(out.Edges, edgeJSON{Node: m, Cursor: strconv.FormatInt(cursor(row), 10)})
		return nil
	}
	includeProc := from == nil || (byNonce && *from == -1)
	if byNonce && from != nil && *from == -1 {
		from = nil
	}
	left := limit
	if includeProc {
		proc, err := s.store.byNonce(ctx, pid, 0)
		if err != nil {
			return nil, err
		}
		if proc != nil {
			if err := add(proc); err != nil {
				return nil, err
			}
			left--
			if left == 0 {
				// The Rust SU's edge case for limit 1 on the first page.
				out.PageInfo.HasNextPage = to != nil && *to > cursor(proc)
				if to == nil || *to >= cursor(proc) {
					return out, nil
				}
			}
		}
	}
	if left <= 0 {
		return out, nil
	}
	rows, err := s.store.messageRange(ctx, pid, byNonce, from, to, int(left))
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if err := add(row); err != nil {
			return nil, err
		}
	}
	out.PageInfo.HasNextPage = int64(len(rows)) == left
	return out, nil
}
