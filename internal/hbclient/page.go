// Package hbclient reads a process's schedule from a HyperBEAM node's
// scheduler (GET {HB_URL}/~scheduler@1.0/schedule?target=&from=&to=&limit=
// &accept=application/aos-2) and presents it to the engine as the ao.Scheduler
// port it consumes: slots become SU edges whose Nonce is the slot, cursors
// name slots, and the engine's timestamp bounds are mapped onto slots.
//
// It is the message source of UNIT_MODE=hbu, HyperBEAM's genesis-wasm
// sidecar (permaweb/ao branch feat/hb-unit, servers/cu/src/effects/hb). The
// pages HyperBEAM posts with POST /result/<slot> are offered to the client
// (Offer) and used before anything is fetched. A Skip assignment (HyperBEAM's
// dedup of a slot) continues the hash chain from its Original-Assignment-Id
// and evaluates as a no-op through the runtime wrapper of Skips.
package hbclient

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// hbPage is an aos-2 page as HyperBEAM's dev_scheduler_formats writes it.
type hbPage struct {
	PageInfo struct {
		Process     string          `json:"process"`
		HasNextPage json.RawMessage `json:"has_next_page"` // true, false, "true" or "false"
		Timestamp   json.RawMessage `json:"timestamp"`     // a string of digits
		BlockHeight json.RawMessage `json:"block-height"`
	} `json:"page_info"`
	Edges []hbEdge `json:"edges"`
}

type hbEdge struct {
	Cursor json.RawMessage `json:"cursor"`
	Node   struct {
		Message    map[string]json.RawMessage `json:"message"`
		Assignment *struct {
			ID    string  `json:"Id"`
			Owner string  `json:"Owner"`
			Tags  []hbTag `json:"Tags"`
		} `json:"assignment"`
	} `json:"node"`
}

// hbTag is a JSON-Iface tag; HyperBEAM may send a value that is not a
// string, which the reference coerces with `${value}`.
type hbTag struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Slot is one slot of a process's schedule, mapped to an SU edge.
type Slot struct {
	Slot      int64
	Timestamp int64
	Height    int64
	MessageID string // "" for an assignment of an item that is not in the page
	Skip      bool
	Edge      ao.SUEdge
}

// parsePage reads an aos-2 page. HyperBEAM has sent the page as a JSON
// string holding the JSON (the reference parses it twice); both are read.
func parsePage(body []byte) (*hbPage, bool, error) {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) > 0 && body[0] == '"' {
		var inner string
		if err := json.Unmarshal(body, &inner); err != nil {
			return nil, false, fmt.Errorf("aos-2 page: %w", err)
		}
		body = []byte(inner)
	}
	var p hbPage
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, false, fmt.Errorf("aos-2 page: %w", err)
	}
	return &p, truthyFlag(p.PageInfo.HasNextPage), nil
}

// truthyFlag reads HyperBEAM's booleans, which may be the strings "true" and
// "false" (the reference's toBoolean).
func truthyFlag(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	switch s {
	case "", "false", "null", `"false"`, `"undefined"`, `""`, "0":
		return false
	}
	return true
}

// tagValue is `${value}` of a JSON value: strings as they are, other JSON
// as its text.
func tagValue(v json.RawMessage) string {
	if s, err := jsjson.Unquote(v); err == nil {
		return s
	}
	return strings.TrimSpace(string(v))
}

func tagsOf(in []hbTag) []ao.Tag {
	out := make([]ao.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, ao.Tag{Name: t.Name, Value: tagValue(t.Value)})
	}
	return out
}

func setTag(tags []ao.Tag, name, value string) []ao.Tag {
	for i := range tags {
		if tags[i].Name == name {
			tags[i].Value = value
			return tags
		}
	}
	return append(tags, ao.Tag{Name: name, Value: value})
}

