package su

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/localnet/localnettest"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
)

func signItem(t *testing.T, s arweave.Signer, data, target, anchor string, tg []arweave.Tag) (*arweave.DataItem, []byte) {
	t.Helper()
	d, err := arweave.NewDataItem([]byte(data), target, anchor, tg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sign(s); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

type testNet struct {
	gw    *gateway.Server
	gwHS  *httptest.Server
	su    *Server
	suHS  *httptest.Server
	dir   string
	user  arweave.ED25519Signer
	cfgFn func(*Config)
}

func startNet(t *testing.T) *testNet {
	t.Helper()
	ctx := context.Background()
	gw, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), BlockInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNet{gw: gw, gwHS: httptest.NewServer(gw), dir: t.TempDir(), user: localnettest.EDSigner("user")}
	t.Cleanup(func() {
		n.gwHS.Close()
		gw.Close()
	})
	n.startSU(t)
	return n
}

func (n *testNet) startSU(t *testing.T) {
	t.Helper()
	// The handler is swapped in after New so the SU can publish its own URL.
	var h http.Handler
	var mu sync.RWMutex
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		defer mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	su, err := New(context.Background(), Config{DataDir: n.dir, Wallet: localnettest.Wallet(t), GatewayURL: n.gwHS.URL, URL: hs.URL})
	if err != nil {
		hs.Close()
		t.Fatal(err)
	}
	mu.Lock()
	h = su
	mu.Unlock()
	n.su, n.suHS = su, hs
	t.Cleanup(n.stopSU)
}

func (n *testNet) stopSU() {
	if n.suHS != nil {
		n.suHS.Close()
		n.su.Close()
		n.suHS = nil
	}
}

func do(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, b := localnettest.Do(t, method, url, "application/octet-stream", body)
	return resp.StatusCode, b
}

type postResp struct {
	Timestamp int64  `json:"timestamp"`
	ID        string `json:"id"`
	Error     string `json:"error"`
}

func (n *testNet) post(t *testing.T, raw []byte) (int, postResp) {
	t.Helper()
	code, b := do(t, "POST", n.suHS.URL+"/", raw)
	var pr postResp
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatalf("POST /: %d %s", code, b)
	}
	return code, pr
}

func (n *testNet) mustPost(t *testing.T, raw []byte) postResp {
	t.Helper()
	code, pr := n.post(t, raw)
	if code != 200 {
		t.Fatalf("POST /: %d %+v", code, pr)
	}
	return pr
}

