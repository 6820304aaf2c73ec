// Package gwsu starts a local gateway and a local SU over real HTTP for the
// tests of their clients. It is apart from localnettest, which the gateway's
// and the SU's own tests import.
package gwsu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/su"
)

// Net is a local gateway (mining on every write) and a local SU that uploads
// to it, each behind an httptest server. Both stop when the test ends.
type Net struct {
	Gateway    *gateway.Server
	SU         *su.Server
	GatewayURL string
	SUURL      string
}

// Hooks see every request before the server answers it (to count them, say).
type Hooks struct {
	Gateway, SU func(*http.Request)
}

// Options configure a Net.
type Options struct {
	Hooks Hooks
	// GatewayNow is the gateway's clock, which dates its blocks (time.Now if
	// nil).
	GatewayNow func() time.Time
}

// Start starts a Net, with the RSA test wallet as the SU's.
func Start(t testing.TB, hooks Hooks) *Net {
	t.Helper()
	return StartWith(t, Options{Hooks: hooks})
}

// StartWith starts a Net configured by o, with the RSA test wallet as the
// SU's.
func StartWith(t testing.TB, o Options) *Net {
	t.Helper()
	hooks := o.Hooks
	ctx := context.Background()
	gw, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), BlockInterval: -1, MineOnWrite: true, Now: o.GatewayNow})
	if err != nil {
		t.Fatal(err)
	}
	gwHS := httptest.NewServer(hooked(hooks.Gateway, gw))
	t.Cleanup(func() { gwHS.Close(); gw.Close() })
	// The handler is set after New so the SU can publish its own URL.
	var (
		mu sync.RWMutex
		h  http.Handler = http.NotFoundHandler()
	)
	suHS := httptest.NewServer(hooked(hooks.SU, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		hh := h
		mu.RUnlock()
		hh.ServeHTTP(w, r)
	})))
	s, err := su.New(ctx, su.Config{DataDir: t.TempDir(), Wallet: localnettest.Wallet(t), GatewayURL: gwHS.URL, URL: suHS.URL})
	if err != nil {
		suHS.Close()
		t.Fatal(err)
	}
	mu.Lock()
	h = s
	mu.Unlock()
	t.Cleanup(func() { suHS.Close(); s.Close() })
	return &Net{Gateway: gw, SU: s, GatewayURL: gwHS.URL, SUURL: suHS.URL}
}

// hooked is h, calling hook first if there is one.
func hooked(hook func(*http.Request), h http.Handler) http.Handler {
	if hook == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook(r)
		h.ServeHTTP(w, r)
	})
}
