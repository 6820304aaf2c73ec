package engine

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/jsjson"
)

// wasmMessage is a message on its way to the module, in the reference's
// terms: the fields of its messageSchema (nil or unset: undefined, left out
// of the JSON) and the stream metadata around it.
type wasmMessage struct {
	ID        *string
	Signature json.RawMessage
	Data      json.RawMessage
	Owner     string
	Target    *string
	Anchor    json.RawMessage
	From      string
	Forwarded *string
	Tags      []ao.Tag
	Epoch     *int64
	Nonce     *int64
	Timestamp int64
	Block     int64
	HashChain *string
	Cron      bool
	ReadOnly  bool

	// Stream metadata.
	name         string
	ordinate     string
	cronID       string
	noSave       bool
	isAssignment bool
	assignmentID string
	exclude      []string
	deepHash     string
}

// toAO is the message as the module receives it (messageSchema.parse: From
// and Owner tags removed by removeInvalidTags).
func (m *wasmMessage) toAO() *ao.Message {
	optStr := func(s *string) ao.JSValue {
		if s == nil {
			return nil
		}
		return rawString(*s)
	}
	optNum := func(n *int64) ao.JSValue {
		if n == nil {
			return nil
		}
		return jsjson.AppendNumber(nil, float64(*n))
	}
	return &ao.Message{
		ID: optStr(m.ID), Signature: m.Signature, Data: m.Data, Owner: m.Owner, Target: optStr(m.Target),
		Anchor: m.Anchor, From: m.From, ForwardedBy: optStr(m.Forwarded), Tags: removeInvalidTags(m.Tags),
		Epoch: optNum(m.Epoch), Nonce: optNum(m.Nonce), Timestamp: float64(m.Timestamp), BlockHeight: float64(m.Block),
		HashChain: optStr(m.HashChain), Cron: m.Cron, ReadOnly: m.ReadOnly,
	}
}

func removeInvalidTags(tags []ao.Tag) []ao.Tag {
	for _, t := range tags {
		if t.Name == "From" || t.Name == "Owner" {
			out := make([]ao.Tag, 0, len(tags))
			for _, t := range tags {
				if t.Name != "From" && t.Name != "Owner" {
					out = append(out, t)
				}
			}
			return out
		}
	}
	return tags
}

// newEnv is the AoGlobal passed with every message of a process.
func newEnv(p *ao.Process, processOwner string, m *ao.Module, moduleOwner string) *ao.Env {
	return &ao.Env{
		Process: ao.EnvEntity{ID: p.ID, Owner: processOwner, Tags: p.Tags},
		Module:  ao.EnvEntity{ID: m.ID, Owner: moduleOwner, Tags: m.Tags},
	}
}

// addressFrom is the reference's owner mapping: a 512-byte key is an Arweave
// owner (the given address), a 65-byte key an Ethereum one (EIP-55 address).
func addressFrom(o ao.Owner) string {
	key, err := arweave.B64Decode(o.Key)
	if err == nil && len(key) == 65 {
		if a, err := arweave.EthereumAddress(key); err == nil {
			return a
		}
	}
	return o.Address
}

// mapFrom: the From-Process tag if present and non-empty, else the owner.
func mapFrom(tags []ao.Tag, owner string) string {
	if v, ok := ao.TagValue(tags, "From-Process"); ok && v != "" {
		return v
	}
	return owner
}

// mapForwardedBy: the owner (the MU) when a From-Process tag exists.
func mapForwardedBy(tags []ao.Tag, owner string) *string {
	if _, ok := ao.TagValue(tags, "From-Process"); ok {
		return &owner
	}
	return nil
}

func str(s string) *string { return &s }

func i64(n int64) *int64 { return &n }

