package hbuhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/hbclient"
)

const pid = "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP"

// fakeEngine answers every result with the engine's member order and
// records the dry-run bodies it got.
type fakeEngine struct {
	mu      sync.Mutex
	dryBody []byte
	block   chan struct{}
}

func (f *fakeEngine) ReadResult(ctx context.Context, _, id string, _ time.Duration) ([]byte, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []byte(`{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"` + id + `"},"GasUsed":3}`), nil
}

func (f *fakeEngine) DryRun(_ context.Context, req engine.DryRunRequest, _ time.Duration) ([]byte, bool, error) {
	f.mu.Lock()
	f.dryBody = req.Body
	f.mu.Unlock()
	return []byte(`{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","Error":"x"}`), false, nil
}

func (f *fakeEngine) CheckpointProcess(context.Context, string) error { return nil }

func page(slot string) []byte {
	return []byte(`{"page_info":{"has_next_page":false},"edges":[{"cursor":` + slot + `,"node":{"message":{"Id":"m","Owner":"o","Tags":[]},` +
		`"assignment":{"Id":"a","Tags":[{"name":"Process","value":"` + pid + `"},{"name":"Slot","value":"` + slot +
		`"},{"name":"Timestamp","value":"77"},{"name":"Block-Height","value":"5"}]}}}]}`)
}

func newServer(t *testing.T, eng Engine, opts Options) *httptest.Server {
	sched, err := hbclient.New(hbclient.Options{URL: "http://127.0.0.1:1", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts.Engine, opts.Schedule, opts.Counters = eng, sched, hbclient.NewCounters()
	opts.Fallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) })
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestResultShapeAndCache(t *testing.T) {
	srv := newServer(t, &fakeEngine{}, Options{})
	resp, body := do(t, "POST", srv.URL+"/result/4?process-id="+pid, page("4"), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 || body != `{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"4"},"Patches":[],"GasUsed":3}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	h := resp.Header
	if h.Get("slot") != "4" || h.Get("timestamp") != "77" || h.Get("block-height") != "5" || h.Get("cu-cached") != "true" ||
		h.Get("eval-stream-length") != "0" || h.Get("Message") != "4" || h.Get("cold-start") != "false" {
		t.Fatalf("headers %v", h)
	}
	resp, again := do(t, "POST", srv.URL+"/result/4?process-id="+pid, nil, nil)
	if again != body || resp.Header.Get("cu-cached") != "true" || resp.Header.Get("eval-stream-length") != "" || resp.Header.Get("slot") != "4" {
		t.Fatalf("cached %v %s", resp.Header, again)
	}
	// A message id is the CU's route; a POST of something else is a 400.
	if resp, _ := do(t, "GET", srv.URL+"/result/"+pid+"?process-id="+pid, nil, nil); resp.StatusCode != 418 {
		t.Fatalf("GET /result/<id> went to %d", resp.StatusCode)
	}
	for _, u := range []string{"/result/x?process-id=" + pid, "/result/1", "/result/1?process-id=short"} {
		if resp, _ := do(t, "POST", srv.URL+u, nil, nil); resp.StatusCode != 400 {
			t.Fatalf("POST %s: %d", u, resp.StatusCode)
		}
	}
	if resp, _ := do(t, "POST", srv.URL+"/result/5?process-id="+pid, []byte(`{"edges":[{"node":{}}]}`), nil); resp.StatusCode != 400 {
		t.Fatalf("a page without assignment: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", srv.URL+"/result/5?process-id="+pid, page("5"), map[string]string{"Content-Type": "image/png"}); resp.StatusCode != 415 {
		t.Fatalf("image body: %d", resp.StatusCode)
	}
}

func TestRestrictedAndStatus(t *testing.T) {
	srv := newServer(t, &fakeEngine{}, Options{RestrictProcesses: []string{pid}, Address: "addr"})
	for _, r := range []struct{ method, path string }{{"POST", "/result/1?process-id=" + pid}, {"POST", "/dry-run?process-id=" + pid},
		{"POST", "/snapshot/" + pid}, {"GET", "/stop/" + pid}} {
		if resp, _ := do(t, r.method, srv.URL+r.path, []byte("{}"), nil); resp.StatusCode != 403 {
			t.Fatalf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
	resp, body := do(t, "GET", srv.URL+"/status", nil, nil)
	var st map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil || st["unitMode"] != "hbu" || st["address"] != "addr" {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", srv.URL+"/results/"+pid, nil, nil); resp.StatusCode != 418 {
		t.Fatalf("other routes are the CU's: %d", resp.StatusCode)
	}
}

func TestDryRunDefaults(t *testing.T) {
	eng := &fakeEngine{}
	srv := newServer(t, eng, Options{})
	resp, body := do(t, "POST", srv.URL+"/dry-run?process-id="+pid, []byte(`{"Owner":"","Tags":[],"Data":"x"}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 || body != `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","Patches":[],"Error":"x"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := string(eng.dryBody); got != `{"Owner":"1234","Tags":[],"Data":"x","From":"1234","Target":"`+pid+`"}` {
		t.Fatalf("dry-run body given to the engine: %s", got)
	}
}

func TestStopAnswers409(t *testing.T) {
	eng := &fakeEngine{block: make(chan struct{})}
	srv := newServer(t, eng, Options{})
	done := make(chan string, 2)
	for _, slot := range []string{"7", "8"} {
		go func() {
			resp, body := do(t, "POST", srv.URL+"/result/"+slot+"?process-id="+pid, page(slot), nil)
			done <- resp.Status + " " + body
		}()
	}
	var out struct {
		Stopped []string
		Count   int
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.Count < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		_, body := do(t, "GET", srv.URL+"/stop/"+pid, nil, nil)
		var o struct {
			Stopped []string
			Count   int
		}
		json.Unmarshal([]byte(body), &o)
		out.Stopped, out.Count = append(out.Stopped, o.Stopped...), out.Count+o.Count
	}
	if out.Count != 2 || strings.Join(out.Stopped, " ") != pid+",77,7,,false "+pid+",77,8,,false" && strings.Join(out.Stopped, " ") != pid+",77,8,,false "+pid+",77,7,,false" {
		t.Fatalf("stopped %+v", out)
	}
	for i := 0; i < 2; i++ {
		if got := <-done; !strings.HasPrefix(got, "409 ") || !strings.Contains(got, "stopped") {
			t.Fatalf("a stopped request answered %s", got)
		}
	}
	close(eng.block)
}

func TestRestoreValidation(t *testing.T) {
	srv := newServer(t, &fakeEngine{}, Options{Checkpoints: nopCheckpoints{}, CheckpointDir: t.TempDir()})
	good := map[string]string{"process": pid, "module": pid, "timestamp": "1", "nonce": "2", "block-height": "3"}
	for name, change := range map[string][2]string{"no process": {"process", ""}, "bad nonce": {"nonce", "x"}, "no module": {"module", ""}} {
		h := map[string]string{}
		for k, v := range good {
			h[k] = v
		}
		h[change[0]] = change[1]
		if resp, _ := do(t, "POST", srv.URL+"/state", []byte("x"), h); resp.StatusCode != 400 {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := do(t, "POST", srv.URL+"/state", []byte("not gzip"), good); resp.StatusCode != 400 {
		t.Fatalf("not gzip: %d", resp.StatusCode)
	}
}

type nopCheckpoints struct{ ao.CheckpointStore }

func (nopCheckpoints) SaveFileCheckpoint(context.Context, *ao.FileCheckpoint) error { return nil }
