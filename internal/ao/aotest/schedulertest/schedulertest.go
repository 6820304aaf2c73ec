// Package schedulertest is the behavioural test suite of ao.Scheduler, shared
// by the in-memory Scheduler of aotest and suclient on the local SU (the Rust
// SU's behaviour), so that the engine's fake cannot drift from the real
// thing.
//
// It is imported only by tests:
//
//	func TestScheduler(t *testing.T) {
//		schedulertest.Run(t, func(t *testing.T) schedulertest.Harness { … })
//	}
package schedulertest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

// Item is what a harness scheduled or published: its id, signer and tags as
// the signed item has them.
type Item struct {
	ID    string
	Owner ao.Owner
	Tags  []ao.Tag
	Data  string
}

// Harness is one Scheduler Unit with the means to write to it. Every method
// fails t when it cannot do what it says.
type Harness interface {
	// Scheduler reads the unit at URL.
	Scheduler() ao.Scheduler
	URL() string
	// SUAddress is the address that signs the unit's assignments.
	SUAddress() string
	// Spawn schedules a new process with data.
	Spawn(t *testing.T, data string) Item
	// Send schedules a message with data and tags to pid.
	Send(t *testing.T, pid, data string, tags ...ao.Tag) Item
	// Push schedules a message that a Messenger Unit pushed from process
	// from (it carries a From-Process tag and is not signed by the sender),
	// with a 32-character anchor.
	Push(t *testing.T, pid, from, data, anchor string) Item
	// Publish puts an item on the gateway only, for Assign.
	Publish(t *testing.T, data string) Item
	// Assign schedules the published item id to pid without the parts in
	// exclude.
	Assign(t *testing.T, pid, id string, exclude ...string)
}

// NewFunc makes a Harness on a fresh unit for test t.
type NewFunc func(t *testing.T) Harness

// Run runs the suite, one subtest per behaviour, each on its own unit.
func Run(t *testing.T, newHarness NewFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"ProcessRecord", testProcessRecord},
		{"FirstEdgeIsTheProcess", testFirstEdge},
		{"MessageEdges", testMessageEdges},
		{"NoncesAndTimestamps", testNoncesAndTimestamps},
		{"HashChain", testHashChain},
		{"FromExclusiveToInclusive", testRange},
		{"LimitAndHasNextPage", testPaging},
		{"MessageMeta", testMessageMeta},
		{"AssignmentWithExclude", testAssignment},
		{"PushedMessage", testPushed},
		{"Latest", testLatest},
		{"Timestamp", testTimestamp},
		{"NotFound", testNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
}

func tag(t *testing.T, tags []ao.Tag, name string) string {
	t.Helper()
	v, ok := ao.TagValue(tags, name)
	if !ok {
		t.Fatalf("no %s tag in %v", name, tags)
	}
	return v
}

func tagInt(t *testing.T, tags []ao.Tag, name string) int64 {
	t.Helper()
	v := tag(t, tags, name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s tag %q is not an integer", name, v)
	}
	return n
}

// all reads every edge of pid with one big page.
func all(t *testing.T, h Harness, pid string) []ao.SUEdge {
	t.Helper()
	p, err := h.Scheduler().Messages(t.Context(), h.URL(), pid, "", "", 1000)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	if p.HasNextPage {
		t.Fatalf("HasNextPage with %d edges and limit 1000", len(p.Edges))
	}
	return p.Edges
}

// world is a process with n messages.
func world(t *testing.T, h Harness, n int) (Item, []Item) {
	t.Helper()
	p := h.Spawn(t, "process data")
	var msgs []Item
	for i := range n {
		msgs = append(msgs, h.Send(t, p.ID, fmt.Sprintf("message %d", i), ao.Tag{Name: "Action", Value: "Eval"}))
	}
	return p, msgs
}

func jsString(t *testing.T, raw json.RawMessage) (string, bool) {
	t.Helper()
	if raw == nil || string(raw) == "null" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	return s, true
}

func sameTags(t *testing.T, what string, got, want []ao.Tag) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s tags\n got %v\nwant %v", what, got, want)
	}
}

