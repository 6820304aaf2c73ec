// Command scalebench measures `aocu serve` with many idle processes on one
// machine (issue 12): N aos processes, each with a small KV set by a few
// messages, created fast (signed items posted straight to a local SU in
// parallel), evaluated once, then C concurrent clients dry-running and
// messaging random processes for a fixed time at aocu's default settings. It
// reports throughput, p50/p99 latency, aocu's peak RSS, its disk use, the
// latency of switching to an idle process against a live one, and wrong
// answers (which must be 0).
//
//	go run ./tools/scalebench -aocu bin/aocu -n 1000 -duration 30s
package main

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/benchnet"
	"github.com/aocu/aocu/internal/procstat"
)

type options struct {
	aocu, module, format, dir, jsonPath string
	n, sets, clients, createWorkers     int
	warmWorkers, msgEvery, switchN      int
	duration                            time.Duration
	keep, rsa                           bool
	env                                 []string
	cpuProfile                          string
}

func main() {
	var o options
	flag.StringVar(&o.aocu, "aocu", "bin/aocu", "aocu binary")
	flag.StringVar(&o.module, "module", ".fixtures/modules/aos2_0_6.wasm", "aos module")
	flag.StringVar(&o.format, "format", "wasm64-unknown-emscripten-draft_2024_02_15", "its Module-Format")
	flag.IntVar(&o.n, "n", 1000, "processes")
	flag.IntVar(&o.sets, "sets", 3, "Set messages per process (keys k1..k<sets>)")
	flag.IntVar(&o.clients, "clients", 20, "concurrent clients in the load phase")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "length of the load phase")
	flag.IntVar(&o.msgEvery, "msg-every", 10, "one client operation in this many is a message (Set, then GET /result); the others are dry-runs")
	flag.IntVar(&o.createWorkers, "create-workers", 2*runtime.NumCPU(), "parallel process creations")
	flag.IntVar(&o.warmWorkers, "warm-workers", runtime.NumCPU(), "parallel first evaluations")
	flag.IntVar(&o.switchN, "switch", 200, "sequential dry-runs on distinct idle processes (switch phase)")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one, removed unless -keep)")
	flag.StringVar(&o.jsonPath, "json", "", "write the raw results here")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.BoolVar(&o.rsa, "rsa", false, "sign the processes' items with an RSA-4096 wallet (default: ED25519, faster)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write this process's CPU profile of the load phase here (the clients, gateway and SU)")
	var env string
	flag.StringVar(&env, "env", "", "extra aocu env, comma-separated K=V")
	flag.Parse()
	if env != "" {
		o.env = strings.Split(env, ",")
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(o); err != nil {
		log.Fatal("scalebench: ", err)
	}
}

// Result is what the bench measured.
type Result struct {
	Started     time.Time      `json:"started"`
	Config      map[string]any `json:"config"`
	Machine     map[string]any `json:"machine"`
	CreateS     float64        `json:"create_s"` // signing and posting every process and its messages
	CreateItemS float64        `json:"create_items_per_s"`
	WarmS       float64        `json:"warm_s"` // first evaluation of every process (GET /result of its last Set)
	Switch      Latency        `json:"switch_idle"`
	Live        Latency        `json:"same_live"`
	Load        LoadResult     `json:"load"`
	PeakRSSkB   int64          `json:"peak_rss_kb"` // sampled every 100 ms until SIGTERM
	// PeakRSSShutdownkB is the kernel's peak, the SIGTERM checkpoints included.
	PeakRSSShutdownkB int64 `json:"peak_rss_kb_with_shutdown"`
	CUDiskBytes       int64 `json:"cu_disk_bytes"`
	CUDisk            map[string]int64
	StopS             float64 `json:"sigterm_s"`
	Wrong             int64   `json:"wrong_answers"`
	WrongFirst        string  `json:"wrong_first,omitempty"`
	Load1             [2]float64
}

