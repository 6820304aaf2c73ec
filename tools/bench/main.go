// Command bench is aocu's side of scripts/bench.sh: it times the loader on
// the scenario files of tools/refloader/scenarios exactly as bench.cjs times
// the reference loader, and prints one JSON object.
//
//	go run ./tools/bench --module M.wasm --format F --env ENV.json --scenario DIR [--skip N] [--limit N] [--cpuprofile FILE]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/loader"
)

type report struct {
	Impl            string    `json:"impl"`
	Module          string    `json:"module"`
	CompileMs       float64   `json:"compileMs"`
	CachedCompileMs float64   `json:"cachedCompileMs,omitempty"`
	Tier            string    `json:"tier"`
	InstantiateMs   float64   `json:"instantiateMs"`
	SetupMs         []float64 `json:"setupMs"`
	Messages        int       `json:"messages"`
	MeanMs          float64   `json:"meanMs"`
	MedianMs        float64   `json:"medianMs"`
	P99Ms           float64   `json:"p99Ms"`
	MaxMs           float64   `json:"maxMs"`
	Top10Ms         float64   `json:"top10SumMs"`
	MemoryBytes     int       `json:"memoryBytes"`
	Snapshots       int       `json:"snapshots"`
	SnapshotMs      float64   `json:"snapshotMs"`
	// CPUMeanMs is the process's CPU time (user + system, all threads) over
	// the measured messages, per message: less disturbed than wall time on a
	// loaded machine.
	CPUMeanMs float64 `json:"cpuMeanMs"`
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func main() {
	module := flag.String("module", "", "wasm file")
	format := flag.String("format", "", "Module-Format")
	envPath := flag.String("env", "", "env JSON")
	dir := flag.String("scenario", "", "scenario directory")
	skip := flag.Int("skip", 2, "setup messages (timed individually)")
	limit := flag.Int("limit", 0, "measured messages (0: all)")
	// bench.cjs drives @permaweb/ao-loader 0.0.49: compare like with like.
	loaderVersion := flag.String("loader-version", loader.LoaderVersion049, "@permaweb/ao-loader version to compute like")
	thisProgram := flag.String("this-program", loader.DefaultThisProgram, "the glue's thisProgram (process.argv[1])")
	tierName := flag.String("tier", os.Getenv(loader.TierEnv), "the code modules run as: cranelift or aot (see aocu eval --tier)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measured messages to this file (go tool pprof)")
	flag.Parse()
	tier, err := loader.ParseTier(*tierName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ecfg := loader.EngineConfig{LoaderVersion: *loaderVersion, ThisProgram: *thisProgram, Tier: tier}
	if tier == loader.TierAOT {
		ecfg.AOT = loader.AOTToolchain("", func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...) })
	}
	if err := run(*module, *format, *envPath, *dir, *skip, *limit, *cpuProfile, ecfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(module, format, envPath, dir string, skip, limit int, cpuProfile string, ecfg loader.EngineConfig) error {
	ctx := context.Background()
	wasm, err := os.ReadFile(module)
	if err != nil {
		return err
	}
	envRaw, err := os.ReadFile(envPath)
	if err != nil {
		return err
	}
	env, err := jsjson.Normalize(envRaw)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "messages.jsonl"))
	if err != nil {
		return err
	}
	var msgs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			msgs = append(msgs, append([]byte(nil), l...))
		}
	}
	if limit > 0 && len(msgs) > skip+limit {
		msgs = msgs[:skip+limit]
	}
	rep := report{Impl: "aocu", Module: filepath.Base(module)}

	cache, err := os.MkdirTemp("", "aocu-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	ecfg.CacheDir = cache
	eng, err := loader.NewEngine(ecfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	_, st, err := eng.Compile(ctx, wasm, loader.Format(format))
	if err != nil {
		return err
	}
	rep.CompileMs = ms(st.Duration)
	mod, st, err := eng.Compile(ctx, wasm, loader.Format(format))
	if err != nil {
		return err
	}
	rep.Tier = string(st.Tier)
	if st.TierReason != "" {
		fmt.Fprintf(os.Stderr, "bench: the module runs on %s: %s\n", st.Tier, st.TierReason)
	}
	if st.FromCache {
		rep.CachedCompileMs = ms(st.Duration)
	}
	t := time.Now()
	p, err := mod.NewProcess(ctx, loader.ProcessOptions{})
	if err != nil {
		return err
	}
	defer p.Close()
	rep.InstantiateMs = ms(time.Since(t))
	var times []float64
	var cpu0 time.Duration
	for i, m := range msgs {
		if i == skip {
			cpu0 = cpuTime()
		}
		if i == skip && cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
			defer pprof.StopCPUProfile()
		}
		t := time.Now()
		r, err := p.Handle(ctx, m, env)
		d := ms(time.Since(t))
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if r.Failed() {
			return fmt.Errorf("message %d failed: %s", i, r.Error)
		}
		if i < skip {
			rep.SetupMs = append(rep.SetupMs, d)
		} else {
			times = append(times, d)
		}
	}
	rep.Messages = len(times)
	if len(times) > 0 {
		rep.CPUMeanMs = round3(ms(cpuTime()-cpu0) / float64(len(times)))
		sum := 0.0
		for _, x := range times {
			sum += x
		}
		sort.Float64s(times)
		rep.MeanMs = round3(sum / float64(len(times)))
		rep.MedianMs = times[len(times)/2]
		rep.P99Ms = times[min(len(times)-1, len(times)*99/100)]
		rep.MaxMs = times[len(times)-1]
		for _, x := range times[max(0, len(times)-10):] {
			rep.Top10Ms += x
		}
	}
	rep.MemoryBytes = len(p.Memory())
	rep.Snapshots, rep.SnapshotMs = p.Stats().Snapshots, ms(p.Stats().SnapshotTime)
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
