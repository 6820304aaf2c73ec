package engine

import (
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"

	"github.com/aocu/aocu/internal/loader/wire"
)

func TestOutputJSON(t *testing.T) {
	cases := []struct {
		res  ao.Result
		want string
	}{
		{ao.Result{Output: []byte(`{"data":"x"}`), Messages: []byte(`[{"Target":"T"}]`), GasUsed: 12},
			`{"Messages":[{"Target":"T"}],"Assignments":[],"Spawns":[],"Output":{"data":"x"},"GasUsed":12}`},
		{ao.Result{Output: []byte(`42.5`)}, `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"42.5","GasUsed":0}`},
		{ao.Result{Output: []byte(`null`), Error: []byte(`"boom"`), GasUsed: 3},
			`{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","GasUsed":3,"Error":"boom"}`},
		{ao.Result{Error: []byte(`"trap"`), Rejected: true}, `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","Error":"trap"}`},
	}
	for _, c := range cases {
		if got := string(outputJSON(&c.res, false)); got != c.want {
			t.Errorf("got %s\nwant %s", got, c.want)
		}
	}
	// UNIT_MODE=hbu: the feat/hb-unit branch's schema, Patches after Output
	hb := []struct {
		res  ao.Result
		want string
	}{
		{ao.Result{Output: []byte(`"o"`), Patches: []byte(`[{"device":"patch@1.0","x":1}]`), GasUsed: 2},
			`{"Messages":[],"Assignments":[],"Spawns":[],"Output":"o","Patches":[{"device":"patch@1.0","x":1}],"GasUsed":2}`},
		{ao.Result{Output: []byte(`"o"`)}, `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"o","Patches":[],"GasUsed":0}`},
		{ao.Result{Error: []byte(`{}`), Rejected: true}, `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","Patches":[],"Error":{}}`},
	}
	for _, c := range hb {
		if got := string(outputJSON(&c.res, true)); got != c.want {
			t.Errorf("hbu: got %s\nwant %s", got, c.want)
		}
	}
}

func TestParseDryRunBody(t *testing.T) {
	b, err := parseDryRunBody([]byte(`{"Id":"1234","Owner":"1234","Target":"P","Data":"1234","Anchor":"0","Tags":[{"name":"Action","value":"Info"}],"Extra":1,"Timestamp":"17"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(wire.AppendMessage(nil, b.message("P", position{Timestamp: 99, BlockHeight: 101, Ordinate: "3"})))
	want := `{"Id":"1234","Data":"1234","Owner":"1234","Target":"P","Anchor":"0","From":"1234","Tags":[{"name":"Action","value":"Info"}],"Timestamp":17,"Block-Height":101,"Cron":false,"Read-Only":true}`
	if got != want {
		t.Fatalf("dry-run message\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{`[]`, `{"Tags":[]}`, `{"Owner":""}`, `{"Owner":"o","Tags":"x"}`, `{"Owner":"o","Tags":[],"Nonce":"1"}`, `{"Owner":"o","Tags":[],"Cron":1}`} {
		if _, err := parseDryRunBody([]byte(bad)); ao.StatusOf(err) != 400 {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestParseBytesJS(t *testing.T) {
	for in, want := range map[string]int64{"500mb": 500 << 20, "1gb": 1 << 30, "1.5KB": 1536, "1024": 1024, "16": 16} {
		if got, ok := parseBytesJS(in); !ok || got != want {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	if _, ok := parseBytesJS("lots"); ok {
		t.Error("garbage parsed")
	}
}

func TestPositionOrder(t *testing.T) {
	p := position{Timestamp: 20, Ordinate: "2", Cron: "0-1-seconds"}
	if !(target{Timestamp: 10}).earlierThan(p) || (target{Timestamp: 30}).earlierThan(p) || (target{Timestamp: 20, Cron: "1-x"}).earlierThan(p) {
		t.Fatal("earlierThan")
	}
	if !(target{Timestamp: 20, Ordinate: "2", Cron: "0-1-seconds"}).equalTo(p) {
		t.Fatal("equalTo")
	}
	_ = jsjson.Truthy
}

func TestCheckHydration(t *testing.T) {
	e := &Engine{opts: Options{HydrationNonceLimit: 200}}
	p := &proc{id: "P"}
	if err := e.checkHydration(p, 10_000); err != nil {
		t.Fatalf("no stream running: %v", err)
	}
	p.running.Store(true)
	p.currentNonce.Store(100)
	if err := e.checkHydration(p, 250); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	err := e.checkHydration(p, 514)
	if ao.StatusOf(err) != 503 || !strings.Contains(err.Error(), "Nonce limit exceeded: process P is currently hydrating with >200 nonces remaining (414 remaining)") {
		t.Fatalf("beyond the limit: %v", err)
	}
	p.currentNonce.Store(0) // the reference lets a stream that has not started through
	if err := e.checkHydration(p, 514); err != nil {
		t.Fatalf("nonce 0: %v", err)
	}
}
