// Package gatewaytest is the behavioural test suite of ao.Gateway, shared by
// the in-memory Gateway of aotest and gwclient on the local gateway, so that
// the engine's fake cannot drift from the real thing.
//
// It is imported only by tests:
//
//	func TestGateway(t *testing.T) {
//		gatewaytest.Run(t, func(t *testing.T) gatewaytest.Harness { … })
//	}
package gatewaytest

import (
	"bytes"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// Item is a transaction a harness put on the gateway, as the gateway should
// describe it.
type Item struct {
	ID     string
	Owner  ao.Owner
	Tags   []ao.Tag
	Target string
	Anchor string
}

// Harness is one gateway (with a Scheduler Unit) and the means to write to
// it. Every method fails t when it cannot do what it says.
type Harness interface {
	Gateway() ao.Gateway
	// Upload puts a signed item on the gateway. anchor is "" or 32
	// characters, target "" or a 43-character id.
	Upload(t *testing.T, data []byte, target, anchor string, tags []ao.Tag) Item
	// Spawn schedules a process on the unit at SUURL, whose address is
	// SchedulerAddress, and puts it on the gateway.
	Spawn(t *testing.T) Item
	SUURL() string
	SchedulerAddress() string
	// Mine adds a block dated d after the previous block (at least one second
	// after it).
	Mine(t *testing.T, d time.Duration)
}

// NewFunc makes a Harness on a fresh gateway for test t.
type NewFunc func(t *testing.T) Harness

// Run runs the suite, one subtest per behaviour, each on its own gateway.
func Run(t *testing.T, newHarness NewFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Raw", testRaw},
		{"TransactionMeta", testTransactionMeta},
		{"TransactionMetaSkips", testSkips},
		{"Locate", testLocate},
		{"Blocks", testBlocks},
		{"NotFound", testNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
}

func tags(kv ...string) []ao.Tag {
	var out []ao.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ao.Tag{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var unknownID = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func testRaw(t *testing.T, h Harness) {
	for _, data := range [][]byte{[]byte("hello, gateway"), {0, 0xff, 0xfe, 'x', 0x80}, bytes.Repeat([]byte("0123456789"), 10000)} {
		it := h.Upload(t, data, "", "", tags("Content-Type", "application/octet-stream"))
		got, err := h.Gateway().Raw(t.Context(), it.ID)
		if err != nil {
			t.Fatalf("Raw(%s): %v", it.ID, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("Raw(%s) = %d bytes %.20q, want %d bytes %.20q", it.ID, len(got), got, len(data), data)
		}
	}
}

func sameTags(t *testing.T, got, want []ao.Tag) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("tags\n got %v\nwant %v", got, want)
	}
}

func testTransactionMeta(t *testing.T, h Harness) {
	target := h.Spawn(t).ID
	it := h.Upload(t, []byte("meta"), target, "00000000000000000000000000000042",
		tags("Data-Protocol", "ao", "Type", "Message", "Action", "Eval", "Action", "Twice"))
	m, err := h.Gateway().TransactionMeta(t.Context(), it.ID, false, false, false)
	if err != nil {
		t.Fatalf("TransactionMeta: %v", err)
	}
	if m.ID != it.ID || m.Owner != it.Owner || m.Recipient != target {
		t.Fatalf("TransactionMeta = %s by %+v to %q, want %s by %+v to %q", m.ID, m.Owner, m.Recipient, it.ID, it.Owner, target)
	}
	sameTags(t, m.Tags, it.Tags)
	if m.Signature == nil || *m.Signature == "" {
		t.Fatal("no signature")
	}
	if m.Anchor == nil || *m.Anchor != it.Anchor {
		t.Fatalf("anchor %v, want %q", m.Anchor, it.Anchor)
	}
	// Without a target and an anchor.
	bare := h.Upload(t, []byte("bare"), "", "", tags("Type", "Message"))
	m, err = h.Gateway().TransactionMeta(t.Context(), bare.ID, false, false, false)
	if err != nil {
		t.Fatalf("TransactionMeta: %v", err)
	}
	if m.Recipient != "" || m.Anchor == nil || *m.Anchor != "" {
		t.Fatalf("bare item: recipient %q, anchor %v; want both empty", m.Recipient, m.Anchor)
	}
	// Without tags: an empty list, not none.
	untagged := h.Upload(t, []byte("untagged"), "", "", nil)
	m, err = h.Gateway().TransactionMeta(t.Context(), untagged.ID, false, false, false)
	if err != nil {
		t.Fatalf("TransactionMeta: %v", err)
	}
	if m.Tags == nil || len(m.Tags) != 0 {
		t.Fatalf("untagged item: tags %#v, want an empty list", m.Tags)
	}
}

func testSkips(t *testing.T, h Harness) {
	it := h.Upload(t, []byte("skips"), "", "00000000000000000000000000000042", tags("Type", "Message", "Action", "Eval"))
	for _, skip := range [][3]bool{{true, false, false}, {false, true, false}, {false, false, true}, {true, true, true}} {
		m, err := h.Gateway().TransactionMeta(t.Context(), it.ID, skip[0], skip[1], skip[2])
		if err != nil {
			t.Fatalf("TransactionMeta %v: %v", skip, err)
		}
		if m.ID != it.ID || m.Owner != it.Owner {
			t.Fatalf("TransactionMeta %v = %s by %+v, want %s by %+v", skip, m.ID, m.Owner, it.ID, it.Owner)
		}
		if skip[0] != (m.Tags == nil) {
			t.Fatalf("skipTags %v: tags %v", skip[0], m.Tags)
		}
		if !skip[0] {
			sameTags(t, m.Tags, it.Tags)
		}
		if skip[1] != (m.Signature == nil) {
			t.Fatalf("skipSignature %v: signature %v", skip[1], m.Signature)
		}
		if skip[2] != (m.Anchor == nil) {
			t.Fatalf("skipAnchor %v: anchor %v", skip[2], m.Anchor)
		}
	}
}

func testLocate(t *testing.T, h Harness) {
	p := h.Spawn(t)
	for _, hint := range []string{"", h.SchedulerAddress()} {
		u, err := h.Gateway().Locate(t.Context(), p.ID, hint)
		if err != nil {
			t.Fatalf("Locate(%s, hint %q): %v", p.ID, hint, err)
		}
		if u != h.SUURL() {
			t.Fatalf("Locate(%s, hint %q) = %s, want %s", p.ID, hint, u, h.SUURL())
		}
	}
	// Known by its scheduler alone.
	if u, err := h.Gateway().Locate(t.Context(), unknownID, h.SchedulerAddress()); err != nil || u != h.SUURL() {
		t.Fatalf("Locate(unknown, hint) = %q, %v; want %s", u, err, h.SUURL())
	}
}

func heights(bs []ao.Block) []int64 {
	out := make([]int64, len(bs))
	for i, b := range bs {
		out[i] = b.Height
	}
	return out
}

// want is what Blocks(min, max) must answer from all the blocks: from min
// on, up to (without) the first past max in whole seconds.
func want(all []ao.Block, min, max int64) []ao.Block {
	var out []ao.Block
	for _, b := range all {
		if b.Height < min {
			continue
		}
		if b.Timestamp/1000 > max/1000 {
			break
		}
		out = append(out, b)
	}
	return out
}

func testBlocks(t *testing.T, h Harness) {
	for range 4 {
		h.Mine(t, 2*time.Second)
	}
	all, err := h.Gateway().Blocks(t.Context(), 0, 1<<62)
	if err != nil {
		t.Fatalf("Blocks: %v", err)
	}
	if len(all) < 4 {
		t.Fatalf("%d blocks after mining 4", len(all))
	}
	for i, b := range all {
		if b.Timestamp%1000 != 0 {
			t.Fatalf("block %d: timestamp %d ms is not whole seconds", b.Height, b.Timestamp)
		}
		if i > 0 && (b.Height != all[i-1].Height+1 || b.Timestamp < all[i-1].Timestamp) {
			t.Fatalf("blocks not ascending: %+v then %+v", all[i-1], b)
		}
	}
	n := len(all)
	last, prev := all[n-1], all[n-2]
	if last.Timestamp-prev.Timestamp < 1000 {
		t.Fatalf("blocks mined 2 s apart are dated %d and %d", prev.Timestamp, last.Timestamp)
	}
	for _, tc := range []struct{ min, max int64 }{
		{all[0].Height, all[n-3].Timestamp},       // up to a block's own timestamp: it is in
		{all[1].Height, all[n-3].Timestamp + 999}, // the same second
		{all[n-3].Height, all[n-3].Timestamp + 1000},
		{all[n-2].Height, all[n-2].Timestamp - 1}, // none
		{last.Height + 1, 1 << 62},                // past the last
	} {
		got, err := h.Gateway().Blocks(t.Context(), tc.min, tc.max)
		if err != nil {
			t.Fatalf("Blocks(%d, %d): %v", tc.min, tc.max, err)
		}
		if w := want(all, tc.min, tc.max); !slices.Equal(got, w) {
			t.Fatalf("Blocks(%d, %d) = %v, want %v", tc.min, tc.max, heights(got), heights(w))
		}
	}
}

func testNotFound(t *testing.T, h Harness) {
	g, ctx := h.Gateway(), t.Context()
	for name, call := range map[string]func() error{
		"Raw":             func() error { _, err := g.Raw(ctx, unknownID); return err },
		"TransactionMeta": func() error { _, err := g.TransactionMeta(ctx, unknownID, false, false, false); return err },
		"Locate":          func() error { _, err := g.Locate(ctx, unknownID, ""); return err },
	} {
		err := call()
		if err == nil {
			t.Fatalf("%s of an unknown id: no error", name)
		}
		if st := ao.StatusOf(err); st != 404 {
			t.Fatalf("%s of an unknown id: status %d (%v), want 404", name, st, err)
		}
	}
}
