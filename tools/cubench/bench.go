package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/localnet/benchnet"
	"github.com/aocu/aocu/internal/procstat"
)

// bench runs the phases against one aocu (restarted once, in cold-restart).
type bench struct {
	o          options
	net        *localNet
	cu         *cuProc
	env        []string // aocu's whole environment, without PORT
	walletFile string   // the CU wallet (the reference CU's too)
	client     *http.Client
	samp       *sampler
	res        *Result

	evalID   string
	coldLast string // the last message of the seeded stream
	ops      int    // Set/Get messages posted so far
	lastID   string // the last message posted
}

// call sends one request to aocu and reads the whole answer; the duration
// covers sending the request and reading the body.
func (b *bench) call(ctx context.Context, method, path string, body []byte) (int, []byte, http.Header, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.cu.url+path, rd)
	if err != nil {
		return 0, nil, nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, nil, nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, out, resp.Header, took, nil
}

// result is GET /result/<id>?process-id=<pid>, which must answer 200.
func (b *bench) result(ctx context.Context, id string) (aoResult, time.Duration, error) {
	code, body, _, took, err := b.call(ctx, http.MethodGet, "/result/"+id+"?process-id="+b.net.pid, nil)
	if err != nil {
		return aoResult{}, 0, err
	}
	if code != http.StatusOK {
		return aoResult{}, took, fmt.Errorf("GET /result/%s: %d %s", id, code, clip(body))
	}
	r, err := parseResult(body)
	if err != nil {
		return aoResult{}, took, fmt.Errorf("GET /result/%s: %w", id, err)
	}
	return r, took, nil
}

