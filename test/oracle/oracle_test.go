package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// bootLua is the code of the On-Boot=<txid> process, a data item on the gateway.
const bootLua = `
Booted = (Booted or 0) + 1
Handlers.add("Hello", "Hello", function (msg) msg.reply({ Data = "booted from a tx, " .. Booted }) end)
print("boot from tx <&>")
`

// unicodeKey is the scenario's awkward key (tools/oracle/scenario.mjs UNICODE).
const unicodeKey = "ключ 🔑 é\u0301 \u200b 中文 \u2028 \"q\" \\ <tag>&amp; \U0010FFFF"

// phase is a stopwatch for the log.
type phase struct {
	t     *testing.T
	start time.Time
	last  time.Time
}

func (p *phase) done(what string) {
	now := time.Now()
	p.t.Logf("timing: %-44s %6.1f s (total %6.1f s)", what, now.Sub(p.last).Seconds(), now.Sub(p.start).Seconds())
	p.last = now
}

// TestOracle drives the scenario through the MU, which pushes through aocu
// (aoconnect's result() and dry-runs ask aocu too), then asks both CUs every
// route and compares the bytes. The reference has then evaluated nothing:
// asked /state first, it replays each process in one evaluation stream and
// answers every /result from its database (one stream per message, as a
// reference behind the MU would run, takes minutes on a busy machine).
func TestOracle(t *testing.T) {
	in, sysNode := prerequisites(t)
	ph := &phase{t: t, start: time.Now(), last: time.Now()}
	ctx := context.Background()

	refPort, aocuPort := freePort(t), freePort(t)
	n := startNet(t, fmt.Sprintf("http://127.0.0.1:%d", aocuPort))
	bootTx := n.upload(t, []byte(bootLua), localnettest.Tags("Content-Type", "text/x-lua", "Name", "oracle-boot"))
	base := t.TempDir()
	refEnv, err := cuEnv(n, refPort, filepath.Join(base, "ref"), newWallet(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := startRef(t, in, refEnv, refPort)
	if ref.argv1 == "" {
		t.Fatalf("the guard printed no argv[1] line:\n%s", tail(ref.logPath, 20))
	}
	// The loader's thisProgram in the reference is process.argv[1] of its
	// evaluation workers: their script, beside src/app.js (checked below
	// against what the workers print).
	thisProgram := filepath.Join(filepath.Dir(ref.argv1), "effects", "worker", "evaluator", "index.js")
	aocuDir := filepath.Join(base, "aocu")
	aocuEnv, err := cuEnv(n, aocuPort, aocuDir, newWallet(t), "AO_LOADER_THIS_PROGRAM="+thisProgram)
	if err != nil {
		t.Fatal(err)
	}
	ours := startAocu(t, aocuEnv, aocuPort, aocuDir)
	t.Logf("reference CU %s (argv[1] %s, log %s); aocu %s (AO_LOADER_THIS_PROGRAM %s, log %s)", ref.url, ref.argv1, ref.logPath, ours.url, thisProgram, ours.logPath)
	ph.done("network and both CUs up")

	// The scenario, through the MU; aoconnect's result() asks aocu.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_NO_WARNINGS=1",
		"MU_URL=" + n.muURL, "CU_URL=" + ours.url, "GATEWAY_URL=" + n.gatewayURL, "GRAPHQL_URL=" + n.gatewayURL + "/graphql",
		"AO_MODULE=" + n.modules["aos2_0_6"], "AO_MODULE32=" + n.modules["aos2_0_4_32"],
		"AO_MODULE_METERED=" + n.modules["aos2_0_6_metered"],
		"AO_SCHEDULER=" + n.suAddress, "AO_AUTHORITY=" + n.muAddress, "BOOT_TX=" + bootTx,
		// AOCU_ORACLE_SCENARIO=token: the token processes only (development)
		"SCENARIO_ONLY=" + os.Getenv("AOCU_ORACLE_SCENARIO")}
	out := nodeRun(t, sysNode, env, 6*time.Minute, scenario)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sc struct {
		Processes map[string]string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sc); err != nil {
		t.Fatalf("scenario output: %v\n%s", err, out)
	}
	ph.done("scenario through the MU")

	names := make([]string, 0, len(sc.Processes))
	for name := range sc.Processes {
		names = append(names, name)
	}
	slices.Sort(names)
	scheds := settle(t, n.suURL, sc.Processes, names)
	total := 0
	for _, name := range names {
		total += len(scheds[name])
	}
	t.Logf("%d processes, %d scheduled messages: %v", len(names), total, sc.Processes)
	ph.done("MU settled")

	c := &comparer{ref: ref, aocu: ours}
	compareAll(t, ctx, c, sc.Processes, names, scheds)
	ph.done("every route asked of both CUs")

	// (the hash chain workers, if any, do not evaluate)
	ws := slices.DeleteFunc(ref.workerArgv1(), func(w string) bool { return strings.HasSuffix(w, "/hashChain/index.js") })
	if len(ws) != 1 || ws[0] != thisProgram {
		t.Errorf("the reference's evaluation workers had argv[1] %q; aocu was given AO_LOADER_THIS_PROGRAM=%s", ws, thisProgram)
	}
	c.conclude(t, "ORACLE", "")

	// Issue 10: the 0.0.47+ profile against the reference with
	// @permaweb/ao-loader 0.0.49 swapped in, on the same network and schedules.
	ref.stop()
	ours.stop()
	t.Run("loader 0.0.49", func(t *testing.T) {
		compareProfile049(t, ctx, in, n, base, sc.Processes, names, scheds)
	})
	ph.done("the 0.0.47+ profile against the reference with 0.0.49")

	// Issue 10 item 5: checkpoints cross in both directions.
	t.Run("checkpoints", func(t *testing.T) {
		checkpointsBothWays(t, in, n, thisProgram, sc.Processes["token1"], scheds["token1"], c)
	})
	ph.done("checkpoints both ways")
}

// compareProfile049 starts the reference CU with @permaweb/ao-loader 0.0.49
// (scripts/oracle.sh's cu049/) and aocu with AO_LOADER_VERSION=0.0.49, each
// with a fresh database, and asks both every route as the main comparison
// does: both evaluate every process from the SU when first asked.
func compareProfile049(t *testing.T, ctx context.Context, in install, n *localNet, base string, pids map[string]string, names []string, scheds map[string][]scheduled) {
	cu049, err := filepath.EvalSymlinks(filepath.Join(in.dir, "cu049"))
	if err == nil {
		_, err = os.Stat(filepath.Join(cu049, ".complete"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("in CI: the reference CU with ao-loader 0.0.49 is missing (scripts/oracle.sh makes cu049/): %v", err)
		}
		t.Skipf("skipped: the reference CU with ao-loader 0.0.49 is missing (run scripts/oracle.sh): %v", err)
	}
	in049 := in
	in049.cu = cu049
	refPort, aocuPort := freePort(t), freePort(t)
	refEnv, err := cuEnv(n, refPort, filepath.Join(base, "ref049"), newWallet(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := startRef(t, in049, refEnv, refPort)
	aocuDir := filepath.Join(base, "aocu049")
	aocuEnv, err := cuEnv(n, aocuPort, aocuDir, newWallet(t), "AO_LOADER_VERSION=0.0.49")
	if err != nil {
		t.Fatal(err)
	}
	ours := startAocu(t, aocuEnv, aocuPort, aocuDir)
	t.Logf("reference CU with ao-loader 0.0.49 %s (log %s); aocu AO_LOADER_VERSION=0.0.49 %s (log %s)", ref.url, ref.logPath, ours.url, ours.logPath)
	c := &comparer{ref: ref, aocu: ours}
	compareAll(t, ctx, c, pids, names, scheds)
	c.conclude(t, "ORACLE 0.0.49", " with ao-loader 0.0.49")
	ref.stop()
	ours.stop()
}

// newWallet is a fresh wallet for a CU.
func newWallet(t *testing.T) *arweave.Wallet {
	t.Helper()
	w, err := arweave.GenerateWallet()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// conclude checks that the reference stayed on loopback, prints the counts
// under label and fails the test on a difference (unless
// AOCU_ORACLE_REPORT_ONLY=1).
func (c *comparer) conclude(t *testing.T, label, which string) {
	t.Helper()
	select {
	case line := <-c.ref.blocked:
		t.Errorf("the reference reached for a public host: %s", line)
	default:
	}
	bodies, bodiesSame, memories, memoriesSame, allowedN, failures := c.report(t)
	t.Logf("%s: %d/%d bodies identical, %d/%d memories equal (%d allowed HTTP-surface differences)",
		label, bodiesSame, bodies-allowedN, memoriesSame, memories, allowedN)
	if failures > 0 {
		if os.Getenv("AOCU_ORACLE_REPORT_ONLY") == "1" {
			t.Logf("AOCU_ORACLE_REPORT_ONLY=1: %d differences reported, not failed", failures)
		} else {
			t.Errorf("%d answers differ from the reference CU's%s (see DIFFERS above)", failures, which)
		}
	}
}

// settle waits until the MU is done (no process's schedule grows for 3 s)
// and returns the schedules.
func settle(t *testing.T, suURL string, pids map[string]string, names []string) map[string][]scheduled {
	t.Helper()
	prev, stable := -1, 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := map[string][]scheduled{}
		count := 0
		for _, name := range names {
			s[name] = schedule(t, suURL, pids[name])
			count += len(s[name])
		}
		if count == prev {
			stable++
		} else {
			stable = 0
		}
		if stable >= 3 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedules are still growing after 2 minutes (%d messages)", count)
		}
		prev = count
		time.Sleep(time.Second)
	}
}

// compareAll asks both CUs every route about every process.
//
// The reference's /result cache is keyed by message id only (an LRU without
// expiry), so a message in several schedules (an assignment) is asked first
// of its target with the others, then of each further process in a round of
// its own, after a restart of the reference.
func compareAll(t *testing.T, ctx context.Context, c *comparer, pids map[string]string, names []string, scheds map[string][]scheduled) {
	occ := map[string][]string{} // message id -> the processes in whose schedule it is
	for _, name := range names {
		for _, s := range scheds[name] {
			occ[s.id] = append(occ[s.id], pids[name])
		}
	}
	// The processes of a shared message in the order asked: its target first.
	for _, name := range names {
		for _, s := range scheds[name] {
			if ps := occ[s.id]; len(ps) > 1 && s.target != "" {
				if i := slices.Index(ps, s.target); i > 0 {
					occ[s.id] = append([]string{s.target}, slices.Delete(slices.Clone(ps), i, i+1)...)
				}
			}
		}
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, name := range names {
		wg.Add(1)
		go func() { // owned by compareAll: waited for below
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pid := pids[name]
			askProcess(ctx, c, name, pid, scheds[name], func(s scheduled) bool { return occ[s.id][0] == pid })
		}()
	}
	wg.Wait()

	for round := 1; ; round++ {
		var todo []request
		for _, name := range names {
			pid := pids[name]
			for _, s := range scheds[name] {
				if ps := occ[s.id]; len(ps) > round && ps[round] == pid {
					todo = append(todo, resultReq(name, pid, s, fmt.Sprintf(" (after restart %d)", round)))
				}
			}
		}
		if len(todo) == 0 {
			break
		}
		c.ref.restart(t)
		for _, r := range todo {
			c.do(ctx, r)
		}
	}

	if pids["kv"] != "" && pids["cron"] != "" {
		errorCases(ctx, c, pids, scheds)
	}
}

// askCronBounded asks the cron process's /state and dry-run up to its last
// scheduled message.
func askCronBounded(ctx context.Context, c *comparer, pid string, sched []scheduled) {
	last := sched[len(sched)-1]
	c.do(ctx, request{label: "cron /state?to=<last scheduled>", kind: "state", method: "GET",
		path: fmt.Sprintf("/state/%s?to=%d", pid, last.timestamp)})
	for _, r := range dryRuns("cron", pid) {
		r.path += "&to=" + last.id
		r.label += " to=<last scheduled>"
		c.do(ctx, r)
	}
}

func resultReq(name, pid string, s scheduled, note string) request {
	return request{label: fmt.Sprintf("%s /result %s nonce %s%s", name, s.id, s.nonce, note), kind: "body", method: "GET",
		path: fmt.Sprintf("/result/%s?process-id=%s", s.id, pid)}
}

// askProcess asks every route about one process (/result only of the
// messages for which only says yes).
func askProcess(ctx context.Context, c *comparer, name, pid string, sched []scheduled, only func(scheduled) bool) {
	last := sched[len(sched)-1]
	isCron := name == "cron"
	bound := "" // the query bounding /results for the cron process (its latest moves with the clock)
	if isCron {
		bound = fmt.Sprintf("&to=%d", last.timestamp)
		// the reference has not evaluated the process yet: up to its last
		// scheduled message, not past it (else 425)
		askCronBounded(ctx, c, pid, sched)
	} else {
		// first: the reference evaluates the whole process in one stream
		c.do(ctx, request{label: name + " /state", kind: "state", method: "GET", path: "/state/" + pid})
	}
	for _, s := range sched {
		if only(s) {
			c.do(ctx, resultReq(name, pid, s, ""))
		}
	}
	// /results: all, both sorts, the default, and paged by cursors.
	for _, sort := range []string{"ASC", "DESC"} {
		c.do(ctx, request{label: name + " /results sort=" + sort, kind: "body", method: "GET",
			path: fmt.Sprintf("/results/%s?sort=%s&limit=1000%s", pid, sort, bound)})
		from := ""
		for i := 0; i < 20; i++ {
			q := fmt.Sprintf("/results/%s?sort=%s&limit=3%s", pid, sort, bound)
			if from != "" {
				q += "&from=" + url.QueryEscape(from)
			}
			a := c.do(ctx, request{label: fmt.Sprintf("%s /results sort=%s limit=3 page %d", name, sort, i+1), kind: "results page", method: "GET", path: q})
			var p page
			if json.Unmarshal(a.body, &p) != nil || !p.PageInfo.HasNextPage || len(p.Edges) == 0 {
				break
			}
			from = p.Edges[len(p.Edges)-1].Cursor
		}
	}
	if !isCron {
		c.do(ctx, request{label: name + " /results", kind: "body", method: "GET", path: "/results/" + pid})
	}
	// /cron: up to the last scheduled message (a cursor), whole and paged.
	to := cursor(last.timestamp, last.nonce, "ASC")
	c.do(ctx, request{label: name + " /cron to=<cursor of last scheduled>", kind: "body", method: "GET",
		path: fmt.Sprintf("/cron/%s?to=%s", pid, url.QueryEscape(to))})
	if isCron {
		from := ""
		for i := 0; i < 20; i++ {
			q := fmt.Sprintf("/cron/%s?limit=2&to=%s", pid, url.QueryEscape(to))
			if from != "" {
				q += "&from=" + url.QueryEscape(from)
			}
			a := c.do(ctx, request{label: fmt.Sprintf("%s /cron limit=2 page %d", name, i+1), kind: "body", method: "GET", path: q})
			var p page
			if json.Unmarshal(a.body, &p) != nil || !p.PageInfo.HasNextPage || len(p.Edges) == 0 {
				break
			}
			from = p.Edges[len(p.Edges)-1].Cursor
		}
	} else {
		c.do(ctx, request{label: name + " /cron", kind: "body", method: "GET", path: "/cron/" + pid})
		for _, r := range dryRuns(name, pid) {
			c.do(ctx, r)
		}
	}
}

// dryRuns are the dry-runs asked of each process, as aoconnect sends them.
func dryRuns(name, pid string) []request {
	type dr struct {
		data string
		tags []string
	}
	var list []dr
	switch name {
	case "kv", "w32", "metered":
		list = []dr{{"1234", []string{"Action", "Keys"}}, {"1234", []string{"Action", "Get", "Key", unicodeKey}},
			{"return 1 + 1", []string{"Action", "Eval"}}, {"1234", []string{"Action", "Bad"}},
			{"<>&", []string{"Action", "Set", "Key", "dry <&>"}}}
	case "token1", "token2":
		list = []dr{{"1234", []string{"Action", "Balances"}}}
	case "notesA", "notesB":
		list = []dr{{"1234", []string{"Action", "Notes"}}}
	case "parent":
		list = []dr{{"1234", []string{"Action", "Family"}}}
	case "cron":
		list = []dr{{"1234", []string{"Action", "Clock"}}}
	default: // child, bootTx
		list = []dr{{"1234", []string{"Action", "Hello"}}}
	}
	var out []request
	for _, d := range list {
		tags := []map[string]string{}
		for i := 0; i+1 < len(d.tags); i += 2 {
			tags = append(tags, map[string]string{"name": d.tags[i], "value": d.tags[i+1]})
		}
		body, _ := json.Marshal(map[string]any{"Id": "1234", "Owner": "1234", "Target": pid, "Data": d.data, "Tags": tags, "Anchor": "0"})
		out = append(out, request{label: fmt.Sprintf("%s /dry-run %s", name, d.tags[1]), kind: "body", method: "POST",
			path: "/dry-run?process-id=" + pid, body: body})
	}
	return out
}

// errorCases are client mistakes and unknown ids; where the reference's
// answer is a deliberate HTTP-surface difference, the case is in allowed.
func errorCases(ctx context.Context, c *comparer, pids map[string]string, scheds map[string][]scheduled) {
	kv, cron := pids["kv"], pids["cron"]
	unknown := strings.Repeat("A", 43)
	last := scheds["cron"][len(scheds["cron"])-1]
	cases := []request{
		{label: "/result without process-id", kind: "error /result without process-id", method: "GET", path: "/result/" + scheds["kv"][1].id},
		{label: "/result of an unknown message", kind: "error /result of an unknown message", method: "GET", path: "/result/" + unknown + "?process-id=" + kv},
		{label: "/results limit=abc", kind: "error /results limit=abc", method: "GET", path: "/results/" + kv + "?limit=abc"},
		{label: "/cron to=<timestamp>", kind: "error /cron to=<timestamp>", method: "GET", path: fmt.Sprintf("/cron/%s?to=%d", cron, last.timestamp)},
		{label: "/dry-run without process-id", kind: "error /dry-run without process-id", method: "POST", path: "/dry-run",
			body: []byte(`{"Id":"1234","Owner":"1234","Target":"` + kv + `","Data":"1","Tags":[],"Anchor":"0"}`)},
		{label: "/dry-run without Owner", kind: "error /dry-run without Owner", method: "POST", path: "/dry-run?process-id=" + kv,
			body: []byte(`{"Target":"` + kv + `","Tags":[{"name":"Action","value":"Keys"}]}`)},
		{label: "/state of an unknown process", kind: "error /state of an unknown process", method: "GET", path: "/state/" + unknown},
	}
	var wg sync.WaitGroup
	for _, r := range cases {
		wg.Add(1)
		go func() { defer wg.Done(); c.do(ctx, r) }() // owned by errorCases
	}
	wg.Wait()
}
