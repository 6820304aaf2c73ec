package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/procstat"
)

// The live reference CU (permaweb/ao servers/cu as scripts/oracle.sh installs
// it, unmodified, under Node 22) on the same gateway and SU, after aocu's
// phases: the same process from its first message on a fresh database, then
// a few of each request, and the bytes of its answers against aocu's.

// refCUPhase is what the reference CU did in this run.
type refCUPhase struct {
	Dir         string   `json:"dir"`
	ColdMsgs    int      `json:"cold_messages"`
	ColdMs      float64  `json:"cold_ms"`
	ColdMsgPerS float64  `json:"cold_msg_per_s"`
	ColdCPUMs   float64  `json:"cold_cpu_ms"` // node's user+sys during the cold replay (its workers included)
	Hot         stats    `json:"hot"`
	DrySeq      stats    `json:"dryrun_seq"`
	DryConc     stats    `json:"dryrun_concurrent"`
	DryConcN    int      `json:"dryrun_concurrent_n"`
	DryConcRate float64  `json:"dryrun_concurrent_req_per_s"`
	StateMs     float64  `json:"state_ms"`
	StateTTFBMs float64  `json:"state_first_byte_ms"`
	Usage       cpuUsage `json:"usage"`
	SameBytes   int      `json:"same_bytes"` // /result bodies equal to aocu's
	Compared    int      `json:"compared"`
	Mem         memStats `json:"mem"`
}

// refInstall is the reference CU's node and its servers/cu copy under dir.
func refInstall(dir string) (node, cu string, err error) {
	node = filepath.Join(dir, "node", "node_modules", "node", "bin", "node")
	if cu, err = filepath.EvalSymlinks(filepath.Join(dir, "cu")); err != nil {
		return "", "", fmt.Errorf("-ref %s: no cu/ (run scripts/oracle.sh): %w", dir, err)
	}
	for _, f := range []string{node, filepath.Join(cu, "src", "app.js")} {
		if _, err := os.Stat(f); err != nil {
			return "", "", fmt.Errorf("-ref %s: %w (run scripts/oracle.sh)", dir, err)
		}
	}
	return node, cu, nil
}

// refEnv is the reference CU's configuration: every URL to the local
// gateway, its own wallet, database and directories under base, the rest at
// the reference's defaults.
func refEnv(gwURL, walletFile, base string) ([]string, error) {
	for _, d := range []string{"wasm", "memory", "checkpoints"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return nil, err
		}
	}
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TZ=UTC", "NODE_CONFIG_ENV=production",
		"GATEWAY_URL=" + gwURL, "ARWEAVE_URL=" + gwURL, "GRAPHQL_URL=" + gwURL + "/graphql",
		"GRAPHQL_URLS=" + gwURL + "/graphql", "CHECKPOINT_GRAPHQL_URL=" + gwURL + "/graphql", "UPLOADER_URL=" + gwURL,
		"WALLET_FILE=" + walletFile, "DB_URL=" + filepath.Join(base, "ao-cache"),
		"WASM_BINARY_FILE_DIRECTORY=" + filepath.Join(base, "wasm"),
		"PROCESS_MEMORY_CACHE_FILE_DIR=" + filepath.Join(base, "memory"),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR=" + filepath.Join(base, "checkpoints"),
		"RATE_LIMIT_MAX_REQUESTS=0", "DEFAULT_LOG_LEVEL=info", "LOG_CONFIG_PATH=" + filepath.Join(base, ".loglevel"),
	}, nil
}