// dryRun is POST /dry-run?process-id=<pid>, which must answer 200.
func (b *bench) dryRun(ctx context.Context, body []byte) (aoResult, time.Duration, error) {
	code, out, _, took, err := b.call(ctx, http.MethodPost, "/dry-run?process-id="+b.net.pid, body)
	if err != nil {
		return aoResult{}, 0, err
	}
	if code != http.StatusOK {
		return aoResult{}, took, fmt.Errorf("POST /dry-run: %d %s", code, clip(out))
	}
	r, err := parseResult(out)
	if err != nil {
		return aoResult{}, took, fmt.Errorf("POST /dry-run: %w", err)
	}
	return r, took, nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

type tagJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// dryBody is the reference bench's dry-run body: Get k<j>, made unique by
// a Nonce-Bench tag.
func (b *bench) dryBody(j int, unique string) []byte {
	body, err := json.Marshal(struct {
		ID     string    `json:"Id"`
		Target string    `json:"Target"`
		Owner  string    `json:"Owner"`
		Data   string    `json:"Data"`
		Tags   []tagJSON `json:"Tags"`
	}{"cubench-dry-run", b.net.pid, b.net.user.Address(), "", []tagJSON{
		{"Action", "Get"}, {"Key", "k" + strconv.Itoa(j)}, {"Nonce-Bench", unique}}})
	if err != nil {
		panic(err) // strings only
	}
	return body
}

// setKeys is how many keys hold a value so far.
func (b *bench) setKeys() int { return (b.ops + 1) / 2 }

func (b *bench) phaseStart(name string) {
	log.Printf("phase %s", name)
	b.samp.reset()
}

func (b *bench) cold(ctx context.Context) error {
	b.phaseStart("cold")
	cpu0, _ := procstat.CPU(b.cu.pid())
	r, took, err := b.result(ctx, b.coldLast)
	cpu1, cerr := procstat.CPU(b.cu.pid())
	mem := b.samp.end()
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	msgs := b.o.n + 2
	b.res.Cold = &coldPhase{Messages: msgs, Ms: ms(took), MsgPerS: float64(msgs) / took.Seconds(), Mem: mem}
	if cerr == nil {
		b.res.Cold.CPUMs = ms(cpu1 - cpu0)
	}
	log.Printf("cold: %d messages in %.2f s (%.1f msg/s), peak RSS %d kB", msgs, took.Seconds(), b.res.Cold.MsgPerS, mem.HWMkB)
	b.res.check("cold: last result", checkReply(r, opAt(b.o.n), b.net.user.Address(), true))

	ev, _, err := b.result(ctx, b.evalID)
	if err == nil {
		if e := ev.errText(); e != "" {
			err = fmt.Errorf("Error %s", e)
		} else if got := ev.outputData(); got != benchnet.KVLoaded {
			err = fmt.Errorf("Output.data %q, want %q", got, benchnet.KVLoaded)
		}
	}
	b.res.check("cold: Eval output", err)
	sp, _, err := b.result(ctx, b.net.pid)
	if err == nil && sp.errText() != "" {
		err = fmt.Errorf("Error %s", sp.errText())
	}
	b.res.check("cold: process message (nonce 0) has no Error", err)
	return nil
}

func (b *bench) hot(ctx context.Context) error {
	b.phaseStart("hot")
	var gets, posts []time.Duration
	var bad []error
	for range b.o.hot {
		op := opAt(b.ops + 1)
		start := time.Now()
		id, err := b.net.send(ctx, op)
		if err != nil {
			return fmt.Errorf("hot: post: %w", err)
		}
		posts = append(posts, time.Since(start))
		b.ops, b.lastID = op.i, id
		r, took, err := b.result(ctx, id)
		if err != nil {
			return fmt.Errorf("hot: %w", err)
		}
		gets = append(gets, took)
		if err := checkReply(r, op, b.net.user.Address(), true); err != nil {
			bad = append(bad, fmt.Errorf("message %d: %w", op.i, err))
		}
	}
	mem := b.samp.end()
	b.res.Hot = &hotPhase{Result: summarize(gets), SUPost: summarize(posts), Mem: mem}
	b.res.check(fmt.Sprintf("hot: %d replies alternate Set-Result OK / Get-Result value-<j>", b.o.hot), firstOf(bad))
	log.Printf("hot: GET /result p50 %.1f ms, p99 %.1f ms", b.res.Hot.Result.P50, b.res.Hot.Result.P99)

	b.phaseStart("repeat")
	var rep []time.Duration
	bad = nil
	for range b.o.repeat {
		r, took, err := b.result(ctx, b.lastID)
		if err != nil {
			return fmt.Errorf("repeat: %w", err)
		}
		rep = append(rep, took)
		if err := checkReply(r, opAt(b.ops), b.net.user.Address(), true); err != nil {
			bad = append(bad, err)
		}
	}
	b.res.Repeat = &latencyPhase{Latency: summarize(rep), Mem: b.samp.end()}
	b.res.check("repeat: same reply every time", firstOf(bad))
	return nil
}

func (b *bench) dry(ctx context.Context) error {
	keys := b.setKeys()
	owner := b.net.user.Address()
	b.phaseStart("dryrun-seq")
	var lat []time.Duration
	var bad []error
	start := time.Now()
	for i := range b.o.drySeq {
		j := i%keys + 1
		r, took, err := b.dryRun(ctx, b.dryBody(j, "seq-"+strconv.Itoa(i)))
		if err != nil {
			return fmt.Errorf("dry-run: %w", err)
		}
		lat = append(lat, took)
		if err := checkDry(r, j, owner); err != nil {
			bad = append(bad, fmt.Errorf("Get k%d: %w", j, err))
		}
	}
	wall := time.Since(start)
	b.res.DrySeq = &ratePhase{Requests: b.o.drySeq, OK: len(lat), WallMs: ms(wall), ReqPerS: float64(len(lat)) / wall.Seconds(), Latency: summarize(lat), Mem: b.samp.end()}
	b.res.check("dryrun-seq: Get k<j> returns value-<j>-…", firstOf(bad))
	log.Printf("dryrun-seq: p50 %.1f ms, %.1f req/s", b.res.DrySeq.Latency.P50, b.res.DrySeq.ReqPerS)

	b.phaseStart("dryrun-identical")
	body := b.dryBody(1, "identical")
	lat, bad = lat[:0], bad[:0]
	for range b.o.drySame {
		r, took, err := b.dryRun(ctx, body)
		if err != nil {
			return fmt.Errorf("dry-run identical: %w", err)
		}
		lat = append(lat, took)
		if err := checkDry(r, 1, owner); err != nil {
			bad = append(bad, err)
		}
	}
	p := &identicalPhase{Latency: summarize(lat), Mem: b.samp.end()}
	if len(lat) > 0 {
		p.FirstMs = ms(lat[0])
		p.Rest = summarize(lat[1:])
	}
	b.res.DrySame = p
	b.res.check("dryrun-identical: Get k1 returns value-1-…", firstOf(bad))

	b.phaseStart("dryrun-concurrent")
	c := b.o.dryClients
	lats := make([][]time.Duration, c)
	errs := make([][]error, c)
	failed := make([]int, c)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for ci := range c {
		wg.Go(func() {
			<-gate
			for pi := range b.o.dryPer {
				n := ci*b.o.dryPer + pi
				j := n%keys + 1
				r, took, err := b.dryRun(ctx, b.dryBody(j, fmt.Sprintf("conc-%d-%d", ci, pi)))
				if err != nil {
					failed[ci]++
					errs[ci] = append(errs[ci], err)
					continue
				}
				lats[ci] = append(lats[ci], took)
				if err := checkDry(r, j, owner); err != nil {
					errs[ci] = append(errs[ci], fmt.Errorf("Get k%d: %w", j, err))
				}
			}
		})
	}
	start = time.Now()
	close(gate)
	wg.Wait()
	wall = time.Since(start)
	all := slices.Concat(lats...)
	nFailed := 0
	for _, f := range failed {
		nFailed += f
	}
	b.res.DryConc = &concPhase{Clients: c, PerClient: b.o.dryPer, ratePhase: ratePhase{
		Requests: c * b.o.dryPer, OK: len(all), Failed: nFailed, WallMs: ms(wall),
		ReqPerS: float64(len(all)) / wall.Seconds(), Latency: summarize(all), Mem: b.samp.end()}}
	b.res.check(fmt.Sprintf("dryrun-concurrent: %d×%d all 200 with the right value", c, b.o.dryPer), firstOf(slices.Concat(errs...)))
	log.Printf("dryrun-concurrent: %d ok, %d failed, %.1f req/s, p50 %.1f ms", len(all), nFailed, b.res.DryConc.ReqPerS, b.res.DryConc.Latency.P50)
	return nil
}

func (b *bench) state(ctx context.Context) error {
	b.phaseStart("state")
	p := &statePhase{}
	var lat, first []time.Duration
	var err error
	for range b.o.state {
		code, size, ttfb, took, h, cerr := b.getState(ctx)
		if cerr != nil {
			return cerr
		}
		if code != http.StatusOK {
			return fmt.Errorf("GET /state: %d", code)
		}
		lat, first = append(lat, took), append(first, ttfb)
		p.Ms = append(p.Ms, ms(took))
		p.FirstByteMs = append(p.FirstByteMs, ms(ttfb))
		p.Bytes = append(p.Bytes, size)
		p.ContentEncoding = h.Get("Content-Encoding")
		if size == 0 || size != p.Bytes[0] {
			err = fmt.Errorf("sizes %v", p.Bytes)
		} else if cl := h.Get("Content-Length"); cl != strconv.Itoa(size) {
			err = fmt.Errorf("Content-Length %q for %d bytes", cl, size)
		}
	}
	p.Latency, p.FirstByte = summarize(lat), summarize(first)
	if b.o.state > 0 {
		// Once more right after the process moved on.
		op := opAt(b.ops + 1)
		id, serr := b.net.send(ctx, op)
		if serr != nil {
			return fmt.Errorf("state: post: %w", serr)
		}
		b.ops, b.lastID = op.i, id
		if _, _, rerr := b.result(ctx, id); rerr != nil {
			return fmt.Errorf("state: %w", rerr)
		}
		code, size, ttfb, took, _, cerr := b.getState(ctx)
		if cerr != nil {
			return cerr
		}
		if code != http.StatusOK || size != p.Bytes[0] {
			err = fmt.Errorf("GET /state after a new message: %d, %d bytes", code, size)
		}
		p.MovedOnMs, p.MovedOnFirstByteMs = ms(took), ms(ttfb)
	}
	p.Mem = b.samp.end()
	b.res.State = p
	b.res.check("state: same non-empty body size each time, with its Content-Length", err)
	if b.o.state > 0 {
		log.Printf("state: first byte p50 %.1f ms, whole p50 %.1f ms; after a new message %.1f / %.1f ms", p.FirstByte.P50, p.Latency.P50, p.MovedOnFirstByteMs, p.MovedOnMs)
	}
	return nil
}

// getState is GET /state/<pid>, timing the first byte of the body and the
// whole body (read and dropped).
func (b *bench) getState(ctx context.Context) (code, size int, ttfb, took time.Duration, h http.Header, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cu.url+"/state/"+b.net.pid, nil)
	if err != nil {
		return 0, 0, 0, 0, nil, err
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, 0, 0, 0, nil, fmt.Errorf("GET /state: %w", err)
	}
	defer resp.Body.Close()
	one := make([]byte, 1)
	n, rerr := io.ReadFull(resp.Body, one)
	ttfb = time.Since(start)
	if rerr != nil && n == 0 {
		return resp.StatusCode, 0, ttfb, time.Since(start), resp.Header, nil
	}
	rest, err := io.Copy(io.Discard, resp.Body)
	took = time.Since(start)
	if err != nil {
		return 0, 0, 0, 0, nil, fmt.Errorf("GET /state: %w", err)
	}
	return resp.StatusCode, n + int(rest), ttfb, took, resp.Header, nil
}