// toSlot maps an edge as the reference's hb mapNode reads it: the slot is
// the Slot tag, else Nonce; a message with no Owner is an assignment of an
// existing item; a Skip assignment's chain continues from its
// Original-Assignment-Id.
func toSlot(pid string, e *hbEdge) (*Slot, error) {
	a := e.Node.Assignment
	if a == nil {
		return nil, fmt.Errorf("an edge has no assignment")
	}
	tags := tagsOf(a.Tags)
	slotText, ok := ao.TagValue(tags, "Slot")
	if !ok {
		slotText, ok = ao.TagValue(tags, "Nonce")
	}
	if !ok {
		return nil, fmt.Errorf("assignment %s has neither a Slot nor a Nonce tag", a.ID)
	}
	slot, err := strconv.ParseInt(strings.TrimSpace(slotText), 10, 64)
	if err != nil || slot < 0 {
		return nil, fmt.Errorf("assignment %s: slot %q is not a number", a.ID, slotText)
	}
	num := func(name string) (int64, error) {
		v, _ := ao.TagValue(tags, name)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64) // "000001331218" is 1331218
		if err != nil {
			return 0, fmt.Errorf("assignment %s: tag %s is %q, not a number", a.ID, name, v)
		}
		return n, nil
	}
	ts, err := num("Timestamp")
	if err != nil {
		return nil, err
	}
	height, err := num("Block-Height")
	if err != nil {
		return nil, err
	}
	if proc, ok := ao.TagValue(tags, "Process"); ok && proc != pid {
		return nil, fmt.Errorf("assignment %s is for process %s, not %s", a.ID, proc, pid)
	}
	// The engine reads the SU's tag names: Nonce, Epoch, Process.
	tags = setTag(tags, "Nonce", strconv.FormatInt(slot, 10))
	if _, ok := ao.TagValue(tags, "Epoch"); !ok {
		tags = setTag(tags, "Epoch", "0")
	}
	if _, ok := ao.TagValue(tags, "Process"); !ok {
		tags = setTag(tags, "Process", pid)
	}
	s := &Slot{Slot: slot, Timestamp: ts, Height: height}
	s.Edge.Cursor = cursorOf(slot)
	s.Edge.Assignment = ao.SUAssignment{ID: a.ID, Owner: ao.Owner{Address: a.Owner}}
	if v, _ := ao.TagValue(tags, "Skip"); v == "true" {
		s.Skip = true
		if orig, ok := ao.TagValue(tags, "Original-Assignment-Id"); ok && orig != "" {
			s.Edge.Assignment.ID = orig
		}
	}
	m := e.Node.Message
	var id string
	if raw, ok := m["Id"]; ok {
		id, _ = jsjson.Unquote(raw)
	}
	s.MessageID = id
	owner, hasOwner := m["Owner"]
	if !hasOwner || string(owner) == "null" {
		// An assignment of an item on chain, hydrated by the engine.
		if id == "" {
			return nil, fmt.Errorf("assignment %s has neither a message nor a message id", a.ID)
		}
		if _, ok := ao.TagValue(tags, "Message"); !ok {
			tags = setTag(tags, "Message", id)
		}
		s.Edge.Assignment.Tags = tags
		return s, nil
	}
	s.Edge.Assignment.Tags = tags
	ownerText, err := jsjson.Unquote(owner)
	if err != nil {
		return nil, fmt.Errorf("message %s: Owner is not a string", id)
	}
	msg := &ao.SUMessage{ID: id, Owner: ao.Owner{Address: ownerText},
		Signature: m["Signature"], Data: m["Data"], Anchor: m["Anchor"], Target: m["Target"]}
	var mt []hbTag
	if raw, ok := m["Tags"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &mt); err != nil {
			return nil, fmt.Errorf("message %s: Tags: %w", id, err)
		}
	}
	msg.Tags = tagsOf(mt)
	s.Edge.Message = msg
	return s, nil
}

const cursorPrefix = "hb-slot:"

// cursorOf is the cursor of a slot's edge: the engine gives it back as the
// exclusive lower bound of the next page.
func cursorOf(slot int64) string { return cursorPrefix + strconv.FormatInt(slot, 10) }

func parseCursor(s string) (int64, bool) {
	if !strings.HasPrefix(s, cursorPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(s[len(cursorPrefix):], 10, 64)
	return n, err == nil
}

// ParseSlot reads a slot given as a /result path segment: decimal digits.
func ParseSlot(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
