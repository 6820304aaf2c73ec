package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/gwclient"
	"github.com/aocu/aocu/internal/loader/wire"
	"github.com/aocu/aocu/internal/schedule"
	"github.com/aocu/aocu/internal/suclient"
)

// The cold phase's peers in the same run: the stream the CU replayed, as the
// exact bytes the CU hands to the module (the SU's pages mapped as the engine
// maps them, and the process's env), given to `aocu eval` and to the
// reference loader (@permaweb/ao-loader in node, UNSAFE_MEMORY: its fastest).

// baselinePhase is the wasm call's cost of the cold stream without the CU.
type baselinePhase struct {
	Messages int `json:"messages"`
	// EvalMs is `aocu eval`'s wall time for the whole stream, from an empty
	// compiled-module cache as the CU's cold phase (JSON lines in and out,
	// no memory hashes).
	EvalMs      float64 `json:"eval_ms"`
	EvalMsgPerS float64 `json:"eval_msg_per_s"`
	EvalCPUMs   float64 `json:"eval_cpu_ms"`
	// RefLoader is the reference loader's time for the same messages: its
	// module build, the first two messages (process and Eval) and the mean of
	// the rest (bench.cjs).
	RefLoaderMs      float64 `json:"ref_loader_ms,omitempty"`
	RefLoaderMsgPerS float64 `json:"ref_loader_msg_per_s,omitempty"`
	RefLoaderCPUMs   float64 `json:"ref_loader_cpu_ms,omitempty"` // node's user+sys, module build included
	RefLoaderNote    string  `json:"ref_loader_note,omitempty"`
}

// exportStream writes the process's stream up to now as aocu eval's input:
// dir/messages.jsonl and dir/env.json. It returns the number of messages.
func (b *bench) exportStream(ctx context.Context, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	su := suclient.New(suclient.Options{HTTPClient: b.client})
	sp, err := su.Process(ctx, b.net.suURL, b.net.pid)
	if err != nil {
		return 0, fmt.Errorf("process record: %w", err)
	}
	gw, err := gwclient.New(gwclient.Options{ArweaveURL: b.net.gwURL, HTTPClient: b.client})
	if err != nil {
		return 0, err
	}
	mod, err := gw.TransactionMeta(ctx, b.net.module, false, false, false)
	if err != nil {
		return 0, fmt.Errorf("module record: %w", err)
	}
	env := schedule.NewEnv(&sp.Process, schedule.AddressFrom(sp.Process.Owner),
		&ao.Module{ID: mod.ID, Owner: mod.Owner, Tags: mod.Tags}, schedule.AddressFrom(mod.Owner))
	if err := os.WriteFile(filepath.Join(dir, "env.json"), wire.EncodeEnv(env), 0o644); err != nil {
		return 0, err
	}
	var out bytes.Buffer
	n, from := 0, ""
	for {
		page, err := su.Messages(ctx, b.net.suURL, b.net.pid, from, "", 1000)
		if err != nil {
			return 0, fmt.Errorf("page from %q: %w", from, err)
		}
		for i := range page.Edges {
			m, err := schedule.FromEdge(&page.Edges[i])
			if err != nil {
				return 0, fmt.Errorf("edge %d: %w", n, err)
			}
			out.Write(wire.AppendMessage(nil, m.ToAO()))
			out.WriteByte('\n')
			n++
		}
		if !page.HasNextPage || len(page.Edges) == 0 {
			break
		}
		from = page.Edges[len(page.Edges)-1].Cursor
	}
	return n, os.WriteFile(filepath.Join(dir, "messages.jsonl"), out.Bytes(), 0o644)
}