func testProcessRecord(t *testing.T, h Harness) {
	p := h.Spawn(t, "the process's data")
	got, err := h.Scheduler().Process(t.Context(), h.URL(), p.ID)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	if got.ID != p.ID || got.Owner.Address != p.Owner.Address {
		t.Fatalf("Process = %s by %s, want %s by %s", got.ID, got.Owner.Address, p.ID, p.Owner.Address)
	}
	if got.Owner.Key == "" || got.Signature == "" {
		t.Fatalf("Process lacks the owner key or the signature: %+v", got)
	}
	sameTags(t, "process", got.Tags, p.Tags)
	if d, _ := jsString(t, got.Data); d != p.Data {
		t.Fatalf("Process data %s, want %q", got.Data, p.Data)
	}
	edges := all(t, h, p.ID)
	ts := tagInt(t, edges[0].Assignment.Tags, "Timestamp")
	if got.Block.Timestamp != ts {
		t.Fatalf("Process timestamp %d, want the nonce-0 assignment's %d", got.Block.Timestamp, ts)
	}
	if height := tagInt(t, edges[0].Assignment.Tags, "Block-Height"); got.Block.Height != height {
		t.Fatalf("Process block %d, want the nonce-0 assignment's %d", got.Block.Height, height)
	}
}

func testFirstEdge(t *testing.T, h Harness) {
	p, _ := world(t, h, 1)
	edges := all(t, h, p.ID)
	if len(edges) != 2 {
		t.Fatalf("%d edges, want the process and one message", len(edges))
	}
	e := edges[0]
	if e.Message == nil || e.Message.ID != p.ID {
		t.Fatalf("first edge's message %+v, want the process %s (AOP-6)", e.Message, p.ID)
	}
	if n := tag(t, e.Assignment.Tags, "Nonce"); n != "0" {
		t.Fatalf("process at nonce %s", n)
	}
	if v := tag(t, e.Assignment.Tags, "Process"); v != p.ID {
		t.Fatalf("Process tag %s, want %s", v, p.ID)
	}
	if v, ok := ao.TagValue(e.Assignment.Tags, "Message"); ok {
		t.Fatalf("the process's assignment has a Message tag %s", v)
	}
	sameTags(t, "process message", e.Message.Tags, p.Tags)
	if string(e.Message.Target) != "null" || string(e.Message.Anchor) != "null" {
		t.Fatalf("process message's target %q and anchor %q, want null and null", e.Message.Target, e.Message.Anchor)
	}
	if e.Message.Owner.Address != p.Owner.Address {
		t.Fatalf("process message owner %s, want %s", e.Message.Owner.Address, p.Owner.Address)
	}
}

func testMessageEdges(t *testing.T, h Harness) {
	p, msgs := world(t, h, 2)
	edges := all(t, h, p.ID)
	for i, m := range msgs {
		e := edges[i+1]
		if e.Message == nil || e.Message.ID != m.ID {
			t.Fatalf("edge %d: message %+v, want %s", i+1, e.Message, m.ID)
		}
		if v := tag(t, e.Assignment.Tags, "Message"); v != m.ID {
			t.Fatalf("edge %d: Message tag %s, want %s", i+1, v, m.ID)
		}
		if e.Assignment.Owner.Address != h.SUAddress() || e.Assignment.ID == "" {
			t.Fatalf("edge %d: assignment %s signed by %s, want the SU %s", i+1, e.Assignment.ID, e.Assignment.Owner.Address, h.SUAddress())
		}
		sameTags(t, "message", e.Message.Tags, m.Tags)
		if e.Message.Owner.Address != m.Owner.Address || e.Message.Owner.Key == "" {
			t.Fatalf("edge %d: owner %+v, want %s", i+1, e.Message.Owner, m.Owner.Address)
		}
		if d, _ := jsString(t, e.Message.Data); d != m.Data {
			t.Fatalf("edge %d: data %s, want %q", i+1, e.Message.Data, m.Data)
		}
		if target, _ := jsString(t, e.Message.Target); target != p.ID {
			t.Fatalf("edge %d: target %s, want %s", i+1, e.Message.Target, p.ID)
		}
		// A message without an anchor has "anchor": null, which the CU
		// passes on to the module as null (absent would be undefined).
		if string(e.Message.Anchor) != "null" {
			t.Fatalf("edge %d: anchor %q, want null", i+1, e.Message.Anchor)
		}
		if sig, _ := jsString(t, e.Message.Signature); sig == "" {
			t.Fatalf("edge %d: no signature", i+1)
		}
		for _, name := range []string{"Data-Protocol", "Type", "Variant"} {
			tag(t, e.Assignment.Tags, name)
		}
		if v := tag(t, e.Assignment.Tags, "Type"); v != "Assignment" {
			t.Fatalf("edge %d: assignment Type %s", i+1, v)
		}
	}
}