// refCU starts the reference CU and measures it; aocu (restarted by the
// cold-restart phase) answers the same requests for the byte comparison.
func (b *bench) refCU(ctx context.Context) error {
	if b.o.ref == "" {
		return nil
	}
	node, cuDir, err := refInstall(b.o.ref)
	if err != nil {
		return err
	}
	base := filepath.Join(b.o.dir, "ref")
	env, err := refEnv(b.net.gwURL, b.walletFile, base)
	if err != nil {
		return err
	}
	guard, err := filepath.Abs(filepath.Join("tools", "oracle", "guard.mjs"))
	if err != nil {
		return err
	}
	b.phaseStart("reference-cu")
	logPath := filepath.Join(b.o.dir, "reference-cu.log")
	log.Printf("starting the reference CU (%s, log %s)", cuDir, logPath)
	proc, err := startCmd([]string{node, "--experimental-wasm-memory64", "--import", guard, "src/app.js"}, cuDir, env, logPath)
	if err != nil {
		return err
	}
	p := &refCUPhase{Dir: b.o.ref}
	b.res.RefCU = p
	defer func() {
		p.Usage, _, _ = proc.stop(syscall.SIGTERM, 30*time.Second)
	}()
	b.samp.watch(proc.pid())
	if err := proc.waitReady(ctx, b.client, 2*time.Minute); err != nil {
		return err
	}
	ref := *b
	ref.cu = proc

	// Cold: the whole stream so far, on a fresh database.
	p.ColdMsgs = b.ops + 2
	log.Printf("reference CU: cold replay of %d messages (it evaluates a few per second)", p.ColdMsgs)
	var compared, same int
	compare := func(id string) {
		_, a, _, _, err1 := ref.call(ctx, "GET", "/result/"+id+"?process-id="+b.net.pid, nil)
		_, c, _, _, err2 := b.call(ctx, "GET", "/result/"+id+"?process-id="+b.net.pid, nil)
		if err1 == nil && err2 == nil {
			compared++
			if bytes.Equal(a, c) {
				same++
			}
		}
	}
	cpu0, _ := procstat.CPU(proc.pid())
	r, took, err := ref.result(ctx, b.lastID)
	if err != nil {
		return fmt.Errorf("reference CU: cold: %w", err)
	}
	if cpu1, err := procstat.CPU(proc.pid()); err == nil {
		p.ColdCPUMs = ms(cpu1 - cpu0)
	}
	p.ColdMs, p.ColdMsgPerS = ms(took), float64(p.ColdMsgs)/took.Seconds()
	b.res.check("reference CU: cold: last result", checkReply(r, opAt(b.ops), b.net.user.Address(), true))
	compare(b.lastID)
	compare(b.evalID)
	log.Printf("reference CU: cold %.1f s (%.2f msg/s)", took.Seconds(), p.ColdMsgPerS)

	// Hot: new messages, each read from both CUs (the reference first).
	var hot []time.Duration
	for range b.o.refHot {
		op := opAt(b.ops + 1)
		id, err := b.net.send(ctx, op)
		if err != nil {
			return fmt.Errorf("reference CU: hot: post: %w", err)
		}
		b.ops, b.lastID = op.i, id
		_, took, err := ref.result(ctx, id)
		if err != nil {
			return fmt.Errorf("reference CU: hot: %w", err)
		}
		hot = append(hot, took)
		compare(id)
	}
	p.Hot = summarize(hot)

	// Dry-runs: sequential, then 20 clients at once (one each).
	keys := b.setKeys()
	var seq []time.Duration
	for i := range b.o.refHot {
		j := i%keys + 1
		_, took, err := ref.dryRun(ctx, b.dryBody(j, "ref-seq-"+strconv.Itoa(i)))
		if err != nil {
			return fmt.Errorf("reference CU: dry-run: %w", err)
		}
		seq = append(seq, took)
	}
	p.DrySeq = summarize(seq)
	c := b.o.dryClients
	lat := make([]time.Duration, c)
	errs := make([]error, c)
	var wg sync.WaitGroup
	start := time.Now()
	for ci := range c {
		wg.Go(func() {
			_, lat[ci], errs[ci] = ref.dryRun(ctx, b.dryBody(ci%keys+1, "ref-conc-"+strconv.Itoa(ci)))
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		b.res.check("reference CU: concurrent dry-runs", err)
	}
	p.DryConc, p.DryConcN = summarize(slices.DeleteFunc(lat, func(d time.Duration) bool { return d == 0 })), c
	p.DryConcRate = float64(c) / wall.Seconds()

	code, _, ttfb, took, _, err := ref.getState(ctx)
	if err == nil && code == 200 {
		p.StateMs, p.StateTTFBMs = ms(took), ms(ttfb)
	}
	p.Compared, p.SameBytes = compared, same
	b.res.check("reference CU: /result bodies equal to aocu's", func() error {
		if same != compared || compared == 0 {
			return fmt.Errorf("%d of %d equal", same, compared)
		}
		return nil
	}())
	p.Mem = b.samp.end()
	log.Printf("reference CU: hot p50 %.0f ms, dry-run p50 %.0f ms, %d clients %.2f req/s, %d/%d bodies equal to aocu's",
		p.Hot.P50, p.DrySeq.P50, c, p.DryConcRate, same, compared)
	return nil
}
