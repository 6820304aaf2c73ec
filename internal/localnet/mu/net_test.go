package mu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/localnet/mu"
	"github.com/aocu/aocu/internal/localnet/su"
	"github.com/aocu/aocu/internal/servecmd"
)

// The harness: a local gateway and SU, the real CU (`aocu serve`) and the MU,
// over real HTTP, as internal/servecmd's tests build them. The SU and the CU
// sit behind switchable faults.

const (
	moduleFile   = "aos2_0_6.wasm"
	moduleFormat = "wasm64-unknown-emscripten-draft_2024_02_15"
)

// clock is a settable clock shared by the gateway and the SU, so that
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

// fault makes a server fail the requests it matches.
type fault struct {
	mu sync.Mutex
	// match selects the requests concerned (all if nil); body is the
	// request body.
	match func(r *http.Request, body []byte) bool
	// down: answer 503 without serving.
	down bool
	// commitThenFail: serve the request, then answer 503 (a lost answer).
	commitThenFail bool
	// status and body answer instead of 503 "injected fault" when set.
	status int
	body   string
	hits   int
}

func (f *fault) set(match func(*http.Request, []byte) bool, down, commitThenFail bool) {
	f.mu.Lock()
	f.match, f.down, f.commitThenFail, f.status, f.body = match, down, commitThenFail, 0, ""
	f.mu.Unlock()
}

// answer makes the requests match selects fail with status and body.
func (f *fault) answer(match func(*http.Request, []byte) bool, status int, body string) {
	f.mu.Lock()
	f.match, f.down, f.commitThenFail, f.status, f.body = match, true, false, status, body
	f.mu.Unlock()
}

func (f *fault) clear() {
	f.mu.Lock()
	f.match, f.down, f.commitThenFail, f.status, f.body = nil, false, false, 0, ""
	f.mu.Unlock()
}

func (f *fault) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *fault) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		match, down, ctf, status, answer := f.match, f.down, f.commitThenFail, f.status, f.body
		f.mu.Unlock()
		if !down && !ctf {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if match != nil && !match(r, body) {
			next.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		f.hits++
		f.mu.Unlock()
		if ctf {
			next.ServeHTTP(httptest.NewRecorder(), r)
		}
		if status != 0 {
			http.Error(w, answer, status)
			return
		}
		http.Error(w, "injected fault", http.StatusServiceUnavailable)
	})
}

// handlerSwitch serves with the current MU, so that a restarted MU keeps
// its URL.
type handlerSwitch struct {
	mu sync.RWMutex
	h  http.Handler
}

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.h
	s.mu.RUnlock()
	if h == nil {
		http.Error(w, "no MU", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

type testNet struct {
	clock    *clock
	gw       *gateway.Server
	gwURL    string
	su       *su.Server
	suURL    string
	suFault  *fault
	cuURL    string // the CU itself
	cuProxy  string // the CU behind cuFault: what the MU calls
	cuFault  *fault
	user     *arweave.Wallet
	muWallet *arweave.Wallet
	mod      string
	dir      string
	log      *slog.Logger

	muMu   sync.Mutex
	mu     *mu.Server
	muURL  string
	muSw   *handlerSwitch
	muConf mu.Config
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func moduleFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(repoRoot(), ".fixtures", "modules", name))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixture %s missing in CI: %v", name, err)
		}
		t.Skipf("fixture %s missing (run scripts/fixtures.sh): %v", name, err)
	}
	return b
}

var muWallet struct {
	once sync.Once
	w    *arweave.Wallet
	err  error
}

func messengerWallet(t testing.TB) *arweave.Wallet {
	muWallet.once.Do(func() { muWallet.w, muWallet.err = arweave.GenerateWallet() })
	if muWallet.err != nil {
		t.Fatal(muWallet.err)
	}
	return muWallet.w
}