var blockHeight = regexp.MustCompile(`^[0-9]{12}$`)

func testNoncesAndTimestamps(t *testing.T, h Harness) {
	p, _ := world(t, h, 4)
	edges := all(t, h, p.ID)
	var prevTS, prevHeight int64
	for i, e := range edges {
		if n := tagInt(t, e.Assignment.Tags, "Nonce"); n != int64(i) {
			t.Fatalf("edge %d has nonce %d", i, n)
		}
		if ep := tag(t, e.Assignment.Tags, "Epoch"); ep != "0" {
			t.Fatalf("edge %d has epoch %s", i, ep)
		}
		ts := tagInt(t, e.Assignment.Tags, "Timestamp")
		if e.Cursor != strconv.FormatInt(ts, 10) {
			t.Fatalf("edge %d: cursor %q, want its timestamp %d", i, e.Cursor, ts)
		}
		if i > 0 && ts <= prevTS {
			t.Fatalf("edge %d: timestamp %d not after %d", i, ts, prevTS)
		}
		bh := tag(t, e.Assignment.Tags, "Block-Height")
		if !blockHeight.MatchString(bh) {
			t.Fatalf("edge %d: Block-Height %q is not 12 digits", i, bh)
		}
		height, _ := strconv.ParseInt(bh, 10, 64)
		if height < prevHeight {
			t.Fatalf("edge %d: Block-Height %d before %d", i, height, prevHeight)
		}
		prevTS, prevHeight = ts, height
	}
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("%q is not a 32-byte base64url value", s)
	}
	return b
}

// testHashChain checks the chain as the Rust SU's gen_hash_chain makes it:
// SHA-256(process id) at nonce 0, then SHA-256(previous assignment id ||
// previous chain).
func testHashChain(t *testing.T, h Harness) {
	p, _ := world(t, h, 2)
	item := h.Publish(t, "assigned")
	h.Assign(t, p.ID, item.ID)
	h.Send(t, p.ID, "after")
	edges := all(t, h, p.ID)
	sum := sha256.Sum256(b64(t, p.ID))
	for i, e := range edges {
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if got := tag(t, e.Assignment.Tags, "Hash-Chain"); got != want {
			t.Fatalf("edge %d: Hash-Chain %s, want %s", i, got, want)
		}
		sum = sha256.Sum256(append(b64(t, e.Assignment.ID), sum[:]...))
	}
}

func cursors(edges []ao.SUEdge) []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = e.Cursor
	}
	return out
}

func testRange(t *testing.T, h Harness) {
	p, _ := world(t, h, 4)
	c := cursors(all(t, h, p.ID))
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{c[1], c[3], c[2:4]},
		{c[0], "", c[1:]},
		{"", c[2], c[:3]},
		{c[4], "", nil},
		{c[2], c[2], nil},
	} {
		page, err := h.Scheduler().Messages(t.Context(), h.URL(), p.ID, tc.from, tc.to, 100)
		if err != nil {
			t.Fatalf("Messages(%s, %s): %v", tc.from, tc.to, err)
		}
		if got := cursors(page.Edges); !slices.Equal(got, tc.want) || page.HasNextPage {
			t.Fatalf("Messages(from %s, to %s) = %v (next %v), want %v", tc.from, tc.to, got, page.HasNextPage, tc.want)
		}
	}
}

