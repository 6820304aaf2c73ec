package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stats summarises latencies, in milliseconds. Percentiles are nearest-rank:
// the p99 of 50 samples is the maximum.
type stats struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return stats{N: len(s), Min: ms(s[0]), P50: rank(.5), P90: rank(.9), P99: rank(.99), Max: ms(s[len(s)-1]),
		Mean: ms(sum) / float64(len(s))}
}

type coldPhase struct {
	Messages int      `json:"messages"`
	Ms       float64  `json:"ms"`
	MsgPerS  float64  `json:"msg_per_s"`
	CPUMs    float64  `json:"cpu_ms"` // aocu's user+sys during the phase
	Mem      memStats `json:"mem"`
}

type hotPhase struct {
	Result stats    `json:"get_result"`
	SUPost stats    `json:"su_post"` // signing and posting the message to the SU, not part of the figure
	Mem    memStats `json:"mem"`
}

type latencyPhase struct {
	Latency stats    `json:"latency"`
	Mem     memStats `json:"mem"`
}

type ratePhase struct {
	Requests int      `json:"requests"`
	OK       int      `json:"ok"`
	Failed   int      `json:"failed"`
	WallMs   float64  `json:"wall_ms"`
	ReqPerS  float64  `json:"req_per_s"`
	Latency  stats    `json:"latency"`
	Mem      memStats `json:"mem"`
}

type identicalPhase struct {
	FirstMs float64  `json:"first_ms"`
	Latency stats    `json:"latency"`             // all requests, the first included
	Rest    stats    `json:"latency_after_first"` // the cached ones
	Mem     memStats `json:"mem"`
}

type concPhase struct {
	Clients   int `json:"clients"`
	PerClient int `json:"per_client"`
	ratePhase
}

type statePhase struct {
	Ms          []float64 `json:"ms"`
	FirstByteMs []float64 `json:"first_byte_ms"` // request sent to the first byte of the body
	Bytes       []int     `json:"bytes"`
	FirstByte   stats     `json:"first_byte"`
	// MovedOn is one more /state right after a new message was evaluated
	// (the memory image must be captured again).
	MovedOnMs          float64  `json:"moved_on_ms,omitempty"`
	MovedOnFirstByteMs float64  `json:"moved_on_first_byte_ms,omitempty"`
	ContentEncoding    string   `json:"content_encoding,omitempty"`
	Latency            stats    `json:"latency"`
	Mem                memStats `json:"mem"`
}

type restartPhase struct {
	Signal        string   `json:"signal"`
	ShutdownMs    float64  `json:"shutdown_ms"`     // SIGTERM to exit
	StartupMs     float64  `json:"startup_ms"`      // exec to GET / answering
	Messages      int      `json:"messages"`        // in the stream when the new message is read
	FirstResultMs float64  `json:"first_result_ms"` // GET /result of a new message
	OldResultMs   float64  `json:"old_result_ms"`   // then GET /result of the cold phase's last message
	StartingPoint string   `json:"starting_point"`  // from aocu's log: where it resumed the process ("src=… nonce=…")
	Mem           memStats `json:"mem"`
}

type check struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Result is the raw JSON the bench writes.
type Result struct {
	Started     time.Time        `json:"started"`
	Machine     map[string]any   `json:"machine"`
	Config      map[string]any   `json:"config"`
	SeedMs      float64          `json:"seed_ms"` // spawning and posting the stream, before aocu starts
	StartupMs   float64          `json:"startup_ms"`
	Cold        *coldPhase       `json:"cold,omitempty"`
	Baseline    *baselinePhase   `json:"baseline,omitempty"`
	RefCU       *refCUPhase      `json:"reference_cu,omitempty"`
	Hot         *hotPhase        `json:"hot,omitempty"`
	Repeat      *latencyPhase    `json:"repeat,omitempty"`
	DrySeq      *ratePhase       `json:"dryrun_seq,omitempty"`
	DrySame     *identicalPhase  `json:"dryrun_identical,omitempty"`
	DryConc     *concPhase       `json:"dryrun_concurrent,omitempty"`
	State       *statePhase      `json:"state,omitempty"`
	Restart     *restartPhase    `json:"cold_restart,omitempty"`
	ColdStart   *coldStartResult `json:"coldstart,omitempty"`
	Processes   []cpuUsage       `json:"aocu_processes"` // one per aocu run, from the kernel at exit
	Load1       [2]float64       `json:"load1_min_max"`  // over the whole run, sampled every 200 ms
	Checks      []check          `json:"checks"`
	Error       string           `json:"error,omitempty"`
	DurationSec float64          `json:"duration_s"`
}