func startNet(t *testing.T, tune func(*mu.Config)) *testNet {
	t.Helper()
	ctx := context.Background()
	mod := moduleFixture(t, moduleFile)
	n := &testNet{clock: &clock{t: time.UnixMilli(1700000000123)}, user: localnettest.Wallet(t), muWallet: messengerWallet(t),
		dir: t.TempDir(), suFault: &fault{}, cuFault: &fault{}}
	n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		n.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	gs := gwsu.StartWith(t, gwsu.Options{Now: n.clock.Now, Logger: n.log, SUWallet: n.user, WrapSU: n.suFault.wrap})
	n.gw, n.gwURL, n.su, n.suURL = gs.Gateway, gs.GatewayURL, gs.SU, gs.SUURL

	n.mod = n.publish(t, mod, "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module",
		"Module-Format", moduleFormat, "Input-Encoding", "JSON-1", "Output-Encoding", "JSON-1",
		"Memory-Limit", "1-gb", "Compute-Limit", "9000000000000")

	env := map[string]string{
		"GATEWAY_URL":                   n.gwURL,
		"DB_URL":                        filepath.Join(n.dir, "cu", "ao-cache"),
		"PROCESS_MEMORY_CACHE_FILE_DIR": filepath.Join(n.dir, "cu", "memory"),
		"WASM_BINARY_FILE_DIRECTORY":    filepath.Join(repoRoot(), ".fixtures", "cu-wasm-cache"),
		"RATE_LIMIT_MAX_REQUESTS":       "100000",
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cu, err := servecmd.Start(ctx, cfg, servecmd.Options{Logger: n.log, Listener: ln, Wallet: n.user})
	if err != nil {
		t.Fatal(err)
	}
	n.cuURL = cu.URL
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cu.Shutdown(sctx); err != nil {
			t.Errorf("CU shutdown: %v", err)
		}
	})
	target, _ := url.Parse(cu.URL)
	cuHS := httptest.NewServer(n.cuFault.wrap(httputil.NewSingleHostReverseProxy(target)))
	n.cuProxy = cuHS.URL
	t.Cleanup(cuHS.Close)

	n.muConf = mu.Config{
		DataDir:       filepath.Join(n.dir, "mu"),
		Wallet:        n.muWallet,
		GatewayURL:    n.gwURL,
		CUURL:         n.cuProxy,
		Logger:        n.log,
		Workers:       2,
		PollInterval:  200 * time.Millisecond,
		RetryDelay:    50 * time.Millisecond,
		MaxRetryDelay: 300 * time.Millisecond,
	}
	if tune != nil {
		tune(&n.muConf)
	}
	n.muSw = &handlerSwitch{}
	muHS := httptest.NewServer(n.muSw)
	n.muURL = muHS.URL
	n.startMU(t)
	t.Cleanup(func() {
		muHS.Close()
		n.stopMU(t)
	})
	return n
}

// startMU starts an MU on the net's data directory.
func (n *testNet) startMU(t testing.TB) {
	t.Helper()
	m, err := mu.New(context.Background(), n.muConf)
	if err != nil {
		t.Fatal(err)
	}
	n.muMu.Lock()
	n.mu = m
	n.muMu.Unlock()
	n.muSw.mu.Lock()
	n.muSw.h = m
	n.muSw.mu.Unlock()
}

// stopMU closes the MU (its pending work stays in its database).
func (n *testNet) stopMU(t testing.TB) {
	t.Helper()
	n.muSw.mu.Lock()
	n.muSw.h = nil
	n.muSw.mu.Unlock()
	n.muMu.Lock()
	m := n.mu
	n.mu = nil
	n.muMu.Unlock()
	if m != nil {
		if err := m.Close(); err != nil {
			t.Errorf("MU close: %v", err)
		}
	}
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

// postMU sends a signed item to the MU and returns the id it answered.
func (n *testNet) postMU(t testing.TB, raw []byte) string {
	t.Helper()
	resp, body := localnettest.Do(t, "POST", n.muURL+"/", "application/octet-stream", raw)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("MU POST: %d %s", resp.StatusCode, body)
	}
	var r struct{ Message, ID string }
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" || r.Message != "Processing DataItem" {
		t.Fatalf("MU POST: %s", body)
	}
	return r.ID
}

// spawn spawns an aos process through the MU; it trusts the MU.
func (n *testNet) spawn(t testing.TB, name string, tags ...string) string {
	t.Helper()
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", n.mod,
		"Scheduler", n.su.Address(), "Authority", n.muWallet.Address(), "Name", name, "SDK", "aoconnect"}
	d, raw := sign(t, n.user, []byte("1984"), "", append(base, tags...)...)
	id := n.postMU(t, raw)
	if id != d.ID() {
		t.Fatalf("MU answered id %s for %s", id, d.ID())
	}
	return id
}

