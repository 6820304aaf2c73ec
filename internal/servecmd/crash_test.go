package servecmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/testbin"
)

// buildAocu builds bin/aocu once per test binary.
func buildAocu(t testing.TB) string { return testbin.Aocu(t) }

// cuProcess is `aocu serve` as a separate OS process.
type cuProcess struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{} // closed when the process has exited
	err  error
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCUProcess runs `aocu serve` with the env and waits until it answers.
func startCUProcess(t testing.TB, env map[string]string, logFile string) *cuProcess {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(buildAocu(t), "serve")
	cmd.Dir = filepath.Dir(logFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := &cuProcess{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), log: logFile, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(c.url + "/"); err == nil {
			resp.Body.Close()
			return c
		}
		select {
		case <-c.done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("aocu serve exited: %v\n%s", c.err, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("aocu serve did not answer")
	return nil
}

func (c *cuProcess) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func (c *cuProcess) wait(t testing.TB) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("aocu serve did not stop")
	}
}

// storedNonce is the highest nonce the CU has stored a result for.
func storedNonce(t testing.TB, url, pid string) int64 {
	resp, err := http.Get(url + "/results/" + pid + "?sort=DESC&limit=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var p resultsPage
	if json.NewDecoder(resp.Body).Decode(&p) != nil || len(p.Edges) == 0 {
		return -1
	}
	n, _ := strconv.ParseInt(cursorOf(t, p.Edges[0].Cursor)["ordinate"].(string), 10, 64)
	return n
}

var startRE = regexp.MustCompile(`process starting point .*src=(\S+) nonce=(\d+)`)

// startingPoints lists the "process starting point" log lines: source and nonce.
func startingPoints(t testing.TB, logFile string) [][2]string {
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := startRE.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, [2]string{m[1], m[2]})
		}
	}
	return out
}

