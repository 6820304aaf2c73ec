package cuhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/cuhttp"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/metrics"
)

// GET / is {address, timestamp} in that order, with helmet's and cors's
// headers.
func TestHealth(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	r := cu.get("/")
	want(t, "GET /", r, 200, fmt.Sprintf(`{"address":"%s","timestamp":%d}`, cuAddress, cu.w.Clock.Now()))
	for k, v := range map[string]string{
		"Content-Type": "application/json; charset=utf-8", "Access-Control-Allow-Origin": "*",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Content-Length": strconv.Itoa(len(r.body)),
	} {
		if got := r.header.Get(k); got != v {
			t.Fatalf("header %s = %q, want %q", k, got, v)
		}
	}
	// A CORS preflight is 204 with no body.
	pre := cu.do(http.MethodOptions, "/dry-run", nil, map[string]string{"Origin": "http://x", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
	if pre.status != 204 || pre.body != "" || pre.header.Get("Access-Control-Allow-Headers") != "content-type" ||
		pre.header.Get("Access-Control-Allow-Methods") != "GET,HEAD,PUT,PATCH,POST,DELETE" {
		t.Fatalf("preflight %s %v", pre, pre.header)
	}
}

// Unknown routes and methods answer Fastify's 404 body.
func TestUnknownRoutes(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	for _, c := range []struct{ method, path string }{
		{"GET", "/healthcheck"}, {"GET", "/result/"}, {"GET", "/results"}, {"POST", "/result/x"},
		{"GET", "/dry-run"}, {"DELETE", "/"}, {"GET", "/metrics"}, {"GET", "/state/a/b"},
	} {
		r := cu.do(c.method, c.path, nil, nil)
		want(t, c.method+" "+c.path, r, 404, fmt.Sprintf(`{"message":"Route %s:%s not found","error":"Not Found","statusCode":404}`, c.method, c.path))
	}
}

// /result evaluates up to the message, then serves the stored row; the
// process id as message id is the process message (AOP-6).
func TestResult(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	m1 := cu.w.Send(pid, "one", aotest.Action("Set"))
	m2 := cu.w.Send(pid, "two", aotest.Action("Set"))

	r := cu.get("/result/" + m2 + "?process-id=" + pid)
	want(t, "evaluated m2", r, 200, resultBody("3:two"))
	if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
		t.Fatalf("Content-Length %q", r.header.Get("Content-Length"))
	}
	handled := cu.w.Runtime.Counts().Handled
	want(t, "stored m1", cu.get("/result/"+m1+"?process-id="+pid), 200, resultBody("2:one"))
	want(t, "m2 again", cu.get("/result/"+m2+"?process-id="+pid+"&no-busy=1"), 200, resultBody("3:two"))
	want(t, "AOP-6", cu.get("/result/"+pid+"?process-id="+pid), 200, resultBody("1:boot"))
	if n := cu.w.Runtime.Counts().Handled; n != handled {
		t.Fatalf("stored results were evaluated again (%d -> %d)", handled, n)
	}
	// An errored message: 200 with its Error, as the reference.
	bad := cu.w.Send(pid, "x", aotest.Action("Error"))
	want(t, "errored", cu.get("/result/"+bad+"?process-id="+pid), 200,
		`{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"failing"},"GasUsed":1,"Error":"handler error: x"}`)
}

// Client mistakes in /result are 4xx with a clear error; nothing reaches
// the SU for a malformed request.
func TestResultBadInput(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	other := cu.w.Spawn(cu.w.PublishModule(nil), "")
	mid := cu.w.Send(pid, "a")
	unknown := aotest.NewID("nobody")
	for _, c := range []struct {
		name, path string
		status     int
		body       string // exact, or the text the error holds when it starts with "~"
	}{
		{"no process-id", "/result/" + mid, 400, errBody("'processId': Required. (a process-id query parameter is required)")},
		{"empty process-id", "/result/" + mid + "?process-id=", 400, errBody("'processId': Required.")},
		{"short process-id", "/result/" + mid + "?process-id=abc", 400, errBody(`'processId': "abc" is not a transaction id (43 base64url characters).`)},
		{"bad message id", "/result/not-an-id?process-id=" + pid, 400, errBody(`'messageTxId': "not-an-id" is not a transaction id (43 base64url characters).`)},
		{"bad chars", "/result/" + strings.Repeat("!", 43) + "?process-id=" + pid, 400, "~'messageTxId'"},
		{"unknown process", "/result/" + unknown + "?process-id=" + unknown, 404, "~" + unknown},
		{"unknown message", "/result/" + unknown + "?process-id=" + pid, 404, "~Message or Process not found"},
		{"message of another process", "/result/" + mid + "?process-id=" + other, 404, "~Message or Process not found"}, // as the SU answers it
	} {
		r := cu.get(c.path)
		if text, ok := strings.CutPrefix(c.body, "~"); ok {
			wantError(t, c.name, r, c.status, text)
		} else {
			want(t, c.name, r, c.status, c.body)
		}
	}
	if n := cu.w.Scheduler.Calls("Messages"); n != 0 {
		t.Fatalf("bad requests read %d SU pages", n)
	}
	// The good request still works.
	want(t, "good", cu.get("/result/"+mid+"?process-id="+pid), 200, resultBody("2:a"))
}

// Over the busy threshold /result answers the reference's 202 and the
// evaluation goes on; no-busy waits for it.
func TestResultBusy(t *testing.T) {
	h, started, release := gated()
	w := aotest.NewWorld(h)
	cu := newCU(t, w, tuning{http: func(o *cuhttp.Options) { o.BusyThreshold = 30 * time.Millisecond }})
	pid := w.Spawn(w.PublishModule(nil), "")
	mid := w.Send(pid, "slow", aotest.Action("Wait"))
	want(t, "busy", cu.get("/result/"+mid+"?process-id="+pid), 202,
		fmt.Sprintf(`{"message":"Evaluation of process \"%s\" to \"%s\" is in progress."}`, pid, mid))
	<-started
	done := make(chan reply, 1)
	go func() { done <- cu.get("/result/" + mid + "?process-id=" + pid + "&no-busy=1") }()
	select {
	case r := <-done:
		t.Fatalf("no-busy answered before the evaluation ended: %s", r)
	case <-time.After(60 * time.Millisecond):
	}
	// /state over the threshold is a 202 too (the reference's is a 500).
	want(t, "state busy", cu.get("/state/"+pid), 202, fmt.Sprintf(`{"message":"Evaluation of process \"%s\" to \"\" is in progress."}`, pid))
	close(release)
	want(t, "no-busy", <-done, 200, resultBody("2:slow"))
	want(t, "after", cu.get("/result/"+mid+"?process-id="+pid), 200, resultBody("2:slow"))
}

// RESTRICT_PROCESSES and ALLOW_PROCESSES answer 403 on every route that
// names a process, before anything is evaluated.
func TestRestrictedProcesses(t *testing.T) {
	w := aotest.NewWorld(nil)
	mod := w.PublishModule(nil)
	denied, allowed, stranger := w.Spawn(mod, ""), w.Spawn(mod, ""), w.Spawn(mod, "")
	for _, c := range []struct {
		name string
		opts func(*cuhttp.Options)
		deny []string
	}{
		{"RESTRICT_PROCESSES", func(o *cuhttp.Options) { o.RestrictProcesses = []string{denied} }, []string{denied}},
		{"ALLOW_PROCESSES", func(o *cuhttp.Options) { o.AllowProcesses = []string{allowed} }, []string{denied, stranger}},
	} {
		cu := newCU(t, w, tuning{http: c.opts})
		for _, pid := range c.deny {
			body := errBody("Access denied for process " + pid)
			for _, path := range []string{"/result/" + pid + "?process-id=" + pid, "/state/" + pid, "/results/" + pid, "/cron/" + pid} {
				want(t, c.name+" "+path, cu.get(path), 403, body)
			}
			want(t, c.name+" dry-run", cu.dryRun(pid, `{"Owner":"x","Tags":[]}`, nil), 403, body)
		}
		want(t, c.name+" allowed", cu.get("/result/"+allowed+"?process-id="+allowed), 200, resultBody("1:"))
	}
	if n := w.Scheduler.Calls("Process"); n != 2 {
		t.Fatalf("the SU was asked about %d processes, want 2 (only the allowed one, once per CU)", n)
	}
}

// UNIT_MODE=ru: the CU routes answer a text 404; / and /dry-run work.
func TestReadUnit(t *testing.T) {
	cu := newCU(t, nil, tuning{http: func(o *cuhttp.Options) { o.ReadUnit = true }})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	for _, path := range []string{"/result/" + pid + "?process-id=" + pid, "/state/" + pid, "/results/" + pid, "/cron/" + pid} {
		r := cu.get(path)
		if r.status != 404 || r.body != "Not Found" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%s in ru mode: %s (%s)", path, r, r.header.Get("Content-Type"))
		}
	}
	want(t, "dry-run", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"q"}`, nil), 200,
		`{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"1:q"},"GasUsed":1}`)
	if r := cu.get("/"); r.status != 200 {
		t.Fatalf("GET / in ru mode: %s", r)
	}
}

// /state evaluates to the latest message and serves the runtime's memory
// with the position headers.
func TestState(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	cu.w.Send(pid, "one", aotest.Action("Set"))
	cu.w.Scheduler.SetHeight(7)
	last := cu.w.Send(pid, "two", aotest.Action("Put"))
	ts := cu.w.Clock.Now()

	r := cu.get("/state/" + pid)
	mem := ":boot\nSet:one\nPut:two\n" // Script's memory: one line per message
	if r.status != 200 || r.body != mem {
		t.Fatalf("state %s, want %q", r, mem)
	}
	for k, v := range map[string]string{
		"Content-Type": "application/octet-stream", "Content-Length": strconv.Itoa(len(mem)),
		"Last-Timestamp": strconv.FormatInt(ts, 10), "Last-Ordinate": "2", "Last-Block-Height": "7",
	} {
		if got := r.header.Get(k); got != v {
			t.Fatalf("header %s = %q, want %q", k, got, v)
		}
	}
	want(t, "result after state", cu.get("/result/"+last+"?process-id="+pid), 200, resultBody("3:two"))
	// to: a number; earlier than the memory held is the reference's 425.
	want(t, "to=abc", cu.get("/state/"+pid+"?to=abc"), 400, errBody(`'to': Expected number, received "abc".`))
	wantError(t, "to earlier", cu.get("/state/"+pid+"?to="+strconv.FormatInt(ts-1, 10)), 425, "earlier than latest known nonce 2")
	want(t, "bad pid", cu.get("/state/xyz"), 400, errBody(`'processId': "xyz" is not a transaction id (43 base64url characters).`))
	wantError(t, "unknown process", cu.get("/state/"+aotest.NewID("nobody")), 404, "not found")
}

// POST /dry-run evaluates a read-only message on the latest state; a
// repeated body is a cache hit; x-max-age says how stale the state may be.
func TestDryRun(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	m1 := cu.w.Send(pid, "one", aotest.Action("Set"))
	body := `{"Id":"1234","Owner":"1234","Target":"` + pid + `","Data":"q","Tags":[{"name":"Action","value":"Info"}],"Anchor":"0"}`
	want(t, "dry-run", cu.dryRun(pid, body, nil), 200, resultBody("2:q"))
	runs := cu.w.Runtime.Counts().DryRuns
	// The same body again is answered from the cache; spacing does not
	// matter.
	same := `{"Id": "1234", "Owner":"1234","Target":"` + pid + `",` + "\n" + `"Data":"q","Tags":[{"name":"Action", "value":"Info"}],"Anchor":"0"}`
	want(t, "cached", cu.dryRun(pid, same, nil), 200, resultBody("2:q"))
	if n := cu.w.Runtime.Counts().DryRuns; n != runs {
		t.Fatalf("a cached dry-run evaluated (%d -> %d)", runs, n)
	}
	// A new message: within x-max-age the state is not refreshed; with
	// x-max-age 0 it is.
	cu.w.Send(pid, "two", aotest.Action("Set"))
	other := `{"Owner":"o","Tags":[],"Data":"r"}`
	want(t, "fresh enough", cu.dryRun(pid, other, map[string]string{"x-max-age": "60000"}), 200, resultBody("2:r"))
	want(t, "x-max-age 0", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"s"}`, map[string]string{"x-max-age": "0"}), 200, resultBody("3:s"))
	// text/plain is accepted as in Fastify.
	want(t, "text/plain", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"t"}`, map[string]string{"Content-Type": "text/plain"}), 200, resultBody("3:t"))
	// to= a message: the state at it; earlier than the memory held is the
	// reference's 425.
	m3 := cu.w.Send(pid, "three", aotest.Action("Set"))
	want(t, "to m3", cu.dryRun(pid+"&to="+m3, `{"Owner":"o","Tags":[],"Data":"u"}`, nil), 200, resultBody("4:u"))
	wantError(t, "to m1", cu.dryRun(pid+"&to="+m1, `{"Owner":"o","Tags":[],"Data":"v"}`, nil), 425, "earlier than latest known nonce 3")
}

// Without x-max-age, DryRunDefaultMaxAge says how stale the state of a
// dry-run may be.
func TestDryRunDefaultMaxAge(t *testing.T) {
	cu := newCU(t, nil, tuning{
		engine: func(o *engine.Options) { o.DryRunProcessCacheTTL = time.Hour },
		http:   func(o *cuhttp.Options) { o.DryRunDefaultMaxAge = 5 * time.Second },
	})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	want(t, "first", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"a"}`, nil), 200, resultBody("1:a"))
	cu.w.Send(pid, "m")
	cu.w.Clock.Advance(time.Second)
	want(t, "within the max age", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"b"}`, nil), 200, resultBody("1:b"))
	cu.w.Clock.Advance(5 * time.Second)
	want(t, "past the max age", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"c"}`, nil), 200, resultBody("2:c"))
}

