package servecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aocu/aocu/internal/loader"
)

// The replay below maps the SU's stream to the module's messages on its own,
// from the reference's rules (ref-cu.md §3.6, §3.9), without the engine's
// code, and runs them through the loader (itself checked against
// @permaweb/ao-loader by test/difftest).

type replayTag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type replayMsg struct {
	ID          string          `json:"Id"`
	Signature   json.RawMessage `json:"Signature,omitempty"`
	Data        json.RawMessage `json:"Data,omitempty"`
	Owner       string          `json:"Owner"`
	Target      string          `json:"Target"`
	Anchor      json.RawMessage `json:"Anchor,omitempty"`
	From        string          `json:"From"`
	ForwardedBy *string         `json:"Forwarded-By,omitempty"`
	Tags        []replayTag     `json:"Tags"`
	Epoch       int64           `json:"Epoch"`
	Nonce       int64           `json:"Nonce"`
	Timestamp   int64           `json:"Timestamp"`
	BlockHeight int64           `json:"Block-Height"`
	HashChain   string          `json:"Hash-Chain"`
	Cron        bool            `json:"Cron"`
	ReadOnly    bool            `json:"Read-Only"`
}

type replayEnvPart struct {
	ID    string      `json:"Id"`
	Owner string      `json:"Owner"`
	Tags  []replayTag `json:"Tags"`
}

func marshalJS(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// replay evaluates the process's whole schedule (no crons) on a fresh
// instance and returns the memory.
func (n *testNet) replay(t testing.TB, pid string) []byte {
	t.Helper()
	envJSON, msgs := n.replayMessages(t, pid)
	eng, err := loader.NewEngine(loader.EngineConfig{CacheDir: filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache", "aocu-compiled")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	file := map[string]string{"wasm64-unknown-emscripten-draft_2024_02_15": "aos2_0_6.wasm", "wasm32-unknown-emscripten-metering": "aos2_0_4_32.wasm"}[n.format]
	mod, _, err := eng.Compile(context.Background(), moduleFixture(t, file), loader.Format(n.format))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mod.NewProcess(context.Background(), loader.ProcessOptions{GasLimit: 9e12})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, msg := range msgs {
		if _, err := p.Handle(context.Background(), msg, envJSON); err != nil {
			t.Fatalf("replay message %d: %v", i, err)
		}
	}
	return append([]byte(nil), p.Memory()...)
}

// replayMessages maps the SU's schedule of the process to the env and the
// message JSONs the module receives.
func (n *testNet) replayMessages(t testing.TB, pid string) ([]byte, [][]byte) {
	t.Helper()
	var page struct {
		Edges []struct {
			Node struct {
				Message struct {
					ID        string `json:"id"`
					Owner     struct{ Address string }
					Tags      []replayTag     `json:"tags"`
					Data      json.RawMessage `json:"data"`
					Signature json.RawMessage `json:"signature"`
					Anchor    json.RawMessage `json:"anchor"`
				} `json:"message"`
				Assignment struct {
					Tags []replayTag `json:"tags"`
				} `json:"assignment"`
			} `json:"node"`
		} `json:"edges"`
	}
	resp, body := doGet(t, n.suURL+"/"+pid+"?process-id="+pid+"&limit=1000")
	if resp != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("SU page: %d %s", resp, body)
	}
	var procTags []replayTag
	var envJSON []byte
	var msgs [][]byte
	for i, e := range page.Edges {
		m := e.Node.Message
		at := map[string]string{}
		for _, tg := range e.Node.Assignment.Tags {
			at[tg.Name] = tg.Value
		}
		num := func(k string) int64 { v, _ := strconv.ParseInt(at[k], 10, 64); return v }
		rm := replayMsg{ID: m.ID, Signature: m.Signature, Data: m.Data, Owner: m.Owner.Address, Target: at["Process"],
			Anchor: m.Anchor, From: m.Owner.Address, Tags: []replayTag{},
			Epoch: num("Epoch"), Nonce: num("Nonce"), Timestamp: num("Timestamp"), BlockHeight: num("Block-Height"), HashChain: at["Hash-Chain"]}
		for _, tg := range m.Tags {
			switch tg.Name {
			case "From", "Owner":
				continue
			case "From-Process":
				owner := rm.Owner
				rm.ForwardedBy = &owner
				if tg.Value != "" {
					rm.From = tg.Value
				}
			}
			rm.Tags = append(rm.Tags, tg)
		}
		if i == 0 {
			procTags = m.Tags
			modTags := []replayTag{}
			for _, kv := range [][2]string{{"Data-Protocol", "ao"}, {"Variant", "ao.TN.1"}, {"Type", "Module"}, {"Module-Format", n.format},
				{"Input-Encoding", "JSON-1"}, {"Output-Encoding", "JSON-1"}, {"Memory-Limit", "1-gb"}, {"Compute-Limit", "9000000000000"}} {
				modTags = append(modTags, replayTag{kv[0], kv[1]})
			}
			envJSON = marshalJS(t, struct {
				Process replayEnvPart
				Module  replayEnvPart
			}{replayEnvPart{pid, m.Owner.Address, procTags}, replayEnvPart{n.mod, n.user.Address(), modTags}})
		}
		msgs = append(msgs, marshalJS(t, rm))
	}
	return envJSON, msgs
}

func doGet(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, body := localnettestDo(t, url)
	return resp, body
}
