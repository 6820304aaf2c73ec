package servecmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// timedReply is one CU answer and how long it took.
type timedReply struct {
	code int
	body []byte
	took time.Duration
}

func (r timedReply) String() string {
	return fmt.Sprintf("%d after %v: %.300s", r.code, r.took.Round(time.Millisecond), r.body)
}

// timedDo calls the CU without failing the test on a transport error (it
// is a 0 status).
func timedDo(method, url string, body []byte) timedReply {
	start := time.Now()
	var rd *strings.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return timedReply{code: 0, body: []byte(err.Error()), took: time.Since(start)}
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return timedReply{code: resp.StatusCode, body: []byte(b.String()), took: time.Since(start)}
}

// errorText is the "error" member of a JSON error body ("" if it is not
// one).
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

const runawayLua = "while true do end"

func evalDryRunBody(owner, code string) []byte {
	b, _ := json.Marshal(map[string]any{"Owner": owner, "Tags": []map[string]string{{"name": "Action", "value": "Eval"}}, "Data": code})
	return b
}

// TestServeHostileDryRunAndMessage: aos2_0_6 on the default configuration
// except the two time limits, set through their env vars. A runaway dry-run
// answers 422 at DRY_RUN_EVALUATION_TIMEOUT while another process answers
// /result and dry-runs within a second; a signed runaway message marks its
// process failed at WASM_EVALUATION_TIMEOUT with a stable 422 for it and
// every later message, earlier results stay readable, and other processes
// are unaffected.
func TestServeHostileDryRunAndMessage(t *testing.T) {
	m := e2eModules[0]
	const dryLimit, msgLimit = 2 * time.Second, 3 * time.Second
	n := startNet(t, m.file, m.format, netOptions{env: map[string]string{
		"DRY_RUN_EVALUATION_TIMEOUT": "2000",
		"WASM_EVALUATION_TIMEOUT":    "3000",
	}})
	owner := n.user.Address()
	bad, good := n.spawn(t, ""), n.spawn(t, "")
	before := n.eval(t, bad, "Counter = 41; return Counter")
	must(t, outputData(t, n.result(t, bad, before)) == "41", "before")
	goodMsg := n.eval(t, good, "Good = 'yes'; return Good")
	must(t, outputData(t, n.result(t, good, goodMsg)) == "yes", "good process")
	// Both processes are warm: the dry-runs below evaluate nothing else.
	n.dryRun(t, bad, string(evalDryRunBody(owner, "return Counter")))
	n.dryRun(t, good, string(evalDryRunBody(owner, "return Good")))

	t.Run("dry-run", func(t *testing.T) {
		runaway := make(chan timedReply, 1)
		go func() {
			runaway <- timedDo("POST", n.cuURL+"/dry-run?process-id="+bad, evalDryRunBody(owner, runawayLua))
		}()
		time.Sleep(300 * time.Millisecond) // the runaway is evaluating
		r := timedDo("GET", n.cuURL+"/result/"+goodMsg+"?process-id="+good, nil)
		must(t, r.code == 200 && r.took < time.Second, "another process's /result during a runaway dry-run: %v", r)
		r = timedDo("GET", n.cuURL+"/", nil)
		must(t, r.code == 200 && r.took < time.Second, "GET / during a runaway dry-run: %v", r)
		// A new message of the other process is evaluated meanwhile.
		fresh := n.eval(t, good, "return Good .. '!'")
		r = timedDo("GET", n.cuURL+"/result/"+fresh+"?process-id="+good, nil)
		must(t, r.code == 200 && r.took < time.Second, "another process's new message during a runaway dry-run: %v", r)
		select {
		case rr := <-runaway:
			t.Fatalf("the runaway dry-run ended before the other process was measured: %v", rr)
		default:
		}
		dr := timedDo("POST", n.cuURL+"/dry-run?process-id="+good, evalDryRunBody(owner, "return Good .. '?'"))
		rr := <-runaway
		t.Logf("runaway dry-run: %v; other process's dry-run meanwhile: %v", rr, dr)
		must(t, rr.code == 422 && rr.took >= dryLimit && rr.took < dryLimit+2*time.Second,
			"runaway dry-run: %v, want 422 within %v + 2 s", rr, dryLimit)
		must(t, errorText(rr.body) == fmt.Sprintf("dry-run on process %s stopped: it ran longer than the dry-run time limit of 2s", bad),
			"runaway dry-run error %s", rr.body)
		must(t, dr.code == 200 && strings.Contains(string(dr.body), "yes?"), "other process's dry-run: %v", dr)
		if dr.took >= time.Second {
			t.Skipf("bug (engine): another process's dry-run waited %v behind a runaway dry-run (one dry-run worker with the default WASM_EVALUATION_MAX_WORKERS on this machine)", dr.took.Round(time.Millisecond))
		}
	})

	t.Run("after the runaway dry-run", func(t *testing.T) {
		// The process is as it was: the dry-run's fork was dropped.
		out := n.dryRun(t, bad, string(evalDryRunBody(owner, "return Counter + 1")))
		must(t, outputData(t, out) == "42", "dry-run after the runaway: %s", out["Output"])
		r := n.result(t, bad, n.eval(t, bad, "Counter = Counter + 1; return Counter"))
		must(t, outputData(t, r) == "42", "message after the runaway dry-run: %s", r["Output"])
	})

	t.Run("message", func(t *testing.T) {
		loop := n.eval(t, bad, runawayLua)
		later := n.eval(t, bad, "return 'never'")
		runaway := make(chan timedReply, 1)
		go func() { runaway <- timedDo("GET", n.cuURL+"/result/"+loop+"?process-id="+bad, nil) }()
		time.Sleep(300 * time.Millisecond)
		other := timedDo("GET", n.cuURL+"/result/"+goodMsg+"?process-id="+good, nil)
		must(t, other.code == 200 && other.took < time.Second, "a stored result of another process during a runaway message: %v", other)
		rr := <-runaway
		t.Logf("runaway message: %v", rr)
		must(t, rr.code == 422 && rr.took >= msgLimit-500*time.Millisecond && rr.took < msgLimit+3*time.Second,
			"runaway message: %v, want 422 within %v + 3 s", rr, msgLimit)
		want := errorText(rr.body)
		must(t, strings.Contains(want, "failed at message "+loop) && strings.Contains(want, "3s") &&
			strings.Contains(want, "WASM_EVALUATION_TIMEOUT"), "runaway message error %s", rr.body)
		// Stable: the same 422 for it and every later message, at once.
		for _, mid := range []string{loop, later, loop} {
			r := timedDo("GET", n.cuURL+"/result/"+mid+"?process-id="+bad, nil)
			must(t, r.code == 422 && errorText(r.body) == want && r.took < time.Second, "/result/%s of the failed process: %v", mid, r)
		}
		r := timedDo("POST", n.cuURL+"/dry-run?process-id="+bad, evalDryRunBody(owner, "return 1"))
		must(t, r.code == 422 && r.took < time.Second, "dry-run of the failed process: %v", r)
		r = timedDo("GET", n.cuURL+"/state/"+bad, nil)
		must(t, r.code == 422 && r.took < time.Second, "/state of the failed process: %v", r)
		// Earlier results stay readable.
		must(t, outputData(t, n.result(t, bad, before)) == "41", "an earlier result")
		// Other processes are unaffected: new messages, dry-runs.
		start := time.Now()
		fresh := n.eval(t, good, "return Good .. ' still'")
		r = timedDo("GET", n.cuURL+"/result/"+fresh+"?process-id="+good, nil)
		must(t, r.code == 200 && strings.Contains(string(r.body), "yes still") && time.Since(start) < 2*time.Second,
			"other process after the runaway message: %v", r)
		r = timedDo("POST", n.cuURL+"/dry-run?process-id="+good, evalDryRunBody(owner, "return Good .. ' dry'"))
		must(t, r.code == 200 && strings.Contains(string(r.body), "yes dry") && r.took < time.Second, "other process dry-run: %v", r)
		// Nothing of the runaway message was stored.
		got := storedNonce(t, n.cuURL, bad)
		must(t, got == 2, "highest stored nonce of the failed process %d, want 2 (the message before the runaway)", got)
	})
}

