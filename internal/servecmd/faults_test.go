package servecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/config"
)

// The faults a faultProxy injects.
const (
	faultNone      = ""
	fault5xx       = "5xx"       // 500, 502 or 503 with a JSON body
	faultReset     = "reset"     // the connection closed without an answer
	faultStall     = "stall"     // no answer for longer than the CU's client timeout
	faultTruncate  = "truncate"  // the body cut in the middle, Content-Length of the whole
	faultShort     = "short"     // the first half of the body with a matching Content-Length
	faultGarbage   = "garbage"   // 200 with bytes that are not the answer
	faultReorder   = "reorder"   // an SU page with two messages swapped
	faultGap       = "gap"       // an SU page without its first message
	faultDuplicate = "duplicate" // an SU page with a message twice
)

var allFaults = []string{fault5xx, faultReset, faultStall, faultTruncate, faultShort, faultGarbage, faultReorder, faultGap, faultDuplicate}

// faultProxy is a reverse proxy in front of the SU or the gateway that
// injects faults into a share of the requests.
type faultProxy struct {
	name    string
	rp      *httputil.ReverseProxy
	stall   time.Duration
	rewrite func([]byte) []byte // applied to every body passed on (nil: none)

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64  // share of the requests that get a fault
	kinds  []string // the faults drawn from
	counts map[string]int
}

type faultKey struct{}

func newFaultProxy(t testing.TB, name, target string, seed int64, stall time.Duration) (*faultProxy, *httptest.Server) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{name: name, stall: stall, rng: rand.New(rand.NewSource(seed)), counts: map[string]int{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Header.Del("Accept-Encoding") // bodies are rewritten: no gzip
		},
		ModifyResponse: p.modify,
		ErrorLog:       log.New(io.Discard, "", 0), // the aborted bodies are deliberate
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

// set makes a share rate of the requests get one of kinds (rate 0: none).
func (p *faultProxy) set(rate float64, kinds ...string) {
	p.mu.Lock()
	p.rate, p.kinds = rate, kinds
	p.mu.Unlock()
}

func (p *faultProxy) draw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kinds) == 0 || p.rng.Float64() >= p.rate {
		p.counts["passed"]++
		return faultNone
	}
	k := p.kinds[p.rng.Intn(len(p.kinds))]
	return k
}

func (p *faultProxy) count(kind string) {
	p.mu.Lock()
	p.counts[kind]++
	p.mu.Unlock()
}

func (p *faultProxy) stats() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ks []string
	for k, v := range p.counts {
		ks = append(ks, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(ks)
	return p.name + ": " + strings.Join(ks, " ")
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := p.draw()
	switch kind {
	case fault5xx:
		p.count(kind)
		codes := []int{500, 502, 503}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(codes[int(time.Now().UnixNano()/1000)%len(codes)])
		io.WriteString(w, `{"error":"injected failure"}`)
		return
	case faultReset:
		p.count(kind)
		hijackClose(w)
		return
	case faultStall:
		p.count(kind)
		select {
		case <-time.After(p.stall):
		case <-r.Context().Done():
		}
		hijackClose(w)
		return
	case faultGarbage:
		p.count(kind)
		w.Header().Set("Content-Type", "application/json")
		junk := make([]byte, 64)
		p.mu.Lock()
		p.rng.Read(junk)
		p.mu.Unlock()
		if junk[0]%2 == 0 {
			junk = []byte("<html><body>502 Bad Gateway (an upstream page)</body></html>")
		}
		w.Write(junk)
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, kind)))
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// isPage tells whether r asks the SU for a page of messages:
// /{pid}?process-id={pid}&from=…
func isPage(r *http.Request) bool {
	pid := r.URL.Query().Get("process-id")
	return pid != "" && strings.TrimPrefix(r.URL.Path, "/") == pid
}

