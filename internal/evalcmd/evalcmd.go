// Package evalcmd implements `aocu eval`: run an ao module on a stream of
// messages from the shell, with the reference CU's state semantics, and print
// one result line per message.
package evalcmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/loader"
	"github.com/aocu/aocu/internal/weavedrive"
)

// Usage is the synopsis printed by --help.
const Usage = `usage: aocu eval --module FILE.wasm --format MODULE-FORMAT --env ENV.json
                 [--memory-in FILE] [--memory-out FILE] [--gateway URL]
                 [--timeout DURATION] [--cache-dir DIR] [--hash=false]
                 [--loader-version 0.0.44|0.0.47|0.0.48|0.0.49] [--this-program PATH]
                 < messages.jsonl > results.jsonl

Runs the module on one JSON message per stdin line, as the reference CU does
with @permaweb/ao-loader --loader-version (default 0.0.44, what the reference
CU's lockfile pins; AO_LOADER_VERSION sets the default), and prints one JSON
result per line: Output, Messages, Spawns, Assignments, Error, Patches (loader
0.0.48+), GasUsed (absent ones absent), MemorySize and MemorySha256 of the
process memory after the message.
After an Error, a rejected handle, a trap, a timeout or a WeaveDrive HALT the
memory is the previous one and the run goes on. Progress goes to stderr.
`

type config struct {
	module, format, env    string
	memoryIn, memoryOut    string
	gateway, cacheDir      string
	timeout                time.Duration
	hash, verbose, quietWD bool
	loaderVersion          string
	thisProgram            string
	tier                   string
}

// envOr returns the environment variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Run executes the command. It returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage, "\nflags:\n"); fs.PrintDefaults() }
	var c config
	fs.StringVar(&c.module, "module", "", "wasm module file (required)")
	fs.StringVar(&c.format, "format", "", "Module-Format, e.g. wasm64-unknown-emscripten-draft_2024_02_15 (required)")
	fs.StringVar(&c.env, "env", "", "JSON file with the env object {\"Process\":{…},\"Module\":{…}} (required)")
	fs.StringVar(&c.memoryIn, "memory-in", "", "start from this memory image (aocu's or the reference loader's)")
	fs.StringVar(&c.memoryOut, "memory-out", "", "write the final memory image here")
	fs.StringVar(&c.gateway, "gateway", "", "Arweave gateway URL(s), comma-separated, for WeaveDrive (/data, /tx, /block)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "wall-clock limit per message (0: none)")
	fs.StringVar(&c.cacheDir, "cache-dir", defaultCacheDir(), "compiled-module cache directory (empty: no cache)")
	fs.BoolVar(&c.hash, "hash", true, "compute MemorySha256 after every message")
	fs.StringVar(&c.loaderVersion, "loader-version", envOr("AO_LOADER_VERSION", loader.DefaultLoaderVersion),
		"@permaweb/ao-loader version to compute like: 0.0.44 (the reference CU's), 0.0.47, 0.0.48 or 0.0.49 (default from AO_LOADER_VERSION)")
	fs.StringVar(&c.thisProgram, "this-program", envOr("AO_LOADER_THIS_PROGRAM", loader.DefaultThisProgram),
		"the glue's thisProgram, process.argv[1] of the reference CU (default from AO_LOADER_THIS_PROGRAM)")
	fs.StringVar(&c.tier, "tier", envOr(loader.TierEnv, string(loader.TierCranelift)),
		"the code modules run as: cranelift (wasmtime) or aot (C compiled ahead of time by wasm2c and cc, cached; needs wasm2c >= 1.0.34 or $AOCU_WASM2C, and a C compiler)")
	fs.BoolVar(&c.verbose, "v", false, "log per-message timings and module output to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if c.module == "" || c.format == "" || c.env == "" {
		fmt.Fprintln(stderr, "aocu eval: --module, --format and --env are required")
		fs.Usage()
		return 2
	}
	if err := loader.CheckLoaderVersion(c.loaderVersion); err != nil {
		fmt.Fprintln(stderr, "aocu eval: --loader-version:", err)
		return 2
	}
	if err := loader.CheckThisProgram(c.thisProgram); err != nil || c.thisProgram == "" {
		fmt.Fprintln(stderr, "aocu eval: --this-program: must be a non-empty ASCII path:", err)
		return 2
	}
	if _, err := loader.ParseTier(c.tier); err != nil {
		fmt.Fprintln(stderr, "aocu eval: --tier:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aocu eval: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := run(ctx, c, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "aocu eval:", err)
		return 1
	}
	return 0
}

func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "aocu", "modules")
}