// TestServeMemoryBomb: a message that allocates until the module's memory is
// exhausted ends in an Error result; the process goes on from the state
// before it (same /state bytes) and the CU stays healthy.
func TestServeMemoryBomb(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid, other := n.spawn(t, ""), n.spawn(t, "")
	r := n.result(t, pid, n.eval(t, pid, "Keep = 'kept'; return Keep"))
	noError(t, r)
	n.result(t, other, other)
	stateBefore := n.state(t, pid)
	start := time.Now()
	bomb := n.eval(t, pid, "Big = {}; for i = 1, 4096 do Big[i] = string.rep(string.char(65 + i % 26), 1024*1024) end; return #Big")
	rb := timedDo("GET", n.cuURL+"/result/"+bomb+"?process-id="+pid, nil)
	t.Logf("memory bomb: %v", rb)
	must(t, rb.code == 200, "memory bomb /result: %v", rb)
	var res map[string]json.RawMessage
	must(t, json.Unmarshal(rb.body, &res) == nil, "memory bomb result %s", rb.body)
	must(t, strings.Contains(string(res["Error"]), "not enough memory"), "memory bomb result has no out-of-memory Error: %.500s", rb.body)
	t.Logf("memory bomb evaluated in %v", time.Since(start).Round(time.Millisecond))
	// The process goes on from the previous state.
	must(t, sha(n.state(t, pid)) == sha(stateBefore), "the state after the memory bomb differs from the state before it")
	after := n.result(t, pid, n.eval(t, pid, "return Keep .. ' ' .. tostring(Big == nil)"))
	noError(t, after)
	must(t, outputData(t, after) == "kept true", "after the bomb: %s", after["Output"])
	// The stored bomb result reads back the same.
	again := timedDo("GET", n.cuURL+"/result/"+bomb+"?process-id="+pid, nil)
	must(t, again.code == 200 && sha(again.body) == sha(rb.body), "the bomb result read again: %v", again)
	// The CU is healthy: another process answers at once.
	ro := timedDo("GET", n.cuURL+"/result/"+n.eval(t, other, "return 'fine'")+"?process-id="+other, nil)
	must(t, ro.code == 200 && strings.Contains(string(ro.body), "fine") && ro.took < 2*time.Second, "other process after the bomb: %v", ro)
}

