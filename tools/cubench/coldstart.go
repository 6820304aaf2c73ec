package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The -coldstart mode: how long a fresh aocu process takes to serve a new
// message of a process of N messages, in three situations.
//
//   - cold: a new DB and no checkpoint, so the whole stream is replayed
//     (process, Eval, N Set/Get and the new message).
//   - file: the DB and PROCESS_MEMORY_FILE_CHECKPOINTS_DIR of a run that
//     evaluated the whole stream and was stopped with SIGTERM (which writes a
//     file checkpoint of every process in memory). That run is the cold
//     situation's when it is measured, else a preparation run.
//   - arweave: a preparation run with DISABLE_PROCESS_CHECKPOINT_CREATION=false
//     and EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD=1 (ms) uploads a gzipped
//     checkpoint signed by the CU wallet to the gateway at the end of its
//     stream, and is killed (SIGKILL); then a fresh aocu with a new DB, new
//     directories, the same WALLET_FILE (the CU trusts its own checkpoints)
//     and IGNORE_LOCAL_CHECKPOINTS=true finds it through the gateway's
//     GraphQL, downloads, gunzips and checks it.
//
// In each situation the bench posts one new Set/Get message to the SU, then
// times GET /result/<id>?process-id=<pid> on the fresh process and checks
// the reply as the hot phase does. aocu's log tells where it started
// ("process starting point … src=… nonce=…") and, at the debug level, how
// many messages each evaluation stream evaluated.

// coldStartPosts bounds the messages the mode posts after the seeded stream:
// one per situation and up to arweaveTries in the Arweave preparation run.
const coldStartPosts = 3 + arweaveTries

// arweaveTries is how many new messages the Arweave preparation run (with
// -arweave-prep file) evaluates at most before its eager checkpoint is
// uploaded: the threshold is evaluation time accumulated over streams, 1 ms,
// which one message normally passes.
const arweaveTries = 3

var situationNames = []string{"cold", "file", "arweave"}

// situationTitles are the table's situation column.
var situationTitles = map[string]string{
	"cold":    "(a) from nothing: new DB, no checkpoint",
	"file":    "(b) from a file checkpoint (SIGTERM, same DB and checkpoint dir)",
	"arweave": "(c) from an Arweave checkpoint (new DB and dirs, same wallet, IGNORE_LOCAL_CHECKPOINTS=true)",
}

func parseSituations(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(situationNames, f) {
			return nil, fmt.Errorf("unknown situation %q (want %s)", f, strings.Join(situationNames, ", "))
		}
		out[f] = true
	}
	if len(out) == 0 {
		return nil, errors.New("no situation")
	}
	return out, nil
}

// csRun is one aocu process of the mode: a measured situation or a
// preparation run.
type csRun struct {
	Name     string   `json:"name"`
	Purpose  string   `json:"purpose"`
	Dir      string   `json:"data_dir"`
	Log      string   `json:"log"`
	ExtraEnv []string `json:"extra_env,omitempty"`

	StartupMs float64 `json:"startup_ms"` // exec to GET / answering
	// The GET /result the run was started for: a new message's (measured) or
	// the stream's last one (a preparation replay).
	ResultMs      float64 `json:"result_ms"`
	SUPostMs      float64 `json:"su_post_ms,omitempty"` // signing and posting the new message, not part of ResultMs
	NewNonce      int64   `json:"new_nonce"`
	StartingPoint string  `json:"starting_point"` // "src=… nonce=…" from the log
	Src           string  `json:"src"`
	StartNonce    int64   `json:"start_nonce"`
	// Evaluated is the messages evaluated to answer, from the nonces (the
	// starting nonce's message is already in the memory, except on a cold
	// start); EvaluatedLog is the sum of the "evaluation stream done" lines
	// (-1 when the log has none: DEFAULT_LOG_LEVEL above debug).
	Evaluated    int64    `json:"messages_evaluated"`
	EvaluatedLog int64    `json:"messages_evaluated_log"`
	Mem          memStats `json:"mem"` // VmHWM at the end of the GET: the process's peak so far

	Signal      string   `json:"signal"`
	ShutdownMs  float64  `json:"shutdown_ms"`
	Checkpoints []string `json:"checkpoints_logged,omitempty"` // what the run wrote or uploaded, from its log
	Exit        cpuUsage `json:"exit"`

	cu *cuProc
}

