package evalcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
)

// TestWeaveDriveThroughGateway runs an AOP-6 spawn whose On-Boot names a
// transaction: the module fetches it through WeaveDrive (HEAD + ranged GET)
// from a real local gateway over HTTP, during its very first message. A
// second Eval reads /tx/<id>, and an inadmissible /data id HALTs the message
// without losing the process.
func TestWeaveDriveThroughGateway(t *testing.T) {
	args := fixtureArgs(t)
	ctx := context.Background()
	gw, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), BlockInterval: -1, MineOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw)
	defer srv.Close()

	wallet, err := arweave.LoadWalletFile(repoPath("internal", "arweave", "testdata", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(data string) string {
		item, err := arweave.NewDataItem([]byte(data), "", "", []arweave.Tag{{Name: "Content-Type", Value: "text/plain"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := item.Sign(wallet); err != nil {
			t.Fatal(err)
		}
		raw, err := item.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL+"/tx", "application/octet-stream", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("post item: %s", resp.Status)
		}
		return item.ID()
	}
	bootID := post(`BootedFrom = "tx"; print("boot script from tx ran"); return 42`)
	otherID := post("not admissible: no WeaveDrive extension on the process or module")

	// The probe's env and spawn message, with On-Boot naming the transaction.
	envRaw, err := os.ReadFile(args[5])
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	json.Unmarshal(envRaw, &env)
	proc := env["Process"].(map[string]any)
	proc["Tags"] = append(proc["Tags"].([]any), map[string]any{"name": "On-Boot", "value": bootID})
	envPath := filepath.Join(t.TempDir(), "env.json")
	b, _ := json.Marshal(env)
	os.WriteFile(envPath, b, 0o644)
	msgs := probeLines(t, 2)
	var spawn map[string]any
	json.Unmarshal([]byte(msgs[0]), &spawn)
	spawn["Tags"] = append(spawn["Tags"].([]any), map[string]any{"name": "On-Boot", "value": bootID})
	spawnLine, _ := json.Marshal(spawn)
	eval := func(id, code string) string {
		var m map[string]any
		json.Unmarshal([]byte(msgs[1]), &m)
		m["Id"], m["Data"] = id, code
		b, _ := json.Marshal(m)
		return string(b)
	}
	input := strings.Join([]string{
		string(spawnLine),
		eval("EVAL_BOOTED_FROM_000000000000000000000000000", `return BootedFrom`),
		eval("EVAL_TX_HEADER_00000000000000000000000000000", `local f = io.open("/tx/`+bootID+`"); return f:read(f:seek("end"))`),
		eval("EVAL_NOT_ADMISSIBLE_0000000000000000000000000", `return io.open("/data/`+otherID+`")`),
		eval("EVAL_AFTER_HALT_00000000000000000000000000000", `return BootedFrom .. "!"`),
	}, "\n")
	runArgs := append([]string{"--module", args[1], "--format", args[3], "--env", envPath, "--gateway", srv.URL}, args[6:]...)
	var out, errb bytes.Buffer
	if code := Run(ctx, runArgs, strings.NewReader(input), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res []struct {
		Output struct{ Data any }
		Error  string
		Halt   bool
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r struct {
			Output struct{ Data any }
			Error  string
			Halt   bool
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		res = append(res, r)
	}
	if len(res) != 5 {
		t.Fatalf("%d lines: %s", len(res), out.String())
	}
	if d, _ := res[0].Output.Data.(string); !strings.Contains(d, "boot script from tx ran") {
		t.Errorf("spawn with On-Boot=<txid>: %+v", res[0])
	}
	if d, _ := res[1].Output.Data.(string); !strings.HasSuffix(d, "tx") {
		t.Errorf("BootedFrom: %+v", res[1])
	}
	if d, _ := res[2].Output.Data.(string); !strings.Contains(d, `"id":"`+bootID+`"`) || !strings.Contains(d, `"ownerAddress":"`+wallet.Address()+`"`) {
		t.Errorf("/tx header: %+v", res[2])
	}
	if !res[3].Halt || !strings.Contains(res[3].Error, "HALT") {
		t.Errorf("inadmissible id: %+v", res[3])
	}
	if d, _ := res[4].Output.Data.(string); !strings.HasSuffix(d, "tx!") {
		t.Errorf("after HALT: %+v", res[4])
	}
}