func (r *Result) check(name string, err error) {
	c := check{Name: name, OK: err == nil}
	if err != nil {
		c.Error = err.Error()
	}
	r.Checks = append(r.Checks, c)
}

func (r *Result) failed() []check {
	var out []check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// ref is a figure of research/ref-cu-bench.md (WORKERS=1 column: runs A and
// C; both columns are the same pools, see its anomaly 2).
type ref struct {
	v    float64
	note string
}

// row is one line of the table. rate rows are "higher is better".
type row struct {
	name string
	ours float64
	unit string
	ref  ref
	rate bool
}

func commas(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func num(v float64, unit string) string {
	var s string
	switch {
	case unit == "kB" || unit == "B" || v >= 1000:
		s = commas(v)
	case v >= 100:
		s = fmt.Sprintf("%.0f", v)
	case v >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	return s + " " + unit
}

func ratio(refV, ours float64) string {
	if refV <= 0 || ours <= 0 {
		return "–"
	}
	r := refV / ours
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}

func (r *Result) rows(n int) []row {
	var rows []row
	add := func(name string, ours float64, unit string, rf ref, rate bool) {
		rows = append(rows, row{name, ours, unit, rf, rate})
	}
	if c := r.Cold; c != nil {
		coldRef := ref{note: "not measured at this N"}
		switch n {
		case 1000:
			coldRef = ref{500.0, "1,002 msgs, run A, server log"}
		case 100:
			coldRef = ref{47.1, "102 msgs, run C"}
		}
		add(fmt.Sprintf("cold: GET /result of the last of %s msgs on a fresh DB", commas(float64(c.Messages))), c.Ms/1000, "s", coldRef, false)
		tput := ref{2.00, "run A"}
		if n == 100 {
			tput = ref{2.17, "run C"}
		}
		add("cold: throughput", c.MsgPerS, "msg/s", tput, true)
		add("cold: peak RSS (VmHWM)", float64(c.Mem.HWMkB), "kB", ref{724696, "VmHWM and time -v"}, false)
	}
	if h := r.Hot; h != nil {
		add(fmt.Sprintf("hot: GET /result of a new message, p50 (n=%d)", h.Result.N), h.Result.P50, "ms", ref{1188, "n=50, run C"}, false)
		add("hot: p90", h.Result.P90, "ms", ref{1305, ""}, false)
		add("hot: p99", h.Result.P99, "ms", ref{1601, ""}, false)
		add("peak RSS after the hot phase (VmHWM)", float64(h.Mem.HWMkB), "kB", ref{1585688, "run C"}, false)
	}
	if p := r.Repeat; p != nil {
		add(fmt.Sprintf("repeat GET /result of an evaluated message, p50 (n=%d)", p.Latency.N), p.Latency.P50, "ms", ref{0.9, "n=20"}, false)
		add("repeat GET: p99", p.Latency.P99, "ms", ref{8.2, ""}, false)
	}
	if p := r.DrySeq; p != nil {
		add(fmt.Sprintf("dry-run, sequential, unique bodies, p50 (n=%d)", p.Latency.N), p.Latency.P50, "ms", ref{1243, "n=50, run C"}, false)
		add("dry-run sequential: p90", p.Latency.P90, "ms", ref{1356, ""}, false)
		add("dry-run sequential: p99", p.Latency.P99, "ms", ref{1668, "= max"}, false)
		add("dry-run sequential: throughput", p.ReqPerS, "req/s", ref{0.79, ""}, true)
	}
	if p := r.DrySame; p != nil {
		add(fmt.Sprintf("dry-run, identical body (result cache), p50 (n=%d)", p.Latency.N), p.Latency.P50, "ms", ref{1.06, ""}, false)
		add("dry-run identical: the first (uncached) one", p.FirstMs, "ms", ref{1201, ""}, false)
	}
	if p := r.DryConc; p != nil {
		add(fmt.Sprintf("dry-run, %d concurrent clients × %d unique: throughput (%d ok, %d failed)", p.Clients, p.PerClient, p.OK, p.Failed),
			p.ReqPerS, "req/s", ref{0.83, "20×2, run C"}, true)
		add("dry-run concurrent: latency p50", p.Latency.P50, "ms", ref{23100, ""}, false)
		add("dry-run concurrent: latency p99", p.Latency.P99, "ms", ref{25300, ""}, false)
		add("peak RSS after the dry-run phases (VmHWM)", float64(p.Mem.HWMkB), "kB", ref{2367720, "run C"}, false)
	}
	if s := r.State; s != nil {
		add(fmt.Sprintf("GET /state, median of %d (%s ms)", len(s.Ms), joinMs(s.Ms)), s.Latency.P50, "ms", ref{1047, "1,047 / 1,138 / 979 ms, run C"}, false)
		add(fmt.Sprintf("GET /state: time to first byte, median of %d (%s ms)", len(s.FirstByteMs), joinMs(s.FirstByteMs)), s.FirstByte.P50, "ms", ref{note: "not measured"}, false)
		if s.MovedOnMs > 0 {
			add("GET /state right after a new message: time to first byte", s.MovedOnFirstByteMs, "ms", ref{note: "not measured"}, false)
			add("GET /state right after a new message: whole body", s.MovedOnMs, "ms", ref{note: "not measured"}, false)
		}
		b := 0
		if len(s.Bytes) > 0 {
			b = s.Bytes[0]
		}
		enc := "uncompressed"
		if s.ContentEncoding != "" {
			enc = s.ContentEncoding
		}
		add("GET /state: body size ("+enc+")", float64(b), "B", ref{110034944, "uncompressed"}, false)
		add("peak RSS after the /state phase (VmHWM)", float64(s.Mem.HWMkB), "kB", ref{note: "RSS 1.8–1.9 GB sampled during /state"}, false)
	}
	if p := r.Restart; p != nil {
		add("cold-restart: "+p.Signal+" to exit", p.ShutdownMs, "ms", ref{note: "not measured"}, false)
		add("cold-restart: exec to GET / answering (same DB)", p.StartupMs, "ms", ref{note: "not measured"}, false)
		from := "aocu's log has no starting point"
		if p.StartingPoint != "" {
			from = "resumed from " + p.StartingPoint
		}
		add(fmt.Sprintf("cold-restart: first GET /result of a new message (%s msgs in the stream; %s)", commas(float64(p.Messages)), from), p.FirstResultMs, "ms",
			ref{note: "not measured"}, false)
		add("cold-restart: then GET /result of the cold phase's last message", p.OldResultMs, "ms", ref{note: "not measured"}, false)
	}
	if len(r.Processes) > 0 {
		var cpu float64
		var peak int64
		for _, p := range r.Processes {
			cpu += p.UserS + p.SysS
			peak = max(peak, p.MaxRSSkB)
		}
		add(fmt.Sprintf("aocu CPU time, user+sys, whole run (%d processes)", len(r.Processes)), cpu, "s",
			ref{note: "run A: 329 + 203 s (different phase mix)"}, false)
		add("aocu peak RSS, whole run (getrusage)", float64(peak), "kB", ref{note: "1.5–2.4 GB after the phases"}, false)
	}
	return rows
}

func joinMs(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = commas(x)
		if x < 10 {
			s[i] = fmt.Sprintf("%.1f", x)
		}
	}
	return strings.Join(s, " / ")
}

// table writes the markdown comparison table.
func (r *Result) table(w io.Writer, n int) {
	fmt.Fprintln(w, "| measurement | aocu | reference CU (ref-cu-bench.md, Node 22, same machine) | ratio (ref/aocu) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, x := range r.rows(n) {
		refS := x.ref.note
		rat := "–"
		if x.ref.v > 0 {
			refS = num(x.ref.v, x.unit)
			if x.ref.note != "" {
				refS += " (" + x.ref.note + ")"
			}
			rat = ratio(x.ref.v, x.ours)
			if x.rate {
				rat += " (rate)"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", x.name, num(x.ours, x.unit), refS, rat)
	}
}

// goals writes issue 13's targets beside this run's figures.
func (r *Result) goals(w io.Writer) {
	type goal struct {
		name, want string
		have       float64
		unit       string
		ok         bool
		measured   bool
	}
	var gs []goal
	if c, bl := r.Cold, r.Baseline; c != nil && bl != nil && bl.EvalMsgPerS > 0 {
		x := c.MsgPerS / bl.EvalMsgPerS
		gs = append(gs, goal{"cold replay against aocu eval on the same messages", "≥ 0.9×", x, "×", x >= 0.9, true})
	}
	if h := r.Hot; h != nil {
		gs = append(gs, goal{"hot: new message + GET /result, p50", "≤ 3 ms", h.Result.P50, "ms", h.Result.P50 <= 3, true},
			goal{"hot: p99", "≤ 10 ms", h.Result.P99, "ms", h.Result.P99 <= 10, true})
	}
	if d := r.DrySeq; d != nil {
		gs = append(gs, goal{"dry-run, unique bodies, p50", "≤ 3 ms", d.Latency.P50, "ms", d.Latency.P50 <= 3, true},
			goal{"dry-run, unique bodies, p99", "≤ 10 ms", d.Latency.P99, "ms", d.Latency.P99 <= 10, true})
	}
	if d := r.DryConc; d != nil {
		gs = append(gs, goal{fmt.Sprintf("dry-runs, %d clients on one process", d.Clients), "≥ 1,000 req/s", d.ReqPerS, "req/s", d.ReqPerS >= 1000, true})
	}
	if s := r.State; s != nil {
		gs = append(gs, goal{"GET /state: time to first byte, median", "≤ 50 ms", s.FirstByte.P50, "ms", s.FirstByte.P50 <= 50, true})
		if s.MovedOnMs > 0 {
			gs = append(gs, goal{"GET /state right after a new message: time to first byte", "≤ 50 ms", s.MovedOnFirstByteMs, "ms", s.MovedOnFirstByteMs <= 50, true})
		}
	}
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nIssue 13 goals (load average during the run: %.2f–%.2f):\n\n", r.Load1[0], r.Load1[1])
	fmt.Fprintln(w, "| goal | target | this run | reached |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, g := range gs {
		ok := "no"
		if g.ok {
			ok = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", g.name, g.want, num(g.have, g.unit), ok)
	}
}

// sameRun writes the figures measured in this run beside aocu serve: aocu
// eval and the reference loader on the cold stream, the live reference CU.
func (r *Result) sameRun(w io.Writer) {
	bl, rc := r.Baseline, r.RefCU
	if bl == nil && rc == nil {
		return
	}
	dash := "–"
	cell := func(ok bool, f func() string) string {
		if !ok {
			return dash
		}
		return f()
	}
	pair := func(a, b float64) string { return num(a, "ms") + " / " + num(b, "ms") }
	fmt.Fprintln(w, "\nIn this run, on the same process:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measurement | aocu serve | aocu eval | reference loader (node, UNSAFE_MEMORY) | reference CU (live) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	if c := r.Cold; c != nil {
		fmt.Fprintf(w, "| cold: the stream from its first message | %s (%d msgs) | %s | %s | %s |\n", num(c.MsgPerS, "msg/s"), c.Messages,
			cell(bl != nil, func() string { return num(bl.EvalMsgPerS, "msg/s") }),
			cell(bl != nil && bl.RefLoaderMsgPerS > 0, func() string { return num(bl.RefLoaderMsgPerS, "msg/s") }),
			cell(rc != nil && rc.ColdMs > 0, func() string { return fmt.Sprintf("%s (%d msgs)", num(rc.ColdMsgPerS, "msg/s"), rc.ColdMsgs) }))
		perMsg := func(cpuMs float64, n int) string { return num(cpuMs/float64(n), "ms") }
		fmt.Fprintf(w, "| cold: CPU time (user+sys) per message | %s | %s | %s | %s |\n", cell(c.CPUMs > 0, func() string { return perMsg(c.CPUMs, c.Messages) }),
			cell(bl != nil && bl.EvalCPUMs > 0, func() string { return perMsg(bl.EvalCPUMs, bl.Messages) }),
			cell(bl != nil && bl.RefLoaderCPUMs > 0, func() string { return perMsg(bl.RefLoaderCPUMs, bl.Messages) }),
			cell(rc != nil && rc.ColdCPUMs > 0, func() string { return perMsg(rc.ColdCPUMs, rc.ColdMsgs) }))
	}
	if h := r.Hot; h != nil {
		fmt.Fprintf(w, "| hot: new message + GET /result, p50 / p99 | %s | – | – | %s |\n", pair(h.Result.P50, h.Result.P99),
			cell(rc != nil && rc.Hot.N > 0, func() string { return pair(rc.Hot.P50, rc.Hot.P99) }))
	}
	if d := r.DrySeq; d != nil {
		fmt.Fprintf(w, "| dry-run, unique bodies, p50 / p99 | %s | – | – | %s |\n", pair(d.Latency.P50, d.Latency.P99),
			cell(rc != nil && rc.DrySeq.N > 0, func() string { return pair(rc.DrySeq.P50, rc.DrySeq.P99) }))
	}
	if d := r.DryConc; d != nil {
		fmt.Fprintf(w, "| dry-runs, %d clients on one process | %s | – | – | %s |\n", d.Clients, num(d.ReqPerS, "req/s"),
			cell(rc != nil && rc.DryConcN > 0, func() string { return fmt.Sprintf("%s (1 each)", num(rc.DryConcRate, "req/s")) }))
	}
	if s := r.State; s != nil {
		fmt.Fprintf(w, "| GET /state: first byte / whole body | %s | – | – | %s |\n", pair(s.FirstByte.P50, s.Latency.P50),
			cell(rc != nil && rc.StateMs > 0, func() string { return pair(rc.StateTTFBMs, rc.StateMs) }))
	}
	fmt.Fprintln(w)
	if bl != nil && r.Cold != nil && bl.EvalMsgPerS > 0 {
		fmt.Fprintf(w, "- cold replay in aocu serve = %.2f× aocu eval's rate on the same %d messages (both from an empty compiled-module cache)", r.Cold.MsgPerS/bl.EvalMsgPerS, bl.Messages)
		if r.Cold.CPUMs > 0 && bl.EvalCPUMs > 0 {
			fmt.Fprintf(w, ", %.2f× its CPU time (the rate under load depends on the share of the cores each gets)", r.Cold.CPUMs/bl.EvalCPUMs)
		}
		if bl.RefLoaderMsgPerS > 0 {
			fmt.Fprintf(w, "; aocu eval = %.2f× the reference loader's rate (its ao-loader is tools/refloader's)", bl.EvalMsgPerS/bl.RefLoaderMsgPerS)
		} else if bl.RefLoaderNote != "" {
			fmt.Fprintf(w, "; reference loader not measured: %s", bl.RefLoaderNote)
		}
		fmt.Fprintln(w)
	}
	if rc != nil {
		fmt.Fprintf(w, "- reference CU (%s): %d of %d /result bodies byte-identical to aocu's; its CPU user+sys %.1f s, peak RSS %s kB\n",
			rc.Dir, rc.SameBytes, rc.Compared, rc.Usage.UserS+rc.Usage.SysS, commas(float64(rc.Usage.MaxRSSkB)))
	}
}