// coldStartResult is the mode's part of the raw JSON.
type coldStartResult struct {
	Situations []*csRun `json:"situations"` // in the order cold, file, arweave
	Prep       []*csRun `json:"preparation_runs,omitempty"`
	// ArweaveCheckpoint is the checkpoint the arweave situation should start
	// from (the highest nonce uploaded).
	ArweaveCheckpoint *logEvent `json:"arweave_checkpoint,omitempty"`
	LoadAvgEnd        string    `json:"loadavg_end"` // /proc/loadavg at the end: 1, 5, 15 min
}

type coldStart struct {
	o          options
	net        *localNet
	client     *http.Client
	samp       *sampler
	res        *Result
	walletFile string

	ops    int    // Set/Get messages posted so far
	lastID string // the last message posted

	// warm is a data directory whose DB has evaluated the whole stream and
	// whose checkpoint directory holds a file checkpoint at warmNonce ("" until
	// there is one).
	warm      string
	warmNonce int64
}

func (cs *coldStart) run(ctx context.Context) error {
	want, err := parseSituations(cs.o.situations)
	if err != nil {
		return err
	}
	cs.res.ColdStart = &coldStartResult{}
	defer func() {
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			f := strings.Fields(string(b))
			cs.res.ColdStart.LoadAvgEnd = strings.Join(f[:min(3, len(f))], " ")
		}
	}()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{{"cold", cs.fromNothing}, {"file", cs.fromFile}, {"arweave", cs.fromArweave}}
	for _, s := range steps {
		if !want[s.name] {
			continue
		}
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("coldstart %s: %w", s.name, err)
		}
	}
	return nil
}

