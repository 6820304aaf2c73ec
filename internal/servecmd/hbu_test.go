package servecmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/memimage"
	"github.com/klauspost/compress/gzip"
)

// fakeHB is a HyperBEAM node as the genesis-wasm sidecar sees it: its
// scheduler (GET /~scheduler@1.0/schedule?target=&from=&to=&limit=
// &accept=application/aos-2, answered as dev_scheduler_formats'
// assignments_to_aos2 writes pages) and its calls into the sidecar, made as
// dev_delegated_compute, dev_genesis_wasm and the dedup path make them.
type fakeHB struct {
	t      *testing.T
	srv    *httptest.Server
	node   string // the node's address: owner of assignments and of Skip bodies
	mu     sync.Mutex
	slots  map[string][]map[string]any // pid -> slot -> {message, assignment}
	asked  []string                    // schedule requests, as "from=..&to=.."
	hold   chan struct{}               // when set, schedule requests wait for it
	held   chan struct{}               // signalled when a request is held
	height int64
}

func newFakeHB(t *testing.T) *fakeHB {
	hb := &fakeHB{t: t, node: randID(), slots: map[string][]map[string]any{}, height: 1_600_000}
	hb.srv = httptest.NewServer(http.HandlerFunc(hb.schedule))
	t.Cleanup(hb.srv.Close)
	return hb
}

func randID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func chainNext(prevAssignment, prevChain string) string {
	a, _ := base64.RawURLEncoding.DecodeString(prevAssignment)
	h, _ := base64.RawURLEncoding.DecodeString(prevChain)
	s := sha256.Sum256(append(a, h...))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func jsonTags(kv ...string) []map[string]any {
	out := []map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, map[string]any{"name": kv[i], "value": kv[i+1]})
	}
	return out
}

// message is dev_json_iface:message_to_json_struct's shape.
func hbMessage(id, owner, target, data string, tags []map[string]any) map[string]any {
	return map[string]any{"Id": id, "Anchor": "", "Owner": owner, "From": owner, "Tags": tags,
		"Target": target, "Data": data, "Signature": base64.RawURLEncoding.EncodeToString(make([]byte, 512))}
}

// schedule adds a slot: the assignment carries the chain from the previous
// one (or from prevAssignment when given: a Skip's successor chains from
// the original assignment, as HyperBEAM's does).
func (hb *fakeHB) schedule(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/~scheduler@1.0/schedule" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	hb.mu.Lock()
	hb.asked = append(hb.asked, "from="+q.Get("from")+"&to="+q.Get("to"))
	hold, held := hb.hold, hb.held
	hb.mu.Unlock()
	if hold != nil {
		held <- struct{}{}
		<-hold
	}
	if q.Get("accept") != "application/aos-2" {
		hb.t.Errorf("schedule request without accept=application/aos-2: %s", r.URL)
	}
	pid := q.Get("target")
	from, _ := strconv.Atoi(q.Get("from"))
	to := -1
	if v := q.Get("to"); v != "" {
		to, _ = strconv.Atoi(v)
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	hb.mu.Lock()
	all := hb.slots[pid]
	var nodes []map[string]any
	for i := from; i < len(all) && (to < 0 || i <= to) && len(nodes) < limit; i++ {
		nodes = append(nodes, all[i])
	}
	more := from+len(nodes) < len(all) && (to < 0 || from+len(nodes) <= to)
	hb.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(hb.page(pid, nodes, more))
}

func (hb *fakeHB) page(pid string, nodes []map[string]any, more bool) []byte {
	edges := []map[string]any{}
	for _, n := range nodes {
		slot := n["slot"].(int)
		edges = append(edges, map[string]any{"cursor": slot, "node": map[string]any{"message": n["message"], "assignment": n["assignment"]}})
	}
	b, err := json.Marshal(map[string]any{
		"page_info": map[string]any{"process": pid, "has_next_page": more, "timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"block-height": strconv.FormatInt(hb.height, 10), "block-hash": randID()},
		"edges": edges,
	})
	if err != nil {
		hb.t.Fatal(err)
	}
	return b
}

// add schedules msg at the next slot and returns the slot.
func (hb *fakeHB) add(pid string, msg map[string]any, extra ...string) int {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	all := hb.slots[pid]
	slot := len(all)
	aid := randID()
	first := sha256.Sum256([]byte(pid))
	chain := base64.RawURLEncoding.EncodeToString(first[:])
	if slot > 0 {
		prev := all[slot-1]
		prevID := prev["chainID"].(string)
		chain = chainNext(prevID, prev["chain"].(string))
	}
	ts := int64(1_750_000_000_000 + slot*1000)
	tags := jsonTags("Process", pid, "Slot", strconv.Itoa(slot), "Epoch", "0", "Timestamp", strconv.FormatInt(ts, 10),
		"Block-Height", strconv.FormatInt(hb.height, 10), "Block-Hash", randID(), "Hash-Chain", chain,
		"Data-Protocol", "ao", "Variant", "ao.N.1", "Type", "Assignment")
	tags = append(tags, jsonTags(extra...)...)
	chainID := aid
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i] == "Original-Assignment-Id" {
			chainID = extra[i+1]
		}
	}
	a := map[string]any{"Id": aid, "Anchor": "", "Owner": hb.node, "From": hb.node, "Tags": tags, "Target": "", "Data": "", "Signature": ""}
	hb.slots[pid] = append(all, map[string]any{"slot": slot, "message": msg, "assignment": a, "chain": chain, "chainID": chainID, "ts": ts, "id": aid})
	return slot
}

