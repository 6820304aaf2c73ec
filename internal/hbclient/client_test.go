package hbclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

const pid = "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP"

// edgeJSON is one aos-2 edge as HyperBEAM writes it.
func edgeJSON(slot int, ts int64, msg string, extraTags string) string {
	tags := fmt.Sprintf(`[{"name":"Process","value":%q},{"name":"Slot","value":"%d"},{"name":"Timestamp","value":"%d"},{"name":"Block-Height","value":"000001600000"},{"name":"Hash-Chain","value":"h%d"}%s]`,
		pid, slot, ts, slot, extraTags)
	return fmt.Sprintf(`{"cursor":%d,"node":{"message":%s,"assignment":{"Id":"a%d","Owner":"node","Tags":%s,"Data":"","Target":""}}}`, slot, msg, slot, tags)
}

func msgJSON(id, typ string) string {
	return fmt.Sprintf(`{"Id":%q,"Owner":"owner","From":"owner","Anchor":"","Data":"d","Signature":"","Target":%q,"Tags":[{"name":"Type","value":%q},{"name":"N","value":7}]}`, id, pid, typ)
}

func pageJSON(more string, edges ...string) string {
	return fmt.Sprintf(`{"page_info":{"process":%q,"has_next_page":%s,"timestamp":"1750000009999","block-height":"1600001"},"edges":[%s]}`,
		pid, more, strings.Join(edges, ","))
}

// fakeScheduler serves slots 0..n-1 with timestamps 1000*slot and records the requests.
type fakeScheduler struct {
	mu    sync.Mutex
	n     int
	asked []string
}

func (f *fakeScheduler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.RawQuery)
	n := f.n
	f.mu.Unlock()
	from, _ := strconv.Atoi(q.Get("from"))
	to := n - 1
	if v := q.Get("to"); v != "" {
		to, _ = strconv.Atoi(v)
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	var edges []string
	for s := from; s <= to && s < n && len(edges) < limit; s++ {
		typ := "Message"
		if s == 0 {
			typ = "Process"
		}
		edges = append(edges, edgeJSON(s, int64(1000*s), msgJSON(fmt.Sprint("m", s), typ), ""))
	}
	more := "false"
	if from+len(edges) < n && from+len(edges) <= to {
		more = "true"
	}
	// HyperBEAM has sent the page as a JSON string holding the JSON.
	b, _ := json.Marshal(pageJSON(more, edges...))
	w.Write(b)
}