// modify applies the rewrite and the body faults to an upstream answer.
func (p *faultProxy) modify(resp *http.Response) error {
	kind, _ := resp.Request.Context().Value(faultKey{}).(string)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if p.rewrite != nil {
		body = p.rewrite(body)
	}
	switch kind {
	case faultReorder, faultGap, faultDuplicate:
		if resp.StatusCode == 200 && isPage(resp.Request) {
			if b, ok := manglePage(body, kind); ok {
				p.count(kind)
				body = b
				break
			}
		}
		p.count("passed")
	case faultTruncate:
		p.count(kind)
		resp.Body = &truncated{r: bytes.NewReader(body[:len(body)/2])}
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	case faultShort:
		p.count(kind)
		body = body[:len(body)/2]
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// truncated is a body that ends with an error after its bytes: the proxy
// then aborts the answer mid-body.
type truncated struct{ r *bytes.Reader }

func (t *truncated) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (t *truncated) Close() error { return nil }

// manglePage reorders, gaps or duplicates the edges of an SU page.
func manglePage(body []byte, kind string) ([]byte, bool) {
	var page map[string]json.RawMessage
	if json.Unmarshal(body, &page) != nil {
		return nil, false
	}
	var edges []json.RawMessage
	if json.Unmarshal(page["edges"], &edges) != nil || len(edges) < 2 {
		return nil, false
	}
	switch kind {
	case faultReorder:
		edges[0], edges[1] = edges[1], edges[0]
	case faultGap:
		edges = edges[1:]
	case faultDuplicate:
		edges = append([]json.RawMessage{edges[0]}, edges...)
	}
	page["edges"], _ = json.Marshal(edges)
	b, err := json.Marshal(page)
	return b, err == nil
}

// faultCU starts a second `aocu serve` in this process whose SU and gateway
// are behind the proxies.
func faultCU(t *testing.T, n *testNet, gwURL string) *Unit {
	t.Helper()
	dir := filepath.Join(n.dir, "faulty")
	env := map[string]string{
		"GATEWAY_URL":                         gwURL,
		"DB_URL":                              testDB(t, dir),
		"PROCESS_MEMORY_CACHE_FILE_DIR":       filepath.Join(dir, "memory"),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(dir, "checkpoints"),
		// Its own binary directory: the module is downloaded through the faults.
		"WASM_BINARY_FILE_DIRECTORY": filepath.Join(dir, "wasm"),
		"RATE_LIMIT_MAX_REQUESTS":    "100000",
		"LOAD_MESSAGES_PAGE_SIZE":    "3",
		"UPSTREAM_REQUEST_TIMEOUT":   "1000",
		"UPSTREAM_RETRY_DELAY":       "20",
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u.Shutdown(ctx)
	})
	return u
}

// faultRequest is one request of the scripted mix.
type faultRequest struct {
	name   string
	method string
	path   string
	body   []byte
	want   string // sha256 of the fault-free answer
	wantB  []byte // the fault-free answer (bodies under 1 MB), to show a difference
}

// boundedClient bounds every request to the CU: none may hang.
var boundedClient = &http.Client{Timeout: 45 * time.Second}

func (q faultRequest) do(base string) timedReply {
	start := time.Now()
	var rd io.Reader
	if q.body != nil {
		rd = bytes.NewReader(q.body)
	}
	req, _ := http.NewRequest(q.method, base+q.path, rd)
	if q.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := boundedClient.Do(req)
	if err != nil {
		return timedReply{body: []byte(err.Error()), took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return timedReply{body: []byte(err.Error()), took: time.Since(start)}
	}
	return timedReply{code: resp.StatusCode, body: b, took: time.Since(start)}
}

// TestServeFaultInjection puts a proxy that injects 5xx, resets, stalls,
// truncated and garbage bodies, and reordered, gapped and duplicated SU
// pages in front of the SU and the gateway of a second CU. Every request of
// a scripted mix ends in the fault-free answer (that of a CU without the
// proxies) or a clear error (4xx/5xx with a JSON error) within a bound, and
// once the faults stop, every /result, /results and /state of the faulty CU
// equals the fault-free one: nothing wrong was stored.
func TestServeFaultInjection(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	owner := n.user.Address()

	// Two processes, each with a KV store, values, a failing Eval and a
	// failing handler among them.
	type proc struct {
		pid  string
		msgs []string
	}
	var procs []*proc
	for i := 0; i < 2; i++ {
		p := &proc{pid: n.spawn(t, "")}
		p.msgs = append(p.msgs, p.pid, n.eval(t, p.pid, handlersCode))
		for j := 0; j < 7; j++ {
			switch j {
			case 2:
				p.msgs = append(p.msgs, n.eval(t, p.pid, "this is not lua"))
			case 5:
				p.msgs = append(p.msgs, n.eval(t, p.pid, "error('deliberate')"))
			default:
				p.msgs = append(p.msgs, n.send(t, p.pid, fmt.Sprintf("value %d.%d", i, j), "Action", "Set", "Key", fmt.Sprint("k", j)))
			}
		}
		procs = append(procs, p)
	}
	dryBody := func(key string) []byte {
		return []byte(`{"Owner":"` + owner + `","Tags":[{"name":"Action","value":"Get"},{"name":"Key","value":"` + key + `"}]}`)
	}

	// The fault-free reference: the CU of the net, without proxies.
	var script []faultRequest
	for _, p := range procs {
		for _, mid := range p.msgs {
			script = append(script, faultRequest{name: "result", method: "GET", path: "/result/" + mid + "?process-id=" + p.pid})
		}
		script = append(script, faultRequest{name: "dry-run", method: "POST", path: "/dry-run?process-id=" + p.pid, body: dryBody("k3")})
	}
	// /state is 110 MB: asked of one process (the other's is compared at the end).
	script = append(script, faultRequest{name: "state", method: "GET", path: "/state/" + procs[1].pid})
	for i := range script {
		r := script[i].do(n.cuURL)
		must(t, r.code == 200, "fault-free %s %s: %v", script[i].name, script[i].path, r)
		script[i].want = sha(r.body)
		if len(r.body) < 1<<20 {
			script[i].wantB = r.body
		}
	}

	suP, suSrv := newFaultProxy(t, "SU", n.suURL, 1, 1500*time.Millisecond)
	gwP, gwSrv := newFaultProxy(t, "gateway", n.gwURL, 2, 1500*time.Millisecond)
	gwP.rewrite = func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(n.suURL), []byte(suSrv.URL)) }
	cu := faultCU(t, n, gwSrv.URL)

	// Phase 1: a third of the SU's and the gateway's answers are faulty.
	suP.set(0.35, allFaults...)
	gwP.set(0.35, fault5xx, faultReset, faultStall, faultTruncate, faultShort, faultGarbage)
	rng := rand.New(rand.NewSource(3))
	order := rng.Perm(len(script))
	type outcome struct {
		q faultRequest
		r timedReply
	}
	outcomes := make(chan outcome, len(script)*2)
	jobs := make(chan faultRequest)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range jobs {
				outcomes <- outcome{q, q.do(cu.URL)}
			}
		}()
	}
	start := time.Now()
	for _, i := range order {
		jobs <- script[i]
	}
	for _, i := range rng.Perm(len(script))[:6] { // some asked again
		jobs <- script[i]
	}
	close(jobs)
	wg.Wait()
	close(outcomes)
	right, failed := 0, map[int]int{}
	var slowest time.Duration
	for o := range outcomes {
		slowest = max(slowest, o.r.took)
		switch {
		case o.r.code == 200:
			must(t, sha(o.r.body) == o.q.want, "%s %s answered 200 with a wrong body under faults:\n%s\nthe fault-free answer:\n%s", o.q.name, o.q.path, clip(o.r.body), clip(o.q.wantB))
			right++
		case o.r.code >= 400 && o.r.code < 600:
			must(t, errorText(o.r.body) != "", "%s %s answered %d without a JSON error: %.300s", o.q.name, o.q.path, o.r.code, o.r.body)
			failed[o.r.code]++
		default:
			t.Fatalf("%s %s: %v (neither the answer nor a clear error)", o.q.name, o.q.path, o.r)
		}
	}
	t.Logf("intermittent faults: %d requests in %v: %d right, errors %v, slowest %v; %s; %s",
		len(script)+6, time.Since(start).Round(time.Millisecond), right, failed, slowest.Round(time.Millisecond), suP.stats(), gwP.stats())

	// Phase 2: the SU is down in each way in turn; a new message's /result
	// and a dry-run end in a clear error within the bound.
	latecomers := map[string]string{}
	for _, kind := range allFaults {
		p := procs[0]
		var mid string
		for i := 0; i < 3; i++ { // pages of more than one message, to be mangled
			mid = n.send(t, p.pid, fmt.Sprint("late ", kind, i), "Action", "Set", "Key", "late")
			latecomers[mid] = p.pid
		}
		suP.set(1, kind)
		qs := []faultRequest{{name: "result", method: "GET", path: "/result/" + mid + "?process-id=" + p.pid}}
		if kind != faultStall { // a stall costs every retry's timeout: once is enough
			qs = append(qs, faultRequest{name: "dry-run", method: "POST", path: "/dry-run?process-id=" + p.pid, body: dryBody("late-" + kind)})
		}
		for _, q := range qs {
			r := q.do(cu.URL)
			t.Logf("SU always %s: %s → %v", kind, q.name, r)
			switch {
			case kind == faultReorder || kind == faultGap || kind == faultDuplicate:
				// Every page is bad: nothing new can be evaluated.
				must(t, r.code == 502 && strings.Contains(errorText(r.body), p.pid), "%s with every SU page %s: %v", q.name, kind, r)
			case r.code == 200:
				t.Fatalf("%s answered 200 with the SU always failing (%s): %v", q.name, kind, r)
			default:
				must(t, r.code >= 500 && errorText(r.body) != "", "%s with the SU always failing (%s): %v", q.name, kind, r)
			}
		}
	}
	suP.set(0)
	gwP.set(0)

	// Faults over: everything equals the fault-free run (procs[1]'s stream
	// has not moved since it was taken; procs[0]'s moved on with the
	// latecomers: its dry-run, which answers the latest state once
	// DRY_RUN_PROCESS_CACHE_TTL has passed, is compared below).
	movedDryRun := "/dry-run?process-id=" + procs[0].pid
	for _, q := range script {
		if q.path == movedDryRun {
			continue
		}
		r := q.do(cu.URL)
		must(t, r.code == 200 && sha(r.body) == q.want, "after the faults, %s %s: %v", q.name, q.path, r)
	}
	for mid, pid := range latecomers {
		path := "/result/" + mid + "?process-id=" + pid
		a, b := timedDo("GET", n.cuURL+path, nil), timedDo("GET", cu.URL+path, nil)
		must(t, a.code == 200 && b.code == 200 && sha(a.body) == sha(b.body), "a message sent during the outage: reference %v, faulty CU %v", a, b)
	}
	// Both CUs now stand after the latecomers. (A body neither CU has seen:
	// the script's dry-run of k3 may still be in one CU's result cache,
	// DRY_RUN_RESULT_MAX_AGE, and not in the other's, whose tries failed
	// under the faults.)
	fresh := strings.Replace(string(dryBody("k3")), `"Tags":[`, `"Tags":[{"name":"Asked","value":"after the latecomers"},`, 1)
	dry := faultRequest{name: "dry-run", method: "POST", path: movedDryRun, body: []byte(fresh)}
	a, b := dry.do(n.cuURL), dry.do(cu.URL)
	must(t, a.code == 200 && b.code == 200 && sha(a.body) == sha(b.body), "dry-run after the latecomers: reference %v, faulty CU %v", a, b)
	for _, p := range procs {
		want, got := allResults(t, n.cuURL, p.pid), allResults(t, cu.URL, p.pid)
		must(t, strings.Join(want, "\n") == strings.Join(got, "\n"), "/results of %s differ from the fault-free run:\n%v\n%v", p.pid, got, want)
		a, b := n.state(t, p.pid), timedDo("GET", cu.URL+"/state/"+p.pid, nil)
		must(t, b.code == 200 && sha(a) == sha(b.body), "/state of %s differs from the fault-free run", p.pid)
	}
}

// clip keeps a body short enough for a failure message.
func clip(b []byte) string {
	if len(b) > 4000 {
		return string(b[:4000]) + "…"
	}
	return string(b)
}
