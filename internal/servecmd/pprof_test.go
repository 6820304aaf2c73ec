package servecmd

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/config"
)

// AOCU_PPROF_ADDR serves Go's runtime profiles on their own address, not on
// the CU's port, and stops with the CU; a bad address refuses to start.
func TestProfilesOnTheirOwnAddress(t *testing.T) {
	u, err := startBareUnit(t, map[string]string{"AOCU_PPROF_ADDR": "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	prof := u.ProfileURL()
	must(t, prof != "" && prof != u.URL, "profile URL %q beside the CU's %q", prof, u.URL)
	code, body := get(prof + "/debug/pprof/goroutine?debug=1")
	must(t, code == 200 && strings.Contains(body, "goroutine profile:"), "goroutine profile: %d %.200s", code, body)
	code, _ = get(u.URL + "/debug/pprof/")
	must(t, code == 404, "the CU's port answers /debug/pprof/ with %d", code)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := u.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	code, body = get(prof + "/debug/pprof/")
	must(t, code == 0, "after shutdown the profiles still answer: %d %.100s", code, body)

	// An address that cannot be listened on stops the start with its error.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = startBareUnit(t, map[string]string{"AOCU_PPROF_ADDR": busy.Addr().String()})
	must(t, err != nil && strings.Contains(err.Error(), "AOCU_PPROF_ADDR"), "a busy AOCU_PPROF_ADDR: %v", err)
}

// startBareUnit starts `aocu serve` in this process with its own database
// and directories and a gateway that is never asked (no process is
// evaluated), plus env; the caller shuts it down.
func startBareUnit(t *testing.T, env map[string]string) (*Unit, error) {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"DB_URL":                        testDB(t, filepath.Join(dir, "db")),
		"GATEWAY_URL":                   "http://127.0.0.1:9", // nothing is asked of it
		"PROCESS_MEMORY_CACHE_FILE_DIR": filepath.Join(dir, "memory"),
		"WASM_BINARY_FILE_DIRECTORY":    filepath.Join(dir, "wasm"),
	}
	maps.Copy(all, env)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := all[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, cuW := wallets(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Start(context.Background(), cfg, Options{Logger: quietLog(), Listener: ln, Wallet: cuW})
}
