package servecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/localnet/su"
)

// clock is a settable clock shared by the local gateway and SU, so that
// message timestamps (and crons) are under the test's control.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // every reading moves on: distinct timestamps
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testNet is a local gateway and SU over real HTTP, and `aocu serve` on them.
type testNet struct {
	clock      *clock
	gw         *gateway.Server
	gwURL      string
	su         *su.Server
	suURL      string
	cu         *Unit
	cuURL      string
	user       *arweave.Wallet
	mu         *arweave.Wallet // a messenger unit's wallet, for pushed messages
	dir        string
	mod        string // module id
	env        map[string]string
	log        *slog.Logger
	cuWallet   *arweave.Wallet
	suMu       *sync.RWMutex
	suRedirect func(*http.Request) string // answers 307 to the returned base URL
	format     string
}

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// moduleFixture returns the bytes of an npm fixture module, skipping the test
// when scripts/fixtures.sh has not been run.
func moduleFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".fixtures", "modules", name))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixture %s missing in CI: %v", name, err)
		}
		t.Skipf("fixture %s missing (run scripts/fixtures.sh): %v", name, err)
	}
	return b
}

var testWallets struct {
	once     sync.Once
	user, mu *arweave.Wallet
	cu       *arweave.Wallet
	err      error
}

func wallets(t testing.TB) (user, mu, cu *arweave.Wallet) {
	testWallets.once.Do(func() {
		for _, w := range []**arweave.Wallet{&testWallets.user, &testWallets.mu, &testWallets.cu} {
			if *w, testWallets.err = arweave.GenerateWallet(); testWallets.err != nil {
				return
			}
		}
	})
	if testWallets.err != nil {
		t.Fatal(testWallets.err)
	}
	return testWallets.user, testWallets.mu, testWallets.cu
}

type netOptions struct {
	env          map[string]string // extra CU env
	manualBlocks bool              // blocks only when the test mines them
	log          *slog.Logger      // the units' logger (default: quiet, or stderr with -v)
}

func startNet(t testing.TB, moduleFile, format string, o netOptions) *testNet {
	t.Helper()
	user, muW, cuW := wallets(t)
	n := &testNet{clock: &clock{t: time.UnixMilli(1700000000123)}, user: user, mu: muW, dir: t.TempDir(), format: format}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if o.log != nil {
		quiet = o.log
	}
	n.suMu = &sync.RWMutex{}
	gs := gwsu.StartWith(t, gwsu.Options{Now: n.clock.Now, Logger: quiet, ManualBlocks: o.manualBlocks,
		WrapSU: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.suMu.RLock()
				redirect := n.suRedirect
				n.suMu.RUnlock()
				if redirect != nil {
					if to := redirect(r); to != "" {
						http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
						return
					}
				}
				h.ServeHTTP(w, r)
			})
		}})
	n.gw, n.gwURL, n.su, n.suURL = gs.Gateway, gs.GatewayURL, gs.SU, gs.SUURL

	n.mod = n.publish(t, moduleFixture(t, moduleFile), "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module",
		"Module-Format", format, "Input-Encoding", "JSON-1", "Output-Encoding", "JSON-1",
		"Memory-Limit", "1-gb", "Compute-Limit", "9000000000000")

	env := map[string]string{
		"GATEWAY_URL":                         n.gwURL,
		"DB_URL":                              testDB(t, filepath.Join(n.dir, "cu")),
		"PROCESS_MEMORY_CACHE_FILE_DIR":       filepath.Join(n.dir, "cu", "memory"),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(n.dir, "cu", "checkpoints"),
		"WASM_BINARY_FILE_DIRECTORY":          filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache"),
		"RATE_LIMIT_MAX_REQUESTS":             "1000",
	}
	for k, v := range o.env {
		env[k] = v
	}
	n.env, n.log, n.cuWallet = env, quiet, cuW
	n.startCU(t)
	t.Cleanup(func() { n.stopCU(t) })
	return n
}

