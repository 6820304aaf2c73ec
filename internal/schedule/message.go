// Package schedule turns what a Scheduler Unit sends into what a module
// receives, as the reference CU does (its domain/lib mapping steps): an SU
// edge into a message, an assignment hydrated from the gateway, the deep-hash
// key of a pushed message, the hash chain and the page invariants. It is
// pure: no I/O, no HTTP, no database.
package schedule

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/jsjson"
)

// Message is a message on its way to the module, in the reference's
// terms: the fields of its messageSchema (nil or unset: undefined, left out
// of the JSON) and the stream metadata around it.
type Message struct {
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
	// The assignment's Skip and Original-Assignment-Id tags (HyperBEAM's
	// dedup): only the feat/hb-unit branch's schema reads them (ToAOHyperBEAM).
	Skip                 *string
	OriginalAssignmentID *string

	// Stream metadata.
	Name         string
	Ordinate     string
	CronID       string
	NoSave       bool
	IsAssignment bool
	AssignmentID string
	Exclude      []string
	DeepHash     string
}

// toAO is the message as the module receives it (messageSchema.parse: From
// and Owner tags removed by removeInvalidTags).
func (m *Message) ToAO() *ao.Message {
	optStr := func(s *string) ao.JSValue {
		if s == nil {
			return nil
		}
		return JSString(*s)
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

// ToAOHyperBEAM is ToAO under the messageSchema of permaweb/ao's feat/hb-unit
// branch (UNIT_MODE=hbu): Skip, "false" unless the assignment says
// otherwise, and Original-Assignment-Id when given.
func (m *Message) ToAOHyperBEAM() *ao.Message {
	a := m.ToAO()
	skip := "false"
	if m.Skip != nil {
		skip = *m.Skip
	}
	a.Skip = JSString(skip)
	if m.OriginalAssignmentID != nil {
		a.OriginalAssignmentID = JSString(*m.OriginalAssignmentID)
	}
	return a
}

// HyperBEAMDryRun gives a dry-run message the feat/hb-unit branch's fields:
// Skip and Original-Assignment-Id from the body where they are strings
// (zod's z.string()), Skip "false" otherwise.
func HyperBEAMDryRun(a *ao.Message, skip, original json.RawMessage) {
	str := func(v json.RawMessage) (json.RawMessage, bool) {
		if len(v) == 0 {
			return nil, false
		}
		s, err := jsjson.Unquote(v)
		return JSString(s), err == nil
	}
	a.Skip = JSString("false")
	if v, ok := str(skip); ok {
		a.Skip = v
	}
	if v, ok := str(original); ok {
		a.OriginalAssignmentID = v
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

// NewEnv is the AoGlobal passed with every message of a process.
func NewEnv(p *ao.Process, processOwner string, m *ao.Module, moduleOwner string) *ao.Env {
	return &ao.Env{
		Process: ao.EnvEntity{ID: p.ID, Owner: processOwner, Tags: p.Tags},
		Module:  ao.EnvEntity{ID: m.ID, Owner: moduleOwner, Tags: m.Tags},
	}
}

// AddressFrom is the reference's owner mapping: a 512-byte key is an Arweave
// owner (the given address), a 65-byte key an Ethereum one (EIP-55 address).
func AddressFrom(o ao.Owner) string {
	key, err := arweave.B64Decode(o.Key)
	if err == nil && len(key) == 65 {
		if a, err := arweave.EthereumAddress(key); err == nil {
			return a
		}
	}
	return o.Address
}

// MapFrom: the From-Process tag if present and non-empty, else the owner.
func MapFrom(tags []ao.Tag, owner string) string {
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

// ParseIntJS is JavaScript's parseInt(s, 10) for the values it can meet here
// (leading digits, optional sign); ok is false for NaN.
func ParseIntJS(s string) (int64, bool) {
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

// FromEdge maps an SU edge as the reference's mapNode does. Assignments of
// existing items are completed later by hydration.
func FromEdge(e *ao.SUEdge) (*Message, error) {
	at := e.Assignment.Tags
	get := func(name string) (string, bool) { return ao.TagValue(at, name) }
	num := func(name string) (int64, error) {
		v, _ := get(name)
		n, ok := ParseIntJS(v)
		if !ok {
			return 0, fmt.Errorf("assignment %s: tag %s is %q, not a number", e.Assignment.ID, name, v)
		}
		return n, nil
	}
	m := &Message{AssignmentID: e.Assignment.ID}
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
	if v, ok := get("Skip"); ok {
		m.Skip = str(v)
	}
	if v, ok := get("Original-Assignment-Id"); ok {
		m.OriginalAssignmentID = str(v)
	}
	for _, t := range at {
		if t.Name == "Exclude" {
			m.Exclude = append(m.Exclude, t.Value)
		}
	}
	m.Ordinate = strconv.FormatInt(nonce, 10)
	if e.Message == nil {
		id, ok := get("Message")
		if !ok || id == "" {
			return nil, fmt.Errorf("assignment %s has neither a message nor a Message tag", e.Assignment.ID)
		}
		m.IsAssignment = true
		m.ID = str(id)
		m.Name = fmt.Sprintf("Assigned Message %s %d:%d", id, m.Timestamp, nonce)
		return m, nil
	}
	msg := e.Message
	proc, ok := get("Process")
	if !ok {
		return nil, fmt.Errorf("assignment %s has no Process tag", e.Assignment.ID)
	}
	owner := AddressFrom(msg.Owner)
	m.ID = str(msg.ID)
	// The reference parses the SU's JSON and stringifies it again for the
	// module: the module sees JSON.stringify's bytes, not the SU's escapes.
	m.Signature, m.Data, m.Anchor = Restringify(msg.Signature), Restringify(msg.Data), Restringify(msg.Anchor)
	m.Owner = owner
	m.Target = str(proc)
	m.From = MapFrom(msg.Tags, owner)
	m.Forwarded = mapForwardedBy(msg.Tags, owner)
	m.Tags = msg.Tags
	if m.Tags == nil {
		m.Tags = []ao.Tag{}
	}
	m.Name = fmt.Sprintf("Scheduled Message %s %d:%d", msg.ID, m.Timestamp, nonce)
	return m, nil
}

// Restringify is JSON.stringify(JSON.parse(v)) (nil stays undefined).
func Restringify(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	if n, err := jsjson.Normalize(v); err == nil {
		return n
	}
	return v // the SU client decoded it, so it is valid JSON
}

// JSString is JSON.stringify of a string.
func JSString(s string) json.RawMessage { return jsjson.AppendString(nil, s) }

// hydrate completes an assignment with the assigned item's metadata and data
// (unless excluded), as the reference's loadFromChain does.
func Hydrate(m *Message, meta *ao.TxMeta, data []byte) {
	owner := AddressFrom(meta.Owner)
	m.ID = str(meta.ID)
	m.Signature = nil
	if meta.Signature != nil {
		m.Signature = JSString(*meta.Signature)
	}
	m.Owner = owner
	m.From = MapFrom(meta.Tags, owner)
	m.Target = str(meta.Recipient)
	m.Tags = meta.Tags
	if m.Tags == nil {
		m.Tags = []ao.Tag{}
	}
	m.Anchor = nil
	if meta.Anchor != nil {
		m.Anchor = JSString(*meta.Anchor)
	}
	m.Data = nil
	if data != nil {
		m.Data = JSString(jsjson.DecodeUTF8(data))
	}
}

// excludes reports whether an assignment excludes a part (Data, Tags,
// Signature, Anchor).
func (m *Message) Excludes(part string) bool {
	for _, e := range m.Exclude {
		if e == part {
			return true
		}
	}
	return false
}

// PushedDeepHash is the reference's id for a pushed message: the std
// base64 of what warp-arbundles' createData(data, {publicKey: empty,
// ownerLength: 0, signatureLength: 512, signatureType: 1}, {tags, target,
// anchor}).getSignatureData() returns. createData lays the item out with an
// empty owner, but DataItem's getters read it back with the lengths of
// signature type 1 (a 512-byte owner), so the hashed fields are slices of the
// binary at those offsets; this reproduces that layout and those reads.
func PushedDeepHash(m *Message) (string, error) {
	var data []byte
	if m.Data != nil && string(m.Data) != "null" {
		s, err := jsjson.Unquote(m.Data)
		if err != nil {
			return "", fmt.Errorf("deep hash of %s: Data is not a string", Deref(m.ID))
		}
		data = []byte(s)
	}
	var target, anchor []byte
	if m.Target != nil && *m.Target != "" {
		t, err := arweave.B64Decode(*m.Target)
		if err != nil || len(t) != 32 {
			return "", fmt.Errorf("deep hash of %s: Target %q is not a 32-byte address", Deref(m.ID), *m.Target)
		}
		target = t
	}
	if m.Anchor != nil && string(m.Anchor) != "null" {
		s, err := jsjson.Unquote(m.Anchor)
		if err != nil {
			return "", fmt.Errorf("deep hash of %s: Anchor is not a string", Deref(m.ID))
		}
		if s != "" {
			if len(s) != 32 {
				return "", fmt.Errorf("deep hash of %s: Anchor is %d bytes, not 32", Deref(m.ID), len(s))
			}
			anchor = []byte(s)
		}
	}
	at := make([]arweave.Tag, len(m.Tags))
	for i, t := range m.Tags {
		at[i] = arweave.Tag{Name: t.Name, Value: t.Value}
	}
	return arweave.PushedMessageDeepHash(data, target, anchor, at), nil
}

func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
