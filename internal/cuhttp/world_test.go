package cuhttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/cuhttp"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/store/memstore"
)

// cuAddress is the wallet address GET / reports.
var cuAddress = aotest.NewID("cu-wallet")

// testCU is a real engine on the aotest world (in-memory SU, gateway,
// scripted runtime, memstore, temporary directories) behind cuhttp over a
// real HTTP server.
type testCU struct {
	t     *testing.T
	w     *aotest.World
	e     *engine.Engine
	store *memstore.Store
	url   string
}

type tuning struct {
	engine func(*engine.Options)
	http   func(*cuhttp.Options)
}

// newCU starts the engine and the server on w (a world with the default
// script if nil).
func newCU(t *testing.T, w *aotest.World, tune tuning) *testCU {
	t.Helper()
	if w == nil {
		w = aotest.NewWorld(nil)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	eo := engine.Options{
		Store: store, Scheduler: w.Scheduler, Gateway: w.Gateway, Runtime: w.Runtime, Logger: logger,
		MemoryCacheFileDir: t.TempDir(), WasmBinaryDir: t.TempDir(), Now: w.Clock.Time,
	}
	if tune.engine != nil {
		tune.engine(&eo)
	}
	e, err := engine.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ho := cuhttp.Options{Engine: e, Address: cuAddress, Logger: logger, Now: w.Clock.Time}
	if tune.http != nil {
		tune.http(&ho)
	}
	s := cuhttp.New(ho)
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return &testCU{t: t, w: w, e: e, store: store, url: srv.URL}
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (cu *testCU) do(method, path string, body io.Reader, header map[string]string) reply {
	cu.t.Helper()
	ctx, cancel := context.WithTimeout(cu.t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, cu.url+path, body)
	if err != nil {
		cu.t.Errorf("%s %s: %v", method, path, err)
		return reply{body: err.Error()}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// Errorf, not Fatalf: do runs in goroutines too; a failed request is a
	// reply with status 0 that no test expects.
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cu.t.Errorf("%s %s: %v", method, path, err)
		return reply{body: err.Error()}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		cu.t.Errorf("%s %s: read body: %v", method, path, err)
		return reply{body: err.Error()}
	}
	return reply{res.StatusCode, res.Header, string(b)}
}

func (cu *testCU) get(path string) reply {
	cu.t.Helper()
	return cu.do(http.MethodGet, path, nil, nil)
}

func (cu *testCU) dryRun(pid, body string, header map[string]string) reply {
	cu.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return cu.do(http.MethodPost, "/dry-run?process-id="+pid, strings.NewReader(body), h)
}

// want fails unless r has the status and exactly the body.
func want(t *testing.T, what string, r reply, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("%s:\n got %d %s\nwant %d %s", what, r.status, r.body, status, body)
	}
}

// wantError fails unless r has the status and a JSON {"error"} body holding
// text.
func wantError(t *testing.T, what string, r reply, status int, text string) {
	t.Helper()
	var e struct{ Error string }
	if r.status != status || json.Unmarshal([]byte(r.body), &e) != nil || !strings.Contains(e.Error, text) {
		t.Fatalf("%s:\n got %d %s\nwant %d {\"error\": …%s…}", what, r.status, r.body, status, text)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// errBody is the reference's error body.
func errBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

// resultBody is the engine's stored result of one Script message.
func resultBody(output string) string {
	return `{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"` + output + `"},"GasUsed":1}`
}

// cursor is the reference's cursor of a row.
func cursor(ts int64, ord, cron, sort string) string {
	c := "null"
	if cron != "" {
		c = `"` + cron + `"`
	}
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"timestamp":%d,"ordinate":"%s","cron":%s,"sort":"%s"}`, ts, ord, c, sort))
}

// gated is a Script whose Action=Wait messages (scheduled or dry-run) block
// until release is closed; started receives one value as each begins.
func gated() (h aotest.Handler, started chan struct{}, release chan struct{}) {
	started, release = make(chan struct{}, 16), make(chan struct{})
	h = func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if v, _ := ao.TagValue(msg.Tags, "Action"); v == "Wait" {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		return aotest.Script(ctx, mem, msg, env)
	}
	return h, started, release
}

// page is a decoded /results or /cron body.
type page struct {
	PageInfo struct{ HasNextPage bool }
	Edges    []struct {
		Node   map[string]json.RawMessage
		Cursor string
	}
}

func decodePage(t *testing.T, r reply) page {
	t.Helper()
	var p page
	if r.status != http.StatusOK {
		t.Fatalf("page: %s", r)
	}
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("page %s: %v", r.body, err)
	}
	return p
}

// data is the Output.data of a node.
func (p page) data(i int) string {
	var o struct{ Data string }
	json.Unmarshal(p.Edges[i].Node["Output"], &o)
	return o.Data
}
