package servecmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/memimage"
)

// TestHBUSideBySide runs permaweb/ao's feat/hb-unit CU (the Node sidecar
// HyperBEAM starts) beside `aocu serve` in hbu mode, both fed by the same
// fake HyperBEAM, and compares every answer. It needs a prepared copy of the
// branch's servers/cu: tools/hburef/prepare.sh makes it and prints
// AOCU_HBU_REF_CU (that folder), AOCU_NODE22 (a Node 22 binary) and
// AOCU_HBU_REF_PRELOAD (a `node --import` module that keeps it offline).
func TestHBUSideBySide(t *testing.T) {
	refDir, node := os.Getenv("AOCU_HBU_REF_CU"), os.Getenv("AOCU_NODE22")
	if refDir == "" || node == "" {
		t.Skip("AOCU_HBU_REF_CU and AOCU_NODE22 are not set: the branch's CU is not installed here")
	}
	n := startNet(t, "aos2_0_6.wasm", "wasm64-unknown-emscripten-draft_2024_02_15", netOptions{})
	hb := newFakeHB(t)
	dir := t.TempDir()
	ours := startHBU(t, hb, n.gwURL, filepath.Join(dir, "aocu"))
	ref := startRefHBU(t, refDir, node, hb, n.gwURL, filepath.Join(dir, "ref"))

	user := n.user.Address()
	pid := randID()
	hb.add(pid, hbMessage(pid, user, "", "", jsonTags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", n.mod, "Scheduler", hb.node, "Authority", hb.node, "Name", "hbu")))
	eval := func(code string) map[string]any {
		return hbMessage(randID(), user, pid, code, jsonTags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval"))
	}
	hb.add(pid, eval(handlersCode))
	bump := eval("Count = (Count or 0) + 1; return Count")
	hb.add(pid, bump)
	hb.add(pid, hbMessage(randID(), hb.node, "", "", jsonTags("Timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10))),
		"Skip", "true", "Original-Assignment-Id", randID())
	hb.add(pid, eval("return Count"))
	for i := 0; i < 20; i++ {
		hb.add(pid, hbMessage(randID(), user, pid, fmt.Sprint("value ", i), jsonTags("Data-Protocol", "ao", "Variant", "ao.TN.1",
			"Type", "Message", "Action", "Set", "Key", fmt.Sprint("k", i))))
	}
	hb.add(pid, eval("local n = 0 for k in pairs(Store) do n = n + 1 end return n"))

	headers := []string{"slot", "timestamp", "block-height", "cold-start", "cu-cached", "eval-stream-length", "Message", "ao-types"}
	var oursTime, refTime time.Duration
	sameBody, sameJSON, sameHeaders, slots := 0, 0, 0, 0
	for slot := 0; slot < 26; slot++ {
		t0 := time.Now()
		r1, b1 := hb.computeRaw(t, ours.URL, pid, slot)
		t1 := time.Now()
		r2, b2 := hb.computeRaw(t, ref, pid, slot)
		t2 := time.Now()
		if slot > 0 {
			oursTime += t1.Sub(t0)
			refTime += t2.Sub(t1)
		}
		slots++
		if r1.StatusCode != r2.StatusCode {
			t.Errorf("slot %d: status aocu %d, reference %d (%s)", slot, r1.StatusCode, r2.StatusCode, b2)
			continue
		}
		if string(b1) == string(b2) {
			sameBody++
		}
		var j1, j2 any
		json.Unmarshal(b1, &j1)
		json.Unmarshal(b2, &j2)
		if reflect.DeepEqual(j1, j2) {
			sameJSON++
		} else {
			t.Errorf("slot %d: bodies differ\n aocu: %.400s\n  ref: %.400s", slot, b1, b2)
		}
		hdiff := []string{}
		for _, h := range headers {
			if r1.Header.Get(h) != r2.Header.Get(h) {
				hdiff = append(hdiff, fmt.Sprintf("%s %q/%q", h, r1.Header.Get(h), r2.Header.Get(h)))
			}
		}
		if len(hdiff) == 0 {
			sameHeaders++
		} else {
			t.Errorf("slot %d: headers differ (aocu/ref): %s", slot, strings.Join(hdiff, ", "))
		}
	}
	t.Logf("side by side over %d slots: %d bodies byte-equal, %d JSON-equal, %d with equal headers", slots, sameBody, sameJSON, sameHeaders)
	t.Logf("per slot (slots 1..25, one POST /result each): aocu %v, reference %v", oursTime/25, refTime/25)

	// Dry-runs (the branch's message schema gives them Skip too) and the
	// CU routes the branch keeps: byte for byte.
	for _, q := range []struct{ method, path, body string }{
		{"POST", "/dry-run?process-id=" + pid, `{"Tags":[{"name":"Action","value":"Eval"}],"Data":"return #Inbox .. ':' .. tostring(Count)"}`},
		{"POST", "/dry-run?process-id=" + pid, `{"Owner":"` + user + `","Tags":[{"name":"Action","value":"Set"},{"name":"Key","value":"dry"}],"Data":"x","Skip":"maybe"}`},
		{"GET", "/results/" + pid + "?sort=ASC&limit=100", ""},
		{"GET", "/results/" + pid + "?sort=DESC&limit=5", ""},
	} {
		var body []byte
		if q.body != "" {
			body = []byte(q.body)
		}
		ra, ba := httpDo(t, q.method, ours.URL+q.path, "application/json", body, nil)
		rb, bb := httpDo(t, q.method, ref+q.path, "application/json", body, nil)
		if strings.HasPrefix(q.path, "/results/") && string(ba) != string(bb) {
			// A known difference (README): the branch stores no evaluation
			// for a Skip slot (slot 3 here), so its /results leave it out;
			// aocu lists it. Everything else must be byte-identical.
			if without := withoutEdge(t, ba, "3"); without != nil && string(without) == string(bb) {
				t.Logf("%s %s: %d, byte-identical but for the Skip slot's edge", q.method, q.path, ra.StatusCode)
				continue
			}
		}
		if ra.StatusCode != rb.StatusCode || string(ba) != string(bb) {
			t.Errorf("%s %s: aocu %d %s\n reference %d %s", q.method, q.path, ra.StatusCode, ba, rb.StatusCode, bb)
		} else {
			t.Logf("%s %s: %d, %d bytes, byte-identical", q.method, q.path, ra.StatusCode, len(ba))
		}
	}

	// Snapshots: shapes and memories.
	r1, s1 := httpDo(t, "POST", ours.URL+"/snapshot/"+pid, "application/json", []byte("{}"), nil)
	r2, s2 := httpDo(t, "POST", ref+"/snapshot/"+pid, "application/json", []byte("{}"), nil)
	// The file names differ by design: aocu's engine names a checkpoint
	// state-<pid>-<nonce>-<sha16>.dat, the branch state-<pid>.dat.
	var j1, j2 map[string]any
	json.Unmarshal(s1, &j1)
	json.Unmarshal(s2, &j2)
	file1, _ := j1["file"].(string)
	delete(j1, "file")
	delete(j2, "file")
	if r1.StatusCode != r2.StatusCode || !reflect.DeepEqual(j1, j2) {
		t.Errorf("snapshot: aocu %d %s\n reference %d %s", r1.StatusCode, s1, r2.StatusCode, s2)
	}
	for _, h := range []string{"snapshot-timestamp", "snapshot-ordinate", "snapshot-block-height", "snapshot-module-id", "snapshot-nonce", "snapshot-epoch", "snapshot-hash-chain"} {
		if r1.Header.Get(h) != r2.Header.Get(h) {
			t.Errorf("snapshot header %s: aocu %q, reference %q", h, r1.Header.Get(h), r2.Header.Get(h))
		}
	}
	m1, err1 := os.ReadFile(filepath.Join(dir, "aocu", "checkpoints", file1))
	if err1 == nil {
		m1, err1 = memimage.Decode(m1, 1<<40)
	}
	m2, err2 := os.ReadFile(filepath.Join(dir, "ref", "checkpoints", "state-"+pid+".dat"))
	if err1 != nil || err2 != nil {
		t.Fatalf("snapshot files: %v / %v", err1, err2)
	}
	t.Logf("memory at slot 25: aocu sha256 %s (%d bytes), reference %s (%d bytes)", sha(m1), len(m1), sha(m2), len(m2))
	if sha(m1) != sha(m2) {
		t.Errorf("the memories at slot 25 differ: aocu %s, the branch's CU %s", sha(m1), sha(m2))
	}
	for _, p := range []string{"/status", "/stop/" + pid} {
		ra, _ := httpDo(t, "GET", ours.URL+p, "", nil, nil)
		rb, _ := httpDo(t, "GET", ref+p, "", nil, nil)
		t.Logf("GET %s: aocu %d, reference %d", p, ra.StatusCode, rb.StatusCode)
	}
}

// withoutEdge is a /results body without the edge of the given ordinate,
// written back in the same key order (nil when there is no such edge).
func withoutEdge(t *testing.T, body []byte, ordinate string) []byte {
	t.Helper()
	var page struct {
		PageInfo json.RawMessage `json:"pageInfo"`
		Edges    []struct {
			Node   json.RawMessage `json:"node"`
			Cursor string          `json:"cursor"`
		} `json:"edges"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil
	}
	var edges []string
	found := false
	for _, e := range page.Edges {
		raw, err := base64.StdEncoding.DecodeString(e.Cursor)
		var c struct{ Ordinate string }
		if err == nil && json.Unmarshal(raw, &c) == nil && c.Ordinate == ordinate {
			found = true
			continue
		}
		edges = append(edges, fmt.Sprintf(`{"node":%s,"cursor":%q}`, e.Node, e.Cursor))
	}
	if !found {
		return nil
	}
	return []byte(fmt.Sprintf(`{"pageInfo":%s,"edges":[%s]}`, page.PageInfo, strings.Join(edges, ",")))
}

func (hb *fakeHB) computeRaw(t *testing.T, cu, pid string, slot int) (*http.Response, []byte) {
	t.Helper()
	body := hb.page(pid, []map[string]any{hb.slot(pid, slot)}, false)
	return httpDo(t, "POST", cu+"/result/"+strconv.Itoa(slot)+"?process-id="+pid, "application/json", body, nil)
}

// startRefHBU starts the branch's CU as dev_genesis_wasm does (npm run
// start: node --experimental-wasm-memory64 src/app.js) with its env.
func startRefHBU(t *testing.T, dir, node string, hb *fakeHB, gwURL, data string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for _, d := range []string{"wasm", "memory", "checkpoints"} {
		os.MkdirAll(filepath.Join(data, d), 0o755)
	}
	wallet := filepath.Join(data, "wallet.json")
	_, _, cuW := wallets(t)
	if err := os.WriteFile(wallet, cuW.JWK(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--experimental-wasm-memory64"}
	if pre := os.Getenv("AOCU_HBU_REF_PRELOAD"); pre != "" {
		args = append(args, "--import", pre)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append(args, "src/app.js")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"UNIT_MODE=hbu", "HB_URL="+hb.srv.URL, "PORT="+strconv.Itoa(port), "DB_URL="+filepath.Join(data, "genesis-wasm-db"),
		"NODE_CONFIG_ENV=production", "DEFAULT_LOG_LEVEL="+envOr("AOCU_HBU_REF_LOG_LEVEL", "error"), "WALLET_FILE="+wallet,
		"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION=false", "PROCESS_MEMORY_FILE_CHECKPOINTS_DIR="+filepath.Join(data, "checkpoints"),
		"PROCESS_MEMORY_CACHE_MAX_SIZE=12_000_000_000", "PROCESS_WASM_SUPPORTED_EXTENSIONS=WeaveDrive",
		"PROCESS_WASM_MEMORY_MAX_LIMIT=24_000_000_000", "TZ=UTC",
		"GATEWAY_URL="+gwURL, "ARWEAVE_URL="+gwURL, "GRAPHQL_URL="+gwURL+"/graphql", "CHECKPOINT_GRAPHQL_URL="+gwURL+"/graphql",
		"UPLOADER_URL="+gwURL, "WASM_EVALUATION_MAX_WORKERS=2",
		"WASM_BINARY_FILE_DIRECTORY="+filepath.Join(data, "wasm"), "PROCESS_MEMORY_CACHE_FILE_DIR="+filepath.Join(data, "memory"))
	logf, _ := os.Create(filepath.Join(data, "ref.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logf.Close()
		if keep := os.Getenv("AOCU_HBU_REF_LOG"); keep != "" {
			b, _ := os.ReadFile(filepath.Join(data, "ref.log"))
			os.WriteFile(keep, b, 0o644)
		}
	})
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the branch's CU did not listen; see %s", filepath.Join(data, "ref.log"))
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
