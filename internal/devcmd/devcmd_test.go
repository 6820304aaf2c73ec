package devcmd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func modulesDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".fixtures", "modules")
	if _, err := os.Stat(filepath.Join(dir, "aos2_0_6.wasm")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixtures missing in CI: %v", err)
		}
		t.Skipf("fixtures missing (run scripts/fixtures.sh): %v", err)
	}
	return dir
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDevNetwork starts the whole network on free ports, checks every unit
// answers and the modules and the SU's location are published, then restarts
// it on the same data directory: same wallets, same module ids.
func TestDevNetwork(t *testing.T) {
	dir := t.TempDir()
	o := Options{DataDir: dir, ModulesDir: modulesDir(t), Host: "127.0.0.1", BlockInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	n, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if n.Modules[DefaultModule] == "" {
		t.Fatalf("default module not published: %v", n.Modules)
	}
	if code, body := get(t, n.MUURL+"/"); code != 200 || !strings.Contains(body, "messenger unit") {
		t.Fatalf("MU: %d %s", code, body)
	}
	var cu struct{ Address string }
	if code, body := get(t, n.CUURL+"/"); code != 200 || json.Unmarshal([]byte(body), &cu) != nil || cu.Address != n.CUAddress {
		t.Fatalf("CU: %d %s", code, body)
	}
	if code, body := get(t, n.SUURL+"/"); code != 200 || !strings.Contains(body, n.SUAddress) {
		t.Fatalf("SU: %d %s", code, body)
	}
	// The module and the Scheduler-Location are on the gateway, with their tags.
	for _, q := range []string{
		`{"query":"{ transactions(ids:[\"` + n.Modules[DefaultModule] + `\"]) { edges { node { tags { name value } } } } }"}`,
		`{"query":"{ transactions(owners:[\"` + n.SUAddress + `\"], tags:[{name:\"Type\", values:[\"Scheduler-Location\"]}]) { edges { node { tags { name value } } } } }"}`,
	} {
		resp, err := http.Post(n.GatewayURL+"/graphql", "application/json", strings.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"Module-Format","value":"wasm64-unknown-emscripten-draft_2024_02_15"`) &&
			!strings.Contains(string(b), `"Url","value":"`+n.SUURL+`"`) {
			t.Fatalf("gateway: %s", b)
		}
	}
	var desc struct {
		MUAddress     string            `json:"muAddress"`
		CUURL         string            `json:"cuUrl"`
		Modules       map[string]string `json:"modules"`
		DefaultModule string            `json:"defaultModule"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "network.json"))
	if err != nil || json.Unmarshal(b, &desc) != nil || desc.MUAddress != n.MUAddress || desc.CUURL != n.CUURL ||
		desc.Modules[desc.DefaultModule] != n.Modules[DefaultModule] {
		t.Fatalf("network.json: %v %s", err, b)
	}
	// The explorer serves network.json; it holds the aos command line.
	code, served := get(t, n.ExplorerURL+"/network.json")
	if code != 200 || served != string(b) {
		t.Fatalf("GET /network.json: %d %s", code, served)
	}
	aos := n.AOSCommand("myprocess")
	for _, want := range []string{"GATEWAY_URL=" + n.GatewayURL + " ", "CU_URL=" + n.CUURL + " ", "MU_URL=" + n.MUURL + " ",
		" aos myprocess --legacy ", "--module " + n.Modules[DefaultModule], "--scheduler " + n.SUAddress,
		"--tag-name Authority --tag-value " + n.MUAddress} {
		if !strings.Contains(aos, want) {
			t.Fatalf("aos command %q lacks %q", aos, want)
		}
	}
	if !strings.Contains(string(b), `"command": "`+aos+`"`) {
		t.Fatalf("network.json lacks the aos command: %s", b)
	}
	banner := n.Banner(dir)
	for _, want := range []string{n.MUAddress, n.SUAddress, n.Modules[DefaultModule], "createDataItemSigner", "Authority", aos, n.ExplorerURL + "') + '/network.json'"} {
		if !strings.Contains(banner, want) {
			t.Fatalf("banner lacks %s:\n%s", want, banner)
		}
	}
	first := *n
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	n2, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown(sctx)
	if n2.MUAddress != first.MUAddress || n2.SUAddress != first.SUAddress || n2.Modules[DefaultModule] != first.Modules[DefaultModule] {
		t.Fatalf("a restart changed the network: %+v vs %+v", n2.Modules, first.Modules)
	}
}