// Client mistakes in /dry-run are 4xx with the reference's texts where it
// has them (it answers 500 for schema errors; here they are 400).
func TestDryRunBadInput(t *testing.T) {
	cu := newCU(t, nil, tuning{http: func(o *cuhttp.Options) { o.MaxBodyBytes = 1000 }})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	ok := `{"Owner":"o","Tags":[]}`
	for _, c := range []struct {
		name, path, body string
		header           map[string]string
		status           int
		want             string
	}{
		{"no process-id", "/dry-run", ok, nil, 400, errBody("'processId': Required.")},
		{"bad process-id", "/dry-run?process-id=x", ok, nil, 400, errBody(`'processId': "x" is not a transaction id (43 base64url characters).`)},
		{"bad to", "/dry-run?process-id=" + pid + "&to=nope", ok, nil, 400, errBody(`'to': "nope" is not a transaction id (43 base64url characters).`)},
		{"no body", "", "", nil, 400, errBody("'dryRun': Required. (the body must be the JSON message)")},
		{"bad JSON", "", `{"Owner":`, nil, 400, errBody("the body is not valid JSON")},
		{"not an object", "", `[1,2]`, nil, 400, errBody("the dry-run body must be a JSON object (the message)")},
		{"null", "", `null`, nil, 400, errBody("the dry-run body must be a JSON object (the message)")},
		{"empty object", "", `{}`, nil, 400, errBody("'Owner': Required. | 'Tags': Required.")},
		{"empty Owner", "", `{"Owner":"","Tags":[]}`, nil, 400, errBody("'Owner': String must contain at least 1 character(s).")},
		{"Owner null", "", `{"Owner":null,"Tags":[]}`, nil, 400, errBody("'Owner': Expected string, received null.")},
		{"Owner number", "", `{"Owner":1,"Tags":[]}`, nil, 400, errBody("'Owner': Expected string.")},
		{"Tags object", "", `{"Owner":"o","Tags":{}}`, nil, 400, errBody("'Tags': Expected array of {name, value}.")},
		{"Tag value number", "", `{"Owner":"o","Tags":[{"name":"a","value":1}]}`, nil, 400, errBody("'Tags.0': name and value must be strings.")},
		{"Tag without value", "", `{"Owner":"o","Tags":[{"name":"a"}]}`, nil, 400, errBody("'Tags.0': name and value must be strings.")},
		{"Timestamp word", "", `{"Owner":"o","Tags":[],"Timestamp":"soon"}`, nil, 400, errBody("'Timestamp': Expected number.")},
		{"Nonce string", "", `{"Owner":"o","Tags":[],"Nonce":"1"}`, nil, 400, errBody("'Nonce': Expected number.")},
		{"Cron string", "", `{"Owner":"o","Tags":[],"Cron":"yes"}`, nil, 400, errBody("'Cron': Expected boolean.")},
		{"x-max-age", "", ok, map[string]string{"x-max-age": "soon"}, 400, errBody(`'x-max-age': Expected a non-negative number of milliseconds, received "soon".`)},
		{"x-max-age negative", "", ok, map[string]string{"x-max-age": "-1"}, 400, errBody(`'x-max-age': Expected a non-negative number of milliseconds, received "-1".`)},
		{"content type", "", ok, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, errBody("Unsupported Media Type: application/x-www-form-urlencoded")},
		{"too large", "", `{"Owner":"o","Tags":[],"Data":"` + strings.Repeat("x", 1000) + `"}`, nil, 413, errBody("Request body is too large (over 1000 bytes)")},
	} {
		path := c.path
		if path == "" {
			path = "/dry-run?process-id=" + pid
		}
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range c.header {
			h[k] = v
		}
		want(t, c.name, cu.do(http.MethodPost, path, strings.NewReader(c.body), h), c.status, c.want)
	}
	if n := cu.w.Runtime.Counts().DryRuns; n != 0 {
		t.Fatalf("bad dry-runs evaluated %d times", n)
	}
	// A body at the limit is fine.
	fit := `{"Owner":"o","Tags":[],"Data":"` + strings.Repeat("x", 1000-len(`{"Owner":"o","Tags":[],"Data":""}`)) + `"}`
	if r := cu.dryRun(pid, fit, nil); r.status != 200 {
		t.Fatalf("a body of exactly the limit: %s", r)
	}
	// A to that the SU does not know.
	wantError(t, "unknown to", cu.dryRun(pid+"&to="+aotest.NewID("nothing"), ok, nil), 404, "Message or Process not found")
	wantError(t, "unknown process", cu.dryRun(aotest.NewID("nobody"), ok, nil), 404, "not found")
}

