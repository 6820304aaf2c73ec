package servecmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// lastMsgCode records what the process saw of each message.
const lastMsgCode = `
Seen = Seen or {}
ao.addAssignable("anything", function (msg) return true end)
Handlers.add("Record", function (msg) return msg.Action == "Record" end, function (msg)
  Seen[#Seen + 1] = { From = msg.From, ForwardedBy = msg["Forwarded-By"], Owner = msg.Owner, Target = msg.Target,
    Data = msg.Data, Id = msg.Id, Note = msg.Tags.Note }
end)
return "ok"`

func TestServeAssignmentAndPushed(t *testing.T) {
	m := e2eModules[1] // wasm32 too
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "", "Authority", n.mu.Address())
	other := n.spawn(t, "")
	noError(t, n.result(t, pid, n.eval(t, pid, lastMsgCode)))

	// An item already on the gateway (sent to another process), assigned to pid,
	// once in full and once with Exclude=Data (a single Exclude tag).
	d, raw := sign(t, n.user, []byte("assigned data"), other, "Data-Protocol", "ao", "Type", "Message", "Action", "Record", "Note", "assigned")
	resp, body := localnettest.Do(t, "POST", n.gwURL+"/tx", "application/octet-stream", raw)
	must(t, resp.StatusCode == 200, "gateway POST: %d %s", resp.StatusCode, body)
	assign := func(query string) string {
		resp, body := localnettest.Do(t, "POST", n.suURL+"/?process-id="+pid+"&assign="+d.ID()+query, "", nil)
		must(t, resp.StatusCode == 200, "assign: %d %s", resp.StatusCode, body)
		var r struct{ ID string }
		json.Unmarshal(body, &r)
		return r.ID
	}
	assign("")
	assignedFirst := d
	// The result of an assignment is read by the assigned item's id.
	noError(t, n.result(t, pid, d.ID()))

	// A message pushed by a messenger unit on behalf of another process.
	_, praw := sign(t, n.mu, []byte("pushed data"), pid, "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message",
		"Action", "Record", "Note", "pushed", "From-Process", other, "Pushed-For", d.ID())
	pushed := n.post(t, praw)
	noError(t, n.result(t, pid, pushed))

	// One Exclude tag (the reference crashes on a single one): the data is not
	// loaded.
	d2, raw2 := sign(t, n.user, []byte("excluded data"), other, "Data-Protocol", "ao", "Type", "Message", "Action", "Record", "Note", "excluded")
	resp, body = localnettest.Do(t, "POST", n.gwURL+"/tx", "application/octet-stream", raw2)
	must(t, resp.StatusCode == 200, "gateway POST: %d %s", resp.StatusCode, body)
	d = d2
	assign("&exclude=Data")
	noError(t, n.result(t, pid, d2.ID()))

	dry := n.dryRun(t, pid, `{"Owner":"`+n.user.Address()+`","Tags":[{"name":"Action","value":"Eval"}],"Data":"return require('json').encode(Seen)"}`)
	var seen []map[string]string
	if err := json.Unmarshal([]byte(outputData(t, dry)), &seen); err != nil || len(seen) != 3 {
		t.Fatalf("seen: %s", outputData(t, dry))
	}
	a, p, x := seen[0], seen[1], seen[2]
	must(t, x["Note"] == "excluded" && x["Data"] == "", "excluded data: %v", x)
	d = assignedFirst
	must(t, a["Id"] == d.ID() && a["Data"] == "assigned data" && a["Target"] == other && a["Owner"] == n.user.Address() && a["From"] == n.user.Address() && a["ForwardedBy"] == "",
		"assigned message as the process saw it: %v", a)
	must(t, p["Id"] == pushed && p["From"] == other && p["ForwardedBy"] == n.mu.Address() && p["Owner"] == n.mu.Address() && p["Note"] == "pushed",
		"pushed message as the process saw it: %v", p)
}