// parseIntJS is JavaScript's parseInt(s, 10) for the values it can meet here
// (leading digits, optional sign); ok is false for NaN.
func parseIntJS(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	start := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == start {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	return n, err == nil
}

// fromEdge maps an SU edge as the reference's mapNode does. Assignments of
// existing items are completed later by hydration.
func fromEdge(e *ao.SUEdge) (*wasmMessage, error) {
	at := e.Assignment.Tags
	get := func(name string) (string, bool) { return ao.TagValue(at, name) }
	num := func(name string) (int64, error) {
		v, _ := get(name)
		n, ok := parseIntJS(v)
		if !ok {
			return 0, fmt.Errorf("assignment %s: tag %s is %q, not a number", e.Assignment.ID, name, v)
		}
		return n, nil
	}
	m := &wasmMessage{assignmentID: e.Assignment.ID}
	var err error
	var epoch, nonce int64
	if epoch, err = num("Epoch"); err != nil {
		return nil, err
	}
	if nonce, err = num("Nonce"); err != nil {
		return nil, err
	}
	if m.Timestamp, err = num("Timestamp"); err != nil {
		return nil, err
	}
	if m.Block, err = num("Block-Height"); err != nil {
		return nil, err
	}
	m.Epoch, m.Nonce = i64(epoch), i64(nonce)
	if hc, ok := get("Hash-Chain"); ok {
		m.HashChain = str(hc)
	}
	for _, t := range at {
		if t.Name == "Exclude" {
			m.exclude = append(m.exclude, t.Value)
		}
	}
	m.ordinate = strconv.FormatInt(nonce, 10)
	if e.Message == nil {
		id, ok := get("Message")
		if !ok || id == "" {
			return nil, fmt.Errorf("assignment %s has neither a message nor a Message tag", e.Assignment.ID)
		}
		m.isAssignment = true
		m.ID = str(id)
		m.name = fmt.Sprintf("Assigned Message %s %d:%d", id, m.Timestamp, nonce)
		return m, nil
	}
	msg := e.Message
	proc, ok := get("Process")
	if !ok {
		return nil, fmt.Errorf("assignment %s has no Process tag", e.Assignment.ID)
	}
	owner := addressFrom(msg.Owner)
	m.ID = str(msg.ID)
	// The reference parses the SU's JSON and stringifies it again for the
	// module: the module sees JSON.stringify's bytes, not the SU's escapes.
	m.Signature, m.Data, m.Anchor = restringify(msg.Signature), restringify(msg.Data), restringify(msg.Anchor)
	m.Owner = owner
	m.Target = str(proc)
	m.From = mapFrom(msg.Tags, owner)
	m.Forwarded = mapForwardedBy(msg.Tags, owner)
	m.Tags = msg.Tags
	if m.Tags == nil {
		m.Tags = []ao.Tag{}
	}
	m.name = fmt.Sprintf("Scheduled Message %s %d:%d", msg.ID, m.Timestamp, nonce)
	return m, nil
}

// restringify is JSON.stringify(JSON.parse(v)) (nil stays undefined).
func restringify(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	if n, err := jsjson.Normalize(v); err == nil {
		return n
	}
	return v // the SU client decoded it, so it is valid JSON
}

// rawString is JSON.stringify of a string.
func rawString(s string) json.RawMessage { return jsjson.AppendString(nil, s) }

// hydrate completes an assignment with the assigned item's metadata and data
// (unless excluded), as the reference's loadFromChain does.
func hydrate(m *wasmMessage, meta *ao.TxMeta, data []byte) {
	owner := addressFrom(meta.Owner)
	m.ID = str(meta.ID)
	m.Signature = nil
	if meta.Signature != nil {
		m.Signature = rawString(*meta.Signature)
	}
	m.Owner = owner
	m.From = mapFrom(meta.Tags, owner)
	m.Target = str(meta.Recipient)
	m.Tags = meta.Tags
	if m.Tags == nil {
		m.Tags = []ao.Tag{}
	}
	m.Anchor = nil
	if meta.Anchor != nil {
		m.Anchor = rawString(*meta.Anchor)
	}
	m.Data = nil
	if data != nil {
		m.Data = rawString(jsjson.DecodeUTF8(data))
	}
}

// excludes reports whether an assignment excludes a part (Data, Tags,
// Signature, Anchor).
func (m *wasmMessage) excludes(part string) bool {
	for _, e := range m.exclude {
		if e == part {
			return true
		}
	}
	return false
}

// forwardedDeepHash is the reference's id for a pushed message: the std
// base64 of what warp-arbundles' createData(data, {publicKey: empty,
// ownerLength: 0, signatureLength: 512, signatureType: 1}, {tags, target,
// anchor}).getSignatureData() returns. createData lays the item out with an
// empty owner, but DataItem's getters read it back with the lengths of
// signature type 1 (a 512-byte owner), so the hashed fields are slices of the
// binary at those offsets; this reproduces that layout and those reads.
func forwardedDeepHash(m *wasmMessage) (string, error) {
	var data []byte
	if m.Data != nil && string(m.Data) != "null" {
		s, err := jsjson.Unquote(m.Data)
		if err != nil {
			return "", fmt.Errorf("deep hash of %s: Data is not a string", deref(m.ID))
		}
		data = []byte(s)
	}
	var target, anchor []byte
	if m.Target != nil && *m.Target != "" {
		t, err := arweave.B64Decode(*m.Target)
		if err != nil || len(t) != 32 {
			return "", fmt.Errorf("deep hash of %s: Target %q is not a 32-byte address", deref(m.ID), *m.Target)
		}
		target = t
	}
	if m.Anchor != nil && string(m.Anchor) != "null" {
		s, err := jsjson.Unquote(m.Anchor)
		if err != nil {
			return "", fmt.Errorf("deep hash of %s: Anchor is not a string", deref(m.ID))
		}
		if s != "" {
			if len(s) != 32 {
				return "", fmt.Errorf("deep hash of %s: Anchor is %d bytes, not 32", deref(m.ID), len(s))
			}
			anchor = []byte(s)
		}
	}
	var tags []byte
	if len(m.Tags) > 0 {
		at := make([]arweave.Tag, len(m.Tags))
		for i, t := range m.Tags {
			at[i] = arweave.Tag{Name: t.Name, Value: t.Value}
		}
		tags = arweave.EncodeTags(at)
	}
	// createData's layout with signatureLength 512 and ownerLength 0.
	const sigLen, cfgOwnerLen = 512, 512
	var b []byte
	b = append(b, 1, 0) // signature type 1, little endian
	b = append(b, make([]byte, sigLen)...)
	if target != nil {
		b = append(b, 1)
		b = append(b, target...)
	} else {
		b = append(b, 0)
	}
	if anchor != nil {
		b = append(b, 1)
		b = append(b, anchor...)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(m.Tags)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tags)))
	b = append(b, tags...)
	b = append(b, data...)
	// DataItem's getters, with type 1's lengths.
	sub := func(from, to int) []byte {
		from, to = min(max(from, 0), len(b)), min(max(to, 0), len(b))
		if from >= to {
			return []byte{}
		}
		return b[from:to]
	}
	at := func(i int) byte {
		if i < 0 || i >= len(b) {
			return 0
		}
		return b[i]
	}
	le := func(x []byte) uint64 { // byteArrayToLong over at most 8 bytes
		var v float64
		for i := len(x) - 1; i >= 0; i-- {
			v = v*256 + float64(x[i])
		}
		if v > 1<<53 {
			return 1 << 53
		}
		return uint64(v)
	}
	owner := sub(2+sigLen, 2+sigLen+cfgOwnerLen)
	targetStart := 2 + sigLen + cfgOwnerLen
	rawTarget := []byte{}
	if at(targetStart) == 1 {
		rawTarget = sub(targetStart+1, targetStart+33)
	}
	anchorStart := targetStart + 1
	if at(targetStart) == 1 {
		anchorStart += 32
	}
	rawAnchor := []byte{}
	if at(anchorStart) == 1 {
		rawAnchor = sub(anchorStart+1, anchorStart+33)
	}
	tagsStart := anchorStart + 1
	if at(anchorStart) == 1 {
		tagsStart += 32
	}
	n := le(sub(tagsStart+8, tagsStart+16))
	tagsEnd := tagsStart + 16 + int(min(n, uint64(len(b))))
	rawTags := sub(tagsStart+16, tagsEnd)
	rawData := sub(tagsEnd, len(b))
	h := arweave.DeepHash([]any{[]byte("dataitem"), []byte("1"), []byte("1"), owner, rawTarget, rawAnchor, rawTags, rawData})
	return base64.StdEncoding.EncodeToString(h[:]), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