// restart stops aocu with SIGTERM (SIGKILL with -restart-kill: a crash),
// starts it again on the same database and times the first result of a new
// message.
func (b *bench) restart(ctx context.Context) error {
	b.phaseStart("cold-restart")
	sig, sigName := syscall.SIGTERM, "SIGTERM"
	if b.o.restartKill {
		sig, sigName = syscall.SIGKILL, "SIGKILL"
	}
	usage, down, err := b.cu.stop(sig, time.Minute)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	b.res.Processes = append(b.res.Processes, usage)
	var logOffset int64
	if fi, err := os.Stat(b.o.logPath); err == nil {
		logOffset = fi.Size()
	}
	start := time.Now()
	cu, err := startCU(b.o.aocu, b.o.dir, b.env, b.o.logPath)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	b.cu = cu
	b.samp.watch(cu.pid())
	if err := cu.waitReady(ctx, b.client, time.Minute); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	up := time.Since(start)
	op := opAt(b.ops + 1)
	id, err := b.net.send(ctx, op)
	if err != nil {
		return fmt.Errorf("restart: post: %w", err)
	}
	b.ops, b.lastID = op.i, id
	r, first, err := b.result(ctx, id)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	b.res.check("cold-restart: reply to the new message", checkReply(r, op, b.net.user.Address(), true))
	old, again, err := b.result(ctx, b.coldLast)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	b.res.check("cold-restart: the cold phase's last result, read again", checkReply(old, opAt(b.o.n), b.net.user.Address(), true))
	p := &restartPhase{Signal: sigName, ShutdownMs: ms(down), StartupMs: ms(up), FirstResultMs: ms(first), Messages: b.ops + 2,
		OldResultMs: ms(again), Mem: b.samp.end()}
	p.StartingPoint = startingPoint(b.o.logPath, logOffset)
	b.res.Restart = p
	log.Printf("cold-restart: up in %.0f ms, first /result %.0f ms (starting point: %s)", ms(up), ms(first), p.StartingPoint)
	return nil
}