// Latency summarises a series.
type Latency struct {
	N        int     `json:"n"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	PerSec   float64 `json:"per_s"`
	Failures int     `json:"failures"`
}

// LoadResult is the load phase.
type LoadResult struct {
	DryRuns  Latency `json:"dry_runs"`
	Messages Latency `json:"messages"`
	Seconds  float64 `json:"seconds"`
	// CUCPUSeconds is the CPU time aocu used in the load phase (user +
	// system, its background work included): on a shared machine a steadier
	// figure than the throughput. CUCPUPerOpMs divides it by the operations.
	CUCPUSeconds float64 `json:"cu_cpu_seconds"`
	CUCPUPerOpMs float64 `json:"cu_cpu_per_op_ms"`
	// BenchCPUSeconds is the CPU time of this process (the clients, the
	// gateway and the SU) in the load phase: the rest of the machine's.
	BenchCPUSeconds float64 `json:"bench_cpu_seconds"`
}

func summarise(ds []time.Duration, over time.Duration, failures int) Latency {
	l := Latency{N: len(ds), Failures: failures}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	l.P50, l.P99, l.Max = ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)]), ms(ds[len(ds)-1])
	if over > 0 {
		l.PerSec = float64(len(ds)) / over.Seconds()
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type proc struct {
	pid  string
	last string // the last Set's id
	mu   sync.Mutex
	upd  int // the value of key "upd" confirmed by the last message (0: none)
	// confirmed is upd for the dry-runs, which do not take mu; posting is
	// the value of a Set being posted (then upd+1), or upd.
	confirmed, posting atomic.Int64
}

func value(i, j int) string { return fmt.Sprintf("v-%d-%d-%s", i, j, strings.Repeat("x", 24)) }

type bench struct {
	o      options
	net    *localNet
	client *http.Client
	cuURL  string
	procs  []*proc
	wrong  atomic.Int64
	first  atomic.Pointer[string]
	nonce  atomic.Int64
}

func (b *bench) wrongAnswer(format string, a ...any) {
	b.wrong.Add(1)
	s := fmt.Sprintf(format, a...)
	b.first.CompareAndSwap(nil, &s)
}

func run(o options) (err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "scalebench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(o.dir)
		}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	res := &Result{Started: time.Now(), Machine: map[string]any{"num_cpu": runtime.NumCPU()},
		Config: map[string]any{"n": o.n, "sets": o.sets, "clients": o.clients, "duration_s": o.duration.Seconds(), "msg_every": o.msgEvery, "module": filepath.Base(o.module), "extra_env": o.env}}
	if o.aocu, err = filepath.Abs(o.aocu); err != nil {
		return err
	}
	wasm, err := os.ReadFile(o.module)
	if err != nil {
		return err
	}
	ws := make([]*arweave.Wallet, 3)
	for i := range ws {
		if ws[i], err = arweave.GenerateWallet(); err != nil {
			return err
		}
	}
	var user signer = ws[0]
	if !o.rsa {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return err
		}
		user = arweave.ED25519Signer{Key: ed25519.NewKeyFromSeed(seed[:])}
	}
	suW, cuW := ws[1], ws[2]
	walletFile := filepath.Join(o.dir, "cu-wallet.json")
	if err := os.WriteFile(walletFile, cuW.JWK(), 0o600); err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 5 * time.Minute}}
	defer client.CloseIdleConnections()
	ln, err := startNet(ctx, o.dir, suW, user, client)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := ln.publishModule(ctx, wasm, o.format); err != nil {
		return err
	}
	b := &bench{o: o, net: ln, client: client}

	// 1. Create the processes: spawn, Eval, Sets, posted to the SU in parallel.
	log.Printf("creating %d processes (spawn, Eval, %d Sets each) with %d workers", o.n, o.sets, o.createWorkers)
	start := time.Now()
	if err := b.create(ctx); err != nil {
		return err
	}
	res.CreateS = time.Since(start).Seconds()
	res.CreateItemS = float64(o.n*(2+o.sets)) / res.CreateS
	log.Printf("created in %.1f s (%.0f items/s)", res.CreateS, res.CreateItemS)

	// 2. Start aocu serve at its defaults.
	env := append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + filepath.Join(o.dir, "tmp"), "TZ=UTC",
		"GATEWAY_URL=" + ln.gwURL, "DB_URL=" + filepath.Join(o.dir, "cu", "ao-cache"), "WALLET_FILE=" + walletFile,
		"PROCESS_MEMORY_CACHE_FILE_DIR=" + filepath.Join(o.dir, "cu", "memory"),
		"WASM_BINARY_FILE_DIRECTORY=" + filepath.Join(o.dir, "cu", "wasm"),
		"RATE_LIMIT_MAX_REQUESTS=0", "DEFAULT_LOG_LEVEL=warn",
	}, o.env...)
	res.Config["aocu_env"] = env
	for _, d := range []string{"tmp", "cu"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return err
		}
	}
	cu, err := startCU(o.aocu, o.dir, env, filepath.Join(o.dir, "aocu.log"))
	if err != nil {
		return err
	}
	defer cu.kill()
	b.cuURL = cu.url
	if err := cu.waitReady(ctx, client, time.Minute); err != nil {
		return err
	}
	samp := &sampler{pid: cu.cmd.Process.Pid}
	sctx, stopSamp := context.WithCancel(ctx)
	var sampWG sync.WaitGroup
	sampWG.Go(func() { procstat.Every(sctx, 100*time.Millisecond, samp.sample) })
	defer func() { stopSamp(); sampWG.Wait() }()

	// 3. Evaluate every process once (its last Set's result).
	log.Printf("first evaluation of every process (%d workers)", o.warmWorkers)
	start = time.Now()
	if err := b.warm(ctx); err != nil {
		return err
	}
	res.WarmS = time.Since(start).Seconds()
	log.Printf("evaluated in %.1f s", res.WarmS)

	// 4. Switching: one client, dry-runs on distinct processes (idle: only
	// WASM_INSTANCE_CACHE_MAX_SIZE are live), against dry-runs on one live
	// process.
	res.Switch, res.Live = b.switching(ctx)
	log.Printf("switch to an idle process: p50 %.1f ms p99 %.1f ms; same live process: p50 %.1f ms", res.Switch.P50, res.Switch.P99, res.Live.P50)

	// 5. Load: clients dry-running and messaging random processes.
	log.Printf("load: %d clients for %v", o.clients, o.duration)
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	cpu0, err0 := procstat.CPU(cu.cmd.Process.Pid)
	own0, ownErr0 := procstat.CPU(os.Getpid())
	res.Load = b.load(ctx)
	if cpu1, err1 := procstat.CPU(cu.cmd.Process.Pid); err0 == nil && err1 == nil {
		res.Load.CUCPUSeconds = (cpu1 - cpu0).Seconds()
	}
	if own1, err1 := procstat.CPU(os.Getpid()); ownErr0 == nil && err1 == nil {
		res.Load.BenchCPUSeconds = (own1 - own0).Seconds()
	}
	stopProfile()
	if n := res.Load.DryRuns.N + res.Load.Messages.N; n > 0 {
		res.Load.CUCPUPerOpMs = res.Load.CUCPUSeconds * 1000 / float64(n)
	}
	log.Printf("load: %.0f dry-runs/s p50 %.1f ms p99 %.1f ms; %.1f messages/s p50 %.1f ms p99 %.1f ms",
		res.Load.DryRuns.PerSec, res.Load.DryRuns.P50, res.Load.DryRuns.P99, res.Load.Messages.PerSec, res.Load.Messages.P50, res.Load.Messages.P99)
	b.verifyUpdates(ctx)

	res.CUDisk = map[string]int64{}
	for _, d := range []string{"cu/ao-cache", "cu/memory", "cu/wasm", "tmp"} {
		n := duBytes(filepath.Join(o.dir, d))
		res.CUDisk[d] = n
		res.CUDiskBytes += n
	}
	// Also the SQLite files beside the DB path (-wal, -shm).
	if m, _ := filepath.Glob(filepath.Join(o.dir, "cu", "ao-cache*")); len(m) > 0 {
		res.CUDiskBytes -= res.CUDisk["cu/ao-cache"]
		res.CUDisk["cu/ao-cache"] = 0
		for _, f := range m {
			res.CUDisk["cu/ao-cache"] += duBytes(f)
		}
		res.CUDiskBytes += res.CUDisk["cu/ao-cache"]
	}
	res.PeakRSSkB = samp.peak()
	start = time.Now()
	res.PeakRSSShutdownkB = cu.stop()
	res.StopS = time.Since(start).Seconds()
	res.Wrong = b.wrong.Load()
	if f := b.first.Load(); f != nil {
		res.WrongFirst = *f
	}
	res.Load1 = samp.loadRange()
	out, _ := json.MarshalIndent(res, "", "  ")
	if o.jsonPath != "" {
		if err := os.WriteFile(o.jsonPath, append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	report(os.Stdout, res, o)
	if res.Wrong > 0 {
		return fmt.Errorf("%d wrong answers (first: %s)", res.Wrong, res.WrongFirst)
	}
	if res.Load.DryRuns.Failures > 0 || res.Load.Messages.Failures > 0 || res.Switch.Failures > 0 {
		return fmt.Errorf("failed requests: %d dry-runs, %d messages, %d switches", res.Load.DryRuns.Failures, res.Load.Messages.Failures, res.Switch.Failures)
	}
	return nil
}

// create posts every process's spawn, Eval and Sets to the SU.
func (b *bench) create(ctx context.Context) error {
	b.procs = make([]*proc, b.o.n)
	jobs := make(chan int)
	errs := make(chan error, b.o.createWorkers)
	var done atomic.Int64
	var wg sync.WaitGroup
	for range b.o.createWorkers {
		wg.Go(func() {
			for i := range jobs {
				p, err := b.createOne(ctx, i)
				if err != nil {
					errs <- fmt.Errorf("process %d: %w", i, err)
					return
				}
				b.procs[i] = p
				if d := done.Add(1); d%200 == 0 {
					log.Printf("created %d/%d", d, b.o.n)
				}
			}
		})
	}
	var err error
feed:
	for i := range b.o.n {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func (b *bench) createOne(ctx context.Context, i int) (*proc, error) {
	pid, err := b.net.spawn(ctx, "scale-"+strconv.Itoa(i))
	if err != nil {
		return nil, err
	}
	if _, err := b.net.message(ctx, pid, benchnet.KVCode, "Action", "Eval"); err != nil {
		return nil, err
	}
	p := &proc{pid: pid}
	for j := 1; j <= b.o.sets; j++ {
		if p.last, err = b.net.message(ctx, pid, value(i, j), "Action", "Set", "Key", "k"+strconv.Itoa(j)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

type aoMessage struct {
	Data json.RawMessage `json:"Data"`
	Tags []struct{ Name, Value string }
}

type aoResult struct {
	Messages []aoMessage     `json:"Messages"`
	Error    json.RawMessage `json:"Error"`
}

func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// call does one request to aocu and decodes its result.
func (b *bench) call(ctx context.Context, method, path string, body []byte) (aoResult, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, b.cuURL+path, rd)
	if err != nil {
		return aoResult{}, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return aoResult{}, 0, err
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return aoResult{}, took, err
	}
	if resp.StatusCode != http.StatusOK {
		return aoResult{}, took, fmt.Errorf("%s %s: %d %.300s", method, path, resp.StatusCode, out)
	}
	var r aoResult
	if err := json.Unmarshal(out, &r); err != nil {
		return aoResult{}, took, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return r, took, nil
}

// replyData is the Data of the result's reply message (msg.reply).
func replyData(r aoResult) (string, bool) {
	if len(r.Messages) != 1 {
		return "", false
	}
	return str(r.Messages[0].Data), true
}

// warm reads each process's last Set result: its first evaluation.
func (b *bench) warm(ctx context.Context) error {
	jobs := make(chan *proc)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	var done atomic.Int64
	for range b.o.warmWorkers {
		wg.Go(func() {
			for p := range jobs {
				r, _, err := b.call(ctx, http.MethodGet, "/result/"+p.last+"?process-id="+p.pid, nil)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				if d, ok := replyData(r); !ok || d != "OK" {
					b.wrongAnswer("first evaluation of %s: reply %q", p.pid, d)
				}
				if d := done.Add(1); d%200 == 0 {
					log.Printf("evaluated %d/%d", d, b.o.n)
				}
			}
		})
	}
	for _, p := range b.procs {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return *e
	}
	return nil
}

// dryRun asks process i for key k<j> (j = 0: key "upd") and checks the answer.
func (b *bench) dryRun(ctx context.Context, i, j int) (time.Duration, error) {
	p := b.procs[i]
	key := "upd"
	if j > 0 {
		key = "k" + strconv.Itoa(j)
	}
	body, _ := json.Marshal(map[string]any{"Id": "scalebench-dry-run", "Target": p.pid, "Owner": b.net.user.Address(), "Data": "",
		"Tags": []map[string]string{{"name": "Action", "value": "Get"}, {"name": "Key", "value": key},
			{"name": "Nonce-Bench", "value": strconv.FormatInt(b.nonce.Add(1), 10)}}})
	r, took, err := b.call(ctx, http.MethodPost, "/dry-run?process-id="+p.pid, body)
	if err != nil {
		return took, err
	}
	got, ok := replyData(r)
	want, alt := "", ""
	if j > 0 {
		want = value(i, j)
	} else {
		if upd := p.confirmed.Load(); upd > 0 {
			want = "u-" + strconv.FormatInt(upd, 10)
		}
		// A Set being posted may already be on the SU, so in the state the
		// dry-run was computed on: its value is right too.
		if posting := p.posting.Load(); posting > 0 {
			alt = "u-" + strconv.FormatInt(posting, 10)
		}
	}
	if !ok || (got != want && (alt == "" || got != alt)) {
		b.wrongAnswer("dry-run %s %s: %q, want %q", p.pid, key, got, want)
	}
	return took, nil
}

// message sets key "upd" of process i to a new value and checks the result.
func (b *bench) message(ctx context.Context, i int) (time.Duration, error) {
	p := b.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	v := p.upd + 1
	p.posting.Store(int64(v))
	id, err := b.net.message(ctx, p.pid, "u-"+strconv.Itoa(v), "Action", "Set", "Key", "upd")
	if err != nil {
		return 0, err
	}
	p.upd = v // the SU holds it: the process computes it, answered or not
	p.confirmed.Store(int64(v))
	r, _, err := b.call(ctx, http.MethodGet, "/result/"+id+"?process-id="+p.pid, nil)
	if err != nil {
		return time.Since(start), err
	}
	if d, ok := replyData(r); !ok || d != "OK" {
		b.wrongAnswer("message to %s: reply %q", p.pid, d)
	}
	return time.Since(start), nil
}

// switching measures a dry-run on a process that is not live against one on
// a live process.
func (b *bench) switching(ctx context.Context) (idle, live Latency) {
	n := min(b.o.switchN, len(b.procs))
	order := rand.Perm(len(b.procs))[:n]
	var ds []time.Duration
	fails := 0
	start := time.Now()
	for k, i := range order {
		d, err := b.dryRun(ctx, i, 1+k%b.o.sets)
		if err != nil {
			fails++
			continue
		}
		ds = append(ds, d)
	}
	idle = summarise(ds, time.Since(start), fails)
	ds, fails = nil, 0
	start = time.Now()
	for k := range n {
		d, err := b.dryRun(ctx, order[0], 1+k%b.o.sets)
		if err != nil {
			fails++
			continue
		}
		ds = append(ds, d)
	}
	return idle, summarise(ds, time.Since(start), fails)
}

// load runs the clients for the duration.
func (b *bench) load(ctx context.Context) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, b.o.duration)
	defer cancel()
	var mu sync.Mutex
	var drys, msgs []time.Duration
	dryFails, msgFails := 0, 0
	var wg sync.WaitGroup
	start := time.Now()
	for c := range b.o.clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for k := 0; ctx.Err() == nil; k++ {
				i := r.IntN(len(b.procs))
				if b.o.msgEvery > 0 && r.IntN(b.o.msgEvery) == 0 {
					d, err := b.message(ctx, i)
					mu.Lock()
					if err != nil {
						if ctx.Err() == nil {
							msgFails++
							log.Printf("message: %v", err)
						}
					} else {
						msgs = append(msgs, d)
					}
					mu.Unlock()
					continue
				}
				d, err := b.dryRun(ctx, i, 1+r.IntN(b.o.sets))
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						dryFails++
						log.Printf("dry-run: %v", err)
					}
				} else {
					drys = append(drys, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	return LoadResult{DryRuns: summarise(drys, took, dryFails), Messages: summarise(msgs, took, msgFails), Seconds: took.Seconds()}
}

// verifyUpdates dry-runs key "upd" of every messaged process: the last
// confirmed value.
func (b *bench) verifyUpdates(ctx context.Context) {
	n := 0
	for i, p := range b.procs {
		if p.upd == 0 || n >= 200 {
			continue
		}
		n++
		if _, err := b.dryRun(ctx, i, 0); err != nil {
			b.wrongAnswer("verify %s: %v", p.pid, err)
		}
	}
	log.Printf("verified the last update of %d messaged processes", n)
}

func duBytes(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				if s, ok := info.Sys().(*syscall.Stat_t); ok {
					n += s.Blocks * 512 // allocated, not apparent: sparse files count what they use
				} else {
					n += info.Size()
				}
			}
		}
		return nil
	})
	return n
}

// cuProc is the `aocu serve` process.
type cuProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  string
}

func startCU(bin, dir string, env []string, logPath string) (*cuProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), env...), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &cuProc{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *cuProc) waitReady(ctx context.Context, client *http.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errors.New("aocu exited before answering GET /; see " + p.log)
		case <-ctx.Done():
			return fmt.Errorf("aocu did not answer at %s: %w", p.url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits for the exit and returns the peak RSS (kB) the
// kernel recorded.
func (p *cuProc) stop() int64 {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if st := p.cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			return ru.Maxrss
		}
	}
	return 0
}

func (p *cuProc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// sampler follows aocu's VmRSS and the load average.
type sampler struct {
	mu       sync.Mutex
	pid      int
	peakRSS  int64
	min, max float64
}

func (s *sampler) sample() {
	rss, _, _ := procstat.Mem(s.pid)
	load := procstat.LoadAvg()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakRSS = max(s.peakRSS, rss)
	if load >= 0 {
		if s.min == 0 || load < s.min {
			s.min = load
		}
		s.max = max(s.max, load)
	}
}

func (s *sampler) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRSS
}

func (s *sampler) loadRange() [2]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [2]float64{s.min, s.max}
}

func report(w io.Writer, r *Result, o options) {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
	fmt.Fprintf(w, "\nscalebench: %d aos processes (%s), %d Sets each, %d clients for %v (1 op in %d a message), aocu defaults. %d CPUs, load average %.1f–%.1f.\n\n",
		o.n, filepath.Base(o.module), o.sets, o.clients, o.duration, o.msgEvery, runtime.NumCPU(), r.Load1[0], r.Load1[1])
	fmt.Fprintf(w, "| figure | value |\n| --- | --- |\n")
	fmt.Fprintf(w, "| create (spawn + Eval + Sets posted to the SU) | %.1f s (%.0f items/s) |\n", r.CreateS, r.CreateItemS)
	fmt.Fprintf(w, "| first evaluation of every process | %.1f s (%.1f ms per process) |\n", r.WarmS, r.WarmS*1000/float64(o.n))
	fmt.Fprintf(w, "| dry-run switching to an idle process (1 client) | p50 %.1f ms, p99 %.1f ms |\n", r.Switch.P50, r.Switch.P99)
	fmt.Fprintf(w, "| dry-run on the same live process (1 client) | p50 %.1f ms, p99 %.1f ms |\n", r.Live.P50, r.Live.P99)
	fmt.Fprintf(w, "| load: dry-runs | %.0f /s, p50 %.1f ms, p99 %.1f ms (%d, %d failed) |\n", r.Load.DryRuns.PerSec, r.Load.DryRuns.P50, r.Load.DryRuns.P99, r.Load.DryRuns.N, r.Load.DryRuns.Failures)
	fmt.Fprintf(w, "| load: aocu CPU time (user + system) | %.1f s in %.0f s, %.1f ms per operation |\n", r.Load.CUCPUSeconds, r.Load.Seconds, r.Load.CUCPUPerOpMs)
	fmt.Fprintf(w, "| load: the bench's CPU time (clients, gateway, SU) | %.1f s |\n", r.Load.BenchCPUSeconds)
	fmt.Fprintf(w, "| load: messages (SU post + GET /result) | %.1f /s, p50 %.1f ms, p99 %.1f ms (%d, %d failed) |\n", r.Load.Messages.PerSec, r.Load.Messages.P50, r.Load.Messages.P99, r.Load.Messages.N, r.Load.Messages.Failures)
	fmt.Fprintf(w, "| aocu peak RSS (until SIGTERM; with the shutdown's checkpoints) | %s (%s) |\n", mb(r.PeakRSSkB*1024), mb(r.PeakRSSShutdownkB*1024))
	fmt.Fprintf(w, "| aocu disk (DB, memory files, modules) | %s %v |\n", mb(r.CUDiskBytes), r.CUDisk)
	fmt.Fprintf(w, "| SIGTERM to exit | %.1f s |\n", r.StopS)
	fmt.Fprintf(w, "| wrong answers | %d |\n", r.Wrong)
}

// startCPUProfile profiles this process into path until stop (nothing when
// path is empty).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Printf("cpu profile: %v", err)
		}
	}, nil
}
