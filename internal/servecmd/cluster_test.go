package servecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/jackc/pgx/v5"
)

// haproxyConfig is the README's HAProxy example (hash on the process id,
// taken from the process-id query or the path), with health checks and
// redispatch so a dead CU's requests go to the others, and the serving
// server's name in a response header for the test. A check may wait 2 s for
// its answer (without timeout check it waits inter, 250 ms: twice that on
// a loaded machine marked a live CU down and moved its processes); a killed
// CU refuses the connection at once.
const haproxyConfig = `global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout check 2s
    retries 3
    option redispatch
backend cus
    balance hdr(x-process-id)
    hash-type consistent
    option httpchk GET /
    default-server inter 250ms fall 2 rise 2
%s    http-response set-header x-cu %%[srv_name]
frontend cu
    bind 127.0.0.1:%d
    http-request set-header x-process-id %%[url_param(process-id)] if { url_param(process-id) -m found }
    http-request set-header x-process-id %%[path,field(3,/)] if !{ url_param(process-id) -m found }
    default_backend cus
`

// TestClusterBehindHAProxy runs three `aocu serve` sharing one PostgreSQL
// database behind HAProxy (the README's configuration) on one local gateway
// and SU: 100 processes are driven through the balancer, one CU is killed
// with SIGKILL, and its processes are then answered by the others, which
// start them from the Arweave checkpoints the dead CU uploaded and from the
// shared results. Every result is right, none is lost or stored twice.
func TestClusterBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the three-CU cluster takes minutes (it runs in the full pass)")
	}
	pgURL := os.Getenv("AOCU_TEST_POSTGRES_URL")
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		haproxy = "/usr/sbin/haproxy"
	}
	if v := os.Getenv("AOCU_HAPROXY"); v != "" {
		haproxy = v
	}
	_, herr := os.Stat(haproxy)
	if pgURL == "" || herr != nil {
		msg := fmt.Sprintf("needs AOCU_TEST_POSTGRES_URL (scripts/postgres.sh) and HAProxy (scripts/haproxy.sh): url %q, haproxy %v", pgURL, herr)
		if os.Getenv("CI") == "true" {
			t.Fatal("in CI: " + msg)
		}
		t.Skip(msg)
	}
	const processes = 100
	n := startNet(t, "aos2_0_6.wasm", "wasm64-unknown-emscripten-draft_2024_02_15", netOptions{})
	db := newPostgresDB(t, pgURL)
	dir := t.TempDir()

	// Three CUs, each trusting the others' checkpoints.
	type node struct {
		name, dir string
		wallet    *arweave.Wallet
		proc      *cuProcess
	}
	nodes := make([]*node, 3)
	var owners []string
	for i := range nodes {
		w, err := arweave.GenerateWallet()
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &node{name: fmt.Sprintf("cu%d", i+1), dir: filepath.Join(dir, fmt.Sprintf("cu%d", i+1)), wallet: w}
		owners = append(owners, w.Address())
	}
	for _, nd := range nodes {
		if err := os.MkdirAll(nd.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		walletFile := filepath.Join(nd.dir, "wallet.json")
		if err := os.WriteFile(walletFile, nd.wallet.JWK(), 0o600); err != nil {
			t.Fatal(err)
		}
		nd.proc = startCUProcess(t, map[string]string{
			"GATEWAY_URL": n.gwURL, "DB_URL": db, "WALLET_FILE": walletFile,
			"PROCESS_MEMORY_CACHE_FILE_DIR":       filepath.Join(nd.dir, "memory"),
			"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(nd.dir, "checkpoints"),
			"WASM_BINARY_FILE_DIRECTORY":          filepath.Join(nd.dir, "wasm"),
			"RATE_LIMIT_MAX_REQUESTS":             "0",
			// an Arweave checkpoint at the end of every evaluation stream
			"DISABLE_PROCESS_CHECKPOINT_CREATION": "false", "EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD": "1",
			"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD": "1", "PROCESS_CHECKPOINT_CREATION_THROTTLE": "0",
			"PROCESS_CHECKPOINT_TRUSTED_OWNERS": strings.Join(owners, ","),
		}, filepath.Join(nd.dir, "cu.log"))
	}

	// HAProxy in front of them.
	var servers strings.Builder
	for _, nd := range nodes {
		u, _ := url.Parse(nd.proc.url)
		fmt.Fprintf(&servers, "    server %s %s check\n", nd.name, u.Host)
	}
	lbPort := freePort(t)
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, servers.String(), lbPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	lbLog, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	lb := exec.Command(haproxy, "-db", "-f", cfg)
	lb.Stdout, lb.Stderr = lbLog, lbLog
	if err := lb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Process.Kill(); lb.Wait(); lbLog.Close() })
	lbURL := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	waitUp(t, lbURL)

	// 100 processes, two messages each, every result read through HAProxy.
	start := time.Now()
	pids := make([]string, processes)
	msgs := make([][]string, processes)
	for i := range pids { // (the SU client helpers may t.Fatal: on the test's goroutine)
		pids[i] = n.spawn(t, "", "Name", fmt.Sprintf("cluster-%d", i))
		for j := 0; j < 2; j++ {
			msgs[i] = append(msgs[i], n.eval(t, pids[i], fmt.Sprintf("Count = (Count or 0) + 1; return '%d:' .. Count", i)))
		}
	}
	servedBy := make([]string, processes)
	parallel(t, processes, func(i int) {
		for j, mid := range msgs[i] {
			cu := checkCount(t, lbURL, pids[i], mid, fmt.Sprintf("%d:%d", i, j+1))
			if servedBy[i] != "" && cu != servedBy[i] {
				t.Errorf("process %d moved from %s to %s with every CU up", i, servedBy[i], cu)
			}
			servedBy[i] = cu
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	count := map[string]int{}
	for _, cu := range servedBy {
		count[cu]++
	}
	t.Logf("%d processes, %d messages evaluated through HAProxy in %v; per CU: %v", processes, 2*processes, time.Since(start).Round(time.Millisecond), count)

	// kill -9 the CU with the most processes
	victim := nodes[0]
	for _, nd := range nodes {
		if count[nd.name] > count[victim.name] {
			victim = nd
		}
	}
	victim.proc.signal(t, syscall.SIGKILL)
	victim.proc.wait(t)
	killedAt := time.Now()

	// A third message to every process; every result, old and new, through HAProxy.
	third := make([]string, processes)
	for i := range third {
		third[i] = n.eval(t, pids[i], fmt.Sprintf("Count = (Count or 0) + 1; return '%d:' .. Count", i))
	}
	moved := 0
	var mu sync.Mutex
	parallel(t, processes, func(i int) {
		for j, mid := range append(msgs[i], third[i]) {
			cu := checkCount(t, lbURL, pids[i], mid, fmt.Sprintf("%d:%d", i, j+1))
			if cu == victim.name {
				t.Errorf("process %d answered by the killed %s", i, cu)
			}
			if j == 2 && servedBy[i] == victim.name {
				mu.Lock()
				moved++
				mu.Unlock()
			}
		}
	})
	t.Logf("after kill -9 of %s (%d processes): every result right through HAProxy in %v; %d processes moved", victim.name, count[victim.name], time.Since(killedAt).Round(time.Millisecond), moved)

	// How the survivors started the victim's processes.
	sources := map[string]int{}
	for _, nd := range nodes {
		if nd == victim {
			continue
		}
		for _, sp := range startingPoints(t, nd.proc.log) {
			sources[sp[0]]++
		}
	}
	// "record": an Arweave checkpoint found through the shared database's
	// checkpoint records, "arweave": one found by a gateway query; either way
	// the memory comes from the gateway, uploaded by the dead CU.
	t.Logf("starting points on the survivors: %v", sources)
	if got := sources["record"] + sources["arweave"]; got < moved {
		t.Errorf("%d of the %d moved processes started from an Arweave checkpoint: %v", got, moved, sources)
	}

	// Nothing lost, nothing stored twice: each process has its boot and its
	// three messages in the shared database, once each.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT "processId", count(*), count(DISTINCT "messageId") FROM evaluations GROUP BY "processId"`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for rows.Next() {
		var pid string
		var c, d int64
		if err := rows.Scan(&pid, &c, &d); err != nil {
			t.Fatal(err)
		}
		got[pid] = [2]int64{c, d}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, pid := range pids {
		if c := got[pid]; c != [2]int64{4, 4} {
			t.Errorf("process %d: %d evaluations stored (%d distinct messages), want 4", i, c[0], c[1])
		}
	}
	if len(got) != processes {
		t.Errorf("%d processes have evaluations, want %d", len(got), processes)
	}
}

// checkCount reads /result of mid through the balancer and checks its Output
// data; it returns the CU that answered.
func checkCount(t *testing.T, base, pid, mid, want string) string {
	t.Helper()
	var status int
	var body []byte
	var cu string
	for attempt := 0; attempt < 3; attempt++ { // HAProxy may still route to a CU it has not yet seen die
		resp, err := http.Get(base + "/result/" + mid + "?process-id=" + pid)
		if err != nil {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status, cu = resp.StatusCode, resp.Header.Get("x-cu")
		if status != http.StatusServiceUnavailable && status != http.StatusBadGateway {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var r struct {
		Output struct{ Data string }
		Error  json.RawMessage
	}
	if status != http.StatusOK || json.Unmarshal(body, &r) != nil || r.Output.Data != want || r.Error != nil {
		t.Errorf("result %s of %s via %s: %d %.300s (want data %q)", mid, pid, cu, status, body, want)
	}
	return cu
}

// parallel runs f(0..n-1) on 8 goroutines and waits for them.
func parallel(t *testing.T, n int, f func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() { // owned by parallel: it waits below
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// waitUp waits until base answers.
func waitUp(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer", base)
}