// A runaway dry-run is stopped at DryRunTimeout with 422; the next dry-run
// and /result answer normally.
func TestDryRunTimeout(t *testing.T) {
	looping := make(chan struct{}, 4)
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if v, _ := ao.TagValue(msg.Tags, "Action"); v == "Loop" {
			looping <- struct{}{}
		}
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newCU(t, w, tuning{engine: func(o *engine.Options) { o.DryRunTimeout = 100 * time.Millisecond }})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	mid := cu.w.Send(pid, "one")
	start := time.Now()
	r := cu.dryRun(pid, `{"Owner":"o","Tags":[{"name":"Action","value":"Loop"}]}`, nil)
	want(t, "runaway", r, 422, errBody(fmt.Sprintf("dry-run on process %s stopped: it ran longer than the dry-run time limit of 100ms", pid)))
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the runaway dry-run took %v", d)
	}
	want(t, "next dry-run", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"x"}`, nil), 200, resultBody("2:x"))
	// While a runaway dry-run runs, another process's /result answers.
	other := cu.w.Spawn(cu.w.PublishModule(nil), "other")
	runaway := make(chan reply, 1)
	go func() {
		runaway <- cu.dryRun(pid, `{"Owner":"o","Tags":[{"name":"Action","value":"Loop"}],"Data":"2"}`, nil)
	}()
	<-looping // the first runaway's
	<-looping
	want(t, "other process meanwhile", cu.get("/result/"+other+"?process-id="+other), 200, resultBody("1:other"))
	select {
	case r := <-runaway:
		t.Fatalf("the other process answered only after the runaway ended (%s)", r)
	default:
	}
	if r := <-runaway; r.status != 422 {
		t.Fatalf("second runaway: %s", r)
	}
	want(t, "result", cu.get("/result/"+mid+"?process-id="+pid), 200, resultBody("2:one"))
	// The failure is not cached: the same runaway is evaluated (and stopped)
	// again.
	runs := cu.w.Runtime.Counts().DryRuns
	want(t, "runaway again", cu.dryRun(pid, `{"Owner":"o","Tags":[{"name":"Action","value":"Loop"}]}`, nil), 422, r.body)
	if cu.w.Runtime.Counts().DryRuns != runs+1 {
		t.Fatal("a failed dry-run was served from the cache")
	}
}

// The dry-run queue limit answers the reference's 429.
func TestDryRunQueueLimit(t *testing.T) {
	h, started, release := gated()
	w := aotest.NewWorld(h)
	cu := newCU(t, w, tuning{engine: func(o *engine.Options) { o.DryRunMaxQueue = 1; o.DryRunWorkers = 1 }})
	pid := w.Spawn(w.PublishModule(nil), "")
	first := make(chan reply, 1)
	go func() { first <- cu.dryRun(pid, `{"Owner":"o","Tags":[{"name":"Action","value":"Wait"}]}`, nil) }()
	<-started
	want(t, "queue full", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"2"}`, nil), 429, errBody("Dry-Run enqueue limit exceeded"))
	close(release)
	want(t, "first", <-first, 200, resultBody("1:"))
	want(t, "after", cu.dryRun(pid, `{"Owner":"o","Tags":[],"Data":"3"}`, nil), 200, resultBody("1:3"))
}