func (f *fakeScheduler) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func newTestClient(t *testing.T, n int, opts Options) (*Client, *fakeScheduler) {
	f := &fakeScheduler{n: n}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opts.URL = srv.URL
	opts.Retries, opts.Delay = -1, time.Millisecond
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func nonces(p *ao.SUPage) string {
	var out []string
	for _, e := range p.Edges {
		v, _ := ao.TagValue(e.Assignment.Tags, "Nonce")
		out = append(out, v)
	}
	return strings.Join(out, ",")
}

func TestOfferedSlotsNeedNoRequest(t *testing.T) {
	c, f := newTestClient(t, 10, Options{})
	body := pageJSON(`"false"`, edgeJSON(0, 0, msgJSON(pid, "Process"), ""), edgeJSON(1, 1000, msgJSON("m1", "Message"), ""))
	if _, err := c.Offer(pid, []byte(body)); err != nil {
		t.Fatal(err)
	}
	p, err := c.Process(context.Background(), "", pid)
	if err != nil || p.Owner.Address != "owner" || p.Block.Height != 1_600_000 || p.Block.Timestamp != 0 {
		t.Fatalf("process %+v %v", p, err)
	}
	meta, err := c.Message(context.Background(), "", "1", pid)
	if err != nil || meta.Nonce != 1 || meta.Timestamp != 1000 {
		t.Fatalf("slot 1 meta %+v %v", meta, err)
	}
	page, err := c.Messages(context.Background(), "", pid, "0", "1000", 100)
	if err != nil || nonces(page) != "1" || page.HasNextPage {
		t.Fatalf("page after slot 0: %q more=%v %v", nonces(page), page.HasNextPage, err)
	}
	e := page.Edges[0]
	if ep, _ := ao.TagValue(e.Assignment.Tags, "Epoch"); ep != "0" || e.Message == nil || e.Message.Owner.Address != "owner" {
		t.Fatalf("edge %+v", e)
	}
	if v, _ := ao.TagValue(e.Message.Tags, "N"); v != "7" {
		t.Fatalf("a numeric tag value is %q, not `${value}`", v)
	}
	if r := f.requests(); len(r) != 0 {
		t.Fatalf("the scheduler was asked %v", r)
	}
}

func TestMessagesReadsWhatWasNotOffered(t *testing.T) {
	c, f := newTestClient(t, 6, Options{})
	ctx := context.Background()
	// Cold: from the start up to the timestamp of slot 3.
	page, err := c.Messages(ctx, "", pid, "", "3000", 2)
	if err != nil || nonces(page) != "0,1" || !page.HasNextPage {
		t.Fatalf("first page %q more=%v %v", nonces(page), page.HasNextPage, err)
	}
	// The engine gives the last cursor back.
	page, err = c.Messages(ctx, "", pid, page.Edges[1].Cursor, "3000", 2)
	if err != nil || nonces(page) != "2,3" || page.HasNextPage {
		t.Fatalf("second page %q more=%v %v", nonces(page), page.HasNextPage, err)
	}
	// Latest, from the timestamp of slot 3 (known now).
	page, err = c.Messages(ctx, "", pid, "3000", "", 100)
	if err != nil || nonces(page) != "4,5" || page.HasNextPage {
		t.Fatalf("latest %q more=%v %v", nonces(page), page.HasNextPage, err)
	}
	for _, q := range f.requests() {
		if !strings.Contains(q, "target="+pid) || !strings.HasSuffix(q, "accept=application%2Faos-2") {
			t.Fatalf("request %q", q)
		}
	}
	// A timestamp nobody told the client about: searched on the scheduler.
	c2, _ := newTestClient(t, 6, Options{})
	page, err = c2.Messages(ctx, "", pid, "2000", "4000", 100)
	if err != nil || nonces(page) != "3,4" {
		t.Fatalf("after an unknown position: %q %v", nonces(page), err)
	}
	// Resolve wins over the search; Remember over both.
	c3, f3 := newTestClient(t, 6, Options{Resolve: func(_ context.Context, p string, ts int64) (int64, bool) { return ts / 1000, p == pid }})
	if page, err = c3.Messages(ctx, "", pid, "4000", "", 100); err != nil || nonces(page) != "5" {
		t.Fatalf("resolved: %q %v", nonces(page), err)
	}
	if r := f3.requests(); len(r) != 1 || !strings.Contains(r[0], "from=5") {
		t.Fatalf("resolved requests %v", r)
	}
	c3.Remember(pid, 1, 4000)
	if page, err = c3.Messages(ctx, "", pid, "4000", "", 100); err != nil || nonces(page) != "2,3,4,5" {
		t.Fatalf("remembered: %q %v", nonces(page), err)
	}
}

func TestSkipSlots(t *testing.T) {
	skips := NewSkips()
	c, _ := newTestClient(t, 0, Options{Skips: skips})
	body := pageJSON("false", edgeJSON(3, 3000, msgJSON("dup", "Message"), `,{"name":"Skip","value":"true"},{"name":"Original-Assignment-Id","value":"orig"}`))
	got, err := c.Offer(pid, []byte(body))
	if err != nil || len(got) != 1 || !got[0].Skip || got[0].Edge.Assignment.ID != "orig" {
		t.Fatalf("skip slot %+v %v", got, err)
	}
	inner := &countingRuntime{}
	rt := WrapRuntime(inner, skips, NewCounters())
	mod, _ := rt.Compile(context.Background(), nil, "")
	inst, _ := mod.Instantiate(context.Background(), ao.InstanceOptions{})
	env := &ao.Env{Process: ao.EnvEntity{ID: pid}}
	res, err := inst.Handle(context.Background(), 1, &ao.Message{ID: json.RawMessage(`"dup"`), Nonce: json.RawMessage(`3`)}, env, 0)
	if err != nil || inner.calls != 0 || string(res.Output) != `{"data":"","prompt":"","print":false}` || string(res.Messages) != "[]" {
		t.Fatalf("skip evaluated: calls %d, %+v %v", inner.calls, res, err)
	}
	// The same message at another slot, or another message at that slot, runs.
	for _, m := range []*ao.Message{{ID: json.RawMessage(`"dup"`), Nonce: json.RawMessage(`2`)}, {ID: json.RawMessage(`"x"`), Nonce: json.RawMessage(`3`)}} {
		if _, err := inst.Handle(context.Background(), 1, m, env, 0); err != nil {
			t.Fatal(err)
		}
	}
	if inner.calls != 2 {
		t.Fatalf("inner calls %d", inner.calls)
	}
}

func TestCounters(t *testing.T) {
	counters := NewCounters()
	inner := &countingRuntime{fail: true}
	rt := WrapRuntime(inner, nil, counters)
	mod, _ := rt.Compile(context.Background(), nil, "")
	env := &ao.Env{Process: ao.EnvEntity{ID: pid}}
	cold, _ := mod.Instantiate(context.Background(), ao.InstanceOptions{})
	warm, _ := mod.Instantiate(context.Background(), ao.InstanceOptions{Memory: []byte{1}})
	cold.Handle(context.Background(), 1, &ao.Message{}, env, 0)
	cold.Handle(context.Background(), 1, &ao.Message{}, env, 0)
	warm.Handle(context.Background(), 2, &ao.Message{}, env, 0)
	if got := counters.Get(pid); got != (Count{Evaluated: 3, Errors: 3, ColdStarts: 1}) {
		t.Fatalf("counts %+v", got)
	}
}

func TestProcessWithoutProcessMessage(t *testing.T) {
	c, _ := newTestClient(t, 0, Options{})
	body := pageJSON("false", edgeJSON(0, 0, msgJSON("m0", "Message"), ""))
	if _, err := c.Offer(pid, []byte(body)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Process(context.Background(), "", pid)
	if ao.StatusOf(err) != http.StatusBadGateway || !strings.Contains(err.Error(), "HB_LEGACY_SU_URL") {
		t.Fatalf("no fallback configured: %v", err)
	}
	legacy := &legacySU{}
	c2, _ := newTestClient(t, 0, Options{LegacySU: legacy, LegacySUURL: "http://su.local"})
	c2.Offer(pid, []byte(body))
	if p, err := c2.Process(context.Background(), "", pid); err != nil || p.ID != "legacy" || legacy.url != "http://su.local" {
		t.Fatalf("fallback %+v %v %q", p, err, legacy.url)
	}
	if _, err := c.Offer(pid, []byte(`{"edges":[{"node":{"message":{},"assignment":{"Id":"a","Tags":[{"name":"Process","value":"other"},{"name":"Slot","value":"1"},{"name":"Timestamp","value":"1"},{"name":"Block-Height","value":"1"}]}}}]}`)); err == nil {
		t.Fatal("a slot of another process was accepted")
	}
}

type legacySU struct {
	ao.Scheduler
	url string
}

func (l *legacySU) Process(_ context.Context, su, _ string) (*ao.SUProcess, error) {
	l.url = su
	return &ao.SUProcess{Process: ao.Process{ID: "legacy"}}, nil
}

type countingRuntime struct {
	calls int
	fail  bool
}

func (r *countingRuntime) Compile(context.Context, []byte, string) (ao.CompiledModule, error) {
	return r, nil
}

func (r *countingRuntime) Instantiate(context.Context, ao.InstanceOptions) (ao.Instance, error) {
	return &countingInstance{r: r}, nil
}

type countingInstance struct{ r *countingRuntime }

func (i *countingInstance) Handle(context.Context, uint64, *ao.Message, *ao.Env, time.Duration) (*ao.Result, error) {
	i.r.calls++
	if i.r.fail {
		return &ao.Result{Error: json.RawMessage(`"boom"`)}, nil
	}
	return &ao.Result{Output: json.RawMessage(`"ok"`)}, nil
}

func (i *countingInstance) DryRun(context.Context, *ao.Message, *ao.Env, time.Duration) (*ao.Result, error) {
	return nil, nil
}
func (i *countingInstance) Memory() []byte { return nil }
func (i *countingInstance) Close() error   { return nil }
