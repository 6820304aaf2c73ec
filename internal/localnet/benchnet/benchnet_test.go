package benchnet

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// The benchmarks' network: a module published to the gateway, a process
// spawned on the SU with it, read back from the SU.
func TestStartPublishSpawn(t *testing.T) {
	ctx := context.Background()
	w := localnettest.Wallet(t)
	n, err := Start(ctx, Config{Dir: t.TempDir(), SUWallet: w})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", ".fixtures", "modules", "process.wasm")); err == nil {
		wasm = b
	}
	client := &http.Client{}
	mod, err := PublishModule(ctx, client, n.GatewayURL, w, wasm, "wasm32-unknown-emscripten")
	if err != nil || len(mod) != 43 {
		t.Fatalf("module %q: %v", mod, err)
	}
	raw, err := SignItem(w, nil, "", "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", mod, "Scheduler", n.SUAddress)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := PostItem(ctx, client, n.SUURL+"/", raw)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := localnettest.Do(t, http.MethodGet, n.SUURL+"/processes/"+pid, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the SU does not know the process %s: %d %s", pid, resp.StatusCode, body)
	}
	if _, err := PostItem(ctx, client, n.SUURL+"/", []byte("not an item")); err == nil {
		t.Fatal("a bad item was accepted")
	}
}
