// Package gwsu starts a local gateway and a local SU over real HTTP: the one
// test network of the packages that need both (the clients, the contract
// suites, the interop, MU and CU end-to-end tests). It is apart from
// localnettest, which the gateway's and the SU's own tests import.
package gwsu

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/su"
)

// Net is a local gateway and a local SU that uploads to it, each behind an
// httptest server. Both stop when the test ends.
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

// Options configure a Net. The zero value is Start's network.
type Options struct {
	Hooks Hooks
	// Now is the clock of the gateway (which dates its blocks) and of the SU
	// (which dates its assignments); time.Now if nil.
	Now func() time.Time
	// ManualBlocks: the gateway mines only when told (Gateway.Mine, POST
	// /mine) instead of after every write.
	ManualBlocks bool
	// SUWallet signs the SU's assignments (the RSA test wallet if nil).
	SUWallet *arweave.Wallet
	// Logger receives both servers' background errors (slog.Default() if nil).
	Logger *slog.Logger
	// WrapSU wraps the SU's handler, e.g. to inject faults or redirects.
	WrapSU func(http.Handler) http.Handler
}

// Start starts a Net mining on every write, with the RSA test wallet as the
// SU's.
func Start(t testing.TB, hooks Hooks) *Net {
	t.Helper()
	return StartWith(t, Options{Hooks: hooks})
}

// StartWith starts a Net configured by o.
func StartWith(t testing.TB, o Options) *Net {
	t.Helper()
	ctx := context.Background()
	gw, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), BlockInterval: -1, MineOnWrite: !o.ManualBlocks,
		Now: o.Now, Logger: o.Logger})
	if err != nil {
		t.Fatal(err)
	}
	gwHS := httptest.NewServer(hooked(o.Hooks.Gateway, gw))
	t.Cleanup(func() { gwHS.Close(); gw.Close() })
	// The handler is set after New so the SU can publish its own URL.
	var (
		mu sync.RWMutex
		h  http.Handler = http.NotFoundHandler()
	)
	var suH http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		hh := h
		mu.RUnlock()
		hh.ServeHTTP(w, r)
	})
	if o.WrapSU != nil {
		suH = o.WrapSU(suH)
	}
	suHS := httptest.NewServer(hooked(o.Hooks.SU, suH))
	wallet := o.SUWallet
	if wallet == nil {
		wallet = localnettest.Wallet(t)
	}
	s, err := su.New(ctx, su.Config{DataDir: t.TempDir(), Wallet: wallet, GatewayURL: gwHS.URL, URL: suHS.URL,
		Now: o.Now, Logger: o.Logger})
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