// startingPoint is the src and nonce of the first "process starting point"
// line aocu logged after offset ("" when there is none): where the
// restarted unit resumed the process from.
func startingPoint(logPath string, offset int64) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "process starting point") {
			continue
		}
		var out []string
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "src=") || strings.HasPrefix(f, "nonce=") {
				out = append(out, f)
			}
		}
		return strings.Join(out, " ")
	}
	return ""
}

func firstOf(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("%d failures, the first: %w", len(errs), errs[0])
}

// aoResult is the part of a CU result the bench checks.
type aoResult struct {
	Output   json.RawMessage
	Messages []aoMessage
	Error    json.RawMessage
}

type aoMessage struct {
	Target string
	Data   json.RawMessage
	Tags   []struct{ Name, Value string }
}

func parseResult(b []byte) (aoResult, error) {
	var r aoResult
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("result %s: %w", clip(b), err)
	}
	return r, nil
}

func (m aoMessage) tag(names ...string) string {
	for _, t := range m.Tags {
		if slices.Contains(names, t.Name) {
			return t.Value
		}
	}
	return ""
}

func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// errText is the result's Error ("" when there is none).
func (r aoResult) errText() string {
	if len(r.Error) == 0 || string(r.Error) == "null" {
		return ""
	}
	return rawString(r.Error)
}

// outputData is aos's Output.data (or Output itself when it is not an
// object).
func (r aoResult) outputData() string {
	var o struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(r.Output, &o) == nil && o.Data != nil {
		return rawString(o.Data)
	}
	return rawString(r.Output)
}

// checkReply checks the one msg.reply of a Set or Get; ref also checks the
// Reference tag (the i-th reply of the process).
func checkReply(r aoResult, op kvOp, owner string, ref bool) error {
	if e := r.errText(); e != "" {
		return fmt.Errorf("Error %s", e)
	}
	if len(r.Messages) != 1 {
		return fmt.Errorf("%d messages, want 1", len(r.Messages))
	}
	m := r.Messages[0]
	action, data := "Set-Result", "OK"
	if !op.set {
		action, data = "Get-Result", value(op.j)
	}
	if got := m.tag("Action"); got != action {
		return fmt.Errorf("Action %q, want %q", got, action)
	}
	if got := m.tag("Key"); got != op.key {
		return fmt.Errorf("Key %q, want %q", got, op.key)
	}
	if got := rawString(m.Data); got != data {
		return fmt.Errorf("%s %s: Data %q, want %q", action, op.key, got, data)
	}
	if m.Target != owner {
		return fmt.Errorf("reply Target %q, want the owner %q", m.Target, owner)
	}
	if ref {
		if got := m.tag("Reference", "X-Reference"); got != strconv.Itoa(op.i) {
			return fmt.Errorf("Reference %q, want %d", got, op.i)
		}
	}
	return nil
}

func checkDry(r aoResult, j int, owner string) error {
	return checkReply(r, kvOp{key: "k" + strconv.Itoa(j), j: j}, owner, false)
}
