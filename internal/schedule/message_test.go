package schedule

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/loader/wire"
)

// The deep hash of a pushed message equals warp-arbundles' createData(...)
// .getSignatureData() with the reference's empty signer (vectors made with
// arbundles 0.11.2 and warp-arbundles 1.0.4, the reference CU's, in node).
func TestForwardedDeepHash(t *testing.T) {
	target, anchor := strings.Repeat("T", 43), strings.Repeat("0", 32)
	m := &Message{
		Data:   JSString("hello ✓ pushed"),
		Target: &target, Anchor: JSString(anchor),
		Tags: []ao.Tag{{Name: "Data-Protocol", Value: "ao"}, {Name: "Type", Value: "Message"}, {Name: "From-Process", Value: strings.Repeat("P", 43)}, {Name: "Owner", Value: "x"}},
	}
	got, err := PushedDeepHash(m)
	if err != nil || got != "PCvLV5sxV9z7zg4c+9ZKZX0QBJX060VWFcHu2n9DXxPiY6UE5uZM9eiGD9cUGceZ" {
		t.Fatalf("deep hash %s %v", got, err)
	}
	empty := &Message{Tags: []ao.Tag{}}
	if got, _ := PushedDeepHash(empty); got != "3gk/eHgElQmbVrKmPH2Ds7Af58NjPeBAp++uNZvPvaZxUR1SdCSMAhvtiGpasYoy" {
		t.Fatalf("empty deep hash %s", got)
	}
}

// The message JSON follows the reference's schema order, leaves undefined
// members out, keeps nulls and drops From/Owner tags.
func TestMessageJSON(t *testing.T) {
	e := &ao.SUEdge{
		Message: &ao.SUMessage{ID: "M", Owner: ao.Owner{Address: "addr", Key: "k"}, Data: []byte(`"d<&>\u2028"`), Anchor: []byte("null"),
			Signature: []byte(`"sig"`), Tags: []ao.Tag{{Name: "Action", Value: "Eval"}, {Name: "From", Value: "spoof"}, {Name: "From-Process", Value: "P2"}, {Name: "Owner", Value: "spoof"}}},
		Assignment: ao.SUAssignment{ID: "A", Tags: []ao.Tag{{Name: "Process", Value: "P"}, {Name: "Epoch", Value: "0"}, {Name: "Nonce", Value: "7"}, {Name: "Hash-Chain", Value: "h"},
			{Name: "Block-Height", Value: "000000000101"}, {Name: "Timestamp", Value: "1700000000123"}}},
	}
	m, err := FromEdge(e)
	if err != nil {
		t.Fatal(err)
	}
	// Data is what JSON.stringify(JSON.parse(…)) makes of the SU's text:
	// the \u2028 escape becomes the character itself.
	want := &ao.Message{ID: []byte(`"M"`), Signature: []byte(`"sig"`), Data: []byte("\"d<&>\u2028\""), Owner: "addr", Target: []byte(`"P"`),
		Anchor: []byte("null"), From: "P2", ForwardedBy: []byte(`"addr"`),
		Tags:  []ao.Tag{{Name: "Action", Value: "Eval"}, {Name: "From-Process", Value: "P2"}},
		Epoch: []byte("0"), Nonce: []byte("7"), Timestamp: 1700000000123, BlockHeight: 101, HashChain: []byte(`"h"`)}
	if got := m.ToAO(); !reflect.DeepEqual(got, want) {
		t.Fatalf("message\n got %+v\nwant %+v", got, want)
	}
	if m.Ordinate != "7" || m.Name != "Scheduled Message M 1700000000123:7" {
		t.Fatalf("stream metadata %q %q", m.Ordinate, m.Name)
	}
	e.Message = nil
	e.Assignment.Tags = append(e.Assignment.Tags, ao.Tag{Name: "Message", Value: "X"}, ao.Tag{Name: "Exclude", Value: "Data"})
	a, err := FromEdge(e)
	if err != nil || !a.IsAssignment || *a.ID != "X" || !a.Excludes("Data") || a.Excludes("Tags") {
		t.Fatalf("assignment %+v %v", a, err)
	}
}

// Under the feat/hb-unit branch's schema (UNIT_MODE=hbu) every message has
// Skip, "false" unless the assignment says otherwise, after Cron; the deployed
// reference's schema has neither field, whatever the assignment's tags.
func TestMessageJSONHyperBEAM(t *testing.T) {
	e := &ao.SUEdge{
		Message: &ao.SUMessage{ID: "M", Owner: ao.Owner{Address: "addr", Key: "k"}, Tags: []ao.Tag{}},
		Assignment: ao.SUAssignment{ID: "A", Tags: []ao.Tag{{Name: "Process", Value: "P"}, {Name: "Epoch", Value: "0"}, {Name: "Nonce", Value: "3"},
			{Name: "Block-Height", Value: "5"}, {Name: "Timestamp", Value: "9"}}},
	}
	m, err := FromEdge(e)
	if err != nil {
		t.Fatal(err)
	}
	const base = `{"Id":"M","Owner":"addr","Target":"P","From":"addr","Tags":[],"Epoch":0,"Nonce":3,"Timestamp":9,"Block-Height":5,"Cron":false`
	for _, c := range []struct {
		name string
		got  *ao.Message
		want string
	}{
		{"deployed reference", m.ToAO(), base + `,"Read-Only":false}`},
		{"feat/hb-unit", m.ToAOHyperBEAM(), base + `,"Skip":"false","Read-Only":false}`},
	} {
		if got := string(wire.AppendMessage(nil, c.got)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	e.Assignment.Tags = append(e.Assignment.Tags, ao.Tag{Name: "Skip", Value: "true"}, ao.Tag{Name: "Original-Assignment-Id", Value: "O"})
	if m, err = FromEdge(e); err != nil {
		t.Fatal(err)
	}
	if got, want := string(wire.AppendMessage(nil, m.ToAOHyperBEAM())), base+`,"Skip":"true","Original-Assignment-Id":"O","Read-Only":false}`; got != want {
		t.Errorf("a Skip assignment:\n got %s\nwant %s", got, want)
	}
	if got := string(wire.AppendMessage(nil, m.ToAO())); got != base+`,"Read-Only":false}` {
		t.Errorf("the deployed reference reads no Skip tag: %s", got)
	}

	// dry-runs: the body's strings, else "false"
	for _, c := range []struct{ skip, orig, want string }{
		{"", "", `"Skip":"false"`},
		{`"maybe"`, `"O\u0041"`, `"Skip":"maybe","Original-Assignment-Id":"OA"`},
		{`true`, `7`, `"Skip":"false"`},
	} {
		a := &ao.Message{Tags: []ao.Tag{}}
		HyperBEAMDryRun(a, []byte(c.skip), []byte(c.orig))
		if got := string(wire.AppendMessage(nil, a)); !strings.Contains(got, `"Cron":false,`+c.want+`,"Read-Only":false}`) {
			t.Errorf("dry-run Skip %s, Original-Assignment-Id %s: %s", c.skip, c.orig, got)
		}
	}
}
