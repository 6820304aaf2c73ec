// Command cubench measures `aocu serve` the way the reference CU was measured
// on this machine (research/ref-cu-bench.md), so that the two compare.
//
// It starts the repository's local gateway and SU in this process on
// loopback HTTP, publishes an aos module with the reference bench's module
// tags, spawns a process and posts the stream (the process message, an Eval
// installing Set/Get KV handlers, then N alternating Set/Get messages, all
// signed by the process owner, timestamps T0 + nonce·1000 ms). Then it runs
// aocu serve as a separate process, configured only by environment
// variables, and times the phases of the reference bench: cold (a fresh DB
// evaluates the whole stream), hot, repeat, dry-runs (sequential unique,
// identical, concurrent), /state, and a cold restart on the same DB. It
// samples aocu's VmRSS/VmHWM every 200 ms, checks every answer like the
// reference bench does, prints a markdown table against the reference's
// figures and writes the raw figures as JSON.
//
// With -coldstart it measures instead the time a fresh aocu process takes to
// serve a new message of that process, from nothing, from a file checkpoint
// and from an Arweave checkpoint on the local gateway (see coldstart.go).
//
//	go build -o bin/aocu ./cmd/aocu && go run ./tools/cubench -aocu bin/aocu [-n 1000] [-module aos2_0_6.wasm] [-coldstart]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/aocu/aocu/internal/procstat"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/arweave"
)

type options struct {
	aocu, module, format      string
	jsonPath, dir, logPath    string
	n, hot, repeat            int
	drySeq, drySame           int
	dryClients, dryPer, state int
	keep, restartKill         bool
	coldstart                 bool
	situations, arweavePrep   string
	ref                       string // the reference CU's install (scripts/oracle.sh), or ""
	refHot                    int
	env                       envFlag
	timeout                   time.Duration
}

type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(s string) error {
	if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	*e = append(*e, s)
	return nil
}