// TestServeCrashRecovery interrupts `aocu serve` while it replays a long
// stream — kill -9, SIGTERM, SIGUSR2 then kill -9 — and restarts it: the
// final results and /state equal an uninterrupted run, nothing is lost or
// stored twice, and the restart resumes from the last checkpoint.
func TestServeCrashRecovery(t *testing.T) {
	total := 10000
	if testing.Short() {
		total = 1000
	}
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	owner := localnettest.EDSigner("crash-test-owner")
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1"}
	post := func(data, target string, tags ...string) string {
		d, err := arweave.NewDataItem([]byte(data), target, "", localnettest.Tags(append(base, tags...)...))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sign(owner); err != nil {
			t.Fatal(err)
		}
		raw, _ := d.Bytes()
		return n.post(t, raw)
	}
	pid := post("", "", "Type", "Process", "Module", n.mod, "Scheduler", n.su.Address(), "Name", "crash")
	post(`Count = 0
Handlers.add("Count", Handlers.utils.hasMatchingTag("Action", "Count"), function (msg) Count = Count + 1 end)
return "ready"`, pid, "Type", "Message", "Action", "Eval")
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				post("count "+strconv.Itoa(i), pid, "Type", "Message", "Action", "Count")
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("posted %d messages to the SU in %v", total, time.Since(start).Round(time.Second))
	var latest struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	code, body := doGet(t, n.suURL+"/"+pid+"/latest")
	if code != 200 || json.Unmarshal(body, &latest) != nil {
		t.Fatalf("latest: %d %s", code, body)
	}
	last := latest.Message.ID
	lastNonce := int64(total + 1)

	// The uninterrupted run: the in-process CU.
	start = time.Now()
	want := n.result(t, pid, last)
	t.Logf("uninterrupted replay of %d messages: %v", total+2, time.Since(start).Round(time.Millisecond))
	wantState := sha(n.state(t, pid))
	var proc struct{ Owner struct{ Address string } }
	code, body = doGet(t, n.suURL+"/processes/"+pid)
	if code != 200 || json.Unmarshal(body, &proc) != nil {
		t.Fatalf("process: %d %s", code, body)
	}
	count := n.dryRun(t, pid, `{"Owner":"`+proc.Owner.Address+`","Tags":[{"name":"Action","value":"Eval"}],"Data":"return Count"}`)
	must(t, outputData(t, count) == strconv.Itoa(total), "Count after the uninterrupted run: %s", count["Output"])
	wantAll := allResults(t, n.cuURL, pid)
	must(t, len(wantAll) == total+2, "uninterrupted run stored %d results, want %d", len(wantAll), total+2)

	wallet := filepath.Join(n.dir, "cu-wallet.json")
	if err := os.WriteFile(wallet, n.cuWallet.JWK(), 0o600); err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name  string
		eager bool
		stop  func(t *testing.T, c *cuProcess)
	}{
		{"kill -9", true, func(t *testing.T, c *cuProcess) {
			deadline := time.Now().Add(time.Minute)
			for !logHas(t, c.log, "file checkpoint written") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			c.signal(t, syscall.SIGKILL)
			c.wait(t)
		}},
		{"SIGTERM", false, func(t *testing.T, c *cuProcess) { c.signal(t, syscall.SIGTERM); c.wait(t) }},
		{"SIGUSR2 then kill -9", false, func(t *testing.T, c *cuProcess) {
			c.signal(t, syscall.SIGUSR2)
			deadline := time.Now().Add(time.Minute)
			for !logHas(t, c.log, "file checkpoint written") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			c.signal(t, syscall.SIGKILL)
			c.wait(t)
		}},
	}
	for i, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := filepath.Join(n.dir, fmt.Sprint("variant", i))
			os.MkdirAll(dir, 0o755)
			env := map[string]string{
				"GATEWAY_URL": n.gwURL, "WALLET_FILE": wallet, "DB_URL": testDB(t, dir),
				"PROCESS_MEMORY_CACHE_FILE_DIR": filepath.Join(dir, "mem"), "PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(dir, "cp"),
				"WASM_BINARY_FILE_DIRECTORY": filepath.Join(repoRoot(t), ".fixtures", "cu-wasm-cache"),
				"DEFAULT_LOG_LEVEL":          "info", "LOG_CONFIG_PATH": filepath.Join(dir, ".loglevel"),
				"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": strconv.FormatBool(!v.eager),
				"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD":     "500",
			}
			logFile := filepath.Join(dir, "cu.log")
			c := startCUProcess(t, env, logFile)
			go http.Get(c.url + "/result/" + last + "?process-id=" + pid) // the long replay; it dies with the CU
			deadline := time.Now().Add(5 * time.Minute)
			var stored int64
			for stored = storedNonce(t, c.url, pid); stored < int64(total)/3; stored = storedNonce(t, c.url, pid) {
				if time.Now().After(deadline) {
					t.Fatalf("replay too slow: nonce %d", stored)
				}
				time.Sleep(20 * time.Millisecond)
			}
			v.stop(t, c)
			c2 := startCUProcess(t, env, logFile)
			stored = storedNonce(t, c2.url, pid) // what survived
			code, body := getURL(t, c2.url+"/result/"+last+"?process-id="+pid)
			must(t, code == 200, "result after restart: %d %s", code, body)
			var got map[string]json.RawMessage
			json.Unmarshal(body, &got)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			must(t, string(a) == string(b), "final result differs:\n%s\n%s", a, b)
			code, st := getURL(t, c2.url+"/state/"+pid)
			must(t, code == 200 && sha(st) == wantState, "final state differs")
			all := allResults(t, c2.url, pid)
			must(t, len(all) == total+2, "stored results: %d, want %d", len(all), total+2)
			for i := range all {
				if all[i] != wantAll[i] {
					t.Fatalf("stored result %d differs from an uninterrupted run:\n%s\n%s", i, all[i], wantAll[i])
				}
			}
			points := startingPoints(t, logFile)
			must(t, len(points) == 2, "starting points %v", points)
			src, from := points[1][0], points[1][1]
			fromNonce, _ := strconv.ParseInt(from, 10, 64)
			reevaluated := stored - fromNonce
			t.Logf("%s: stopped with results stored up to nonce %d of %d; restarted from %s at nonce %d: %d messages evaluated again",
				v.name, stored, lastNonce, src, fromNonce, reevaluated)
			must(t, src == "file" && fromNonce > 0, "the restart did not resume from a file checkpoint: %v", points)
			if v.name == "SIGTERM" {
				must(t, reevaluated == 0, "a graceful stop should checkpoint where it stopped (%d evaluated again)", reevaluated)
			}
		})
	}
}

// logHas reports whether the log file contains s.
func logHas(t testing.TB, logFile, s string) bool {
	b, err := os.ReadFile(logFile)
	return err == nil && strings.Contains(string(b), s)
}

func getURL(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", url, "", nil)
	return resp.StatusCode, body
}

// allResults pages through /results (1,000 at a time) and returns every edge
// (cursor and node) as its JSON text.
func allResults(t testing.TB, base, pid string) []string {
	t.Helper()
	var out []string
	from := ""
	for {
		code, body := getURL(t, base+"/results/"+pid+"?limit=1000"+from)
		if code != 200 {
			t.Fatalf("/results: %d %s", code, body)
		}
		var page struct {
			PageInfo struct {
				HasNextPage bool `json:"hasNextPage"`
			} `json:"pageInfo"`
			Edges []json.RawMessage `json:"edges"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Edges {
			out = append(out, string(e))
		}
		if !page.PageInfo.HasNextPage || len(page.Edges) == 0 {
			return out
		}
		var last struct{ Cursor string }
		json.Unmarshal(page.Edges[len(page.Edges)-1], &last)
		from = "&from=" + url.QueryEscape(last.Cursor)
	}
}