// dataDir makes a new data directory for aocu.
func (cs *coldStart) dataDir(name string) (string, error) {
	dir := filepath.Join(cs.o.dir, "cs-"+name)
	if _, err := os.Stat(dir); err == nil {
		return "", fmt.Errorf("data directory %s exists", dir)
	}
	for _, d := range []string{"cu", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// start runs a fresh aocu on dataDir, logging (at the debug level, for the
// "evaluation stream done" lines) to its own file.
func (cs *coldStart) start(ctx context.Context, name, purpose, dataDir string, extra ...string) (*csRun, error) {
	r := &csRun{Name: name, Purpose: purpose, Dir: dataDir, Log: filepath.Join(cs.o.dir, "aocu-"+name+".log"), ExtraEnv: extra,
		EvaluatedLog: -1}
	env := append(cuEnv(cs.net.gwURL, cs.walletFile, dataDir),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR="+filepath.Join(dataDir, "cu", "checkpoints"),
		"DEFAULT_LOG_LEVEL=debug")
	env = append(append(env, extra...), cs.o.env...)
	log.Printf("%s: starting aocu on %s (log %s)", name, dataDir, r.Log)
	start := time.Now()
	cu, err := startCU(cs.o.aocu, dataDir, env, r.Log)
	if err != nil {
		return nil, err
	}
	r.cu = cu
	cs.samp.watch(cu.pid())
	if err := cu.waitReady(ctx, cs.client, time.Minute); err != nil {
		_, _, _ = cu.stop(syscall.SIGKILL, time.Minute)
		return nil, err
	}
	r.StartupMs = ms(time.Since(start))
	return r, nil
}

// stop ends a run with sig and records its exit.
func (cs *coldStart) stop(r *csRun, sig syscall.Signal) error {
	usage, took, err := r.cu.stop(sig, 2*time.Minute)
	if err != nil {
		return err
	}
	r.Signal = map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig]
	r.ShutdownMs, r.Exit = ms(took), usage
	cs.res.Processes = append(cs.res.Processes, usage)
	evs, err := logEvents(r.Log, "file checkpoint written", "Arweave checkpoint uploaded")
	if err != nil {
		return err
	}
	for _, e := range evs {
		r.Checkpoints = append(r.Checkpoints, e.String())
	}
	return nil
}

// bench is the phases' client on run r, for its requests and checks.
func (cs *coldStart) bench(r *csRun) *bench {
	return &bench{o: cs.o, net: cs.net, cu: r.cu, client: cs.client, samp: cs.samp, res: cs.res}
}

// newMessage posts the next Set/Get message and times GET /result of it,
// checking the reply; the figures go to r.
func (cs *coldStart) newMessage(ctx context.Context, r *csRun, check string) error {
	op := opAt(cs.ops + 1)
	nonce := cs.net.next
	start := time.Now()
	id, err := cs.net.send(ctx, op)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	r.SUPostMs = ms(time.Since(start))
	cs.ops, cs.lastID, r.NewNonce = op.i, id, nonce
	res, took, err := cs.bench(r).result(ctx, id)
	if err != nil {
		return err
	}
	r.ResultMs = ms(took)
	cs.res.check(check, checkReply(res, op, cs.net.user.Address(), true))
	return nil
}

// readLog fills in r's starting point and evaluated messages from its log;
// wantSrc and wantNonce (-1: any) are checked.
func (cs *coldStart) readLog(r *csRun, label, wantSrc string, wantNonce int64) error {
	sps, err := logEvents(r.Log, "process starting point")
	if err != nil {
		return err
	}
	var spErr error
	switch {
	case len(sps) == 0:
		spErr = errors.New("aocu logged no starting point")
	case len(sps) > 1:
		spErr = fmt.Errorf("aocu logged %d starting points", len(sps))
	}
	if len(sps) > 0 {
		sp := sps[0]
		r.Src, r.StartingPoint = sp.KV["src"], "src="+sp.KV["src"]+" nonce="+sp.KV["nonce"]
		if r.StartNonce, err = strconv.ParseInt(sp.KV["nonce"], 10, 64); err != nil {
			spErr = errors.Join(spErr, fmt.Errorf("starting point nonce %q", sp.KV["nonce"]))
		}
		r.Evaluated = r.NewNonce - r.StartNonce
		if r.Src == "cold_start" {
			r.Evaluated++ // nonce 0, the process message, is evaluated too
		}
		if r.Src != wantSrc || (wantNonce >= 0 && r.StartNonce != wantNonce) {
			want := "src=" + wantSrc
			if wantNonce >= 0 {
				want += " nonce=" + strconv.FormatInt(wantNonce, 10)
			}
			spErr = errors.Join(spErr, fmt.Errorf("started from %s, want %s", r.StartingPoint, want))
		}
	}
	want := "src=" + wantSrc
	if wantNonce >= 0 {
		want += " nonce=" + strconv.FormatInt(wantNonce, 10)
	}
	cs.res.check(label+": aocu's log says it started from "+want, spErr)

	done, err := logEvents(r.Log, "evaluation stream done")
	if err != nil {
		return err
	}
	if len(done) > 0 {
		r.EvaluatedLog = 0
		for _, e := range done {
			n, _ := strconv.ParseInt(e.KV["messages"], 10, 64)
			r.EvaluatedLog += n
		}
		var err error
		if r.EvaluatedLog != r.Evaluated {
			err = fmt.Errorf("the log's streams evaluated %d messages, the nonces say %d", r.EvaluatedLog, r.Evaluated)
		}
		cs.res.check(label+": messages evaluated, the log agrees with the nonces", err)
	}
	return nil
}

// measure starts a fresh aocu, posts a new message and times its result.
func (cs *coldStart) measure(ctx context.Context, name, dataDir, wantSrc string, wantNonce int64, extra ...string) (*csRun, error) {
	r, err := cs.start(ctx, name, "measured: "+situationTitles[name], dataDir, extra...)
	if err != nil {
		return nil, err
	}
	cs.res.ColdStart.Situations = append(cs.res.ColdStart.Situations, r)
	cs.samp.reset()
	err = cs.newMessage(ctx, r, "coldstart "+name+": reply to the new message")
	r.Mem = cs.samp.end()
	if err != nil {
		_ = cs.stop(r, syscall.SIGKILL)
		return nil, err
	}
	if err := cs.readLog(r, "coldstart "+name, wantSrc, wantNonce); err != nil {
		_ = cs.stop(r, syscall.SIGKILL)
		return nil, err
	}
	log.Printf("%s: new message (nonce %d) served in %.0f ms, %d messages evaluated from %s, VmHWM %s kB",
		name, r.NewNonce, r.ResultMs, r.Evaluated, r.StartingPoint, commas(float64(r.Mem.HWMkB)))
	return r, nil
}

// stopWarm stops a run that has evaluated the whole stream with SIGTERM and
// makes its data directory the warm one, checking the file checkpoint that
// SIGTERM writes.
func (cs *coldStart) stopWarm(r *csRun, label string) error {
	if err := cs.stop(r, syscall.SIGTERM); err != nil {
		return err
	}
	evs, err := logEvents(r.Log, "file checkpoint written")
	if err != nil {
		return err
	}
	want := cs.net.next - 1 // the last message posted
	var cerr error
	if len(evs) == 0 {
		cerr = errors.New("no file checkpoint in aocu's log")
	} else {
		last := evs[len(evs)-1]
		n, _ := strconv.ParseInt(last.KV["nonce"], 10, 64)
		if n != want {
			cerr = fmt.Errorf("file checkpoint at nonce %d, want %d", n, want)
		}
		cs.warm, cs.warmNonce = r.Dir, n
	}
	cs.res.check(fmt.Sprintf("%s: SIGTERM wrote a file checkpoint at nonce %d", label, want), cerr)
	return nil
}

// replay starts aocu on a new data directory and has it evaluate the whole
// stream (GET /result of the last message): a preparation run.
func (cs *coldStart) replay(ctx context.Context, name, purpose string, extra ...string) (*csRun, error) {
	dir, err := cs.dataDir(name)
	if err != nil {
		return nil, err
	}
	r, err := cs.start(ctx, name, purpose, dir, extra...)
	if err != nil {
		return nil, err
	}
	cs.res.ColdStart.Prep = append(cs.res.ColdStart.Prep, r)
	cs.samp.reset()
	res, took, err := cs.bench(r).result(ctx, cs.lastID)
	r.Mem = cs.samp.end()
	if err != nil {
		_ = cs.stop(r, syscall.SIGKILL)
		return nil, err
	}
	r.ResultMs, r.NewNonce = ms(took), cs.net.next-1
	cs.res.check(name+": the last message's reply", checkReply(res, opAt(cs.ops), cs.net.user.Address(), true))
	if err := cs.readLog(r, name, "cold_start", 0); err != nil {
		_ = cs.stop(r, syscall.SIGKILL)
		return nil, err
	}
	log.Printf("%s: replayed %d messages in %.1f s", name, r.Evaluated, took.Seconds())
	return r, nil
}

// ensureWarm makes a warm data directory if there is none yet.
func (cs *coldStart) ensureWarm(ctx context.Context) error {
	if cs.warm != "" {
		return nil
	}
	r, err := cs.replay(ctx, "prep-file", "evaluates the whole stream on a new DB, then SIGTERM writes the file checkpoint")
	if err != nil {
		return err
	}
	return cs.stopWarm(r, "prep-file")
}

// fromNothing is situation (a). Its run, stopped with SIGTERM, leaves the
// file checkpoint of situation (b).
func (cs *coldStart) fromNothing(ctx context.Context) error {
	dir, err := cs.dataDir("cold")
	if err != nil {
		return err
	}
	r, err := cs.measure(ctx, "cold", dir, "cold_start", 0)
	if err != nil {
		return err
	}
	return cs.stopWarm(r, "cold")
}

// fromFile is situation (b): a fresh aocu on the warm DB and checkpoint dir.
func (cs *coldStart) fromFile(ctx context.Context) error {
	if err := cs.ensureWarm(ctx); err != nil {
		return err
	}
	r, err := cs.measure(ctx, "file", cs.warm, "file", cs.warmNonce)
	if err != nil {
		return err
	}
	return cs.stopWarm(r, "file")
}

// arweaveEnv has aocu upload an eager checkpoint at the end of a stream that
// took at least 1 ms of evaluation.
var arweaveEnv = []string{"DISABLE_PROCESS_CHECKPOINT_CREATION=false", "EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD=1"}

// fromArweave is situation (c).
func (cs *coldStart) fromArweave(ctx context.Context) error {
	var r *csRun
	if cs.o.arweavePrep == "replay" {
		var err error
		r, err = cs.replay(ctx, "prep-arweave", "replays the whole stream on a new DB with Arweave checkpoints on, then SIGKILL", arweaveEnv...)
		if err != nil {
			return err
		}
	} else {
		if err := cs.ensureWarm(ctx); err != nil {
			return err
		}
		var err error
		r, err = cs.start(ctx, "prep-arweave", "starts from the file checkpoint with Arweave checkpoints on, evaluates a new message, then SIGKILL",
			cs.warm, arweaveEnv...)
		if err != nil {
			return err
		}
		cs.res.ColdStart.Prep = append(cs.res.ColdStart.Prep, r)
		cs.samp.reset()
		for try := 1; try <= arweaveTries; try++ {
			if err := cs.newMessage(ctx, r, fmt.Sprintf("prep-arweave: reply to new message %d", try)); err != nil {
				_ = cs.stop(r, syscall.SIGKILL)
				return err
			}
			if evs, err := logEvents(r.Log, "Arweave checkpoint uploaded"); err != nil || len(evs) > 0 {
				break
			}
		}
		r.Mem = cs.samp.end()
		if err := cs.readLog(r, "prep-arweave", "file", cs.warmNonce); err != nil {
			_ = cs.stop(r, syscall.SIGKILL)
			return err
		}
	}
	if err := cs.stop(r, syscall.SIGKILL); err != nil {
		return err
	}
	ups, err := logEvents(r.Log, "Arweave checkpoint uploaded")
	if err != nil {
		return err
	}
	if refused, _ := logEvents(r.Log, "Arweave checkpoint failed"); len(refused) > 0 {
		cs.res.check("prep-arweave: Arweave checkpoint upload", errors.New(refused[0].String()))
	}
	if len(ups) == 0 {
		return errors.New("prep-arweave uploaded no checkpoint (see its log)")
	}
	best := ups[0]
	for _, u := range ups[1:] {
		if u.int("nonce") > best.int("nonce") {
			best = u
		}
	}
	cs.res.ColdStart.ArweaveCheckpoint = &best
	log.Printf("prep-arweave: checkpoint %s", best)

	dir, err := cs.dataDir("arweave")
	if err != nil {
		return err
	}
	m, err := cs.measure(ctx, "arweave", dir, "arweave", best.int("nonce"), "IGNORE_LOCAL_CHECKPOINTS=true")
	if err != nil {
		return err
	}
	if refused, _ := logEvents(m.Log, "Arweave checkpoint refused"); len(refused) > 0 {
		log.Printf("arweave: %d checkpoints refused, the first: %s", len(refused), refused[0])
	}
	return cs.stop(m, syscall.SIGTERM)
}

// logEvent is one aocu log line: its time, message and key=value fields.
type logEvent struct {
	Time string            `json:"time"`
	Msg  string            `json:"msg"`
	KV   map[string]string `json:"fields"`
}

func (e logEvent) String() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	for _, k := range []string{"tx", "nonce", "bytes", "gzipped", "took"} {
		if v, ok := e.KV[k]; ok {
			b.WriteString(" " + k + "=" + v)
		}
	}
	return b.String()
}