func (hb *fakeHB) slot(pid string, n int) map[string]any {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.slots[pid][n]
}

func (hb *fakeHB) requests() []string {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return append([]string(nil), hb.asked...)
}

// compute is dev_delegated_compute:do_compute: POST /result/<slot>
// ?process-id=<pid>, the body the aos-2 page of that one assignment.
func (hb *fakeHB) compute(t *testing.T, cu, pid string, slot int) (*http.Response, map[string]json.RawMessage) {
	t.Helper()
	body := hb.page(pid, []map[string]any{hb.slot(pid, slot)}, false)
	resp, out := httpDo(t, "POST", cu+"/result/"+strconv.Itoa(slot)+"?process-id="+pid, "application/json", body, nil)
	var m map[string]json.RawMessage
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("result %d: %s", slot, out)
		}
	} else {
		m = map[string]json.RawMessage{"status": json.RawMessage(strconv.Itoa(resp.StatusCode)), "body": out}
	}
	return resp, m
}

func httpDo(t *testing.T, method, url, ctype string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// startHBU starts `aocu serve` with the environment dev_genesis_wasm gives
// the sidecar, pointed at the fake node and at a local gateway for modules.
func startHBU(t *testing.T, hb *fakeHB, gwURL, dir string) *Unit {
	t.Helper()
	env := map[string]string{
		"UNIT_MODE": "hbu", "HB_URL": hb.srv.URL, "NODE_CONFIG_ENV": "production", "DEFAULT_LOG_LEVEL": "error",
		"DB_URL": testDB(t, filepath.Join(dir, "db")),
		"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": "false",
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR":      filepath.Join(dir, "checkpoints"),
		"PROCESS_MEMORY_CACHE_MAX_SIZE":            "12_000_000_000",
		"PROCESS_WASM_SUPPORTED_EXTENSIONS":        "WeaveDrive",
		"PROCESS_WASM_MEMORY_MAX_LIMIT":            "24_000_000_000",
		"GATEWAY_URL":                              gwURL,
		"PROCESS_MEMORY_CACHE_FILE_DIR":            filepath.Join(dir, "memory"),
		"WASM_BINARY_FILE_DIRECTORY":               filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache"),
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, _, cuW := wallets(t)
	u, err := Start(context.Background(), cfg, Options{Logger: quietLog(), Listener: ln, Wallet: cuW})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u.Shutdown(ctx)
	})
	return u
}

func quietLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestHBUContract drives `aocu serve` in UNIT_MODE=hbu over real HTTP as a
// HyperBEAM node does, with the real aos 2.0.6 module: the readiness probe,
// slot by slot compute with the page in the body, the answer cache, a Skip
// slot and the chain after it, a slot the unit must read from the
// scheduler, dry-run, forced snapshot, /stop and memory restore.
func TestHBUContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aos module")
	}
	n := startNet(t, "aos2_0_6.wasm", "wasm64-unknown-emscripten-draft_2024_02_15", netOptions{})
	hb := newFakeHB(t)
	dir := t.TempDir()
	u := startHBU(t, hb, n.gwURL, dir)
	cu := u.URL
	user := n.user.Address()

	// GET /status answers within HyperBEAM's 100 ms.
	c := &http.Client{Timeout: 100 * time.Millisecond}
	resp, err := c.Get(cu + "/status")
	must(t, err == nil && resp.StatusCode == 200, "GET /status: %v %v", err, resp)
	resp.Body.Close()

	pid := randID()
	hb.add(pid, hbMessage(pid, user, "", "", jsonTags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", n.mod, "Scheduler", hb.node, "Authority", hb.node, "Name", "hbu")))
	eval := func(code string) map[string]any {
		return hbMessage(randID(), user, pid, code, jsonTags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval"))
	}
	hb.add(pid, eval(handlersCode))
	bump := eval("Count = (Count or 0) + 1; return Count")
	hb.add(pid, bump)

	// Slot 0, the process message: a cold start.
	resp, r := hb.compute(t, cu, pid, 0)
	must(t, resp.StatusCode == 200, "slot 0: %s", r["body"])
	noError(t, r)
	h := resp.Header
	must(t, h.Get("slot") == "0" && h.Get("cold-start") == "true" && h.Get("cu-cached") == "false" && h.Get("eval-stream-length") == "1",
		"slot 0 headers %v", h)
	must(t, h.Get("timestamp") == strconv.FormatInt(hb.slot(pid, 0)["ts"].(int64), 10) && h.Get("block-height") == "1600000", "slot 0 headers %v", h)
	must(t, h.Get("ao-types") == "timestamp=integer,block-height=integer,slot=integer,cold-start=atom,cu-cached=atom,eval-stream-length=integer", "ao-types %q", h.Get("ao-types"))
	keys := func(m map[string]json.RawMessage) string {
		var ks []string
		for _, k := range []string{"Messages", "Assignments", "Spawns", "Output", "Patches", "GasUsed"} {
			if _, ok := m[k]; ok {
				ks = append(ks, k)
			}
		}
		return strings.Join(ks, ",")
	}
	must(t, keys(r) == "Messages,Assignments,Spawns,Output,Patches,GasUsed", "slot 0 members %v", r)

	// Slot 1: handlers; the page came in the body, so HyperBEAM's scheduler
	// was never asked.
	resp, r = hb.compute(t, cu, pid, 1)
	must(t, resp.StatusCode == 200, "slot 1: %s", r["body"])
	noError(t, r)
	must(t, outputData(t, r) == "handlers ready", "slot 1 output %s", r["Output"])
	must(t, resp.Header.Get("cold-start") == "false" && resp.Header.Get("eval-stream-length") == "1" && resp.Header.Get("Message") == hb.slot(pid, 1)["message"].(map[string]any)["Id"],
		"slot 1 headers %v", resp.Header)
	must(t, len(hb.requests()) == 0, "the scheduler was asked %v", hb.requests())

	// The same slot again: the answer cache.
	resp2, r2 := hb.compute(t, cu, pid, 1)
	must(t, resp2.StatusCode == 200 && resp2.Header.Get("cu-cached") == "true" && resp2.Header.Get("cold-start") == "", "cached headers %v", resp2.Header)
	must(t, string(r2["Output"]) == string(r["Output"]), "cached answer differs")

	// Slot 2 bumps a counter; slot 3 is HyperBEAM's dedup of it: a Skip
	// assignment with a fresh body holding only a timestamp. It must not
	// run; slot 4 chains from the original assignment of slot 3.
	resp, r = hb.compute(t, cu, pid, 2)
	must(t, resp.StatusCode == 200 && outputData(t, r) == "1", "slot 2: %s %s", r["Output"], r["body"])
	orig := randID()
	skipBody := hbMessage(randID(), hb.node, "", "", jsonTags("Timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10)))
	hb.add(pid, skipBody, "Skip", "true", "Original-Assignment-Id", orig)
	resp, r = hb.compute(t, cu, pid, 3)
	must(t, resp.StatusCode == 200, "skip slot: %s", r["body"])
	must(t, string(r["Messages"]) == "[]" && string(r["GasUsed"]) == "0" && string(r["Output"]) == `{"data":"","prompt":"","print":false}`,
		"skip slot answer %v", r)
	hb.add(pid, eval("return Count"))
	resp, r = hb.compute(t, cu, pid, 4)
	must(t, resp.StatusCode == 200, "slot after skip: %s", r["body"])
	must(t, outputData(t, r) == "1", "the Skip slot ran: Count is %s", r["Output"])

	// A slot whose predecessor HyperBEAM never posted: the unit reads it
	// from the scheduler and evaluates both.
	hb.add(pid, bump)
	hb.add(pid, eval("return Count"))
	resp, r = hb.compute(t, cu, pid, 6)
	must(t, resp.StatusCode == 200 && outputData(t, r) == "2", "slot 6: %s %s", r["Output"], r["body"])
	must(t, resp.Header.Get("eval-stream-length") == "2", "slot 6 stream %v", resp.Header)
	must(t, len(hb.requests()) > 0 && strings.HasPrefix(hb.requests()[0], "from=5&"), "scheduler requests %v", hb.requests())

	// Dry-run as dev_delegated_compute:do_dryrun sends it (JSON-Iface).
	dry, _ := json.Marshal(map[string]any{"Id": randID(), "Anchor": "", "Owner": user, "From": user,
		"Tags": jsonTags("Action", "Eval"), "Target": pid, "Data": "return Count", "Signature": ""})
	resp, out := httpDo(t, "POST", cu+"/dry-run?process-id="+pid, "application/json", dry, nil)
	var dr map[string]json.RawMessage
	must(t, resp.StatusCode == 200 && json.Unmarshal(out, &dr) == nil, "dry-run %d %s", resp.StatusCode, out)
	must(t, outputData(t, dr) == "2" && keys(dr) == "Messages,Assignments,Spawns,Output,Patches,GasUsed", "dry-run %s", out)

	// POST /snapshot/<pid> with {} as dev_delegated_compute:snapshot sends it.
	resp, out = httpDo(t, "POST", cu+"/snapshot/"+pid, "application/json", []byte("{}"), nil)
	must(t, resp.StatusCode == 200, "snapshot %d %s", resp.StatusCode, out)
	var snap struct {
		Success  bool
		File     string
		Snapshot struct {
			ProcessID, ModuleID, HashChain, Ordinate string
			Nonce, Timestamp, BlockHeight            int64
		}
	}
	must(t, json.Unmarshal(out, &snap) == nil && snap.Success && strings.HasPrefix(snap.File, "state-"+pid+"-6-"), "snapshot %s", out)
	must(t, snap.Snapshot.Nonce == 6 && snap.Snapshot.Ordinate == "6" && snap.Snapshot.ModuleID == n.mod && snap.Snapshot.HashChain == hb.slot(pid, 6)["chain"],
		"snapshot %s", out)
	must(t, resp.Header.Get("snapshot-nonce") == "6" && resp.Header.Get("snapshot-module-id") == n.mod &&
		resp.Header.Get("snapshot-hash-chain") == snap.Snapshot.HashChain && resp.Header.Get("snapshot-timestamp") == strconv.FormatInt(snap.Snapshot.Timestamp, 10),
		"snapshot headers %v", resp.Header)
	memAt6 := n.stateAt(t, cu, pid)
	file, err := os.ReadFile(filepath.Join(dir, "checkpoints", snap.File))
	if err == nil {
		file, err = memimage.Decode(file, 1<<40)
	}
	must(t, err == nil && sha(file) == sha(memAt6), "the snapshot file is not the memory at slot 6: %v", err)
	resp, out = httpDo(t, "POST", cu+"/snapshot/"+randID(), "application/json", []byte("{}"), nil)
	must(t, resp.StatusCode == 404 && strings.Contains(string(out), `"success":false`), "snapshot of an unknown process %d %s", resp.StatusCode, out)

	// /stop/<pid>: a request waiting for the scheduler answers 409.
	hb.add(pid, bump)
	hb.add(pid, eval("return Count"))
	hold, held := make(chan struct{}), make(chan struct{}, 4)
	hb.mu.Lock()
	hb.hold, hb.held = hold, held
	hb.mu.Unlock()
	type res struct {
		code int
		body []byte
	}
	done := make(chan res, 1)
	go func() {
		body := hb.page(pid, []map[string]any{hb.slot(pid, 8)}, false)
		resp, err := http.Post(cu+"/result/8?process-id="+pid, "application/json", bytes.NewReader(body))
		if err != nil {
			done <- res{0, []byte(err.Error())}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- res{resp.StatusCode, b}
	}()
	<-held
	resp, out = httpDo(t, "GET", cu+"/stop/"+pid, "", nil, nil)
	must(t, resp.StatusCode == 200, "stop %d %s", resp.StatusCode, out)
	var st struct {
		ProcessID string
		Stopped   []string
		Count     int
	}
	must(t, json.Unmarshal(out, &st) == nil && st.ProcessID == pid && st.Count == 1 && len(st.Stopped) == 1 &&
		st.Stopped[0] == fmt.Sprintf("%s,%d,8,,false", pid, hb.slot(pid, 8)["ts"].(int64)), "stop answer %s", out)
	got := <-done
	must(t, got.code == 409 && strings.Contains(string(got.body), "stopped"), "the stopped request answered %d %s", got.code, got.body)
	hb.mu.Lock()
	hb.hold = nil
	hb.mu.Unlock()
	close(hold)
	resp, out = httpDo(t, "POST", cu+"/stop/"+pid, "", nil, nil)
	must(t, resp.StatusCode == 200 && strings.Contains(string(out), `"count":0`), "second stop %s", out)

	// POST /state: the memory at slot 6, gzipped, restored into a fresh unit
	// with the headers HyperBEAM sends; slot 7 then runs on it.
	u2 := startHBU(t, hb, n.gwURL, t.TempDir())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(memAt6)
	zw.Close()
	s6 := hb.slot(pid, 6)
	resp, out = httpDo(t, "POST", u2.URL+"/state", "application/octet-stream", gz.Bytes(), map[string]string{
		"process": pid, "module": n.mod, "assignment": s6["chainID"].(string), "hash-chain": s6["chain"].(string),
		"timestamp": strconv.FormatInt(s6["ts"].(int64), 10), "nonce": "6", "block-height": "1600000"})
	must(t, resp.StatusCode == 200 && string(out) == "Successfully cached process memory for process "+pid, "POST /state %d %s", resp.StatusCode, out)
	resp, r = hb.compute(t, u2.URL, pid, 7)
	must(t, resp.StatusCode == 200 && outputData(t, r) == "3", "slot 7 on the restored memory: %s %s", r["Output"], r["body"])
	must(t, resp.Header.Get("cold-start") == "false" && resp.Header.Get("eval-stream-length") == "1", "restored unit headers %v", resp.Header)

	// Errors: a slot that is not a number, no process-id, a bad /state.
	resp, _ = httpDo(t, "POST", cu+"/result/abc?process-id="+pid, "application/json", nil, nil)
	must(t, resp.StatusCode == 400, "non-numeric slot: %d", resp.StatusCode)
	resp, _ = httpDo(t, "POST", cu+"/result/1", "application/json", nil, nil)
	must(t, resp.StatusCode == 400, "no process-id: %d", resp.StatusCode)
	resp, _ = httpDo(t, "POST", cu+"/state", "application/octet-stream", []byte("not gzip"), map[string]string{
		"process": pid, "module": n.mod, "timestamp": "1", "nonce": "1", "block-height": "1"})
	must(t, resp.StatusCode == 400, "non-gzip /state: %d", resp.StatusCode)
}

// stateAt is GET /state/<pid> (the CU route, still served in hbu mode).
func (n *testNet) stateAt(t *testing.T, cu, pid string) []byte {
	t.Helper()
	resp, body := httpDo(t, "GET", cu+"/state/"+pid, "", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /state: %d %s", resp.StatusCode, body)
	}
	return body
}
