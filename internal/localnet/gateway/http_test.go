package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/localnet/localnettest"

	"github.com/aocu/aocu/internal/arweave"
)

const anchor32 = "anchor-anchor-anchor-anchor-0001"

func TestPostAndReadBack(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	w := localnettest.Wallet(t)
	target := localnettest.EDSigner("target").Address()
	d, raw := signItem(t, w, "hello, gateway", target, anchor32,
		localnettest.Tags("Content-Type", "text/plain", "Data-Protocol", "ao", "Type", "Message"))
	before := time.Now().UnixMilli()
	pr := n.post(t, raw)
	if pr.ID != d.ID() || pr.Timestamp < before-1000 || pr.Timestamp > time.Now().UnixMilli()+1000 {
		t.Fatalf("POST /tx answer %+v, want id %s and a current ms timestamp", pr, d.ID())
	}
	// POST /tx/arweave is the same route; a duplicate is idempotent.
	resp, b := do(t, "POST", n.url+"/tx/arweave", "application/octet-stream", raw)
	var dup PostResponse
	if resp.StatusCode != 200 || json.Unmarshal(b, &dup) != nil || !reflect.DeepEqual(dup, pr) {
		t.Fatalf("duplicate POST /tx/arweave: %d %s, want %+v", resp.StatusCode, b, pr)
	}

	for _, p := range []string{"/raw/", "/"} {
		resp, b := do(t, "GET", n.url+p+d.ID(), "", nil)
		if resp.StatusCode != 200 || string(b) != "hello, gateway" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("GET %s: %d %q %q", p, resp.StatusCode, b, resp.Header.Get("Content-Type"))
		}
		resp, b = do(t, "HEAD", n.url+p+d.ID(), "", nil)
		if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len("hello, gateway")) {
			t.Fatalf("HEAD %s: %d len %d body %q", p, resp.StatusCode, resp.ContentLength, b)
		}
	}
	// Range requests (WeaveDrive reads in chunks).
	rr, rb := doRange(t, n.url+"/raw/"+d.ID(), "bytes=7-13")
	if rr != 206 || string(rb) != "gateway" {
		t.Fatalf("range: %d %q", rr, rb)
	}
	testRanges(t, n.url, d.ID(), "hello, gateway")

	var tx TxJSON
	if st := getJSON(t, n.url+"/tx/"+d.ID(), &tx); st != 200 {
		t.Fatalf("GET /tx: %d", st)
	}
	if tx.ID != d.ID() || tx.Owner != arweave.B64Encode(w.Owner()) || tx.Target != target ||
		tx.DataSize != "14" || tx.Signature != arweave.B64Encode(d.Signature) || tx.Format != 2 ||
		tx.LastTx != arweave.B64Encode([]byte(anchor32)) || len(tx.Tags) != 3 {
		t.Fatalf("GET /tx: %+v", tx)
	}
	if name, _ := arweave.B64Decode(tx.Tags[1].Name); string(name) != "Data-Protocol" {
		t.Fatalf("tag names must be base64url: %+v", tx.Tags)
	}
	if val, _ := arweave.B64Decode(tx.Tags[1].Value); string(val) != "ao" {
		t.Fatalf("tag values must be base64url: %+v", tx.Tags)
	}

	// Pending until mined, then confirmations grow.
	resp, b = do(t, "GET", n.url+"/tx/"+d.ID()+"/status", "", nil)
	if resp.StatusCode != 202 || string(b) != "Pending" {
		t.Fatalf("status before mining: %d %s", resp.StatusCode, b)
	}
	blk := n.mine(t)
	var st struct {
		Height int64  `json:"block_height"`
		Hash   string `json:"block_indep_hash"`
		Conf   int64  `json:"number_of_confirmations"`
	}
	if getJSON(t, n.url+"/tx/"+d.ID()+"/status", &st) != 200 || st.Height != blk.Height || st.Hash != blk.IndepHash || st.Conf != 1 {
		t.Fatalf("status after mining: %+v (block %+v)", st, blk)
	}
	n.mine(t)
	if getJSON(t, n.url+"/tx/"+d.ID()+"/status", &st) != 200 || st.Conf != 2 {
		t.Fatalf("status after 2 blocks: %+v", st)
	}

	// Unknown ids.
	for _, p := range []string{"/raw/", "/", "/tx/"} {
		if resp, _ := do(t, "GET", n.url+p+"nope", "", nil); resp.StatusCode != 404 {
			t.Fatalf("GET %snope: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := do(t, "GET", n.url+"/tx/nope/status", "", nil); resp.StatusCode != 404 {
		t.Fatalf("status of unknown: %d", resp.StatusCode)
	}
}

func doRange(t *testing.T, url, rng string) (int, []byte) {
	t.Helper()
	resp, b := doRangeMethod(t, "GET", url, rng)
	return resp.StatusCode, b
}

func doRangeMethod(t *testing.T, method, url, rng string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", rng)
	return localnettest.DoRequest(t, req)
}

// testRanges checks the data routes with satisfiable ranges (206, the part)
// and with ranges a server may refuse (malformed or unsatisfiable): those are
// ignored, as arweave.net does, and the whole body is served with 200.
func testRanges(t *testing.T, base, id, data string) {
	t.Helper()
	size := len(data)
	cases := []struct {
		rng    string
		status int
		body   string
	}{
		{"bytes=7-13", 206, data[7:14]},
		{"bytes=7-", 206, data[7:]},
		{"bytes=-7", 206, data[size-7:]},
		{"bytes=0-1000", 206, data},
		// What the reference CU's WeaveDrive sends for an On-Boot file after
		// aos seeks to its end: "0" + size + "0" - size (research/ao-loader.md §5.2).
		{fmt.Sprintf("bytes=00%d0-%d", size, size), 200, data},
		{fmt.Sprintf("bytes=%d-", size), 200, data}, // starts past the end
		{fmt.Sprintf("bytes=%d-%d", size+5, size+9), 200, data},
		{"bytes=5-2", 200, data}, // last < first
		{"bytes=abc", 200, data}, // malformed
		{"items=0-3", 200, data}, // unknown unit
		{"bytes=", 200, data},
	}
	for _, p := range []string{"/raw/", "/"} {
		for _, c := range cases {
			resp, b := doRangeMethod(t, "GET", base+p+id, c.rng)
			if resp.StatusCode != c.status || string(b) != c.body {
				t.Errorf("GET %s with Range %q: %d %q, want %d %q", p, c.rng, resp.StatusCode, b, c.status, c.body)
			}
			if c.status == 200 && (resp.Header.Get("Content-Range") != "" || resp.ContentLength != int64(size) ||
				resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Arweave-Id") != id) {
				t.Errorf("GET %s with Range %q: headers %v", p, c.rng, resp.Header)
			}
			resp, b = doRangeMethod(t, "HEAD", base+p+id, c.rng)
			if resp.StatusCode != c.status || len(b) != 0 {
				t.Errorf("HEAD %s with Range %q: %d, want %d", p, c.rng, resp.StatusCode, c.status)
			}
		}
	}
}

func TestDataWithoutContentType(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	d, raw := signItem(t, localnettest.EDSigner("a"), "\x00\x01binary", "", "", nil)
	n.post(t, raw)
	resp, b := do(t, "GET", n.url+"/"+d.ID(), "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || string(b) != "\x00\x01binary" {
		t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	// No tags: an empty list; no Content-Type: data.type null.
	resp, b = do(t, "POST", n.url+"/graphql", "application/json", []byte(`{"query":"{ transaction(id: \"`+d.ID()+`\") { tags { name } data { size type } } }"}`))
	if resp.StatusCode != 200 || string(b) != `{"data":{"transaction":{"tags":[],"data":{"size":"8","type":null}}}}` {
		t.Fatalf("item without tags: %d %s", resp.StatusCode, b)
	}
	// Empty data: HEAD says 0.
	e, raw := signItem(t, localnettest.EDSigner("a"), "", "", "", localnettest.Tags("Type", "Empty"))
	n.post(t, raw)
	resp, _ = do(t, "HEAD", n.url+"/"+e.ID(), "", nil)
	if resp.StatusCode != 200 || resp.ContentLength != 0 {
		t.Fatalf("HEAD empty: %d %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestRejectsBadItems(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	_, raw := signItem(t, localnettest.EDSigner("a"), "some data", "", "", localnettest.Tags("A", "b"))
	tampered := bytes.Clone(raw)
	tampered[len(tampered)-1] ^= 1 // change the data: the signature no longer matches
	_, rsaRaw := signItem(t, localnettest.Wallet(t), "rsa data", "", "", nil)
	rsaTampered := bytes.Clone(rsaRaw)
	rsaTampered[10] ^= 1 // change the signature
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"tampered data", "invalid data item", tampered},
		{"tampered rsa signature", "invalid data item", rsaTampered},
		{"garbage", "not an ANS-104 data item", []byte("definitely not a data item")},
		{"truncated", "not an ANS-104 data item", raw[:40]},
		{"empty", "empty body", nil},
		{"json L1 tx", "not supported", []byte(`{"format":2,"id":"x"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := do(t, "POST", n.url+"/tx", "application/octet-stream", c.body)
			if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
				t.Fatalf("%d %s, want 400 containing %q", resp.StatusCode, b, c.want)
			}
		})
	}
	// Nothing was stored.
	data := n.gqlOK(t, `{ transactions { edges { node { id } } } }`, nil)
	if ids := edgeIDs(t, data, "transactions"); len(ids) != 0 {
		t.Fatalf("rejected items were stored: %v", ids)
	}
}

func TestBundles(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	a, _ := signItem(t, localnettest.EDSigner("a"), "first", "", "", localnettest.Tags("Content-Type", "text/plain", "N", "1"))
	b, _ := signItem(t, localnettest.Wallet(t), "second", "", "", localnettest.Tags("N", "2"))
	bundle, err := arweave.BuildBundle([]*arweave.DataItem{a, b})
	if err != nil {
		t.Fatal(err)
	}

	// A bundle data item (as the SU and bundlers make them).
	outer, raw := signItem(t, localnettest.EDSigner("bundler"), string(bundle), "", "",
		localnettest.Tags("Bundle-Format", "binary", "Bundle-Version", "2.0.0"))
	pr := n.post(t, raw)
	if pr.ID != outer.ID() || joinIDs(pr.Items) != a.ID()+","+b.ID() {
		t.Fatalf("POST bundle item: %+v", pr)
	}
	resp, body := do(t, "GET", n.url+"/raw/"+a.ID(), "", nil)
	if resp.StatusCode != 200 || string(body) != "first" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("nested item: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", n.url+"/raw/"+outer.ID(), "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, bundle) {
		t.Fatalf("bundle item data: %d", resp.StatusCode)
	}
	q := `query($ids: [ID!]) { transactions(ids: $ids, sort: HEIGHT_ASC) { edges { node { id parent { id } bundledIn { id } } } } }`
	data := n.gqlOK(t, q, map[string]any{"ids": []string{outer.ID(), a.ID(), b.ID()}})
	es := edges(t, data, "transactions")
	if len(es) != 3 || path(t, es[0], "node", "parent") != nil ||
		path(t, es[1], "node", "parent", "id") != outer.ID() || path(t, es[2], "node", "bundledIn", "id") != outer.ID() {
		t.Fatalf("parents: %v", es)
	}
	for _, arg := range []string{"bundledIn", "parent"} {
		data = n.gqlOK(t, `{ transactions(`+arg+`: ["`+outer.ID()+`"], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil)
		if got := joinIDs(edgeIDs(t, data, "transactions")); got != a.ID()+","+b.ID() {
			t.Fatalf("%s filter: %s", arg, got)
		}
	}

	// A bare bundle (detected, and by Content-Type); its id is sha256 of it.
	c, _ := signItem(t, localnettest.EDSigner("c"), "third", "", "", nil)
	bare, err := arweave.BuildBundle([]*arweave.DataItem{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"application/octet-stream", "application/x-ans104-bundle"} {
		resp, body := do(t, "POST", n.url+"/tx", ct, bare)
		var pr PostResponse
		if resp.StatusCode != 200 || json.Unmarshal(body, &pr) != nil || pr.ID != bundleID(bare) || joinIDs(pr.Items) != c.ID() {
			t.Fatalf("bare bundle (%s): %d %s", ct, resp.StatusCode, body)
		}
	}
	data = n.gqlOK(t, `{ transaction(id: "`+c.ID()+`") { parent { id } } }`, nil)
	if path(t, data, "transaction", "parent", "id") != bundleID(bare) {
		t.Fatalf("bare bundle parent: %v", data)
	}

	// A bundle item whose data is not a bundle, or holding a bad item: 400.
	_, notBundle := signItem(t, localnettest.EDSigner("x"), "not a bundle", "", "", localnettest.Tags("Bundle-Format", "binary", "Bundle-Version", "2.0.0"))
	if resp, body := do(t, "POST", n.url+"/tx", "", notBundle); resp.StatusCode != 400 || !strings.Contains(string(body), "tagged as an ANS-104 bundle") {
		t.Fatalf("bad bundle item: %d %s", resp.StatusCode, body)
	}
	badBundle := bytes.Clone(bare)
	badBundle[len(badBundle)-1] ^= 1
	if resp, body := do(t, "POST", n.url+"/tx", "", badBundle); resp.StatusCode != 400 {
		t.Fatalf("bundle with a tampered item: %d %s", resp.StatusCode, body)
	}
}

func TestBlocksAndInfo(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	var info Info
	if getJSON(t, n.url+"/info", &info) != 200 || info.Height != 0 || info.Current == "" || info.Network == "" {
		t.Fatalf("/info: %+v", info)
	}
	var root Info
	if getJSON(t, n.url+"/", &root) != 200 || root != info {
		t.Fatalf("GET / = %+v, /info = %+v", root, info)
	}
	var g Block
	if getJSON(t, n.url+"/block/height/0", &g) != 200 || g.Height != 0 || g.IndepHash != info.Current || g.PreviousBlock != "" || len(g.IndepHash) != 64 {
		t.Fatalf("genesis: %+v", g)
	}
	b1 := n.mine(t)
	b2 := n.mine(t)
	if b1.Height != 1 || b2.Height != 2 || b1.PreviousBlock != g.IndepHash || b2.PreviousBlock != b1.IndepHash ||
		b1.Timestamp < g.Timestamp || b2.Timestamp < b1.Timestamp || b1.IndepHash == b2.IndepHash {
		t.Fatalf("chain: %+v %+v %+v", g, b1, b2)
	}
	var got Block
	if getJSON(t, n.url+"/block/height/2", &got) != 200 || got.IndepHash != b2.IndepHash || got.PreviousBlock != b1.IndepHash {
		t.Fatalf("/block/height/2: %+v", got)
	}
	if getJSON(t, n.url+"/block/hash/"+b1.IndepHash, &got) != 200 || got.Height != 1 {
		t.Fatalf("/block/hash: %+v", got)
	}
	if st := getJSON(t, n.url+"/block/height/9", &got); st != 404 {
		t.Fatalf("missing block: %d", st)
	}
	if st := getJSON(t, n.url+"/block/height/x", &got); st != 400 {
		t.Fatalf("bad height: %d", st)
	}
	// /mine/{n} mines several.
	resp, body := do(t, "POST", n.url+"/mine/3", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"height":5`) {
		t.Fatalf("/mine/3: %d %s", resp.StatusCode, body)
	}
	if getJSON(t, n.url+"/info", &info) != 200 || info.Height != 5 || info.Blocks != 6 {
		t.Fatalf("/info after mining: %+v", info)
	}
	resp, body = do(t, "GET", n.url+"/height", "", nil)
	if string(body) != "5" {
		t.Fatalf("/height: %s", body)
	}
}

func TestBlockTimer(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir(), BlockInterval: 20 * time.Millisecond})
	_, raw := signItem(t, localnettest.EDSigner("a"), "x", "", "", nil)
	pr := n.post(t, raw)
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := n.srv.Height(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if h >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("height %d after 10s with a 20ms block interval", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	data := n.gqlOK(t, `{ transaction(id: "`+pr.ID+`") { block { height } } }`, nil)
	if h, ok := path(t, data, "transaction", "block", "height").(float64); !ok || h < 1 {
		t.Fatalf("item not mined by the timer: %v", data)
	}
	// Close stops the timer: the height no longer moves.
	n.hs.Close()
	if err := n.srv.Close(); err != nil {
		t.Fatal(err)
	}
	n.hs = nil
	if err := n.srv.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestContextStopsTimer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Config{DataDir: t.TempDir(), BlockInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the block timer did not stop when the context ended")
	}
	h1, err := s.Height(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if h2, _ := s.Height(context.Background()); h2 != h1 {
		t.Fatalf("height moved after cancel: %d -> %d", h1, h2)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMineOnWrite(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir(), MineOnWrite: true})
	d, raw := signItem(t, localnettest.EDSigner("a"), "x", "", "", nil)
	n.post(t, raw)
	var st struct {
		Height int64 `json:"block_height"`
	}
	if code := getJSON(t, n.url+"/tx/"+d.ID()+"/status", &st); code != 200 || st.Height != 1 {
		t.Fatalf("status with MineOnWrite: %d %+v", code, st)
	}
}

func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	n := startServer(t, Config{DataDir: dir})
	w := localnettest.Wallet(t)
	d, raw := signItem(t, w, "persisted", "", anchor32, localnettest.Tags("Content-Type", "text/plain", "Type", "Process"))
	pr := n.post(t, raw)
	n.mine(t)
	p, raw2 := signItem(t, localnettest.EDSigner("p"), "pending", "", "", localnettest.Tags("Type", "Message"))
	n.post(t, raw2)
	var info Info
	getJSON(t, n.url+"/info", &info)
	q := `{ transactions(sort: HEIGHT_ASC) { edges { cursor node { id anchor owner { address key } tags { name value } block { id height timestamp previous } } } } }`
	before := n.gqlOK(t, q, nil)
	n.stop(t)

	m := startServer(t, Config{DataDir: dir})
	var info2 Info
	if getJSON(t, m.url+"/info", &info2) != 200 || info2 != info {
		t.Fatalf("info after restart %+v, before %+v", info2, info)
	}
	after := m.gqlOK(t, q, nil)
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	if !bytes.Equal(bj, aj) {
		t.Fatalf("graphql differs after restart:\n%s\n%s", bj, aj)
	}
	resp, body := do(t, "GET", m.url+"/"+d.ID(), "", nil)
	if resp.StatusCode != 200 || string(body) != "persisted" {
		t.Fatalf("data after restart: %d %q", resp.StatusCode, body)
	}
	// Idempotent across restarts: the original timestamp comes back.
	if pr2 := m.post(t, raw); !reflect.DeepEqual(pr2, pr) {
		t.Fatalf("re-POST after restart: %+v, want %+v", pr2, pr)
	}
	// The pending item is mined by the next block after the restart.
	b := m.mine(t)
	var st struct {
		Height int64 `json:"block_height"`
	}
	if getJSON(t, m.url+"/tx/"+p.ID()+"/status", &st) != 200 || st.Height != b.Height || b.Height != info.Height+1 {
		t.Fatalf("pending item after restart: %+v, block %+v", st, b)
	}
	if b.Height != 2 {
		t.Fatalf("height after restart: %d", b.Height)
	}
}

func TestConcurrentPostsWhileMining(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir(), BlockInterval: 5 * time.Millisecond})
	const workers, each = 4, 10
	errs := make(chan error, workers)
	ids := make(chan string, workers*each)
	for w := range workers {
		go func() {
			s := localnettest.EDSigner("worker" + strconv.Itoa(w))
			for i := range each {
				d, err := arweave.NewDataItem([]byte("x"), "", "", localnettest.Tags("I", strconv.Itoa(i)))
				if err == nil {
					err = d.Sign(s)
				}
				var raw []byte
				if err == nil {
					raw, err = d.Bytes()
				}
				if err != nil {
					errs <- err
					return
				}
				resp, err := http.Post(n.url+"/tx", "application/octet-stream", bytes.NewReader(raw))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("POST: %d", resp.StatusCode)
					return
				}
				ids <- d.ID()
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	if _, err := n.srv.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all []string
	for id := range ids {
		all = append(all, id)
	}
	data := n.gqlOK(t, `query($ids: [ID!]) { transactions(ids: $ids, first: 100) { edges { node { id block { height } } } } }`,
		map[string]any{"ids": all})
	es := edges(t, data, "transactions")
	if len(es) != workers*each {
		t.Fatalf("%d items stored, want %d", len(es), workers*each)
	}
	prev := 1e18
	for _, e := range es {
		h, ok := path(t, e, "node", "block", "height").(float64)
		if !ok || h > prev {
			t.Fatalf("unmined or out of order: %v", es)
		}
		prev = h
	}
}

// TestClientMistakes: whatever a client gets wrong answers 4xx with a
// message, never 5xx or 200.
func TestClientMistakes(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir(), MaxItemSize: 1 << 10})
	_, raw := signItem(t, localnettest.EDSigner("a"), "x", "", "", nil)
	cases := []struct {
		method, path, ctype, body string
		status                    int
	}{
		// Malformed or unknown ids.
		{"GET", "/raw/not-an-id", "", "", 404},
		{"GET", "/raw/" + strings.Repeat("a", 5000), "", "", 404},
		{"HEAD", "/raw/%00", "", "", 404},
		{"GET", "/tx/%00", "", "", 404},
		{"GET", "/tx/abc/status", "", "", 404},
		{"GET", "/block/hash/zz", "", "", 404},
		{"GET", "/block/height/99999999999999999999", "", "", 400},
		{"GET", "/block/height/-1", "", "", 400},
		{"POST", "/mine/0", "", "", 400},
		{"POST", "/mine/5000", "", "", 400},
		{"GET", "/mine/abc", "", "", 400},
		// Bad bodies.
		{"POST", "/tx", "application/octet-stream", "\x01\x00", 400},
		{"POST", "/tx", "application/octet-stream", strings.Repeat("\xff", 100), 400},
		{"POST", "/tx", "application/x-ans104-bundle", strings.Repeat("\x00", 32), 400},
		{"POST", "/tx", "application/json", `{"format":2}`, 400},
		{"POST", "/tx", "application/octet-stream", string(raw) + strings.Repeat("x", 2<<10), 413},
		{"POST", "/graphql", "application/json", `null`, 400},
		{"POST", "/graphql", "application/json", `[{"query":"{ blocks { edges { cursor } } }"}]`, 400},
		{"POST", "/graphql", "text/plain", `{ blocks { edges { cursor } } }`, 400},
		{"POST", "/graphql", "application/json", `{"query":"subscription { blocks { edges { cursor } } }"}`, 400},
		{"POST", "/graphql", "application/json", `{"query":"{ transactions(first: 99999999999) { edges { cursor } } }"}`, 400},
		// Methods the routes do not serve.
		{"PUT", "/tx", "", "", 405},
		{"DELETE", "/graphql", "", "", 405},
	}
	for _, c := range cases {
		resp, b := do(t, c.method, n.url+c.path, c.ctype, []byte(c.body))
		if resp.StatusCode != c.status || (c.method != "HEAD" && len(b) == 0) {
			t.Errorf("%s %.40s %.40q: %d %.200s, want %d with a message", c.method, c.path, c.body, resp.StatusCode, b, c.status)
		}
	}
	// A filter with more values than SQLite takes parameters is a query like
	// any other.
	ids := make([]string, 40000)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	ids = append(ids, n.post(t, raw).ID)
	data := n.gqlOK(t, `query($ids: [ID!], $o: [String!]) { transactions(ids: $ids, owners: $o, tags: [{name: "x", values: $o, op: NEQ}]) { edges { node { id } } } }`,
		map[string]any{"ids": ids, "o": ids})
	if got := edgeIDs(t, data, "transactions"); len(got) != 0 {
		t.Fatalf("40,001 ids: %v", got)
	}
	data = n.gqlOK(t, `query($ids: [ID!]) { transactions(ids: $ids) { edges { node { id } } } blocks(ids: $ids) { edges { cursor } } }`,
		map[string]any{"ids": ids})
	if got := edgeIDs(t, data, "transactions"); len(got) != 1 || got[0] != ids[len(ids)-1] {
		t.Fatalf("40,001 ids: %v", got)
	}
}