func (n *testNet) spawn(t *testing.T, extra ...string) string {
	t.Helper()
	tg := localnettest.Tags(append([]string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", "mod-" + strconv.Itoa(len(extra)), "Scheduler", n.su.Address()}, extra...)...)
	d, raw := signItem(t, n.user, "spawn "+time.Now().String(), "", "", tg)
	pr := n.mustPost(t, raw)
	if pr.ID != d.ID() {
		t.Fatalf("spawn id %s, want %s", pr.ID, d.ID())
	}
	return pr.ID
}

var msgCounter struct {
	sync.Mutex
	n int
}

func (n *testNet) message(t *testing.T, pid string, extra ...string) string {
	t.Helper()
	msgCounter.Lock()
	msgCounter.n++
	c := msgCounter.n
	msgCounter.Unlock()
	tg := localnettest.Tags(append([]string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval"}, extra...)...)
	d, raw := signItem(t, n.user, fmt.Sprintf("msg %d", c), pid, "", tg)
	pr := n.mustPost(t, raw)
	if pr.ID != d.ID() {
		t.Fatalf("message id %s, want %s", pr.ID, d.ID())
	}
	return pr.ID
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	code, b := do(t, "GET", url, nil)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %d %s: %v", url, code, b, err)
		}
	}
	return code
}

func (n *testNet) page(t *testing.T, pid, query string) pageJSON {
	t.Helper()
	var p pageJSON
	if code := getJSON(t, n.suHS.URL+"/"+pid+"?process-id="+pid+query, &p); code != 200 {
		t.Fatalf("GET page %s: %d", query, code)
	}
	return p
}

func tagMap(tg []arweave.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tg {
		m[t.Name] = t.Value
	}
	return m
}

func (n *testNet) all(t *testing.T, pid string) []edgeJSON {
	t.Helper()
	p := n.page(t, pid, "&limit=100000")
	return p.Edges
}

// checkChain verifies nonces 0..n-1 and recomputes the hash chain from the
// formula of anchors §1a.
func checkChain(t *testing.T, pid string, edges []edgeJSON) {
	t.Helper()
	var prevChain, prevID []byte
	var prevTS int64
	for i, e := range edges {
		tm := tagMap(e.Node.Assignment.Tags)
		if tm["Nonce"] != strconv.Itoa(i) {
			t.Fatalf("edge %d: nonce %q", i, tm["Nonce"])
		}
		h := sha256.New()
		if i == 0 {
			p, _ := arweave.B64Decode(pid)
			h.Write(p)
		} else {
			h.Write(prevID)
			h.Write(prevChain)
		}
		want := arweave.B64Encode(h.Sum(nil))
		if tm["Hash-Chain"] != want {
			t.Fatalf("edge %d: Hash-Chain %s, want %s", i, tm["Hash-Chain"], want)
		}
		ts, _ := strconv.ParseInt(tm["Timestamp"], 10, 64)
		if ts <= prevTS {
			t.Fatalf("edge %d: timestamp %d not after %d", i, ts, prevTS)
		}
		if e.Cursor != tm["Timestamp"] {
			t.Fatalf("edge %d: cursor %s, timestamp %s", i, e.Cursor, tm["Timestamp"])
		}
		prevTS = ts
		prevChain, _ = arweave.B64Decode(tm["Hash-Chain"])
		prevID, _ = arweave.B64Decode(e.Node.Assignment.ID)
	}
}

func TestSpawnAndMessages(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	var ids []string
	for range 4 {
		ids = append(ids, n.message(t, pid))
	}
	edges := n.all(t, pid)
	if len(edges) != 5 {
		t.Fatalf("%d edges", len(edges))
	}
	checkChain(t, pid, edges)
	// Process first, with its own assignment (no Message tag).
	if edges[0].Node.Message == nil || edges[0].Node.Message.ID != pid {
		t.Fatalf("first edge is not the process: %+v", edges[0].Node.Message)
	}
	wantOrder := []string{"Process", "Epoch", "Nonce", "Hash-Chain", "Block-Height", "Timestamp", "Data-Protocol", "Type", "Variant", "Message"}
	for i, e := range edges {
		at := e.Node.Assignment.Tags
		want := wantOrder
		if i == 0 {
			want = wantOrder[:9]
		}
		if len(at) != len(want) {
			t.Fatalf("edge %d: tags %v", i, at)
		}
		for j, name := range want {
			if at[j].Name != name {
				t.Fatalf("edge %d tag %d: %s, want %s", i, j, at[j].Name, name)
			}
		}
		tm := tagMap(at)
		if tm["Process"] != pid || tm["Epoch"] != "0" || tm["Data-Protocol"] != "ao" || tm["Type"] != "Assignment" || tm["Variant"] != "ao.TN.1" {
			t.Fatalf("edge %d: tags %v", i, tm)
		}
		if len(tm["Block-Height"]) != 12 {
			t.Fatalf("Block-Height %q", tm["Block-Height"])
		}
		if i > 0 && (tm["Message"] != ids[i-1] || e.Node.Message.ID != ids[i-1]) {
			t.Fatalf("edge %d: message %s / %s, want %s", i, tm["Message"], e.Node.Message.ID, ids[i-1])
		}
		if e.Node.Assignment.Owner.Address != n.su.Address() {
			t.Fatalf("assignment owner %s", e.Node.Assignment.Owner.Address)
		}
		m := e.Node.Message
		if m.Owner.Address != n.user.Address() || m.Owner.Key != arweave.B64Encode(n.user.PublicKey()) || m.Data == nil || m.Signature == "" {
			t.Fatalf("edge %d: message %+v", i, m)
		}
		if i > 0 && (m.Target == nil || *m.Target != pid) {
			t.Fatalf("edge %d: target %v", i, m.Target)
		}
	}
	// Raw JSON keys are the Rust SU's.
	_, b := do(t, "GET", n.suHS.URL+"/"+pid+"?process-id="+pid+"&limit=2", nil)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	node := raw["edges"].([]any)[1].(map[string]any)["node"].(map[string]any)
	for _, k := range []string{"id", "owner", "data", "tags", "signature", "anchor", "target"} {
		if _, ok := node["message"].(map[string]any)[k]; !ok {
			t.Fatalf("message lacks %q: %s", k, b)
		}
	}
	if raw["page_info"].(map[string]any)["has_next_page"] != true {
		t.Fatalf("has_next_page: %s", b)
	}

	// Single message, latest, process.
	var m messageJSON
	if code := getJSON(t, n.suHS.URL+"/"+ids[1]+"?process-id="+pid, &m); code != 200 || m.Message.ID != ids[1] || tagMap(m.Assignment.Tags)["Nonce"] != "2" {
		t.Fatalf("GET message: %d %+v", code, m)
	}
	if code := getJSON(t, n.suHS.URL+"/"+pid+"/latest", &m); code != 200 || m.Message.ID != ids[3] {
		t.Fatalf("GET latest: %d %+v", code, m)
	}
	var p processJSON
	if code := getJSON(t, n.suHS.URL+"/processes/"+pid, &p); code != 200 || p.ProcessID != pid || p.Timestamp == 0 || len(p.Block) != 12 || p.Owner.Address != n.user.Address() {
		t.Fatalf("GET process: %d %+v", code, p)
	}
	var e struct{ Error string }
	if code := getJSON(t, n.suHS.URL+"/processes/"+ids[0], &e); code != 400 || e.Error != errProcNotFound {
		t.Fatalf("GET unknown process: %d %+v", code, e)
	}
	if code := getJSON(t, n.suHS.URL+"/"+arweave.B64Encode(make([]byte, 32))+"?process-id="+pid, &e); code != 400 || e.Error != "Message or Process not found" {
		t.Fatalf("GET unknown: %d %+v", code, e)
	}

	// Health and timestamp.
	var h map[string]any
	if code := getJSON(t, n.suHS.URL+"/", &h); code != 200 || h["Unit"] != "Scheduler" || h["address"] != n.su.Address() || h["Address"] != n.su.Address() {
		t.Fatalf("GET /: %d %v", code, h)
	}
	if ps := h["Processes"].([]any); len(ps) != 1 || ps[0] != pid {
		t.Fatalf("Processes %v", ps)
	}
	// A redirect check (GET /?process-id=, one per process a CU locates):
	// the same answer without the list of every process.
	var hc map[string]any
	if code := getJSON(t, n.suHS.URL+"/?process-id="+pid, &hc); code != 200 || hc["address"] != n.su.Address() || hc["Unit"] != "Scheduler" || hc["timestamp"] == nil {
		t.Fatalf("GET /?process-id=: %d %v", code, hc)
	}
	if _, ok := hc["Processes"]; ok {
		t.Fatalf("GET /?process-id= listed the processes: %v", hc)
	}
	if _, err := strconv.ParseInt(h["timestamp"].(string), 10, 64); err != nil {
		t.Fatalf("timestamp %v", h["timestamp"])
	}
	var ts map[string]string
	if code := getJSON(t, n.suHS.URL+"/timestamp?process-id="+pid, &ts); code != 200 || len(ts["block_height"]) != 12 || ts["timestamp"] == "" {
		t.Fatalf("GET /timestamp: %d %v", code, ts)
	}

	// Everything reached the gateway: the items and their assignments.
	for _, e := range edges {
		for _, id := range []string{e.Node.Message.ID, e.Node.Assignment.ID} {
			if code, _ := do(t, "GET", n.gwHS.URL+"/tx/"+id, nil); code != 200 {
				t.Fatalf("gateway lacks %s: %d", id, code)
			}
		}
	}
}

func TestPagination(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	for range 5 {
		n.message(t, pid)
	}
	all := n.all(t, pid)
	if len(all) != 6 {
		t.Fatalf("%d edges", len(all))
	}
	cur := func(i int) string { return all[i].Cursor }
	nonces := func(p pageJSON) string {
		s := ""
		for _, e := range p.Edges {
			s += tagMap(e.Node.Assignment.Tags)["Nonce"]
		}
		return s
	}
	cases := []struct {
		q    string
		want string
		next bool
	}{
		{"", "012345", false},
		{"&limit=3", "012", true},
		{"&limit=6", "012345", true}, // hit the limit: has_next_page quirk
		{"&limit=7", "012345", false},
		{"&from=" + cur(2) + "&limit=2", "34", true},
		{"&from=" + cur(4) + "&limit=2", "5", false},
		{"&from=" + cur(5), "", false},
		{"&from=" + cur(0), "12345", false}, // from is exclusive, no process
		{"&to=" + cur(2), "012", false},     // to is inclusive
		{"&from=" + cur(1) + "&to=" + cur(3), "23", false},
		{"&limit=1", "0", false},              // the Rust SU's limit-1 edge case
		{"&limit=1&to=" + cur(0), "0", false}, // ditto
		{"&limit=1&to=" + cur(3), "0", true},  // ditto
		{"&limit=2&to=" + cur(0), "0", false}, // process is always first
	}
	for _, c := range cases {
		p := n.page(t, pid, c.q)
		if got := nonces(p); got != c.want || p.PageInfo.HasNextPage != c.next {
			t.Errorf("%s: nonces %q next %v, want %q %v", c.q, got, p.PageInfo.HasNextPage, c.want, c.next)
		}
	}
	// Walking pages with the last cursor as from gives everything once.
	var got string
	from := ""
	for i := 0; ; i++ {
		p := n.page(t, pid, "&limit=2"+from)
		got += nonces(p)
		if !p.PageInfo.HasNextPage {
			break
		}
		from = "&from=" + p.Edges[len(p.Edges)-1].Cursor
		if i > 10 {
			t.Fatal("no end")
		}
	}
	if got != "012345" {
		t.Fatalf("walk %q", got)
	}
	var e struct{ Error string }
	if code := getJSON(t, n.suHS.URL+"/"+pid+"?from=abc", &e); code != 400 {
		t.Fatalf("bad from: %d", code)
	}
}

func TestRejections(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	base := []string{"Data-Protocol", "ao", "Type", "Message"}

	_, good := signItem(t, n.user, "x", pid, "", localnettest.Tags(base...))
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-1] ^= 1

	_, noType := signItem(t, n.user, "x", pid, "", localnettest.Tags("Data-Protocol", "ao"))
	_, badType := signItem(t, n.user, "x", pid, "", localnettest.Tags("Data-Protocol", "ao", "Type", "Module"))
	_, noProto := signItem(t, n.user, "x", pid, "", localnettest.Tags("Type", "Message"))
	_, link := signItem(t, n.user, "x", pid, "", localnettest.Tags("Data-Protocol", "ao", "Type", "Message", "A", "b+link"))
	_, noMod := signItem(t, n.user, "x", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Process", "Scheduler", n.su.Address()))
	_, otherSU := signItem(t, n.user, "x", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Process", "Module", "m", "Scheduler", n.user.Address()))
	_, unknown := signItem(t, n.user, "x", arweave.B64Encode(make([]byte, 32)), "", localnettest.Tags(base...))
	_, noTarget := signItem(t, n.user, "x", "", "", localnettest.Tags(base...))
	_, badBoot := signItem(t, n.user, "x", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Process", "Module", "m", "Scheduler", n.su.Address(), "On-Boot", arweave.B64Encode(make([]byte, 32))))

	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"bad signature", tampered, `error in builder: BuilderError("Byte error in builder: ByteError(\"Signature verification failed\")")`},
		{"no Type", noType, errTypeMissing},
		{"bad Type", badType, errTypeValue},
		{"no Data-Protocol", noProto, errProtoMissing},
		{"+link", link, "Tag A cannot contain +link"},
		{"no Module", noMod, errProcessTags},
		{"other SU", otherSU, errNotThisSU},
		{"unknown process", unknown, errProcNotFound},
		{"no target", noTarget, errProcNotFound},
		{"On-Boot missing", badBoot, errOnBoot},
	} {
		code, pr := n.post(t, c.raw)
		if code != 400 || pr.Error != c.want {
			t.Errorf("%s: %d %q, want 400 %q", c.name, code, pr.Error, c.want)
		}
	}
	if code, pr := n.post(t, []byte("garbage")); code != 400 || pr.Error == "" {
		t.Errorf("garbage: %d %+v", code, pr)
	}
	// Duplicate item id.
	n.mustPost(t, good)
	if code, pr := n.post(t, good); code != 400 || pr.Error != errMessageExists {
		t.Errorf("duplicate: %d %+v", code, pr)
	}
	// Oversized body.
	code, b := do(t, "POST", n.suHS.URL+"/", make([]byte, MaxBodySize+1))
	if code != http.StatusRequestEntityTooLarge || string(b) != errPayloadTooBig {
		t.Errorf("oversized: %d %s", code, b)
	}
	// Only one of process-id / assign.
	code, b = do(t, "POST", n.suHS.URL+"/?process-id="+pid, nil)
	if code != 400 || !bytes.Contains(b, []byte(errBoth)) {
		t.Errorf("process-id alone: %d %s", code, b)
	}
	// Nothing rejected consumed a nonce.
	edges := n.all(t, pid)
	if len(edges) != 2 {
		t.Fatalf("%d edges", len(edges))
	}
	checkChain(t, pid, edges)
}

func TestOnBootAndDedup(t *testing.T) {
	n := startNet(t)
	// On-Boot naming a tx the gateway has is accepted.
	src, srcRaw := signItem(t, n.user, "boot code", "", "", localnettest.Tags("Content-Type", "text/lua"))
	if code, b := do(t, "POST", n.gwHS.URL+"/tx", srcRaw); code != 200 {
		t.Fatalf("gateway post: %d %s", code, b)
	}
	pid := n.spawn(t, "On-Boot", src.ID())
	n.spawn(t, "On-Boot", "Data")

	// A pushed message (From-Process) re-signed by another MU is a
	// duplicate by deep hash; Pushed-For and tag order do not matter.
	mk := func(signer string, kv ...string) []byte {
		_, raw := signItem(t, localnettest.EDSigner(signer), "hello", pid, "", localnettest.Tags(kv...))
		return raw
	}
	n.mustPost(t, mk("mu1", "Data-Protocol", "ao", "Type", "Message", "From-Process", "p1", "Pushed-For", "a"))
	for _, raw := range [][]byte{
		mk("mu2", "Data-Protocol", "ao", "Type", "Message", "From-Process", "p1", "Pushed-For", "b"),
		mk("mu3", "From-Process", "p1", "Type", "Message", "Data-Protocol", "ao"),
	} {
		if code, pr := n.post(t, raw); code != 400 || pr.Error != errDeepHashExists {
			t.Fatalf("pushed duplicate: %d %+v", code, pr)
		}
	}
	// Without From-Process, equal content is not deduplicated.
	n.mustPost(t, mk("u1", "Data-Protocol", "ao", "Type", "Message"))
	n.mustPost(t, mk("u2", "Data-Protocol", "ao", "Type", "Message"))
	checkChain(t, pid, n.all(t, pid))
}

func TestAssign(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	other := n.spawn(t, "X", "y")
	mid := n.message(t, other)
	n.message(t, pid)
	code, b := do(t, "POST", n.suHS.URL+"/?process-id="+pid+"&assign="+mid+"&exclude=Data,Anchor", nil)
	if code != 200 {
		t.Fatalf("assign: %d %s", code, b)
	}
	var pr postResp
	json.Unmarshal(b, &pr)
	edges := n.all(t, pid)
	checkChain(t, pid, edges)
	last := edges[len(edges)-1]
	if last.Node.Message != nil || last.Node.Assignment.ID != pr.ID {
		t.Fatalf("assignment edge %+v, id %s", last.Node, pr.ID)
	}
	tm := tagMap(last.Node.Assignment.Tags)
	if tm["Message"] != mid || tm["Nonce"] != "2" {
		t.Fatalf("assignment tags %v", last.Node.Assignment.Tags)
	}
	at := last.Node.Assignment.Tags
	if at[len(at)-2] != (arweave.Tag{Name: "Exclude", Value: "Data"}) || at[len(at)-1] != (arweave.Tag{Name: "Exclude", Value: "Anchor"}) {
		t.Fatalf("Exclude tags %v", at)
	}
	// Assigning it again is a deep-hash duplicate.
	code, b = do(t, "POST", n.suHS.URL+"/?process-id="+pid+"&assign="+mid, nil)
	if code != 400 || !bytes.Contains(b, []byte("Deep hash already exists")) {
		t.Fatalf("re-assign: %d %s", code, b)
	}
	for q, want := range map[string]string{
		"?process-id=" + pid + "&assign=short":                                  "assign param must be 43 characters",
		"?process-id=" + pid + "&assign=" + arweave.B64Encode(make([]byte, 32)): errAssignTx,
		"?process-id=" + mid + "&assign=" + mid:                                 "Process not found",
	} {
		code, b = do(t, "POST", n.suHS.URL+"/"+q, nil)
		if code != 400 || !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s: %d %s", q, code, b)
		}
	}
}

func TestRestartPersistence(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	n.message(t, pid)
	n.stopSU()
	n.startSU(t)
	n.message(t, pid)
	n.message(t, pid)
	edges := n.all(t, pid)
	if len(edges) != 4 {
		t.Fatalf("%d edges", len(edges))
	}
	checkChain(t, pid, edges)
	// The Scheduler-Location record is on the gateway.
	q := `{"query":"{ transactions(owners: [\"` + n.su.Address() + `\"], tags: [{name: \"Type\", values: [\"Scheduler-Location\"]}], first: 1) { edges { node { tags { name value } } } } }"}`
	code, b := do(t, "POST", n.gwHS.URL+"/graphql", []byte(q))
	if code != 200 || !bytes.Contains(b, []byte(n.suHS.URL)) || !bytes.Contains(b, []byte("Time-To-Live")) {
		t.Fatalf("Scheduler-Location: %d %s", code, b)
	}
}

func TestConcurrency(t *testing.T) {
	n := startNet(t)
	pids := []string{n.spawn(t), n.spawn(t, "A", "1"), n.spawn(t, "A", "2")}
	const per = 8
	var wg sync.WaitGroup
	for _, pid := range pids {
		for range per {
			wg.Go(func() {
				if err := postConcurrent(n, pid); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, pid := range pids {
		edges := n.all(t, pid)
		if len(edges) != per+1 {
			t.Fatalf("%s: %d edges", pid, len(edges))
		}
		checkChain(t, pid, edges)
		seen := map[string]bool{}
		for _, e := range edges {
			if seen[e.Node.Message.ID] {
				t.Fatalf("message %s twice", e.Node.Message.ID)
			}
			seen[e.Node.Message.ID] = true
		}
	}
}

func TestHashChainFunction(t *testing.T) {
	if _, err := hashChain("short", ""); err == nil {
		t.Fatal("bad seed accepted")
	}
}

// postConcurrent posts one message without calling t.Fatal (it runs on its
// own goroutine).
func postConcurrent(n *testNet, pid string) error {
	d, err := arweave.NewDataItem([]byte("concurrent"), pid, "", localnettest.Tags("Data-Protocol", "ao", "Type", "Message", "N", strconv.Itoa(rand.Int())))
	if err != nil {
		return err
	}
	if err := d.Sign(n.user); err != nil {
		return err
	}
	raw, err := d.Bytes()
	if err != nil {
		return err
	}
	resp, err := http.Post(n.suHS.URL+"/", "application/octet-stream", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST: %d %s", resp.StatusCode, b)
	}
	return nil
}

// TestUploadRetry: when the gateway refuses uploads the SU still answers
// (the assignment is committed) and the background loop uploads later.
func TestUploadRetry(t *testing.T) {
	gw, err := gateway.New(context.Background(), gateway.Config{DataDir: t.TempDir(), BlockInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	var refuse atomic.Bool
	gwHS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() && r.Method == "POST" && r.URL.Path == "/tx" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		gw.ServeHTTP(w, r)
	}))
	defer gwHS.Close()
	n := &testNet{gwHS: gwHS, dir: t.TempDir(), user: localnettest.EDSigner("user")}
	n.startSU(t)
	refuse.Store(true)
	pid := n.spawn(t)
	if code, _ := do(t, "GET", gwHS.URL+"/tx/"+pid, nil); code == 200 {
		t.Fatal("uploaded while refused")
	}
	refuse.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := do(t, "GET", gwHS.URL+"/tx/"+pid, nil)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("process never uploaded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
