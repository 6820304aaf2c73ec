// Package oracle is the live oracle: the reference Compute Unit (permaweb/ao
// servers/cu, unmodified, under Node 22, installed by scripts/oracle.sh) and
// `aocu serve` (built from this tree) run side by side on one local gateway,
// SU and MU; a scenario is driven through the MU with the real aoconnect, and
// every route is asked of both CUs and the answers compared byte for byte.
//
// Needs scripts/oracle.sh (its directory in $AOCU_ORACLE_DIR, or found by
// `scripts/oracle.sh --print`), node, and scripts/fixtures.sh; skips without
// them, except when CI=true. AOCU_TEST_BIN=path runs a prebuilt aocu.
// AOCU_ORACLE_REPORT_ONLY=1 prints the differences without failing;
// AOCU_MODULES_DIR replaces .fixtures/modules.
package oracle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/localnet/mu"
	"github.com/aocu/aocu/internal/testbin"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	root       = repoRoot()
	e2eDir     = filepath.Join(root, "tools", "aoconnect-e2e")
	e2eGuard   = filepath.Join(e2eDir, "guard.mjs")
	refGuard   = filepath.Join(root, "tools", "oracle", "guard.mjs")
	scenario   = filepath.Join(root, "tools", "oracle", "scenario.mjs")
	modulesDir = envOr("AOCU_MODULES_DIR", filepath.Join(root, ".fixtures", "modules"))
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// install is the reference CU installed by scripts/oracle.sh.
type install struct {
	dir  string // the cache directory
	node string // Node 22
	cu   string // the copy of servers/cu (real path: node's argv[1] is under it)
}

// prerequisites finds everything the test needs; it skips the test when
// something is missing, or fails it when CI=true.
func prerequisites(t *testing.T) (install, string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("in CI: "+format, args...)
		}
		t.Skipf("skipped: "+format, args...)
	}
	if testing.Short() {
		t.Skip("-short: the live oracle takes minutes")
	}
	dir := os.Getenv("AOCU_ORACLE_DIR")
	if dir == "" {
		out, err := exec.Command(filepath.Join(root, "scripts", "oracle.sh"), "--print").Output()
		if err != nil {
			missing("the reference CU is not installed: run scripts/oracle.sh (or set AOCU_ORACLE_DIR)")
		}
		dir = strings.TrimSpace(string(out))
	}
	in := install{dir: dir, node: filepath.Join(dir, "node", "node_modules", "node", "bin", "node")}
	cu, err := filepath.EvalSymlinks(filepath.Join(dir, "cu"))
	if err != nil {
		missing("AOCU_ORACLE_DIR=%s has no cu/: %v", dir, err)
	}
	in.cu = cu
	for _, f := range []string{in.node, filepath.Join(cu, "src", "app.js"), filepath.Join(cu, "node_modules", "better-sqlite3", "package.json")} {
		if _, err := os.Stat(f); err != nil {
			missing("%s is missing (run scripts/oracle.sh)", f)
		}
	}
	sysNode, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, f := range []string{
		filepath.Join(e2eDir, "node_modules", "@permaweb", "aoconnect", "package.json"),
		filepath.Join(modulesDir, "aos2_0_6.wasm"),
		filepath.Join(modulesDir, "aos2_0_4_32.wasm"),
	} {
		if _, err := os.Stat(f); err != nil {
			missing("%s is missing (run scripts/fixtures.sh)", f)
		}
	}
	testbin.Aocu(t) // built once, before anything runs it
	return in, sysNode
}

// localNet is a gateway, an SU and an MU in this process, the MU pushing
// through the CU at cuURL.
type localNet struct {
	gatewayURL, suURL, muURL string
	suAddress, muAddress     string
	modules                  map[string]string // aos2_0_6, aos2_0_4_32, aos2_0_6_metered -> id
	publisher                *arweave.Wallet
}