func TestServeRestrictionsAndBusy(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{env: map[string]string{"BUSY_THRESHOLD": "1", "RESTRICT_PROCESSES": strings.Repeat("R", 43)}})
	pid := n.spawn(t, "")
	id := n.eval(t, pid, "return 1 + 1")
	// A cold start takes far longer than 1 ms: busy, and the evaluation goes on.
	code, body := n.get(t, "/result/"+id+"?process-id="+pid)
	must(t, code == 202, "busy: %d %s", code, body)
	must(t, string(body) == `{"message":"Evaluation of process \"`+pid+`\" to \"`+id+`\" is in progress."}`, "busy body %s", body)
	deadline := time.Now().Add(time.Minute)
	for {
		code, body = n.get(t, "/result/"+id+"?process-id="+pid)
		if code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, code == 200 && strings.Contains(string(body), `"data":"2"`), "after busy: %d %s", code, body)
	// no-busy waits.
	r2 := n.eval(t, pid, "return 3")
	code, body = n.get(t, "/result/"+r2+"?process-id="+pid+"&no-busy=1")
	must(t, code == 200, "no-busy: %d %s", code, body)

	restricted := strings.Repeat("R", 43)
	for _, path := range []string{"/result/" + id + "?process-id=" + restricted, "/state/" + restricted, "/results/" + restricted, "/cron/" + restricted} {
		code, body := n.get(t, path)
		must(t, code == 403 && string(body) == `{"error":"Access denied for process `+restricted+`"}`, "%s: %d %s", path, code, body)
	}
	resp, body := localnettest.Do(t, "POST", n.cuURL+"/dry-run?process-id="+restricted, "application/json", []byte(`{"Owner":"x","Tags":[]}`))
	must(t, resp.StatusCode == 403, "dry-run restricted: %d %s", resp.StatusCode, body)
}

func TestServeAllowOwners(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{env: map[string]string{"ALLOW_OWNERS": "someone-else", "ALLOW_PROCESSES": ""}})
	pid := n.spawn(t, "")
	code, body := n.get(t, "/result/"+pid+"?process-id="+pid)
	must(t, code == 403 && string(body) == `{"error":"Access denied for process owner `+n.user.Address()+`"}`, "owner not allowed: %d %s", code, body)
}