func testPaging(t *testing.T, h Harness) {
	p, _ := world(t, h, 4)
	want := cursors(all(t, h, p.ID))
	var got []string
	from := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := h.Scheduler().Messages(t.Context(), h.URL(), p.ID, from, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Edges) > 2 {
			t.Fatalf("%d edges with limit 2", len(page.Edges))
		}
		got = append(got, cursors(page.Edges)...)
		if len(got) < len(want) && (!page.HasNextPage || len(page.Edges) != 2) {
			t.Fatalf("page from %q: %d edges, HasNextPage %v after %d of %d", from, len(page.Edges), page.HasNextPage, len(got), len(want))
		}
		if !page.HasNextPage {
			break
		}
		if len(page.Edges) == 0 {
			t.Fatal("an empty page with HasNextPage")
		}
		from = page.Edges[len(page.Edges)-1].Cursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages of 2 gave %v, want %v", got, want)
	}
	// No limit: the unit's default page (100 on the Rust SU) holds them all.
	page, err := h.Scheduler().Messages(t.Context(), h.URL(), p.ID, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := cursors(page.Edges); !slices.Equal(got, want) || page.HasNextPage {
		t.Fatalf("a page without a limit: %v (next %v), want %v", got, page.HasNextPage, want)
	}
}

func meta(t *testing.T, e ao.SUEdge, pid string) ao.MessageMeta {
	t.Helper()
	return ao.MessageMeta{ProcessID: pid, Timestamp: tagInt(t, e.Assignment.Tags, "Timestamp"), Nonce: tagInt(t, e.Assignment.Tags, "Nonce")}
}

func testMessageMeta(t *testing.T, h Harness) {
	p, msgs := world(t, h, 2)
	item := h.Publish(t, "assigned")
	h.Assign(t, p.ID, item.ID)
	edges := all(t, h, p.ID)
	for i, id := range []string{p.ID, msgs[0].ID, msgs[1].ID, item.ID} {
		got, err := h.Scheduler().Message(t.Context(), h.URL(), id, p.ID)
		if err != nil {
			t.Fatalf("Message(%s): %v", id, err)
		}
		if want := meta(t, edges[i], p.ID); *got != want {
			t.Fatalf("Message(%s) = %+v, want %+v", id, *got, want)
		}
	}
	// By its assignment's id.
	got, err := h.Scheduler().Message(t.Context(), h.URL(), edges[2].Assignment.ID, p.ID)
	if err != nil {
		t.Fatalf("Message(assignment %s): %v", edges[2].Assignment.ID, err)
	}
	if want := meta(t, edges[2], p.ID); *got != want {
		t.Fatalf("Message(assignment) = %+v, want %+v", *got, want)
	}
	// A message of another process is not found under this one.
	other := h.Spawn(t, "other")
	if _, err := h.Scheduler().Message(t.Context(), h.URL(), msgs[0].ID, other.ID); ao.StatusOf(err) != 404 {
		t.Fatalf("Message of another process's message: %v, want a 404", err)
	}
}

func testAssignment(t *testing.T, h Harness) {
	p, _ := world(t, h, 1)
	a := h.Publish(t, "no excludes")
	b := h.Publish(t, "excluded parts")
	h.Assign(t, p.ID, a.ID)
	h.Assign(t, p.ID, b.ID, "Data", "Anchor")
	edges := all(t, h, p.ID)
	if len(edges) != 4 {
		t.Fatalf("%d edges, want 4", len(edges))
	}
	for i, tc := range []struct {
		id      string
		exclude []string
	}{{a.ID, nil}, {b.ID, []string{"Data", "Anchor"}}} {
		e := edges[2+i]
		if e.Message != nil {
			t.Fatalf("the assignment of %s carries a message %+v", tc.id, e.Message)
		}
		if v := tag(t, e.Assignment.Tags, "Message"); v != tc.id {
			t.Fatalf("assignment's Message tag %s, want %s", v, tc.id)
		}
		var excl []string
		for _, tg := range e.Assignment.Tags {
			if tg.Name == "Exclude" {
				excl = append(excl, tg.Value)
			}
		}
		if !slices.Equal(excl, tc.exclude) {
			t.Fatalf("Exclude tags %v, want %v", excl, tc.exclude)
		}
		if n := tagInt(t, e.Assignment.Tags, "Nonce"); n != int64(2+i) {
			t.Fatalf("assignment at nonce %d, want %d", n, 2+i)
		}
	}
}

