package servecmd

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/config"
)

// A connection that never sent a request (a client's spare dial) does not
// hold a shutdown: net/http's Shutdown alone waits 5 s for it, time the
// shutdown's checkpoints need.
func TestShutdownDoesNotWaitForASpareConnection(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"DB_URL":                        testDB(t, filepath.Join(dir, "db")),
		"GATEWAY_URL":                   "http://127.0.0.1:9", // nothing is asked of it
		"PROCESS_MEMORY_CACHE_FILE_DIR": filepath.Join(dir, "memory"),
		"WASM_BINARY_FILE_DIRECTORY":    filepath.Join(dir, "wasm"),
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, cuW := wallets(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := Start(context.Background(), cfg, Options{Logger: quietLog(), Listener: ln, Wallet: cuW})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	spare, err := net.Dial("tcp", addr.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	time.Sleep(50 * time.Millisecond) // accepted by the server
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := u.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	must(t, took < 4500*time.Millisecond, "shutdown with a spare connection open took %v (net/http alone waits 5 s)", took)
}