// TestServeBadInput: every client mistake gets a 4xx with a clear message, and
// what is stored stays intact.
func TestServeBadInput(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	id := n.eval(t, pid, "X = 42; return X")
	before := n.result(t, pid, id)
	unknown := strings.Repeat("u", 43)
	cases := []struct {
		method, path, ctype, body string
		status                    int
		contains                  string
	}{
		{"GET", "/result/abc?process-id=" + pid, "", "", 400, "messageTxId"},
		{"GET", "/result/" + id, "", "", 400, "processId"},
		{"GET", "/result/" + id + "?process-id=bad", "", "", 400, "processId"},
		{"GET", "/result/" + unknown + "?process-id=" + pid, "", "", 404, "Scheduler Unit"},
		{"GET", "/result/" + unknown + "?process-id=" + unknown, "", "", 404, ""},
		{"GET", "/results/" + pid + "?sort=asc", "", "", 400, "'sort'"},
		{"GET", "/results/" + pid + "?limit=ten", "", "", 400, "'limit'"},
		{"GET", "/results/x", "", "", 400, "processId"},
		{"GET", "/state/" + pid + "?to=yesterday", "", "", 400, "'to'"},
		{"GET", "/state/nope", "", "", 400, "processId"},
		{"GET", "/cron/" + pid + "?to=notacursor", "", "", 400, "'to'"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", "", 400, "Required"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", "{nope", 400, "JSON"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", "[1,2]", 400, "object"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", `{"Tags":[]}`, 400, "'Owner': Required"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", `{"Owner":"o","Tags":[{"name":1}]}`, 400, "Tags"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", `{"Owner":"o","Tags":[],"Timestamp":"soon"}`, 400, "Timestamp"},
		{"POST", "/dry-run", "application/json", `{"Owner":"o","Tags":[]}`, 400, "processId"},
		{"POST", "/dry-run?process-id=" + pid + "&to=short", "application/json", `{"Owner":"o","Tags":[]}`, 400, "'to'"},
		{"POST", "/dry-run?process-id=" + pid, "application/xml", `<a/>`, 415, "Unsupported"},
		{"POST", "/dry-run?process-id=" + pid, "application/json", `{"Owner":"o","Tags":[],"Data":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too large"},
		{"GET", "/healthcheck", "", "", 404, "Route GET:/healthcheck not found"},
		{"DELETE", "/result/" + id, "", "", 404, "not found"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, n.cuURL+c.path, bytes.NewReader([]byte(c.body)))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.contains) {
			t.Errorf("%s %s: %d %s (want %d containing %q)", c.method, c.path[:min(len(c.path), 80)], resp.StatusCode, b[:min(len(b), 200)], c.status, c.contains)
		}
		if resp.StatusCode >= 400 && resp.StatusCode != 404 && !json.Valid(b) {
			t.Errorf("%s %s: error body is not JSON: %s", c.method, c.path, b)
		}
	}
	after := n.result(t, pid, id)
	a, _ := json.Marshal(after)
	b, _ := json.Marshal(before)
	must(t, string(a) == string(b), "a stored result changed after bad requests")
	// The process goes on.
	r := n.result(t, pid, n.eval(t, pid, "return X"))
	must(t, outputData(t, r) == "42", "state after bad input: %s", r["Output"])
	// CORS preflight.
	req, _ := http.NewRequest("OPTIONS", n.cuURL+"/dry-run?process-id="+pid, nil)
	req.Header.Set("Origin", "http://example.org")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	must(t, resp.StatusCode == 204 && resp.Header.Get("Access-Control-Allow-Origin") == "*", "preflight: %d %v", resp.StatusCode, resp.Header)
}

// TestServeBadHashChain: for a process at a block height from 1,440,000 the CU
// checks the SU's hash chain and refuses a broken link with 422. The SU here
// is the real one behind a proxy that moves the heights up and breaks one
// link; the CU reaches the proxy through an SU redirect (307).
func TestServeBadHashChain(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	good := n.eval(t, pid, "return 'good'")
	bad := n.eval(t, pid, "return 'bad'")
	var mu sync.Mutex
	breakLink := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		n.suHandler().ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		body = bumpHeights(body)
		mu.Lock()
		if breakLink {
			body = breakHashChain(t, body, bad)
		}
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer proxy.Close()
	n.redirect(func(r *http.Request) string {
		if r.URL.Path == "/" && r.URL.Query().Get("process-id") == pid {
			return proxy.URL
		}
		return ""
	})
	r := n.result(t, pid, good)
	must(t, outputData(t, r) == "good", "good link: %s", r["Output"])
	mu.Lock()
	breakLink = true
	mu.Unlock()
	code, body := n.get(t, "/result/"+bad+"?process-id="+pid)
	must(t, code == 422 && strings.Contains(string(body), "HashChain invalid on message "+bad), "broken link: %d %s", code, body)
}

// bumpHeights adds 1,440,000 to the block heights of an SU answer.
func bumpHeights(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if b, ok := x["block"].(string); ok && b != "" {
				h, _ := strconv.ParseInt(b, 10, 64)
				x["block"] = pad12(h + 1_440_000)
			}
			if x["name"] == "Block-Height" {
				h, _ := strconv.ParseInt(x["value"].(string), 10, 64)
				x["value"] = pad12(h + 1_440_000)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out, _ := json.Marshal(v)
	return out
}

func pad12(h int64) string {
	s := strconv.FormatInt(h, 10)
	return strings.Repeat("0", max(0, 12-len(s))) + s
}

// breakHashChain replaces the Hash-Chain of message id's assignment.
func breakHashChain(t testing.TB, body []byte, id string) []byte {
	s := string(body)
	i := strings.Index(s, `"value":"`+id+`"`)
	if i < 0 {
		return body
	}
	j := strings.LastIndex(s[:i], `"name":"Hash-Chain","value":"`)
	if j < 0 {
		t.Fatalf("no Hash-Chain before %s", id)
	}
	j += len(`"name":"Hash-Chain","value":"`)
	k := strings.IndexByte(s[j:], '"')
	return []byte(s[:j] + strings.Repeat("A", k) + s[j+k:])
}

var _ = url.QueryEscape

// TestServeDrainToFile: beyond WASM_INSTANCE_CACHE_MAX_SIZE warm processes, the
// least recently used one is drained to PROCESS_MEMORY_CACHE_FILE_DIR and read
// back on demand, where it carries on from its state.
func TestServeDrainToFile(t *testing.T) {
	m := e2eModules[0]
	for _, c := range []struct {
		name  string
		cache string // PROCESS_MEMORY_CACHE_MAX_SIZE ("": the default, 1 GiB)
	}{
		// the idle process is its compact image in the memory cache
		{"cached image", ""},
		// a cache smaller than one live instance: every idle image goes to file
		{"on file", "100000000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"WASM_INSTANCE_CACHE_MAX_SIZE": "1", "WASM_EVALUATION_MAX_WORKERS": "1"}
			if c.cache != "" {
				env["PROCESS_MEMORY_CACHE_MAX_SIZE"] = c.cache
			}
			n := startNet(t, m.file, m.format, netOptions{env: env})
			a, b := n.spawn(t, ""), n.spawn(t, "")
			for i := 1; i <= 3; i++ {
				for _, pid := range []string{a, b} {
					r := n.result(t, pid, n.eval(t, pid, "N = (N or 0) + 1; return N"))
					must(t, outputData(t, r) == strconv.Itoa(i), "process %s step %d: %s", pid[:6], i, r["Output"])
				}
			}
			st := n.cu.Engine.Stats()
			files, _ := filepath.Glob(filepath.Join(n.dir, "cu", "memory", "state-*.dat"))
			if c.cache == "" {
				must(t, st.InMemory == 1 && st.Cached == 1 && st.OnFile == 0, "warm %d, cached %d, on file %d", st.InMemory, st.Cached, st.OnFile)
			} else {
				must(t, st.InMemory == 1 && st.Cached == 0 && st.OnFile == 1, "warm %d, cached %d, on file %d", st.InMemory, st.Cached, st.OnFile)
				must(t, len(files) >= 1, "no drained memory file")
			}
			// The idle process's state equals an independent replay.
			must(t, sha(n.state(t, a)) == sha(n.replay(t, a)), "state of the idle process")
		})
	}
}

// TestServeRateLimitAndMetrics: the dry-run rate limit (cached answers are
// free) and the Prometheus endpoint with the reference's metric names.
func TestServeRateLimitAndMetrics(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{env: map[string]string{"RATE_LIMIT_MAX_REQUESTS": "2", "ENABLE_METRICS_ENDPOINT": "true"}})
	pid := n.spawn(t, "")
	noError(t, n.result(t, pid, pid))
	body := func(i int) []byte {
		return []byte(`{"Owner":"o","Tags":[{"name":"Action","value":"Info"},{"name":"N","value":"` + strconv.Itoa(i) + `"}]}`)
	}
	post := func(b []byte) int {
		resp, _ := localnettest.Do(t, "POST", n.cuURL+"/dry-run?process-id="+pid, "application/json", b)
		return resp.StatusCode
	}
	must(t, post(body(1)) == 200, "first dry-run")
	must(t, post(body(1)) == 200, "cached dry-run")
	must(t, post(body(1)) == 200, "cached dry-runs do not count")
	must(t, post(body(2)) == 200, "second distinct dry-run")
	code := post(body(3))
	must(t, code == 429, "third distinct dry-run: %d", code)

	resp, metrics := localnettest.Do(t, "GET", n.cuURL+"/metrics", "", nil)
	must(t, resp.StatusCode == 200, "/metrics: %d", resp.StatusCode)
	for _, want := range []string{
		`ao_cu_ao_process_total_evaluations_total{message_type="scheduled",process_error="false",stream_type="primary"}`,
		`ao_cu_ao_process_total_evaluations_total{message_type="dry-run",process_error="false",stream_type="dry-run"}`,
		`ao_cu_ao_process_total{cache_type="memory"} 1`,
		`ao_cu_http_request_duration_seconds_bucket{method="GET",route="/result/:id",status="200",statusGroup="2xx"`,
	} {
		must(t, strings.Contains(string(metrics), want), "/metrics lacks %s:\n%s", want, metrics)
	}
}

// TestServeConcurrentResults: many clients asking for the same and for later
// messages at once share the evaluations and all get the stored answers.
func TestServeConcurrentResults(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	var ids []string
	for i := 1; i <= 4; i++ {
		ids = append(ids, n.eval(t, pid, "N = (N or 0) + 1; return N"))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for c := 0; c < 10; c++ {
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := localnettest.Do(t, "GET", n.cuURL+"/result/"+id+"?process-id="+pid, "", nil)
				if resp.StatusCode != 200 || !strings.Contains(string(body), `"data":"`+strconv.Itoa(i+1)+`"`) {
					errs <- fmt.Sprintf("%s: %d %s", id, resp.StatusCode, body)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