// send sends a message through the MU.
func (n *testNet) send(t testing.TB, pid, data string, tags ...string) string {
	t.Helper()
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "SDK", "aoconnect"}
	_, raw := sign(t, n.user, []byte(data), pid, append(base, tags...)...)
	return n.postMU(t, raw)
}

func (n *testNet) eval(t testing.TB, pid, code string) string {
	t.Helper()
	return n.send(t, pid, code, "Action", "Eval")
}

// waitIdle waits until the MU has no crank step left.
func (n *testNet) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n.muMu.Lock()
		m := n.mu
		n.muMu.Unlock()
		p, err := m.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the MU still has %d steps pending", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// result is GET /result on the CU; it fails on a non-200 or an Error.
func (n *testNet) result(t testing.TB, pid, id string) map[string]json.RawMessage {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", n.cuURL+"/result/"+id+"?process-id="+pid, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /result/%s: %d %s", id, resp.StatusCode, body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("result: %s", body)
	}
	if e, ok := m["Error"]; ok {
		t.Fatalf("result of %s: Error %s (Output %s)", id, e, m["Output"])
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

// evalOK runs code in a process through the MU and returns its output.
func (n *testNet) evalOK(t testing.TB, pid, code string) (string, string) {
	t.Helper()
	id := n.eval(t, pid, code)
	return id, outputData(t, n.result(t, pid, id))
}

var queries atomic.Int64

// query runs Lua in a dry-run and returns its output. Each has an Id of its
// own: the CU caches dry-run answers by body.
func (n *testNet) query(t testing.TB, pid, code string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"Id": "query-" + strconv.FormatInt(queries.Add(1), 10), "Owner": n.user.Address(), "Target": pid, "Data": code,
		"Tags": []map[string]string{{"name": "Action", "value": "Eval"}},
	})
	resp, out := localnettest.Do(t, "POST", n.cuURL+"/dry-run?process-id="+pid, "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("dry-run: %d %s", resp.StatusCode, out)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("dry-run: %s", out)
	}
	return outputData(t, m)
}

func (n *testNet) queryInt(t testing.TB, pid, expr string) int {
	t.Helper()
	s := n.query(t, pid, "return tostring("+expr+")")
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s in %s: %q", expr, pid, s)
	}
	return v
}

// suMessage is a message of an SU stream.
type suMessage struct {
	ID    string
	Owner string
	Tags  []arweave.Tag
	Data  string
}

// stream reads a process's messages from the SU (the process itself
// excluded).
func (n *testNet) stream(t testing.TB, pid string) []suMessage {
	t.Helper()
	var out []suMessage
	from := ""
	for {
		u := n.suURL + "/" + pid + "?process-id=" + pid + "&limit=1000"
		if from != "" {
			u += "&from=" + from
		}
		resp, body := localnettest.Do(t, "GET", u, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("SU stream: %d %s", resp.StatusCode, body)
		}
		var page struct {
			PageInfo struct {
				HasNextPage bool `json:"has_next_page"`
			} `json:"page_info"`
			Edges []struct {
				Cursor string `json:"cursor"`
				Node   struct {
					Message *struct {
						ID    string `json:"id"`
						Owner struct {
							Address string `json:"address"`
						} `json:"owner"`
						Tags []arweave.Tag `json:"tags"`
						Data *string       `json:"data"`
					} `json:"message"`
				} `json:"node"`
			} `json:"edges"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("SU stream: %s", body)
		}
		for _, e := range page.Edges {
			m := e.Node.Message
			if m == nil || m.ID == pid {
				continue
			}
			sm := suMessage{ID: m.ID, Owner: m.Owner.Address, Tags: m.Tags}
			if m.Data != nil {
				sm.Data = *m.Data
			}
			out = append(out, sm)
		}
		if !page.PageInfo.HasNextPage || len(page.Edges) == 0 {
			return out
		}
		from = page.Edges[len(page.Edges)-1].Cursor
	}
}

// withTag keeps the messages that carry name=value.
func withTag(ms []suMessage, name, value string) []suMessage {
	var out []suMessage
	for _, m := range ms {
		if v, ok := tagOf(m.Tags, name); ok && v == value {
			out = append(out, m)
		}
	}
	return out
}

func tagOf(tags []arweave.Tag, name string) (string, bool) {
	for _, t := range tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// metric reads one sample of the MU's /metrics (0 if absent).
func (n *testNet) metric(t testing.TB, series string) float64 {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", n.muURL+"/metrics", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func must(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

var _ = fmt.Sprint
