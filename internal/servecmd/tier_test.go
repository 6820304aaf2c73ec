package servecmd

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aocu/aocu/internal/aot"
)

// syncBuffer is a log destination the units write to from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeAheadOfTimeTier: AOCU_WASM_TIER=aot makes `aocu serve` run the aos
// modules (aos2_0_6, and aos2_0_4_32 in a metering format: metered inline,
// its gas counted in the compiled code) as C compiled ahead of time (it says
// so in its log), and the process answers messages and dry-runs.
func TestServeAheadOfTimeTier(t *testing.T) {
	w2c, err := aot.FindWasm2c(repoRoot(t))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the ahead-of-time tier's wasm2c is missing in CI: %v", err)
		}
		t.Skipf("no wasm2c (run ./scripts/fixtures.sh): %v", err)
	}
	for _, m := range e2eModules {
		t.Run(m.file, func(t *testing.T) {
			var logs syncBuffer
			n := startNet(t, m.file, m.format, netOptions{
				env: map[string]string{"AOCU_WASM_TIER": "aot", "AOCU_WASM2C": strings.Join(w2c, " "),
					// the compiled module is cached with the others of the tests
					"WASM_BINARY_FILE_DIRECTORY": filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache")},
				log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			})
			pid := n.spawn(t, "")
			noError(t, n.result(t, pid, pid))
			noError(t, n.result(t, pid, n.eval(t, pid, handlersCode)))
			noError(t, n.result(t, pid, n.send(t, pid, "hello world", "Action", "Set", "Key", "greeting")))
			r := n.result(t, pid, n.send(t, pid, "", "Action", "Get", "Key", "greeting"))
			noError(t, r)
			must(t, strings.Contains(string(r["Messages"]), `"Data":"hello world"`), "Get reply %s", r["Messages"])
			dr := n.dryRun(t, pid, `{"Tags":[{"name":"Action","value":"Get"},{"name":"Key","value":"greeting"}],"Owner":"`+n.user.Address()+`"}`)
			must(t, strings.Contains(string(dr["Messages"]), `"Data":"hello world"`), "dry-run %s", dr["Messages"])
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "module tier") {
					line = l
				}
			}
			must(t, strings.Contains(line, "tier=aot") && !strings.Contains(line, "why="), "log: %q", line)
		})
	}
}
