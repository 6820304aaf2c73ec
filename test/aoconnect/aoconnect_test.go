package aoconnect

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// result is an example's last output line.
type result map[string]any

// eq checks result[key] against want, compared as JSON values.
func (r result) eq(t *testing.T, key string, want any) {
	t.Helper()
	got, ok := r[key]
	if !ok {
		t.Errorf("%s: missing from %v", key, r)
		return
	}
	var w any
	b, _ := json.Marshal(want)
	json.Unmarshal(b, &w)
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("%s = %s, want %s", key, gb, b)
	}
}

func (r result) str(key string) string { s, _ := r[key].(string); return s }

func (r result) num(key string) float64 { f, _ := r[key].(float64); return f }

func isID(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// copyExamples copies examples/ to a temporary directory with a
// node_modules link to tools/aoconnect-e2e's: the examples run as a user
// runs them after `npm install` in examples/.
func copyExamples(t *testing.T) string {
	t.Helper()
	src := filepath.Join(root, "examples")
	dst := filepath.Join(t.TempDir(), "examples")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			if e.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e2eDir, "node_modules"), filepath.Join(dst, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestExamplePackagesPinned: examples/package.json (what a user installs)
// pins the same packages as tools/aoconnect-e2e (what the tests run).
func TestExamplePackagesPinned(t *testing.T) {
	deps := func(p string) map[string]string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var pkg struct{ Dependencies map[string]string }
		if err := json.Unmarshal(b, &pkg); err != nil {
			t.Fatal(err)
		}
		return pkg.Dependencies
	}
	ex, tools := deps(filepath.Join(root, "examples", "package.json")), deps(filepath.Join(e2eDir, "package.json"))
	if !reflect.DeepEqual(ex, tools) {
		t.Errorf("examples/package.json dependencies %v, tools/aoconnect-e2e/package.json %v: keep them equal", ex, tools)
	}
	for name, v := range tools {
		if strings.ContainsAny(v, "^~*<>=x ") {
			t.Errorf("%s@%s is not an exact version", name, v)
		}
	}
	if tools["@permaweb/aoconnect"] == "" {
		t.Error("@permaweb/aoconnect is not pinned")
	}
}

// TestExamples runs every example of examples/ against one `aocu dev`, as
// `node examples/<name>.mjs` with only the URLs and the data directory in
// the environment (each example discovers the module, the SU address and
// the MU address), and checks the values each one prints; then the node
// tests of tools/aoconnect-e2e and a short run of the load script.
func TestExamples(t *testing.T) {
	prerequisites(t)
	d := startDev(t, filepath.Join(t.TempDir(), "data"), [4]int{})
	checkNetworkFile(t, d)
	dir := copyExamples(t)

	run := func(t *testing.T, name string) result {
		t.Helper()
		out := nodeRun(t, dir, d.exampleEnv(), 3*time.Minute, name+".mjs")
		var r result
		lastJSON(t, out, &r)
		t.Logf("%s: %s", name, strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]))
		r.eq(t, "example", name)
		return r
	}

	t.Run("group", func(t *testing.T) {
		t.Run("kv-store", func(t *testing.T) {
			t.Parallel()
			r := run(t, "kv-store")
			// the discovered ids are the network's
			r.eq(t, "module", d.DefaultModule)
			r.eq(t, "scheduler", d.SUAddress)
			r.eq(t, "authority", d.MUAddress)
			if !isID(r.str("process")) {
				t.Errorf("process id %q", r.str("process"))
			}
			r.eq(t, "set", "Value stored!")
			r.eq(t, "setTarget", r.str("owner")) // the reply goes to the sender
			r.eq(t, "getByMessage", "abc")
			r.eq(t, "getByDryrun", "abc")
			r.eq(t, "badSetError", true)
			r.eq(t, "missingValue", nil)
		})
		t.Run("token", func(t *testing.T) {
			t.Parallel()
			r := run(t, "token")
			r.eq(t, "initial", "1000000000000000000")
			ok := []map[string]string{{"to": "sender", "data": "Transfer successful"}, {"to": "recipient", "data": "Tokens received"}}
			r.eq(t, "transfers", []any{ok, ok, []map[string]string{{"to": "sender", "data": "Insufficient balance"}}})
			r.eq(t, "balances", map[string]string{"alice": "999999999999999800", "bob": "200"})
			r.eq(t, "results", 5) // boot, Eval, three transfers
		})
		t.Run("ping-pong", func(t *testing.T) {
			t.Parallel()
			r := run(t, "ping-pong")
			r.eq(t, "firstPingTarget", r.str("pong"))
			r.eq(t, "pongs", []string{"pong 1", "pong 2", "pong 3"})
			r.eq(t, "pingsSeenByPong", 3)
			r.eq(t, "pingResults", 6) // boot, Eval, Start, three Pongs
			r.eq(t, "printed", true)
		})
		t.Run("spawn-child", func(t *testing.T) {
			t.Parallel()
			r := run(t, "spawn-child")
			parent, child := r.str("parent"), r.str("child")
			if !isID(child) || child == parent {
				t.Errorf("child %q of parent %q", child, parent)
			}
			r.eq(t, "spawnsInResult", 1)
			r.eq(t, "spawnModule", d.DefaultModule)
			want := fmt.Sprintf("hello from %s, child of %s", child, parent)
			r.eq(t, "greeting", want)
			r.eq(t, "dryrunGreeting", want)
			r.eq(t, "parentResults", 5) // boot, Eval, SpawnChild, Spawned, the child's answer
		})
		t.Run("cron", func(t *testing.T) {
			t.Parallel()
			r := run(t, "cron")
			if !isID(r.str("monitorId")) {
				t.Errorf("monitorId %q", r.str("monitorId"))
			}
			if r.num("ticks") < 3 || r.num("tocks") < 3 || r.num("tocks") > r.num("ticks") {
				t.Errorf("ticks %v, tocks %v: want 3 <= tocks <= ticks", r["ticks"], r["tocks"])
			}
			r.eq(t, "tocksOnce", true)
			r.eq(t, "tocksContiguous", true)
		})
		t.Run("on-boot", func(t *testing.T) {
			t.Parallel()
			r := run(t, "on-boot")
			r.eq(t, "bootOutput", "counter ready")
			r.eq(t, "bootError", nil)
			r.eq(t, "countBefore", "0")
			r.eq(t, "increments", []string{"1", "2"})
			r.eq(t, "countAfter", "2")
			r.eq(t, "results", 3) // boot and two Increments: no Eval
		})
		t.Run("node-tests", func(t *testing.T) {
			t.Parallel()
			files, _ := filepath.Glob(filepath.Join(e2eDir, "*.test.mjs"))
			for _, f := range files {
				out := nodeRun(t, e2eDir, d.env(), 3*time.Minute, "--test-reporter=spec", f)
				t.Logf("%s:\n%s", filepath.Base(f), out)
			}
		})
	})

	// The load script, briefly, once the examples are done (1 client, then
	// 10 clients on one process): it must run and every request must get
	// its reply.
	t.Run("load-smoke", func(t *testing.T) {
		out := nodeRun(t, e2eDir, d.env(), 3*time.Minute, "load.mjs", "--seconds", "2", "--warmup", "1", "--rows", "1c,10c1p")
		t.Logf("load.mjs:\n%s", out)
		rows := 0
		for _, l := range strings.Split(out, "\n") {
			cells := strings.Split(strings.Trim(l, "| "), " | ")
			if len(cells) != 8 || !strings.HasPrefix(l, "| 1") {
				continue
			}
			rows++
			if cells[7] != "0" {
				t.Errorf("%s errors in row %q", cells[7], l)
			}
			if cells[2] == "0" {
				t.Errorf("no message completed in row %q", l)
			}
		}
		if rows != 2 {
			t.Errorf("%d table rows, want 2", rows)
		}
	})
}