// baseline runs after the cold phase, before anything else is posted: the
// same stream through `aocu eval` and the reference loader. The last result
// of aocu eval must be the CU's.
func (b *bench) baseline(ctx context.Context) error {
	b.phaseStart("baseline")
	dir := filepath.Join(b.o.dir, "eval")
	n, err := b.exportStream(ctx, dir)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	p := &baselinePhase{Messages: n}
	b.res.Baseline = p

	in, err := os.Open(filepath.Join(dir, "messages.jsonl"))
	if err != nil {
		return err
	}
	defer in.Close()
	var stdout, stderr bytes.Buffer
	// --hash=false: no sha256 of the memory per message, which the CU does not compute either.
	cmd := exec.CommandContext(ctx, b.o.aocu, "eval", "--module", b.o.module, "--format", b.o.format, "--hash=false",
		"--env", filepath.Join(dir, "env.json"), "--cache-dir", filepath.Join(b.o.dir, "cu", "eval-cache"))
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("baseline: aocu eval: %w\n%s", err, clip(stderr.Bytes()))
	}
	took := time.Since(start)
	p.EvalMs, p.EvalMsgPerS = ms(took), float64(n)/took.Seconds()
	p.EvalCPUMs = ms(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	b.res.check("baseline: aocu eval's last result is the CU's", b.sameLast(ctx, stdout.Bytes(), n))
	log.Printf("baseline: aocu eval %d messages in %.2f s (%.1f msg/s)", n, took.Seconds(), p.EvalMsgPerS)

	p.RefLoaderMs, p.RefLoaderCPUMs, p.RefLoaderNote = b.refLoader(ctx, dir, n)
	if p.RefLoaderMs > 0 {
		p.RefLoaderMsgPerS = float64(n) / (p.RefLoaderMs / 1000)
		log.Printf("baseline: reference loader %.2f s (%.1f msg/s)", p.RefLoaderMs/1000, p.RefLoaderMsgPerS)
	} else {
		log.Printf("baseline: reference loader not measured: %s", p.RefLoaderNote)
	}
	return nil
}

// sameLast compares aocu eval's last line with the CU's /result of the
// stream's last message: the same Messages and Output.
func (b *bench) sameLast(ctx context.Context, out []byte, n int) error {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != n {
		return fmt.Errorf("%d result lines for %d messages", len(lines), n)
	}
	var ev struct{ Messages, Output json.RawMessage }
	if err := json.Unmarshal(lines[n-1], &ev); err != nil {
		return fmt.Errorf("last line: %w", err)
	}
	code, body, _, _, err := b.call(ctx, "GET", "/result/"+b.coldLast+"?process-id="+b.net.pid, nil)
	if err != nil || code != 200 {
		return fmt.Errorf("the CU's result: %d %v", code, err)
	}
	var cu struct{ Messages, Output json.RawMessage }
	if err := json.Unmarshal(body, &cu); err != nil {
		return fmt.Errorf("the CU's result: %w", err)
	}
	if !bytes.Equal(ev.Messages, cu.Messages) || !bytes.Equal(ev.Output, cu.Output) {
		return fmt.Errorf("aocu eval %s %s, the CU %s %s", clip(ev.Messages), clip(ev.Output), clip(cu.Messages), clip(cu.Output))
	}
	return nil
}

// refLoader times tools/refloader/bench.cjs (UNSAFE_MEMORY) on the stream:
// build + the first two messages + mean × the rest, and node's CPU time, in
// ms; 0 and why when node or the package is missing.
func (b *bench) refLoader(ctx context.Context, dir string, n int) (float64, float64, string) {
	script := filepath.Join("tools", "refloader", "bench.cjs")
	if _, err := os.Stat(filepath.Join("tools", "refloader", "node_modules", "@permaweb", "ao-loader")); err != nil {
		return 0, 0, "tools/refloader/node_modules is missing (run scripts/fixtures.sh)"
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return 0, 0, "node is not on PATH"
	}
	cmd := exec.CommandContext(ctx, node, script, "--module", b.o.module, "--format", b.o.format,
		"--env", filepath.Join(dir, "env.json"), "--scenario", dir, "--skip", "2", "--mode", "unsafe")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Sprintf("bench.cjs failed: %v %s", err, clip(stderr.Bytes()))
	}
	var r struct {
		BuildMs  float64   `json:"buildMs"`
		SetupMs  []float64 `json:"setupMs"`
		Messages int       `json:"messages"`
		MeanMs   float64   `json:"meanMs"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return 0, 0, "bench.cjs output: " + err.Error()
	}
	if r.Messages+len(r.SetupMs) != n {
		return 0, 0, "bench.cjs ran " + strconv.Itoa(r.Messages+len(r.SetupMs)) + " messages"
	}
	total := r.BuildMs + r.MeanMs*float64(r.Messages)
	for _, s := range r.SetupMs {
		total += s
	}
	return total, ms(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()), ""
}