// formats are the Module-Format of the fixture modules, as the e2e tests use
// them.
var formats = map[string]string{
	"aos2_0_6.wasm":    "wasm64-unknown-emscripten-draft_2024_02_15",
	"aos2_0_4_32.wasm": "wasm32-unknown-emscripten-metering",
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("cubench: ")
	var o options
	flag.StringVar(&o.aocu, "aocu", "bin/aocu", "the aocu binary (go build -o bin/aocu ./cmd/aocu)")
	flag.StringVar(&o.module, "module", "aos2_0_6.wasm", "module file, or a name in .fixtures/modules")
	flag.StringVar(&o.format, "format", "", "Module-Format tag (default: known for aos2_0_6.wasm and aos2_0_4_32.wasm)")
	flag.IntVar(&o.n, "n", 1000, "Set/Get messages after the process message and the Eval")
	flag.IntVar(&o.hot, "hot", 50, "hot phase: new messages, each then read with GET /result")
	flag.IntVar(&o.repeat, "repeat", 20, "repeat GETs of an evaluated message")
	flag.IntVar(&o.drySeq, "dry-seq", 100, "sequential dry-runs, unique bodies")
	flag.IntVar(&o.drySame, "dry-same", 50, "sequential dry-runs, one identical body")
	flag.IntVar(&o.dryClients, "dry-clients", 20, "concurrent dry-run clients")
	flag.IntVar(&o.dryPer, "dry-per", 5, "unique dry-runs per concurrent client")
	flag.IntVar(&o.state, "state", 3, "GET /state requests")
	flag.StringVar(&o.jsonPath, "json", "cubench.json", "raw results file")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a temporary one, removed unless -keep or a failure)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (databases, aocu.log)")
	flag.BoolVar(&o.restartKill, "restart-kill", false, "cold-restart: stop aocu with SIGKILL (a crash) instead of SIGTERM")
	flag.Var(&o.env, "env", "extra KEY=VALUE for aocu's environment (repeatable)")
	flag.BoolVar(&o.coldstart, "coldstart", false, "instead of the phases: time a fresh aocu serving a new message from nothing, a file checkpoint, an Arweave checkpoint")
	flag.StringVar(&o.situations, "situations", "cold,file,arweave", "-coldstart: the situations to measure, comma-separated (cold, file, arweave)")
	flag.StringVar(&o.arweavePrep, "arweave-prep", "file", "-coldstart: the run that uploads the Arweave checkpoint starts from the file checkpoint and evaluates one new message (file), "+
		"or replays the whole stream on a new DB (replay: the checkpoint is then the first one past the threshold, as PROCESS_CHECKPOINT_CREATION_THROTTLE holds back the later ones)")
	flag.StringVar(&o.ref, "ref", "", "the reference CU installed by scripts/oracle.sh (its directory): measured live after aocu's phases, on the same process")
	flag.IntVar(&o.refHot, "ref-hot", 10, "-ref: new messages, sequential dry-runs of the reference CU")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Hour, "give up after this long")
	flag.Parse()
	if flag.NArg() > 0 || o.n < 2 || o.hot < 0 || o.repeat < 0 || o.drySeq < 0 || o.drySame < 0 || o.dryClients < 0 || o.dryPer < 0 || o.state < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if _, err := parseSituations(o.situations); err != nil {
		fmt.Fprintln(os.Stderr, "-situations:", err)
		os.Exit(2)
	}
	if o.arweavePrep != "file" && o.arweavePrep != "replay" {
		fmt.Fprintln(os.Stderr, "-arweave-prep: want file or replay")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	err := run(ctx, o)
	cancel()
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func resolveModule(o *options) error {
	if _, err := os.Stat(o.module); err != nil && !strings.ContainsRune(o.module, os.PathSeparator) {
		o.module = filepath.Join(".fixtures", "modules", o.module)
	}
	if _, err := os.Stat(o.module); err != nil {
		return fmt.Errorf("module: %w (run scripts/fixtures.sh)", err)
	}
	if o.format == "" {
		f, ok := formats[filepath.Base(o.module)]
		if !ok {
			return fmt.Errorf("no known Module-Format for %s: pass -format", o.module)
		}
		o.format = f
	}
	var err error
	if o.aocu, err = filepath.Abs(o.aocu); err != nil {
		return err
	}
	if _, err := os.Stat(o.aocu); err != nil {
		return fmt.Errorf("aocu binary: %w", err)
	}
	return nil
}

// wallets makes the process owner's, the SU's and the CU's RSA wallets.
func wallets() (user, suW, cuW *arweave.Wallet, err error) {
	ws := make([]*arweave.Wallet, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Go(func() { ws[i], errs[i] = arweave.GenerateWallet() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, err
	}
	return ws[0], ws[1], ws[2], nil
}

func machine() map[string]any {
	m := map[string]any{"num_cpu": runtime.NumCPU(), "go": runtime.Version(), "goos": runtime.GOOS, "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			m["mem_total"] = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return m
}

func run(ctx context.Context, o options) (err error) {
	if err := resolveModule(&o); err != nil {
		return err
	}
	wasm, err := os.ReadFile(o.module)
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "cubench-"); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		defer func() {
			if err == nil && !o.keep {
				os.RemoveAll(o.dir)
			} else {
				log.Printf("work directory kept: %s", o.dir)
			}
		}()
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	o.logPath = filepath.Join(o.dir, "aocu.log")
	for _, d := range []string{"cu", "tmp"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
	}

	res := &Result{Started: time.Now().UTC(), Machine: machine(), Config: map[string]any{
		"n": o.n, "module": filepath.Base(o.module), "format": o.format, "aocu": o.aocu, "hot": o.hot, "repeat": o.repeat,
		"dry_seq": o.drySeq, "dry_same": o.drySame, "dry_clients": o.dryClients, "dry_per": o.dryPer, "state": o.state,
		"extra_env": []string(o.env), "dir": o.dir, "restart_kill": o.restartKill,
	}}
	if o.coldstart {
		res.Config = map[string]any{"n": o.n, "module": filepath.Base(o.module), "format": o.format, "aocu": o.aocu,
			"coldstart": true, "situations": o.situations, "arweave_prep": o.arweavePrep, "extra_env": []string(o.env), "dir": o.dir}
	}
	samp := newSampler()
	sctx, stopSampler := context.WithCancel(ctx)
	var sampWG sync.WaitGroup
	sampWG.Go(func() { procstat.Every(sctx, 200*time.Millisecond, samp.sample) })
	defer func() {
		stopSampler()
		sampWG.Wait()
		res.Load1 = samp.loadRange()
		res.DurationSec = time.Since(res.Started).Seconds()
		if err != nil {
			res.Error = err.Error()
		}
		if werr := writeJSON(o.jsonPath, res); werr != nil {
			err = errors.Join(err, werr)
		}
		report(res, o)
		if err == nil {
			if f := res.failed(); len(f) > 0 {
				err = fmt.Errorf("%d correctness checks failed", len(f))
			}
		}
	}()

	log.Printf("generating wallets")
	user, suW, cuW, err := wallets()
	if err != nil {
		return err
	}
	walletFile := filepath.Join(o.dir, "cu-wallet.json")
	if err := os.WriteFile(walletFile, cuW.JWK(), 0o600); err != nil {
		return fmt.Errorf("wallet file: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Minute,
		DisableCompression: true, // as the reference bench's node:http client: no Accept-Encoding
	}}
	defer client.CloseIdleConnections()

	// Every timestamp is in the recent past: the last message (the restart
	// phase's) is about a minute before now.
	total := o.n + 2 + o.hot + 1
	if o.coldstart {
		total = o.n + 2 + coldStartPosts
	}
	t0 := time.Now().Truncate(time.Second).Add(-time.Duration(total+60) * time.Second)
	ln, err := startNet(ctx, o.dir, t0, suW, user, client)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := ln.publishModule(ctx, wasm, o.format); err != nil {
		return err
	}
	log.Printf("seeding: process, Eval and %d Set/Get messages to the SU at %s", o.n, ln.suURL)
	seedStart := time.Now()
	evalID, lastID, err := ln.seed(ctx, o.n, func(done int) { log.Printf("seeding: %d/%d", done, o.n) })
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	res.SeedMs = ms(time.Since(seedStart))
	res.Config["process"], res.Config["module_id"] = ln.pid, ln.module

	if o.coldstart {
		cs := &coldStart{o: o, net: ln, client: client, samp: samp, res: res, walletFile: walletFile, ops: o.n, lastID: lastID}
		return cs.run(ctx)
	}

	env := append(cuEnv(ln.gwURL, walletFile, o.dir), o.env...)
	res.Config["aocu_env"] = env

	log.Printf("starting %s serve (log %s)", o.aocu, o.logPath)
	start := time.Now()
	cu, err := startCU(o.aocu, o.dir, env, o.logPath)
	if err != nil {
		return err
	}
	b := &bench{o: o, net: ln, cu: cu, env: env, client: client, samp: samp, res: res, walletFile: walletFile,
		evalID: evalID, coldLast: lastID, ops: o.n, lastID: lastID}
	defer func() {
		usage, _, serr := b.cu.stop(syscall.SIGTERM, time.Minute)
		if serr != nil {
			err = errors.Join(err, serr)
			return
		}
		res.Processes = append(res.Processes, usage)
	}()
	samp.watch(cu.pid())
	if err := cu.waitReady(ctx, client, time.Minute); err != nil {
		return err
	}
	res.StartupMs = ms(time.Since(start))

	for _, phase := range []func(context.Context) error{b.cold, b.baseline, b.hot, b.dry, b.state, b.restart, b.refCU} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	return nil
}

// cuEnv is aocu's environment with its data (DB, memory files, module
// binaries, temporary files) under dir/cu and dir/tmp.
func cuEnv(gwURL, walletFile, dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"TZ=UTC",
		"GATEWAY_URL=" + gwURL,
		"DB_URL=" + filepath.Join(dir, "cu", "ao-cache"),
		"WALLET_FILE=" + walletFile,
		"PROCESS_MEMORY_CACHE_FILE_DIR=" + filepath.Join(dir, "cu", "memory"),
		"WASM_BINARY_FILE_DIRECTORY=" + filepath.Join(dir, "cu", "wasm"),
		"RATE_LIMIT_MAX_REQUESTS=0",
		"DEFAULT_LOG_LEVEL=info",
	}
}

func writeJSON(path string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	log.Printf("raw results in %s", path)
	return nil
}

// report prints the table and the checks on stdout.
func report(res *Result, o options) {
	w := os.Stdout
	if o.coldstart {
		reportColdStart(w, res, o)
		return
	}
	fmt.Fprintf(w, "\n`aocu serve` (%s, %s) against the reference CU (research/ref-cu-bench.md, WORKERS=1 column). "+
		"Stream: process + Eval + %d Set/Get messages, module %s (%s). Machine: %v CPUs, %v. "+
		"Load average (1 min) during the run: %.2f–%.2f. Started %s, %.0f s in all.\n\n",
		filepath.Base(o.aocu), "separate process, env config only", o.n, filepath.Base(o.module), o.format,
		res.Machine["num_cpu"], res.Machine["cpu"], res.Load1[0], res.Load1[1], res.Started.Format(time.RFC3339), res.DurationSec)
	if filepath.Base(o.module) != "aos2_0_6.wasm" {
		fmt.Fprintf(w, "The reference figures are for aos2_0_6.wasm (wasm64); the reference CU was not measured with %s.\n", filepath.Base(o.module))
	}
	fmt.Fprintln(w, "Ratio = reference / aocu: above 1 means aocu is faster (or smaller); on the (rate) rows, msg/s and req/s, below 1 means aocu is faster.")
	fmt.Fprintln(w)
	res.table(w, o.n)
	res.sameRun(w)
	res.goals(w)
	fmt.Fprintln(w)
	for _, c := range res.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAILED: " + c.Error
		}
		fmt.Fprintf(w, "- check %s: %s\n", c.Name, mark)
	}
	if res.Error != "" {
		fmt.Fprintf(w, "- run stopped early: %s\n", res.Error)
	}
}