// checkNetworkFile checks <data-dir>/network.json against the banner when
// aocu dev writes one (the examples read it first when present).
func checkNetworkFile(t *testing.T, d *dev) {
	b, err := os.ReadFile(filepath.Join(d.dataDir, "network.json"))
	if err != nil {
		t.Logf("no %s/network.json: the examples discover the network", d.dataDir)
		return
	}
	var n struct {
		GatewayURL, GraphqlURL, MuURL, SuURL, CuURL string
		MuAddress, SuAddress                        string
		Modules                                     map[string]string
	}
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatalf("network.json: %v\n%s", err, b)
	}
	if n.GatewayURL != d.GatewayURL || n.MuURL != d.MUURL || n.CuURL != d.CUURL || n.SuURL != d.SUURL ||
		n.MuAddress != d.MUAddress || n.SuAddress != d.SUAddress || n.Modules["aos2_0_6"] != d.Modules["aos2_0_6"] {
		t.Errorf("network.json %s disagrees with the banner %+v", b, d.banner)
	}
}

// TestExactlyOnceAcrossKill: chains of process-to-process messages (4
// chains of 50 hops between two aos processes, every hop pushed by the MU)
// are in flight when the whole dev network is killed with SIGKILL, twice;
// restarted on the same data directory each time, the network delivers
// every hop exactly once, counted by the receiving processes' own state.
func TestExactlyOnceAcrossKill(t *testing.T) {
	prerequisites(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDev(t, dataDir, [4]int{})
	const chains, hops = 4, 50
	out := nodeRun(t, e2eDir, d.env(), 2*time.Minute, "chain.mjs", "start",
		"--chains", fmt.Sprint(chains), "--hops", fmt.Sprint(hops), "--until", "30")
	d.kill9()
	var start struct {
		A, B string
		Seen int
	}
	lastJSON(t, out, &start)
	t.Logf("killed with %d of %d hops delivered (processes %s, %s)", start.Seen, chains*hops, start.A, start.B)
	if start.Seen >= chains*hops {
		t.Fatalf("the chains were over before the kill (%d hops)", start.Seen)
	}

	// Second kill, a moment after the restart: the MU is resuming its queue
	// and the CU replaying from the SU.
	d = startDev(t, dataDir, d.ports)
	time.Sleep(1500 * time.Millisecond)
	d.kill9()

	d = startDev(t, dataDir, d.ports)
	out = nodeRun(t, e2eDir, d.env(), 3*time.Minute, "chain.mjs", "wait", "--a", start.A, "--b", start.B,
		"--chains", fmt.Sprint(chains), "--hops", fmt.Sprint(hops), "--timeout", "120")
	var end struct {
		Expected, Total, Keys int
		Missing               []string
		Duplicates            map[string]int
		SettledMs             int
	}
	lastJSON(t, out, &end)
	t.Logf("after the restarts: %d hops in %d ms (%d expected)", end.Total, end.SettledMs, end.Expected)
	if len(end.Missing) > 0 {
		t.Errorf("%d hops never arrived: %v", len(end.Missing), end.Missing)
	}
	if len(end.Duplicates) > 0 {
		t.Errorf("hops delivered more than once (hop: count): %v", end.Duplicates)
	}
	if end.Total != chains*hops || end.Keys != chains*hops {
		t.Errorf("%d deliveries of %d distinct hops, want %d of %d", end.Total, end.Keys, chains*hops, chains*hops)
	}
}