func run(ctx context.Context, c config, stdin io.Reader, stdout, stderr io.Writer) error {
	wasm, err := os.ReadFile(c.module)
	if err != nil {
		return fmt.Errorf("read module: %w", err)
	}
	envRaw, err := os.ReadFile(c.env)
	if err != nil {
		return fmt.Errorf("read env: %w", err)
	}
	env, err := jsjson.Normalize(envRaw)
	if err != nil {
		return fmt.Errorf("env %s: %w", c.env, err)
	}
	gas, err := computeLimit(env)
	if err != nil {
		return err
	}
	var memIn []byte
	if c.memoryIn != "" {
		if memIn, err = os.ReadFile(c.memoryIn); err != nil {
			return fmt.Errorf("read memory image: %w", err)
		}
	}
	tier, _ := loader.ParseTier(c.tier) // checked by Run
	ecfg := loader.EngineConfig{CacheDir: c.cacheDir, LoaderVersion: c.loaderVersion, ThisProgram: c.thisProgram, Tier: tier}
	if tier == loader.TierAOT {
		ecfg.AOT = loader.AOTToolchain(c.cacheDir, func(f string, a ...any) { fmt.Fprintf(stderr, "aocu eval: "+f+"\n", a...) })
	}
	eng, err := loader.NewEngine(ecfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	mod, st, err := eng.Compile(ctx, wasm, loader.Format(c.format))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "aocu eval: module %s (%s) ready in %v (cached: %v, tier: %s)\n", filepath.Base(c.module), c.format, st.Duration.Round(time.Millisecond), st.FromCache, st.Tier)
	if st.TierReason != "" {
		fmt.Fprintf(stderr, "aocu eval: the module runs on %s: %s\n", st.Tier, st.TierReason)
	}
	if st.CacheErr != nil {
		fmt.Fprintf(stderr, "aocu eval: warning: could not cache the compiled module: %v\n", st.CacheErr)
	}
	opts := loader.ProcessOptions{Memory: memIn, Timeout: c.timeout, GasLimit: gas}
	if c.verbose {
		opts.Log = func(s string) { fmt.Fprint(stderr, s) }
	}
	if c.gateway != "" {
		opts.Drive, err = weavedrive.NewGateway(c.gateway, nil, weavedrive.Options{})
		if err != nil {
			return err
		}
	}
	proc, err := mod.NewProcess(ctx, opts)
	if err != nil {
		return err
	}
	defer proc.Close()

	out := bufio.NewWriterSize(stdout, 1<<16)
	defer out.Flush()
	in := bufio.NewReaderSize(stdin, 1<<20)
	var n, inputErrors int
	var total time.Duration
	for line := 1; ; line++ {
		raw, rerr := in.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("read stdin: %w", rerr)
		}
		msg := bytes.TrimSpace(raw)
		if len(msg) > 0 {
			n++
			start := time.Now()
			obj := evalLine(ctx, proc, msg, env, line, &inputErrors)
			dur := time.Since(start)
			total += dur
			mem := proc.Memory()
			obj.Number("MemorySize", float64(len(mem)))
			if c.hash {
				sum := sha256.Sum256(mem)
				obj.String("MemorySha256", hex.EncodeToString(sum[:]))
			}
			out.Write(obj.Bytes())
			out.WriteByte('\n')
			if c.verbose {
				fmt.Fprintf(stderr, "aocu eval: message %d (line %d): %.3f ms\n", n, line, float64(dur.Microseconds())/1000)
			}
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write stdout: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if c.memoryOut != "" {
		if err := fsutil.WriteFileAtomic(c.memoryOut, proc.Memory()); err != nil {
			return fmt.Errorf("write memory image: %w", err)
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "aocu eval: %d messages in %v (%.3f ms/message)\n", n, total.Round(time.Millisecond), float64(total.Microseconds())/1000/float64(n))
	}
	if inputErrors > 0 {
		return fmt.Errorf("%d input line(s) were not valid JSON messages", inputErrors)
	}
	return nil
}

// evalLine evaluates one message and returns its result object without the
// memory fields.
func evalLine(ctx context.Context, proc *loader.Process, msg, env []byte, line int, inputErrors *int) *jsjson.Object {
	obj := &jsjson.Object{}
	if _, err := jsjson.Normalize(msg); err != nil {
		*inputErrors++
		obj.String("Error", fmt.Sprintf("invalid message JSON on line %d: %v", line, err))
		return obj
	}
	if msg[0] != '{' {
		*inputErrors++
		obj.String("Error", fmt.Sprintf("invalid message on line %d: a message must be a JSON object", line))
		return obj
	}
	res, err := proc.Handle(ctx, msg, env)
	if err != nil {
		obj.String("Error", err.Error())
		if errors.Is(err, loader.ErrHalt) {
			obj.Bool("Halt", true)
		}
		return obj
	}
	if res.Rejected {
		// handle() rejected: printed as run.cjs prints a thrown value.
		obj.String("Error", res.ErrorText())
		return obj
	}
	for _, f := range []struct {
		k string
		v json.RawMessage
	}{{"Output", res.Output}, {"Messages", res.Messages}, {"Spawns", res.Spawns}, {"Assignments", res.Assignments}, {"Error", res.Error}} {
		if f.v != nil {
			obj.Raw(f.k, normalized(f.v))
		}
	}
	if res.Patches != nil {
		obj.Raw("Patches", normalized(res.Patches))
	}
	obj.Number("GasUsed", res.GasUsed)
	return obj
}

// normalized re-encodes Lua's JSON as JSON.stringify(JSON.parse(x)) would, which
// is what the reference loader's caller sees.
func normalized(raw json.RawMessage) []byte {
	if b, err := jsjson.Normalize(raw); err == nil {
		return b
	}
	return raw
}

// computeLimit reads Compute-Limit from the env (process tag first, then the
// module's), the gas limit of metered formats.
func computeLimit(env []byte) (float64, error) {
	var e struct {
		Process, Module struct {
			Tags []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return 0, fmt.Errorf("env: %w", err)
	}
	for _, tags := range [][]struct{ Name, Value string }{e.Process.Tags, e.Module.Tags} {
		for _, t := range tags {
			if t.Name == "Compute-Limit" {
				v, err := strconv.ParseFloat(t.Value, 64)
				if err != nil || v <= 0 {
					return 0, fmt.Errorf("env: invalid Compute-Limit %q", t.Value)
				}
				return v, nil
			}
		}
	}
	return 0, nil
}