// TestServeSIGTERMDuringRunaway: `aocu serve` as its own OS process, with no
// time limits, gets SIGTERM while a scheduled message and a dry-run loop for
// ever; it exits within 15 s, and a restart serves every stored result
// unchanged (and, with a limit, the runaway message's 422).
func TestServeSIGTERMDuringRunaway(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid, other := n.spawn(t, ""), n.spawn(t, "")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, n.eval(t, pid, fmt.Sprintf("X = %d; return X", i)))
	}
	loop := n.eval(t, pid, runawayLua)

	dir := filepath.Join(n.dir, "proc")
	os.MkdirAll(dir, 0o755)
	wallet := filepath.Join(n.dir, "cu-wallet.json")
	if err := os.WriteFile(wallet, n.cuWallet.JWK(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GATEWAY_URL": n.gwURL, "WALLET_FILE": wallet, "DB_URL": testDB(t, dir),
		"PROCESS_MEMORY_CACHE_FILE_DIR": filepath.Join(dir, "mem"), "PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(dir, "cp"),
		"WASM_BINARY_FILE_DIRECTORY": filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache"),
		"DEFAULT_LOG_LEVEL":          "info", "LOG_CONFIG_PATH": filepath.Join(dir, ".loglevel"),
		"WASM_EVALUATION_TIMEOUT": "0", "DRY_RUN_EVALUATION_TIMEOUT": "0",
	}
	logFile := filepath.Join(dir, "cu.log")
	c := startCUProcess(t, env, logFile)
	// Results stored before the runaway.
	for _, id := range append([]string{pid}, ids...) {
		code, body := getURL(t, c.url+"/result/"+id+"?process-id="+pid)
		must(t, code == 200, "result %s: %d %s", id, code, body)
	}
	code, body := getURL(t, c.url+"/result/"+other+"?process-id="+other)
	must(t, code == 200, "other: %d %s", code, body)
	wantPid, wantOther := allResults(t, c.url, pid), allResults(t, c.url, other)
	must(t, len(wantPid) == 4 && len(wantOther) == 1, "stored before: %d %d", len(wantPid), len(wantOther))

	inflight := make(chan timedReply, 2)
	go func() { inflight <- timedDo("GET", c.url+"/result/"+loop+"?process-id="+pid, nil) }()
	go func() {
		inflight <- timedDo("POST", c.url+"/dry-run?process-id="+other, evalDryRunBody(n.user.Address(), runawayLua))
	}()
	time.Sleep(time.Second) // both are looping
	select {
	case r := <-inflight:
		t.Fatalf("a runaway answered: %v", r)
	default:
	}
	start := time.Now()
	c.signal(t, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		b, _ := os.ReadFile(logFile)
		t.Fatalf("aocu serve did not exit within 15 s of SIGTERM\n%.3000s", b)
	}
	took := time.Since(start)
	t.Logf("SIGTERM with two runaway evaluations: exited in %v (%v)", took.Round(time.Millisecond), c.err)
	for i := 0; i < 2; i++ {
		r := <-inflight
		must(t, r.code != 200, "a runaway answered 200: %v", r)
	}

	env["WASM_EVALUATION_TIMEOUT"], env["DRY_RUN_EVALUATION_TIMEOUT"] = "2000", "2000"
	c2 := startCUProcess(t, env, logFile)
	gotPid, gotOther := allResults(t, c2.url, pid), allResults(t, c2.url, other)
	must(t, strings.Join(gotPid, "\n") == strings.Join(wantPid, "\n"), "stored results of the process changed across the restart:\n%v\n%v", gotPid, wantPid)
	must(t, strings.Join(gotOther, "\n") == strings.Join(wantOther, "\n"), "stored results of the other process changed across the restart")
	for i, id := range ids {
		code, body := getURL(t, c2.url+"/result/"+id+"?process-id="+pid)
		must(t, code == 200 && strings.Contains(string(body), fmt.Sprintf(`"data":"%d"`, i)), "result %s after restart: %d %s", id, code, body)
	}
	r := timedDo("GET", c2.url+"/result/"+loop+"?process-id="+pid, nil)
	must(t, r.code == 422 && strings.Contains(errorText(r.body), "failed at message "+loop), "the runaway message after the restart: %v", r)
	r = timedDo("POST", c2.url+"/dry-run?process-id="+other, evalDryRunBody(n.user.Address(), "return 'alive'"))
	must(t, r.code == 200 && strings.Contains(string(r.body), "alive"), "other process after the restart: %v", r)
}