// A dry-run over the busy threshold answers 202; it goes on and its result
// is then cached.
func TestDryRunBusy(t *testing.T) {
	h, started, release := gated()
	w := aotest.NewWorld(h)
	cu := newCU(t, w, tuning{http: func(o *cuhttp.Options) { o.BusyThreshold = 30 * time.Millisecond }})
	pid := w.Spawn(w.PublishModule(nil), "")
	body := `{"Owner":"o","Tags":[{"name":"Action","value":"Wait"}],"Data":"w"}`
	want(t, "busy", cu.dryRun(pid, body, nil), 202, fmt.Sprintf(`{"message":"Evaluation of process \"%s\" to \"\" is in progress."}`, pid))
	<-started
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := cu.dryRun(pid, body, nil)
		if r.status == 200 {
			want(t, "done", r, 200, resultBody("1:w"))
			break
		}
		if r.status != 202 || time.Now().After(deadline) {
			t.Fatalf("after release: %s", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := w.Runtime.Counts().DryRuns; n != 1 {
		t.Fatalf("the busy dry-run was evaluated %d times", n)
	}
}

// RATE_LIMIT_*: per client (X-Forwarded-For, X-Real-IP, peer) a sliding
// window on /dry-run only; it is checked before the cache, and cache hits do
// not count.
func TestRateLimit(t *testing.T) {
	clock := aotest.NewClock(1_000_000)
	cu := newCU(t, nil, tuning{http: func(o *cuhttp.Options) {
		o.RateLimitMax, o.RateLimitWindow, o.Now = 2, time.Minute, clock.Time
	}})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	a := map[string]string{"X-Forwarded-For": "10.0.0.1, 10.9.9.9"}
	body := func(d string) string { return `{"Owner":"o","Tags":[],"Data":"` + d + `"}` }
	want(t, "1st", cu.dryRun(pid, body("1"), a), 200, resultBody("1:1"))
	want(t, "cache hit (free)", cu.dryRun(pid, body("1"), a), 200, resultBody("1:1"))
	want(t, "2nd", cu.dryRun(pid, body("2"), a), 200, resultBody("1:2"))
	limited := errBody("Rate limit exceeded")
	want(t, "3rd", cu.dryRun(pid, body("3"), a), 429, limited)
	want(t, "cache hit over the limit", cu.dryRun(pid, body("1"), a), 429, limited)
	// Other clients have their own window; X-Real-IP counts when there is no
	// X-Forwarded-For.
	b := map[string]string{"X-Real-IP": "10.0.0.2"}
	want(t, "other client", cu.dryRun(pid, body("3"), b), 200, resultBody("1:3"))
	want(t, "no headers (peer address)", cu.dryRun(pid, body("4"), nil), 200, resultBody("1:4"))
	want(t, "same client behind another proxy", cu.dryRun(pid, body("5"), map[string]string{"X-Forwarded-For": "10.0.0.1", "X-Real-IP": "10.0.0.2"}), 429, limited)
	// Refused requests do not count.
	c := map[string]string{"X-Forwarded-For": "10.0.0.3"}
	for range 3 {
		want(t, "bad JSON", cu.dryRun(pid, `{`, c), 400, errBody("the body is not valid JSON"))
	}
	want(t, "after refused ones", cu.dryRun(pid, body("c1"), c), 200, resultBody("1:c1"))
	// Other routes are not limited.
	for range 3 {
		if r := cu.get("/result/" + pid + "?process-id=" + pid); r.status != 200 {
			t.Fatalf("/result under the dry-run limit: %s", r)
		}
	}
	// The window slides.
	clock.Advance(time.Minute)
	want(t, "after the window", cu.dryRun(pid, body("6"), a), 200, resultBody("1:6"))
}

// /metrics is mounted only when configured; Wrap sees every route.
func TestMetrics(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	want(t, "not configured", cu.get("/metrics"), 404, `{"message":"Route GET:/metrics not found","error":"Not Found","statusCode":404}`)

	m := metrics.New()
	cu = newCU(t, nil, tuning{http: func(o *cuhttp.Options) {
		o.Metrics = m.Handler()
		o.Wrap = func(h http.Handler) http.Handler { return m.Middleware(nil, h) }
	}})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.get("/result/" + pid + "?process-id=" + pid)
	cu.get("/nowhere")
	r := cu.get("/metrics")
	if r.status != 200 || !strings.Contains(r.body, "ao_cu_http_request_duration_seconds") {
		t.Fatalf("/metrics: %d %.300s", r.status, r.body)
	}
	for _, s := range []string{`status="200"`, `status="404"`} {
		if !strings.Contains(r.body, s) {
			t.Fatalf("/metrics lacks a request with %s:\n%.2000s", s, r.body)
		}
	}
}

// An SU failure is a 5xx and the next request retries.
func TestSchedulerFailure(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	mid := cu.w.Send(pid, "a")
	var fail atomic.Bool
	fail.Store(true)
	cu.w.Scheduler.SetFault(func(call, _ string) error {
		if fail.Load() && call == "Messages" {
			return ao.Errorf(502, "scheduler unit answered 500")
		}
		return nil
	})
	want(t, "SU down", cu.get("/result/"+mid+"?process-id="+pid), 502, errBody("scheduler unit answered 500"))
	fail.Store(false)
	want(t, "retry", cu.get("/result/"+mid+"?process-id="+pid), 200, resultBody("2:a"))
}

// A page that fails the SU checks (here a gap in the nonces) is a 502 and
// nothing of it is stored; the next request, on a healthy page, answers.
func TestBadSchedulerPage(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.w.Send(pid, "a")
	mid := cu.w.Send(pid, "b")
	var gap atomic.Bool
	gap.Store(true)
	cu.w.Scheduler.SetPageHook(func(_ string, p *ao.SUPage) {
		if gap.Load() && len(p.Edges) > 2 {
			p.Edges = append(p.Edges[:1], p.Edges[2:]...)
		}
	})
	if r := cu.get("/result/" + mid + "?process-id=" + pid); r.status != 502 {
		t.Fatalf("a page with a gap: %s, want 502", r)
	}
	want(t, "nothing stored", cu.get("/results/"+pid), 200, `{"pageInfo":{"hasNextPage":false},"edges":[]}`)
	gap.Store(false)
	want(t, "healthy page", cu.get("/result/"+mid+"?process-id="+pid), 200, resultBody("3:b"))
}

// A message that runs past WASM_EVALUATION_TIMEOUT fails its process at it:
// a stable 422 naming the message and the limit for it, later messages, the
// state and dry-runs; earlier results and other processes answer.
func TestRunawayMessage(t *testing.T) {
	cu := newCU(t, nil, tuning{engine: func(o *engine.Options) { o.MessageTimeout = 50 * time.Millisecond }})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	before := cu.w.Send(pid, "a")
	loop := cu.w.Send(pid, "", aotest.Action("Loop"))
	after := cu.w.Send(pid, "c")
	failed := errBody(fmt.Sprintf("process %s failed at message %s (nonce 2): its evaluation ran longer than the evaluation time limit of 50ms (WASM_EVALUATION_TIMEOUT); it is not evaluated past it until the compute unit restarts with a larger limit", pid, loop))
	want(t, "runaway", cu.get("/result/"+loop+"?process-id="+pid), 422, failed)
	want(t, "again", cu.get("/result/"+loop+"?process-id="+pid), 422, failed)
	want(t, "later message", cu.get("/result/"+after+"?process-id="+pid), 422, failed)
	want(t, "state", cu.get("/state/"+pid), 422, failed)
	want(t, "dry-run", cu.dryRun(pid, `{"Owner":"o","Tags":[]}`, nil), 422, failed)
	want(t, "earlier message", cu.get("/result/"+before+"?process-id="+pid), 200, resultBody("2:a"))
	if p := decodePage(t, cu.get("/results/"+pid)); len(p.Edges) != 2 {
		t.Fatalf("/results of the failed process: %d edges, want 2 (nothing of the runaway stored)", len(p.Edges))
	}
	other := cu.w.Spawn(cu.w.PublishModule(nil), "other")
	want(t, "other process", cu.get("/result/"+other+"?process-id="+other), 200, resultBody("1:other"))
}

// No client mistake is answered 5xx: odd inputs on every route are 4xx (or
// a 200 where the input is acceptable).
func TestOddInputsAreNever5xx(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	mid := cu.w.Send(pid, "a")
	huge := "99999999999999999999999"
	paths := []string{
		"/result/" + mid + "?process-id=" + pid + "&process-id=" + mid,
		"/result/" + mid + "?process-id=%zz",
		"/state/" + pid + "?to=" + huge, "/state/" + pid + "?to=-1", "/state/" + pid + "?to=1.5",
		"/results/" + pid + "?limit=" + huge, "/results/" + pid + "?from=" + huge, "/results/" + pid + "?to=" + huge,
		"/results/" + pid + "?from=e30=", "/results/" + pid + "?from=bnVsbA==", "/results/" + pid + "?from=W10=",
		"/results/" + pid + "?from=eyJ0aW1lc3RhbXAiOjEuNX0=", // {"timestamp":1.5}
		"/cron/" + pid + "?to=" + huge, "/cron/" + pid + "?limit=" + huge, "/cron/" + pid + "?from=e30=",
		"/cron/" + pid + "?to=eyJ0aW1lc3RhbXAiOiIxIiwib3JkaW5hdGUiOnRydWV9", // {"timestamp":"1","ordinate":true}
	}
	for _, p := range paths {
		if r := cu.get(p); r.status >= 500 {
			t.Errorf("GET %s: %s", p, r)
		}
	}
	bodies := []string{
		`{"Owner":"o","Tags":null}`, `{"Owner":"o","Tags":[null]}`, `{"Owner":"o","Tags":[{}]}`, `{"Owner":"o","Tags":[1]}`,
		`{"Owner":"o","Tags":[{"name":null,"value":"v"}]}`, `{"Owner":"o","Tags":[],"Timestamp":1e400}`,
		`{"Owner":"o","Tags":[],"Block-Height":"12abc"}`, `{"Owner":"o","Tags":[],"Data":{"a":[1,{"b":null}]}}`,
		`{"Owner":"o","Tags":[],"Epoch":"x"}`, `{"Owner":"o","Tags":[],"Id":5}`, `{"Owner":"o","Tags":[],"Target":null}`,
		`"just a string"`, `123`, `true`, `{"Owner":"o","Tags":[]} trailing`, "\xff\xfe",
	}
	for _, b := range bodies {
		if r := cu.dryRun(pid, b, nil); r.status >= 500 {
			t.Errorf("dry-run %s: %s", b, r)
		}
	}
	for _, h := range []map[string]string{{"x-max-age": huge}, {"x-max-age": "9223372036854775807"}, {"Content-Type": ";;"}} {
		if r := cu.dryRun(pid, `{"Owner":"o","Tags":[]}`, h); r.status >= 500 {
			t.Errorf("dry-run with %v: %s", h, r)
		}
	}
}
