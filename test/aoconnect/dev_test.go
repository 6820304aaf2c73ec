// Package aoconnect runs the examples of examples/ and the scripts of
// tools/aoconnect-e2e against `aocu dev`, started as a separate OS process
// (built from ./cmd/aocu) on free ports with a temporary data directory. The
// client side is the unmodified npm @permaweb/aoconnect (legacy mode) under
// node, with every non-loopback request blocked (tools/aoconnect-e2e/guard.mjs).
//
// Needs node and `scripts/fixtures.sh` (the aos modules and
// tools/aoconnect-e2e/node_modules); skips without them, except in CI.
// AOCU_TEST_BIN=path runs a prebuilt aocu instead of building ./cmd/aocu.
package aoconnect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/testbin"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	root    = repoRoot()
	e2eDir  = filepath.Join(root, "tools", "aoconnect-e2e")
	guard   = filepath.Join(e2eDir, "guard.mjs")
	modules = filepath.Join(root, ".fixtures", "modules")
	nodeBin string
)

// prerequisites skips the test (fails it in CI) when node, the npm packages
// or the aos modules are missing, and builds aocu once.
func prerequisites(t *testing.T) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("in CI: "+format, args...)
		}
		t.Skipf("skipped: "+format, args...)
	}
	var err error
	if nodeBin, err = exec.LookPath("node"); err != nil {
		missing("node is not on PATH")
	}
	for _, f := range []string{
		filepath.Join(e2eDir, "node_modules", "@permaweb", "aoconnect", "package.json"),
		filepath.Join(e2eDir, "node_modules", "arweave", "package.json"),
		filepath.Join(modules, "aos2_0_6.wasm"),
	} {
		if _, err := os.Stat(f); err != nil {
			missing("%s is missing (run scripts/fixtures.sh)", f)
		}
	}
	testbin.Aocu(t) // built once, before anything runs it
}

// banner is what `aocu dev` prints once the network is up.
type banner struct {
	GatewayURL, MUURL, SUURL, CUURL string
	ExplorerURL                     string
	MUAddress, SUAddress, CUAddress string
	Modules                         map[string]string
	DefaultModule                   string
}

var (
	unitRe   = regexp.MustCompile(`^\s+(gateway|messenger unit|scheduler unit|compute unit|explorer)\b.*?\s(http://\S+)(?:\s+address\s+(\S+))?`)
	moduleRe = regexp.MustCompile(`^\s{4}(\S+)\s+([A-Za-z0-9_-]{43})(\s+\(default aos\))?\s*$`)
)

// parseBanner reads the banner's lines; done reports the last one.
func (b *banner) line(s string) (done bool) {
	if m := unitRe.FindStringSubmatch(s); m != nil {
		switch m[1] {
		case "gateway":
			b.GatewayURL = m[2]
		case "messenger unit":
			b.MUURL, b.MUAddress = m[2], m[3]
		case "scheduler unit":
			b.SUURL, b.SUAddress = m[2], m[3]
		case "compute unit":
			b.CUURL, b.CUAddress = m[2], m[3]
		case "explorer":
			b.ExplorerURL = m[2]
		}
	}
	if m := moduleRe.FindStringSubmatch(s); m != nil {
		if b.Modules == nil {
			b.Modules = map[string]string{}
		}
		b.Modules[m[1]] = m[2]
		if m[3] != "" {
			b.DefaultModule = m[2]
		}
	}
	return s == "aocu dev: ready"
}

func (b *banner) complete() error {
	if b.GatewayURL == "" || b.MUURL == "" || b.SUURL == "" || b.CUURL == "" || b.MUAddress == "" || b.SUAddress == "" || b.DefaultModule == "" {
		return fmt.Errorf("incomplete banner: %+v", *b)
	}
	return nil
}

// dev is a running `aocu dev`.
type dev struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	ports   [4]int // gateway, MU, SU, CU
	log     string
	exited  chan struct{}
	banner
}