func testPushed(t *testing.T, h Harness) {
	p, _ := world(t, h, 0)
	from := h.Spawn(t, "the sender")
	anchor := "00000000000000000000000000000042"
	m := h.Push(t, p.ID, from.ID, "pushed", anchor)
	edges := all(t, h, p.ID)
	e := edges[len(edges)-1]
	if e.Message == nil || e.Message.ID != m.ID {
		t.Fatalf("last edge %+v, want the pushed %s", e.Message, m.ID)
	}
	if v := tag(t, e.Message.Tags, "From-Process"); v != from.ID {
		t.Fatalf("From-Process %s, want %s", v, from.ID)
	}
	if e.Message.Owner.Address != m.Owner.Address || m.Owner.Address == from.Owner.Address {
		t.Fatalf("pushed message signed by %s, want the MU %s", e.Message.Owner.Address, m.Owner.Address)
	}
	sameTags(t, "pushed", e.Message.Tags, m.Tags)
	if got, ok := jsString(t, e.Message.Anchor); !ok || got != anchor {
		t.Fatalf("pushed message's anchor %s, want %q", e.Message.Anchor, anchor)
	}
}

func testLatest(t *testing.T, h Harness) {
	p := h.Spawn(t, "latest")
	check := func() {
		t.Helper()
		edges := all(t, h, p.ID)
		got, err := h.Scheduler().Latest(t.Context(), h.URL(), p.ID)
		if err != nil {
			t.Fatalf("Latest: %v", err)
		}
		if want := meta(t, edges[len(edges)-1], p.ID); *got != want {
			t.Fatalf("Latest = %+v, want %+v", *got, want)
		}
	}
	check()
	h.Send(t, p.ID, "one")
	check()
	h.Assign(t, p.ID, h.Publish(t, "two").ID)
	check()
}

func testTimestamp(t *testing.T, h Harness) {
	p, _ := world(t, h, 1)
	edges := all(t, h, p.ID)
	last := edges[len(edges)-1]
	ts1, height1, err := h.Scheduler().Timestamp(t.Context(), h.URL(), p.ID)
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
	if lh := tagInt(t, last.Assignment.Tags, "Block-Height"); height1 < lh {
		t.Fatalf("Timestamp's height %d before the last assignment's %d", height1, lh)
	}
	h.Send(t, p.ID, "later")
	ts2, height2, err := h.Scheduler().Timestamp(t.Context(), h.URL(), p.ID)
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
	if ts2 < ts1 || height2 < height1 {
		t.Fatalf("Timestamp went back: (%d, %d) then (%d, %d)", ts1, height1, ts2, height2)
	}
}

func testNotFound(t *testing.T, h Harness) {
	p, _ := world(t, h, 1)
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	s, u, ctx := h.Scheduler(), h.URL(), t.Context()
	calls := map[string]func() error{
		"Process": func() error { _, err := s.Process(ctx, u, unknown); return err },
		"Message of an unknown message": func() error {
			_, err := s.Message(ctx, u, unknown, p.ID)
			return err
		},
		"Latest":   func() error { _, err := s.Latest(ctx, u, unknown); return err },
		"Messages": func() error { _, err := s.Messages(ctx, u, unknown, "", "", 10); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Fatalf("%s of an unknown id: no error", name)
		}
		if st := ao.StatusOf(err); st != 404 {
			t.Fatalf("%s of an unknown id: status %d (%v), want 404", name, st, err)
		}
		var se *ao.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v is not an ao.StatusError", name, err)
		}
	}
}