func (e logEvent) int(key string) int64 {
	n, err := strconv.ParseInt(e.KV[key], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// logEvents reads the lines of aocu's log whose message is one of msgs
// (`<time> ao-cu:<name> [<level>]: <msg> k=v …`).
func logEvents(path string, msgs ...string) ([]logEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLog(f, msgs...)
}

func parseLog(rd io.Reader, msgs ...string) ([]logEvent, error) {
	var out []logEvent
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		_, rest, ok := strings.Cut(line, "]: ")
		if !ok {
			continue
		}
		for _, m := range msgs {
			if rest != m && !strings.HasPrefix(rest, m+" ") {
				continue
			}
			e := logEvent{Time: strings.Fields(line)[0], Msg: m, KV: map[string]string{}}
			for _, f := range strings.Fields(rest[len(m):]) {
				if k, v, ok := strings.Cut(f, "="); ok {
					e.KV[k] = strings.Trim(v, `"`)
				}
			}
			out = append(out, e)
			break
		}
	}
	return out, sc.Err()
}

// reportColdStart prints the -coldstart table and the checks.
func reportColdStart(w io.Writer, res *Result, o options) {
	cs := res.ColdStart
	if cs == nil {
		cs = &coldStartResult{}
	}
	fmt.Fprintf(w, "\n`aocu serve` (%s, a separate process, env config only): the time a fresh aocu process takes to serve a new message "+
		"of a process of %s Set/Get messages (plus the process message and an Eval; module %s, %s), on the local gateway and SU. "+
		"Machine: %v CPUs, %v. Load average (1 min) during the run: %.2f–%.2f; at the end (1, 5, 15 min): %s. "+
		"Started %s, %.0f s in all, of which %.0f s seeding (signing and posting the stream to the SU).\n\n",
		filepath.Base(o.aocu), commas(float64(o.n)), filepath.Base(o.module), o.format, res.Machine["num_cpu"], res.Machine["cpu"],
		res.Load1[0], res.Load1[1], cs.LoadAvgEnd, res.Started.Format(time.RFC3339), res.DurationSec, res.SeedMs/1000)
	fmt.Fprintln(w, "| situation | time to serve a new message | messages evaluated | starting point (src, nonce) | peak RSS |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|")
	for _, r := range cs.Situations {
		evaluated := commas(float64(r.Evaluated))
		if r.EvaluatedLog >= 0 && r.EvaluatedLog != r.Evaluated {
			evaluated += fmt.Sprintf(" (log: %s)", commas(float64(r.EvaluatedLog)))
		}
		fmt.Fprintf(w, "| %s | %s | %s | `%s`, %s | %s |\n", situationTitles[r.Name], duration(r.ResultMs), evaluated,
			r.Src, commas(float64(r.StartNonce)), num(float64(r.Mem.HWMkB), "kB"))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The time is that of `GET /result/<id>?process-id=<pid>` of a message posted to the SU just before, on an aocu that "+
		"answered `GET /` and had served nothing else; messages evaluated = new message's nonce − starting nonce (+1 from a cold start), "+
		"checked against the `evaluation stream done` lines of aocu's debug log; peak RSS = aocu's VmHWM right after that GET.")
	fmt.Fprintln(w)
	for _, r := range cs.Situations {
		fmt.Fprintf(w, "- %s: exec to `GET /` answering %s; new message (nonce %s) signed and posted in %s; load (1 min) %.2f–%.2f during the GET; "+
			"%s to exit %s (CPU user+sys %.1f s, getrusage peak %s kB); log %s\n",
			r.Name, duration(r.StartupMs), commas(float64(r.NewNonce)), duration(r.SUPostMs), r.Mem.Load1Min, r.Mem.Load1Max,
			r.Signal, duration(r.ShutdownMs), r.Exit.UserS+r.Exit.SysS, commas(float64(r.Exit.MaxRSSkB)), filepath.Base(r.Log))
	}
	for _, r := range cs.Prep {
		fmt.Fprintf(w, "- preparation run %s (%s): started from `%s`, messages evaluated: %s, GET /result %s, then %s; its log: %s\n",
			r.Name, r.Purpose, r.StartingPoint, commas(float64(r.Evaluated)), duration(r.ResultMs), r.Signal, strings.Join(r.Checkpoints, "; "))
	}
	if c := cs.ArweaveCheckpoint; c != nil {
		fmt.Fprintf(w, "- Arweave checkpoint used by (c): %s\n", c)
	}
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

// duration formats milliseconds: "412 ms", "8.26 ms", "31.4 s".
func duration(v float64) string {
	if v >= 1000 {
		return num(v/1000, "s")
	}
	return num(v, "ms")
}