// startCU starts `aocu serve` on the net with n.env.
func (n *testNet) startCU(t testing.TB) {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := n.env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := Start(context.Background(), cfg, Options{Logger: n.log, Listener: ln, Wallet: n.cuWallet})
	if err != nil {
		t.Fatal(err)
	}
	n.cu, n.cuURL = u, u.URL
}

// stopCU shuts the CU down gracefully (as on SIGTERM).
func (n *testNet) stopCU(t testing.TB) {
	t.Helper()
	if n.cu == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.cu.Shutdown(sctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	n.cu = nil
}

func sign(t testing.TB, s arweave.Signer, data []byte, target string, tags ...string) (*arweave.DataItem, []byte) {
	t.Helper()
	d, err := arweave.NewDataItem(data, target, "", localnettest.Tags(tags...))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sign(s); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// publish posts a signed item to the gateway and returns its id.
func (n *testNet) publish(t testing.TB, data []byte, tags ...string) string {
	t.Helper()
	_, raw := sign(t, n.user, data, "", tags...)
	resp, body := localnettest.Do(t, "POST", n.gwURL+"/tx", "application/octet-stream", raw)
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	var r struct{ ID string }
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		t.Fatalf("publish: %s", body)
	}
	return r.ID
}

// post sends a signed item to the SU.
func (n *testNet) post(t testing.TB, raw []byte) string {
	t.Helper()
	resp, body := localnettest.Do(t, "POST", n.suURL+"/", "application/octet-stream", raw)
	if resp.StatusCode != 200 {
		t.Fatalf("SU POST: %d %s", resp.StatusCode, body)
	}
	var r struct{ ID string }
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		t.Fatalf("SU POST: %s", body)
	}
	return r.ID
}

func (n *testNet) spawn(t testing.TB, data string, tags ...string) string {
	t.Helper()
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", n.mod, "Scheduler", n.su.Address(), "Name", "e2e"}
	_, raw := sign(t, n.user, []byte(data), "", append(base, tags...)...)
	return n.post(t, raw)
}

func (n *testNet) send(t testing.TB, pid, data string, tags ...string) string {
	t.Helper()
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"}
	_, raw := sign(t, n.user, []byte(data), pid, append(base, tags...)...)
	return n.post(t, raw)
}

func (n *testNet) eval(t testing.TB, pid, code string) string {
	t.Helper()
	return n.send(t, pid, code, "Action", "Eval")
}

// get calls the CU.
func (n *testNet) get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", n.cuURL+path, "", nil)
	return resp.StatusCode, body
}

// result is GET /result and its decoded body; it fails on a non-200.
func (n *testNet) result(t testing.TB, pid, id string) map[string]json.RawMessage {
	t.Helper()
	code, body := n.get(t, "/result/"+id+"?process-id="+pid)
	if code != 200 {
		t.Fatalf("GET /result/%s: %d %s", id, code, body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("result: %s", body)
	}
	return m
}

// outputData is the aos Output.data of a result.
func outputData(t testing.TB, res map[string]json.RawMessage) string {
	t.Helper()
	var o struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(res["Output"], &o); err != nil {
		t.Fatalf("Output %s: %v", res["Output"], err)
	}
	var s string
	if json.Unmarshal(o.Data, &s) == nil {
		return s
	}
	return string(o.Data)
}

func noError(t testing.TB, res map[string]json.RawMessage) {
	t.Helper()
	if e, ok := res["Error"]; ok {
		t.Fatalf("unexpected Error %s (Output %s)", e, res["Output"])
	}
}

func must(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

var _ = fmt.Sprint

func localnettestDo(t testing.TB, url string) (int, []byte) {
	resp, body := localnettest.Do(t, "GET", url, "", nil)
	return resp.StatusCode, body
}

// redirect makes the SU answer 307 to another base URL where f says so.
func (n *testNet) redirect(f func(*http.Request) string) {
	n.suMu.Lock()
	n.suRedirect = f
	n.suMu.Unlock()
}

// suHandler is the real SU, bypassing redirects.
func (n *testNet) suHandler() http.Handler { return n.su }