func startNet(t *testing.T, cuURL string) *localNet {
	t.Helper()
	ctx := context.Background()
	g := gwsu.Start(t, gwsu.Hooks{})
	w, err := arweave.GenerateWallet()
	if err != nil {
		t.Fatal(err)
	}
	m, err := mu.New(ctx, mu.Config{DataDir: t.TempDir(), Wallet: w, GatewayURL: g.GatewayURL, CUURL: cuURL,
		PollInterval: time.Second, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	muHS := httptest.NewServer(m)
	t.Cleanup(func() { muHS.Close(); m.Close() })
	n := &localNet{gatewayURL: g.GatewayURL, suURL: g.SUURL, muURL: muHS.URL, suAddress: g.SU.Address(), muAddress: m.Address(),
		modules: map[string]string{}, publisher: localnettest.Wallet(t)}
	// The modules: key -> file, Module-Format, Compute-Limit. The metered one
	// is aos2_0_6's binary under the wasm64 metering format, which both CUs
	// rewrite to count gas (the reference with @permaweb/wasm-metering); its
	// Compute-Limit is low enough for a loop to run out of gas.
	modules := map[string][3]string{
		"aos2_0_6":         {"aos2_0_6", "wasm64-unknown-emscripten-draft_2024_02_15", "9000000000000"},
		"aos2_0_4_32":      {"aos2_0_4_32", "wasm32-unknown-emscripten4", "9000000000000"},
		"aos2_0_6_metered": {"aos2_0_6", "wasm64-unknown-emscripten-draft_2024_10_16-metering", "20000000000"},
	}
	for key, m := range modules {
		wasm, err := os.ReadFile(filepath.Join(modulesDir, m[0]+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		n.modules[key] = n.upload(t, wasm, localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module",
			"Module-Format", m[1], "Input-Encoding", "JSON-1", "Output-Encoding", "JSON-1", "Memory-Limit", "1-gb",
			"Compute-Limit", m[2], "Content-Type", "application/wasm", "Name", key))
	}
	return n
}

// upload signs data with the publisher's wallet and posts it to the gateway.
func (n *localNet) upload(t *testing.T, data []byte, tags []arweave.Tag) string {
	t.Helper()
	d, raw := localnettest.Signed(t, n.publisher, string(data), "", "", tags)
	resp, body := localnettest.Do(t, http.MethodPost, n.gatewayURL+"/tx", "application/octet-stream", raw)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gateway upload: %d %s", resp.StatusCode, body)
	}
	return d.ID()
}

// cu is a Compute Unit run as a child process on a fixed port.
type cu struct {
	name  string
	url   string
	argv1 string // the reference's process.argv[1] (from the guard's line)

	workersMu sync.Mutex
	workers   map[string]bool // process.argv[1] of its worker threads (the guard's lines)
	args      []string
	env       []string
	dir       string
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
	blocked   chan string
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cuEnv is the configuration both CUs get: every URL to the local gateway,
// their own wallet, database and directories under base.
func cuEnv(n *localNet, port int, base string, wallet *arweave.Wallet, extra ...string) ([]string, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	walletFile := filepath.Join(base, "wallet.json")
	if err := os.WriteFile(walletFile, wallet.JWK(), 0o600); err != nil {
		return nil, err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TZ=UTC",
		"NODE_CONFIG_ENV=production", "PORT=" + strconv.Itoa(port),
		"GATEWAY_URL=" + n.gatewayURL, "ARWEAVE_URL=" + n.gatewayURL, "GRAPHQL_URL=" + n.gatewayURL + "/graphql",
		"GRAPHQL_URLS=" + n.gatewayURL + "/graphql", "CHECKPOINT_GRAPHQL_URL=" + n.gatewayURL + "/graphql",
		"UPLOADER_URL=" + n.gatewayURL,
		"WALLET_FILE=" + walletFile, "DB_URL=" + filepath.Join(base, "ao-cache"),
		"WASM_BINARY_FILE_DIRECTORY=" + filepath.Join(base, "wasm"),
		"PROCESS_MEMORY_CACHE_FILE_DIR=" + filepath.Join(base, "memory"),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR=" + filepath.Join(base, "checkpoints"),
		"RATE_LIMIT_MAX_REQUESTS=0", "WASM_EVALUATION_MAX_WORKERS=2",
		"DEFAULT_LOG_LEVEL=info", "LOG_CONFIG_PATH=" + filepath.Join(base, ".loglevel"),
	}
	for _, d := range []string{"wasm", "memory", "checkpoints"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return nil, err
		}
	}
	return append(env, extra...), nil
}

// startRef starts the reference CU: `node --experimental-wasm-memory64
// --import guard.mjs src/app.js` in its installed copy.
func startRef(t *testing.T, in install, env []string, port int) *cu {
	c := &cu{name: "reference", url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: in.cu, env: env,
		args: []string{in.node, "--experimental-wasm-memory64", "--import", refGuard, "src/app.js"}}
	c.start(t)
	return c
}

// startAocu starts `aocu serve` in a directory of its own (it reads .env).
func startAocu(t *testing.T, env []string, port int, dir string) *cu {
	c := &cu{name: "aocu", url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, env: env, args: []string{testbin.Aocu(t), "serve"}}
	c.start(t)
	return c
}

func (c *cu) start(t *testing.T) {
	t.Helper()
	lf, err := os.CreateTemp(t.TempDir(), c.name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	c.logPath = lf.Name()
	c.cmd = exec.Command(c.args[0], c.args[1:]...)
	c.cmd.Dir, c.cmd.Env, c.cmd.Stdout = c.dir, c.env, lf
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.exited, c.blocked = make(chan struct{}), make(chan string, 16)
	argv1 := make(chan string, 1)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owned by c: ends when the child's stderr closes
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(lf, line)
			if v, ok := strings.CutPrefix(line, "oracle-guard: main argv1="); ok {
				argv1 <- v
			}
			if v, ok := strings.CutPrefix(line, "oracle-guard: worker argv1="); ok {
				c.workersMu.Lock()
				if c.workers == nil {
					c.workers = map[string]bool{}
				}
				c.workers[v] = true
				c.workersMu.Unlock()
			}
			if strings.Contains(line, "BLOCKED non-loopback") {
				select {
				case c.blocked <- line:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		c.cmd.Wait()
		lf.Close()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("%s log %s, last lines:\n%s", c.name, c.logPath, tail(c.logPath, 25))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("%s exited at start: %v\n%s", c.name, c.cmd.ProcessState, tail(c.logPath, 40))
		default:
		}
		if resp, err := http.Get(c.url + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up after 90 s\n%s", c.name, tail(c.logPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case c.argv1 = <-argv1:
	default:
	}
}

// stop ends the child (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (c *cu) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// workerArgv1 lists the argv[1] values the reference's worker threads had.
func (c *cu) workerArgv1() []string {
	c.workersMu.Lock()
	defer c.workersMu.Unlock()
	var out []string
	for v := range c.workers {
		out = append(out, v)
	}
	return out
}

// restart stops and starts the CU again on the same port, database and
// directories (its in-memory caches are gone).
func (c *cu) restart(t *testing.T) {
	t.Helper()
	c.stop()
	c.start(t)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// nodeRun runs a script of tools/ with the system node and the loopback guard
// of tools/aoconnect-e2e, and returns its stdout.
func nodeRun(t *testing.T, node string, env []string, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--import", e2eGuard}, args...)...)
	cmd.Dir = filepath.Dir(args[0])
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if strings.Contains(stderr.String(), "BLOCKED non-loopback") {
		t.Errorf("node %s reached for a public host:\n%s", args[0], stderr.String())
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("node %s stderr:\n%s", filepath.Base(args[0]), stderr.String())
	return stdout.String()
}
