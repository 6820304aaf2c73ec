package httpretry_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aocu/aocu/internal/httpretry"
)

// With 20 requests in flight at once to one SU, round after round, the
// upstream clients reuse their connections: no new TCP connection per
// request (Go's default transport keeps 2 idle per host).
func TestUpstreamConnectionsAreReusedUnderConcurrency(t *testing.T) {
	var conns atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // all 20 in flight before any answers
		io.WriteString(w, `{"page_info":{"has_next_page":false},"edges":[]}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := httpretry.Transport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const inFlight, rounds = 20, 10
	for range rounds {
		var wg sync.WaitGroup
		var started sync.WaitGroup
		started.Add(inFlight)
		for range inFlight {
			wg.Go(func() {
				started.Done()
				resp, err := client.Get(srv.URL + "/process?from=1")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		started.Wait()
		for range inFlight {
			release <- struct{}{}
		}
		wg.Wait()
	}
	if n := conns.Load(); n > inFlight+2 {
		t.Fatalf("%d connections for %d rounds of %d requests in flight; want them reused (≤ %d)", n, rounds, inFlight, inFlight+2)
	}
}
