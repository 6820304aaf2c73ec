package gwclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/lru"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

func wantStatus(t *testing.T, err error, status int, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want status %d", status)
	}
	if got := ao.StatusOf(err); got != status {
		t.Errorf("status %d, want %d: %v", got, status, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q lacks %q", err, c)
		}
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no error without ArweaveURL")
	}
	if _, err := New(Options{ArweaveURL: "http://gw", GraphQLURLs: []string{"nope"}}); err == nil {
		t.Error("no error for a bad GraphQLURLs entry")
	}
	c, err := New(Options{ArweaveURL: "http://gw/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.arweaveURL != "http://gw" || c.graphqlURL != "http://gw/graphql" || len(c.graphqlURLs) != 1 || c.graphqlURLs[0] != c.graphqlURL ||
		c.retries != DefaultRetries || c.delay != DefaultDelay || c.maxRaw != DefaultMaxRawSize || c.cache.Max() != DefaultLocateCacheSize {
		t.Errorf("defaults: %+v", c)
	}
	if c, _ := New(Options{ArweaveURL: "http://gw", Retries: -1, LocateCacheSize: -1}); c.retries != 0 || c.cache != nil {
		t.Errorf("Retries -1: %d, LocateCacheSize -1: %v", c.retries, c.cache)
	}
}

func TestTransactionMetaAndRaw(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	proc := n.spawn(t, "process data")
	pid := proc.ID()
	anchor := strings.Repeat("a", 32)
	msg := n.upload(t, n.user, "message data", pid, anchor, localnettest.Tags("Data-Protocol", "ao", "Type", "Message", "Action", "Eval"))
	c := n.client(t, Options{})
	owner := ao.Owner{Address: n.user.Address(), Key: arweave.B64Encode(n.user.PublicKey())}

	m, err := c.TransactionMeta(ctx, pid, false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != pid || m.Owner != owner || m.Recipient != "" || m.Signature == nil || *m.Signature != arweave.B64Encode(proc.Signature) ||
		m.Anchor == nil || *m.Anchor != "" {
		t.Errorf("TransactionMeta(process) = %+v", m)
	}
	if len(m.Tags) != len(proc.Tags) {
		t.Fatalf("tags %v", m.Tags)
	}
	for i, tg := range proc.Tags {
		if m.Tags[i] != (ao.Tag{Name: tg.Name, Value: tg.Value}) {
			t.Errorf("tag %d: %v, want %v", i, m.Tags[i], tg)
		}
	}
	m, err = c.TransactionMeta(ctx, msg.ID(), false, false, false)
	if err != nil || m.Recipient != pid || m.Anchor == nil || *m.Anchor != anchor {
		t.Errorf("TransactionMeta(message) = %+v, %v", m, err)
	}
	// The skips leave fields out.
	m, err = c.TransactionMeta(ctx, msg.ID(), true, true, true)
	if err != nil || m.ID != msg.ID() || m.Signature != nil || m.Anchor != nil || m.Tags != nil || m.Owner != owner || m.Recipient != pid {
		t.Errorf("TransactionMeta(message, skips) = %+v, %v", m, err)
	}
	m, err = c.TransactionMeta(ctx, msg.ID(), true, false, true)
	if err != nil || m.Signature == nil || m.Anchor != nil || m.Tags != nil {
		t.Errorf("TransactionMeta(message, skip tags and anchor) = %+v, %v", m, err)
	}
	unknown := arweave.B64Encode(make([]byte, 32))
	_, err = c.TransactionMeta(ctx, unknown, false, false, false)
	wantStatus(t, err, 404, "Gateway returned no transaction for '"+unknown+"'")

	// Raw.
	for id, want := range map[string]string{pid: "process data", msg.ID(): "message data"} {
		if b, err := c.Raw(ctx, id); err != nil || string(b) != want {
			t.Errorf("Raw(%s) = %q, %v", id, b, err)
		}
	}
	_, err = c.Raw(ctx, unknown)
	wantStatus(t, err, 404, "Transaction '"+unknown+"' not found on gateway")
	_, err = n.client(t, Options{MaxRawSize: 5}).Raw(ctx, pid)
	wantStatus(t, err, 502, "exceeds 5 bytes")
}

// stepClock gives every call a time 7 s after the previous one, so each
// mined block has its own timestamp.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(7 * time.Second)
	return c.t
}

func TestBlocks(t *testing.T) {
	ctx := context.Background()
	clock := &stepClock{t: time.Unix(1_700_000_000, 0)}
	gw, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), BlockInterval: -1, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	type gqlReq struct {
		Query     string
		Variables map[string]int64
	}
	var (
		mu   sync.Mutex
		reqs []gqlReq
	)
	gwHS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" {
			b, _ := io.ReadAll(r.Body)
			var q gqlReq
			json.Unmarshal(b, &q)
			mu.Lock()
			reqs = append(reqs, q)
			mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		gw.ServeHTTP(w, r)
	}))
	defer gwHS.Close()
	if resp, b := localnettest.Do(t, "POST", gwHS.URL+"/mine/200", "", nil); resp.StatusCode != 200 {
		t.Fatalf("mine: %d %s", resp.StatusCode, b)
	}
	tsOf := func(h int64) int64 { // seconds, from the gateway
		t.Helper()
		var b gateway.Block
		resp, body := localnettest.Do(t, "GET", gwHS.URL+"/block/height/"+strconv.FormatInt(h, 10), "", nil)
		if resp.StatusCode != 200 || json.Unmarshal(body, &b) != nil {
			t.Fatalf("block %d: %d %s", h, resp.StatusCode, body)
		}
		return b.Timestamp
	}
	c, err := New(Options{ArweaveURL: gwHS.URL, Logger: quiet, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	check := func(min, max int64, wantFirst, wantLast int64, wantReqs int) {
		t.Helper()
		mu.Lock()
		reqs = nil
		mu.Unlock()
		bs, err := c.Blocks(ctx, min, max)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(bs)) != wantLast-wantFirst+1 {
			t.Fatalf("Blocks(%d, %d): %d blocks, want %d..%d", min, max, len(bs), wantFirst, wantLast)
		}
		for i, b := range bs {
			if b.Height != wantFirst+int64(i) || i > 0 && b.Timestamp <= bs[i-1].Timestamp || b.Timestamp%1000 != 0 {
				t.Fatalf("Blocks(%d, %d)[%d] = %+v", min, max, i, b)
			}
		}
		for _, h := range []int64{wantFirst, wantLast} {
			if got := bs[h-wantFirst].Timestamp; got != tsOf(h)*1000 {
				t.Errorf("block %d: timestamp %d, want %d", h, got, tsOf(h)*1000)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reqs) != wantReqs {
			t.Errorf("Blocks(%d, %d): %d queries, want %d", min, max, len(reqs), wantReqs)
		}
		next := min
		for i, r := range reqs {
			if r.Query != getBlocksQuery || r.Variables["limit"] != 90 || r.Variables["min"] != next {
				t.Errorf("query %d: variables %v, want min %d", i, r.Variables, next)
			}
			next += 90
		}
	}
	// Every block (0..200): three pages, the last without a next page.
	check(0, math.MaxInt64, 0, 200, 3)
	// Up to block 150 (its second, with a ms fraction): two pages.
	ts150 := tsOf(150)
	check(5, ts150*1000+999, 5, 150, 2)
	// One ms earlier stops before block 150.
	check(5, ts150*1000-1, 5, 149, 2)
	// Nothing past the tip.
	if bs, err := c.Blocks(ctx, 500, math.MaxInt64); err != nil || len(bs) != 0 {
		t.Errorf("Blocks past the tip = %v, %v", bs, err)
	}

	// Retry i goes to GraphQLURLs[i % n].
	var badHits atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		http.Error(w, "down", 503)
	}))
	defer bad.Close()
	c2, err := New(Options{ArweaveURL: gwHS.URL, GraphQLURLs: []string{bad.URL, gwHS.URL + "/graphql"}, Logger: quiet, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := c2.Blocks(ctx, 0, math.MaxInt64)
	if err != nil || len(bs) != 201 || badHits.Load() != 3 {
		t.Errorf("round robin: %d blocks, %v, %d hits on the bad URL", len(bs), err, badHits.Load())
	}
	// Only bad URLs: a 502 naming the call.
	c3, _ := New(Options{ArweaveURL: gwHS.URL, GraphQLURLs: []string{bad.URL}, Logger: quiet, Delay: time.Millisecond, Retries: 2})
	_, err = c3.Blocks(ctx, 0, math.MaxInt64)
	wantStatus(t, err, 502, "Can not communicate with gateway to retrieve block metadata: 503: down")
}

// A CU serves far more processes than ao-scheduler-utils' 100 cached
// locations: with the default cache, locating each of 1,000 processes a
// second time (within the record's Time-To-Live) asks neither the gateway
// nor the SU again. (With a cache of 100, the second round is 1,000 more
// redirect checks.)
func TestLocateCachesAThousandProcesses(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	pids := make([]string, 1000)
	for i := range pids {
		pids[i] = arweave.B64Encode([]byte(fmt.Sprintf("process %04d of a busy compute unit", i)))
	}
	for _, size := range []int{0, 100} {
		c := n.client(t, Options{LocateCacheSize: size})
		n.gqlHits.Store(0)
		n.suRootHits.Store(0)
		for range 2 {
			for _, pid := range pids {
				if u, err := c.Locate(ctx, pid, n.su.Address()); err != nil || u != n.suURL {
					t.Fatalf("Locate(%s) = %q, %v", pid, u, err)
				}
			}
		}
		want := int32(len(pids))
		if size == 100 {
			want = 2 * int32(len(pids))
		}
		if n.gqlHits.Load() != 1 || n.suRootHits.Load() != want {
			t.Errorf("cache size %d: %d queries, %d redirect checks for 2 × %d locates; want 1 and %d", size, n.gqlHits.Load(), n.suRootHits.Load(), len(pids), want)
		}
	}
}

func TestLocate(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	pid := n.spawn(t, "p1").ID()
	pid2 := n.spawn(t, "p2").ID()

	c := n.client(t, Options{})
	n.gqlHits.Store(0)
	if u, err := c.Locate(ctx, pid, n.su.Address()); err != nil || u != n.suURL {
		t.Fatalf("Locate(pid, hint) = %q, %v; want %s", u, err, n.suURL)
	}
	if n.gqlHits.Load() != 1 || n.suRootHits.Load() != 1 {
		t.Errorf("with a hint: %d queries, %d redirect checks", n.gqlHits.Load(), n.suRootHits.Load())
	}
	// Cached: nothing asked again.
	if u, err := c.Locate(ctx, pid, n.su.Address()); err != nil || u != n.suURL || n.gqlHits.Load() != 1 || n.suRootHits.Load() != 1 {
		t.Errorf("cached Locate = %q, %v; %d queries", u, err, n.gqlHits.Load())
	}
	// Another process of the same hinted SU: the record is cached, the
	// redirect is checked.
	if u, err := c.Locate(ctx, pid2, n.su.Address()); err != nil || u != n.suURL || n.gqlHits.Load() != 1 || n.suRootHits.Load() != 2 {
		t.Errorf("Locate(pid2, hint) = %q, %v; %d queries, %d checks", u, err, n.gqlHits.Load(), n.suRootHits.Load())
	}
	// Without a hint: the process's Scheduler tag, then the record.
	c = n.client(t, Options{})
	n.gqlHits.Store(0)
	if u, err := c.Locate(ctx, pid2, ""); err != nil || u != n.suURL || n.gqlHits.Load() != 2 {
		t.Errorf("Locate(pid2) = %q, %v; %d queries", u, err, n.gqlHits.Load())
	}
	// Another process without a hint: its Scheduler tag only (the SU's
	// record is cached by its wallet).
	cn := n.client(t, Options{})
	n.gqlHits.Store(0)
	for _, p := range []string{pid2, pid} {
		if u, err := cn.Locate(ctx, p, ""); err != nil || u != n.suURL {
			t.Errorf("Locate(%s) = %q, %v", p, u, err)
		}
	}
	if n.gqlHits.Load() != 3 {
		t.Errorf("two processes of one SU without a hint: %d queries, want 3", n.gqlHits.Load())
	}

	// A router answering 307 to the SU: the origin of its Location.
	var routerHits atomic.Int32
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routerHits.Add(1)
		if r.URL.Query().Get("process-id") == "" {
			http.Error(w, "no process-id", 400)
			return
		}
		http.Redirect(w, r, n.suURL+"/some/path?process-id="+r.URL.Query().Get("process-id"), http.StatusTemporaryRedirect)
	}))
	defer router.Close()
	routerSigner := localnettest.EDSigner("router")
	n.publishLocation(t, routerSigner, router.URL+"/", "3600000")
	routed := n.upload(t, n.user, "routed", "", "", processTags(routerSigner.Address())).ID()
	for _, hint := range []string{"", routerSigner.Address()} {
		c := n.client(t, Options{})
		if u, err := c.Locate(ctx, routed, hint); err != nil || u != n.suURL {
			t.Errorf("Locate(routed, %q) = %q, %v; want %s", hint, u, err, n.suURL)
		}
	}
	if routerHits.Load() != 2 {
		t.Errorf("router asked %d times", routerHits.Load())
	}

	// A Url with a trailing slash and no redirect is trimmed.
	slashSigner := localnettest.EDSigner("slash")
	n.publishLocation(t, slashSigner, n.suURL+"/", "3600000")
	slashed := n.upload(t, n.user, "slashed", "", "", processTags(slashSigner.Address())).ID()
	if u, err := c.Locate(ctx, slashed, ""); err != nil || u != n.suURL {
		t.Errorf("Locate(slashed) = %q, %v", u, err)
	}

	// A short Time-To-Live expires.
	shortSigner := localnettest.EDSigner("short")
	n.publishLocation(t, shortSigner, n.suURL, "30")
	short := n.upload(t, n.user, "short", "", "", processTags(shortSigner.Address())).ID()
	n.gqlHits.Store(0)
	for range 2 {
		if u, err := c.Locate(ctx, short, ""); err != nil || u != n.suURL {
			t.Errorf("Locate(short) = %q, %v", u, err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if n.gqlHits.Load() != 4 {
		t.Errorf("short TTL: %d queries, want 4", n.gqlHits.Load())
	}

	// Errors.
	unknown := arweave.B64Encode(make([]byte, 32))
	_, err := c.Locate(ctx, unknown, "")
	wantStatus(t, err, 404, "Process "+unknown+" was not found on gateway")
	_, err = c.Locate(ctx, unknown, "nobody")
	wantStatus(t, err, 502, "Could not find 'Scheduler-Location' owned by wallet nobody")
	notProc := n.upload(t, n.user, "m", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Message")).ID()
	_, err = c.Locate(ctx, notProc, "")
	wantStatus(t, err, 404, `No "Scheduler" tag found on process `+notProc)
	noTTL := localnettest.EDSigner("no ttl")
	n.publishLocation(t, noTTL, n.suURL, "")
	_, err = c.Locate(ctx, pid, noTTL.Address())
	wantStatus(t, err, 502, `No "Time-To-Live" tag found on the Scheduler-Location of wallet `+noTTL.Address())
	deadSU := httptest.NewServer(http.NotFoundHandler())
	deadURL := deadSU.URL
	deadSU.Close()
	deadSigner := localnettest.EDSigner("dead")
	n.publishLocation(t, deadSigner, deadURL, "1000")
	_, err = n.client(t, Options{Retries: 1}).Locate(ctx, pid, deadSigner.Address())
	wantStatus(t, err, 502, "Error Encountered when checking for a redirect from Scheduler Unit '"+deadURL+"'")
}

func TestLRU(t *testing.T) {
	now := time.Unix(0, 0)
	l := lru.New[string, location](2, func() time.Time { return now })
	loc := func(u string, ttl time.Duration) location { return location{url: u, ttl: ttl} }
	remember(l, "a", loc("A", time.Second))
	remember(l, "b", loc("B", time.Second))
	if _, ok := l.Get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	remember(l, "c", loc("C", time.Second)) // evicts b
	if _, ok := l.Get("b"); ok || l.Len() != 2 {
		t.Errorf("b kept, len %d", l.Len())
	}
	if v, ok := l.Get("c"); !ok || v.url != "C" {
		t.Errorf("c = %+v", v)
	}
	remember(l, "z", loc("Z", 0)) // no TTL: not cached
	if _, ok := l.Get("z"); ok {
		t.Error("a location without TTL was cached")
	}
	now = now.Add(2 * time.Second)
	if _, ok := l.Get("a"); ok {
		t.Error("a not expired")
	}
	var nl *locations
	remember(nl, "a", loc("A", time.Second))
	if _, ok := nl.Get("a"); ok {
		t.Error("a nil cache cached")
	}
}

// TestRetries: 5xx and 429 are retried, other 4xx are not; GraphQL errors
// and garbage are clear 502s.
func TestRetries(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	pid := n.spawn(t, "data").ID()
	var hits atomic.Int32
	var mode atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := hits.Add(1)
		switch mode.Load().(string) {
		case "flaky":
			if k <= 2 {
				http.Error(w, "busy", 503)
				return
			}
		case "429":
			if k <= 1 {
				http.Error(w, "slow down", 429)
				return
			}
		case "400":
			http.Error(w, "bad", 400)
			return
		case "garbage":
			w.Write([]byte("<html>not json"))
			return
		case "errors":
			w.Write([]byte(`{"errors":[{"message":"boom"}],"data":null}`))
			return
		case "wrong":
			w.Write([]byte(`{"data":{"transactions":{"edges":7}}}`))
			return
		}
		n.gw.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c := n.client(t, Options{ArweaveURL: proxy.URL})
	run := func(m string) (int32, error, error) {
		mode.Store(m)
		hits.Store(0)
		_, errMeta := c.TransactionMeta(ctx, pid, false, false, false)
		metaHits := hits.Load()
		hits.Store(0)
		_, errRaw := c.Raw(ctx, pid)
		if m == "flaky" || m == "429" || m == "400" {
			if want := metaHits; hits.Load() != want {
				t.Errorf("%s: %d requests for Raw, %d for TransactionMeta", m, hits.Load(), want)
			}
		}
		return metaHits, errMeta, errRaw
	}
	if k, e1, e2 := run("flaky"); e1 != nil || e2 != nil || k != 3 {
		t.Errorf("flaky: %v, %v, %d requests", e1, e2, k)
	}
	if k, e1, e2 := run("429"); e1 != nil || e2 != nil || k != 2 {
		t.Errorf("429: %v, %v, %d requests", e1, e2, k)
	}
	k, e1, e2 := run("400")
	if k != 1 {
		t.Errorf("400: %d requests", k)
	}
	wantStatus(t, e1, 502, "Error Encountered when fetching transaction '"+pid+"' from gateway: 400: bad")
	wantStatus(t, e2, 502, "Error encountered when fetching transaction '"+pid+"' from arweave: 400: bad")
	var he *HTTPError
	if !errors.As(e1, &he) || he.Status != 400 {
		t.Errorf("no HTTPError in %v", e1)
	}
	for m, want := range map[string]string{"garbage": "malformed JSON", "errors": "GraphQL errors: boom", "wrong": "unexpected data"} {
		mode.Store(m)
		hits.Store(0)
		_, err := c.TransactionMeta(ctx, pid, false, false, false)
		wantStatus(t, err, 502, want)
		if hits.Load() != 1 {
			t.Errorf("%s: %d requests", m, hits.Load())
		}
		hits.Store(0)
		_, err = c.Locate(ctx, pid, "")
		wantStatus(t, err, 502, want)
		_, err = c.Blocks(ctx, 0, 1)
		wantStatus(t, err, 502, want)
	}

	// Network errors are retried, then a 502.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	_, err := n.client(t, Options{ArweaveURL: deadURL, Retries: 1}).Raw(ctx, pid)
	wantStatus(t, err, 502, "connect")
}

// TestContextCancel: cancelling stops a backoff sleep at once; a deadline
// is a 504.
func TestContextCancel(t *testing.T) {
	hit := make(chan struct{}, 10)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		http.Error(w, "down", 503)
	}))
	defer hs.Close()
	c, err := New(Options{ArweaveURL: hs.URL, Delay: time.Hour, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-hit
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err = c.Blocks(ctx, 0, 1)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	if !strings.Contains(err.Error(), "503: down") {
		t.Errorf("error %q", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.Raw(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	wantStatus(t, err, 504)
}
