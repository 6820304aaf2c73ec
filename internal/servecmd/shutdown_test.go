package servecmd

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"
)

// A connection that never sent a request (a client's spare dial) does not
// hold a shutdown: net/http's Shutdown alone waits 5 s for it, time the
// shutdown's checkpoints need.
func TestShutdownDoesNotWaitForASpareConnection(t *testing.T) {
	u, err := startBareUnit(t, nil)
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