func freePorts(t *testing.T, n int) []int {
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startDev runs `aocu dev` on dataDir and the ports (free ones if zero) and
// waits for its banner.
func startDev(t *testing.T, dataDir string, ports [4]int) *dev {
	t.Helper()
	if ports == [4]int{} {
		copy(ports[:], freePorts(t, 4))
	}
	logFile, err := os.CreateTemp(filepath.Dir(dataDir), "aocu-dev-*.log")
	if err != nil {
		t.Fatal(err)
	}
	d := &dev{t: t, dataDir: dataDir, ports: ports, log: logFile.Name(), exited: make(chan struct{})}
	d.cmd = exec.Command(testbin.Aocu(t), "dev", "--data-dir", dataDir, "--modules-dir", modules, "--host", "127.0.0.1",
		"--gateway-port", strconv.Itoa(ports[0]), "--mu-port", strconv.Itoa(ports[1]),
		"--su-port", strconv.Itoa(ports[2]), "--cu-port", strconv.Itoa(ports[3]), "--explorer-port", "0")
	d.cmd.Stderr = logFile
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logFile, "stdout: "+sc.Text())
			select {
			case lines <- sc.Text():
			default: // nobody reads after the banner
			}
		}
		io.Copy(io.Discard, stdout)
		d.cmd.Wait()
		logFile.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		// SIGKILL: the data directory is thrown away, and a graceful stop
		// writes a file checkpoint of every process (~1 s each).
		d.kill9()
		if t.Failed() {
			t.Logf("aocu dev log (%s), last lines:\n%s", d.log, tail(d.log, 60))
		}
	})
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case s := <-lines:
			if d.banner.line(s) {
				if err := d.banner.complete(); err != nil {
					t.Fatal(err)
				}
				t.Logf("aocu dev up on %s (MU %s, data %s)", d.GatewayURL, d.MUURL, dataDir)
				return d
			}
		case <-d.exited:
			t.Fatalf("aocu dev exited before its banner: %v\n%s", d.cmd.ProcessState, tail(d.log, 40))
		case <-deadline:
			t.Fatalf("no banner from aocu dev after 3 minutes\n%s", tail(d.log, 40))
		}
	}
}

// kill9 kills the whole dev network at once (SIGKILL: no shutdown, no
// checkpoint, no flush) and waits for it to be gone.
func (d *dev) kill9() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// env is the environment of the node scripts: the units' URLs and the data
// directory (the examples discover the rest), plus the ids the harness
// scripts take as given.
func (d *dev) env() []string {
	return append(os.Environ(),
		"GATEWAY_URL="+d.GatewayURL, "GRAPHQL_URL="+d.GatewayURL+"/graphql",
		"MU_URL="+d.MUURL, "CU_URL="+d.CUURL, "SU_URL="+d.SUURL,
		"AOCU_DATA_DIR="+d.dataDir,
		"AO_MODULE="+d.DefaultModule, "AO_SCHEDULER="+d.SUAddress, "AO_AUTHORITY="+d.MUAddress,
		"NODE_NO_WARNINGS=1",
	)
}

// exampleEnv leaves the ids out: the examples find them on their own.
func (d *dev) exampleEnv() []string {
	var out []string
	for _, kv := range d.env() {
		if !strings.HasPrefix(kv, "AO_") {
			out = append(out, kv)
		}
	}
	return out
}

// nodeRun runs node with the loopback guard preloaded and returns stdout.
// It fails the test if node fails or anything non-loopback was attempted.
func nodeRun(t *testing.T, dir string, env []string, timeout time.Duration, args ...string) string {
	t.Helper()
	cmd := exec.Command(nodeBin, append([]string{"--import", guard}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		err = fmt.Errorf("timed out after %v", timeout)
	}
	if strings.Contains(stderr.String(), "BLOCKED non-loopback") {
		t.Errorf("node %s reached for a public host:\n%s", strings.Join(args, " "), stderr.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("node %s stderr:\n%s", strings.Join(args, " "), s)
	}
	return stdout.String()
}

// lastJSON decodes the last non-empty line of out into v.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), v); err != nil {
		t.Fatalf("last line is not JSON (%v): %q\nfull output:\n%s", err, last, out)
	}
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
