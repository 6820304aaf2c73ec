package servecmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// profiler serves Go's runtime profiles on an address of their own
// (AOCU_PPROF_ADDR), never on the CU's port.
type profiler struct {
	URL  string
	srv  *http.Server
	done chan struct{}
}

func startProfiler(addr string, log *slog.Logger) (*profiler, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("AOCU_PPROF_ADDR: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	// Index serves the named profiles (heap, goroutine, …) under its path.
	for name, h := range map[string]http.HandlerFunc{"": pprof.Index, "cmdline": pprof.Cmdline,
		"profile": pprof.Profile, "symbol": pprof.Symbol, "trace": pprof.Trace} {
		mux.HandleFunc("/debug/pprof/"+name, h)
	}
	p := &profiler{URL: "http://" + ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiling server stopped", "err", err)
		}
	}()
	log.Info("Go runtime profiles served", "url", p.URL+"/debug/pprof/")
	return p, nil
}

// close stops the server (a profile being taken is cut short) and waits for it.
func (p *profiler) close() {
	if p == nil {
		return
	}
	p.srv.Close()
	<-p.done
}
