// Package metrics holds the CU's Prometheus metrics, served on GET /metrics.
//
// It mirrors the reference CU (src/effects/metrics.js, src/bootstrap.js,
// src/domain/api/perf.js, src/effects/ao-process.js,
// src/routes/middleware/withMetrics.js): the same metric names, help texts,
// label names and label values, on a registry of its own (never the global
// default registry).
//
//	ao_cu_ao_process_total_evaluations          counter   {stream_type, message_type, process_error} + unlabeled total
//	ao_cu_ao_process_total_graphql_queries      counter   {query_name, result}
//	ao_cu_ao_process_total                      gauge     {cache_type} + unlabeled total
//	ao_cu_worker_total                          gauge     {worker_type} + unlabeled total
//	ao_cu_worker_tasks_total                    gauge     {worker_type, task_type} + unlabeled total
//	ao_cu_http_request_duration_seconds         histogram {method, route, status, statusGroup}
//	ao_cu_http_request_summary_seconds          summary   {method, route, status, statusGroup}
//
// Like prom-client, the reference sets an unlabeled series next to the
// labeled ones of a metric (evaluationCounter.inc(1) before the labeled inc;
// gauge collect() calling set(total) before set(n, labels)). Those series are
// reproduced with unchecked collectors, since client_golang's vectors cannot
// hold two label sets.
//
// Exposition: Handler negotiates the format. Prometheus asks for OpenMetrics
// and gets it, as from the reference (which sends OpenMetrics whatever the
// Accept header says); other clients get the Prometheus text format. The
// counters are registered as "<name>_total", so the sample names, and the
// series Prometheus stores, are "ao_cu_ao_process_total_evaluations_total"
// and "ao_cu_ao_process_total_graphql_queries_total" in both formats, as
// with the reference's OpenMetrics output. Differences from prom-client: a
// metric family without samples (the HTTP histogram and summary before the
// first request, a labeled counter before its first increment) is left out
// instead of printed as bare HELP/TYPE lines; the unlabeled evaluation total
// is exposed as 0 before the first evaluation; label pairs are sorted by
// name; no exemplars (the reference attaches processId/process_id
// exemplars).
//
// Runtime metrics: the reference calls prom-client's collectDefaultMetrics
// with the prefix "ao_cu_" (ao_cu_process_* and ao_cu_nodejs_*). Here the
// process collector has the namespace "ao_cu" (ao_cu_process_cpu_seconds_total,
// ao_cu_process_resident_memory_bytes, ao_cu_process_open_fds, ...) and the Go
// runtime collector is registered under the same prefix (ao_cu_go_goroutines,
// ao_cu_go_memstats_*, ...) in place of the ao_cu_nodejs_* metrics. The
// process metrics that prom-client has and client_golang lacks
// (ao_cu_process_cpu_user_seconds_total, ao_cu_process_cpu_system_seconds_total,
// ao_cu_process_heap_bytes) are absent.
package metrics

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix is the reference's metric prefix (metrics.js `prefix = 'ao_cu'`).
const Prefix = "ao_cu_"

// Label values used by the reference.
const (
	StreamPrimary = "primary"
	StreamDryRun  = "dry-run"

	MessageScheduled  = "scheduled"
	MessageCron       = "cron"
	MessageAssignment = "assignment"
	MessageDryRun     = "dry-run"

	WorkerPrimary = "primary"
	WorkerDryRun  = "dry-run"
)

// HTTPBuckets are the reference's http_request_duration_seconds buckets.
var HTTPBuckets = []float64{0.5, 1, 3, 5, 10, 30}

// Metrics is the CU's metric set and its registry. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	evalTotal prometheus.Counter
	evals     *prometheus.CounterVec
	graphql   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	summary   *prometheus.SummaryVec
	gauges    *gaugeCollector
	diskBytes *prometheus.GaugeVec
	diskFiles *prometheus.GaugeVec
	failed    prometheus.Gauge
}

// New returns the metrics registered on a new registry, with the process and
// Go runtime collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}

	m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "ao_cu"}))
	prometheus.WrapRegistererWithPrefix(Prefix, m.reg).MustRegister(collectors.NewGoCollector())

	// Counters are named with the "_total" suffix that prom-client's
	// OpenMetrics output adds to the samples: the OpenMetrics encoder then
	// writes "# TYPE ao_cu_ao_process_total_evaluations counter" and
	// "ao_cu_ao_process_total_evaluations_total{...}" samples like the
	// reference (without the suffix it would type the family "unknown").
	const evalName, evalHelp = Prefix + "ao_process_total_evaluations_total", "The total number of evaluations on a CU"
	m.evalTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: evalName, Help: evalHelp})
	m.evals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: evalName, Help: evalHelp},
		[]string{"stream_type", "message_type", "process_error"})
	m.reg.MustRegister(unchecked{m.evalTotal, m.evals})

	m.graphql = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Prefix + "ao_process_total_graphql_queries_total",
		Help: "The total number of GraphQL queries on a CU",
	}, []string{"query_name", "result"})
	m.reg.MustRegister(m.graphql)

	httpLabels := []string{"method", "route", "status", "statusGroup"}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    Prefix + "http_request_duration_seconds",
		Help:    "Request duration in seconds",
		Buckets: HTTPBuckets,
	}, httpLabels)
	// prom-client summary defaults of metrics.js: percentiles
	// 0.01 0.05 0.5 0.9 0.95 0.99, maxAgeSeconds 300, ageBuckets 3.
	m.summary = prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       Prefix + "http_request_summary_seconds",
		Help:       "Request duration in seconds summary",
		Objectives: map[float64]float64{0.01: 0.001, 0.05: 0.005, 0.5: 0.05, 0.9: 0.01, 0.95: 0.005, 0.99: 0.001},
		MaxAge:     5 * time.Minute,
		AgeBuckets: 3,
	}, httpLabels)
	m.reg.MustRegister(m.duration, m.summary)

	m.gauges = newGaugeCollector()
	m.reg.MustRegister(m.gauges)
	// aocu's own: what the reference has no metric for.
	m.diskBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Prefix + "disk_bytes",
		Help: "Bytes of the CU's files per directory (memory: drained process memory, checkpoints: file checkpoints, modules: module binaries)"}, []string{"dir"})
	m.diskFiles = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Prefix + "disk_files",
		Help: "Files of the CU per directory"}, []string{"dir"})
	m.failed = prometheus.NewGauge(prometheus.GaugeOpts{Name: Prefix + "failed_processes",
		Help: "Processes stopped at a message that ran past WASM_EVALUATION_TIMEOUT (until restart)"})
	m.reg.MustRegister(m.diskBytes, m.diskFiles, m.failed)
	return m
}

// SetDisk sets ao_cu_disk_bytes and ao_cu_disk_files for one directory kind.
func (m *Metrics) SetDisk(dir string, files int, bytes int64) {
	m.diskBytes.WithLabelValues(dir).Set(float64(bytes))
	m.diskFiles.WithLabelValues(dir).Set(float64(files))
}

// SetFailedProcesses sets ao_cu_failed_processes.
func (m *Metrics) SetFailedProcesses(n int) { m.failed.Set(float64(n)) }

// Registry is the registry the metrics are on, for registering more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Evaluated counts one evaluation (evaluate.js): stream is "primary" or
// "dry-run", messageType "scheduled", "cron", "assignment" or "dry-run",
// failed whether the output had an Error. It increments the unlabeled total
// and the labeled series.
func (m *Metrics) Evaluated(stream, messageType string, failed bool) {
	m.evalTotal.Inc()
	m.evals.WithLabelValues(stream, messageType, strconv.FormatBool(failed)).Inc()
}

// GraphQLQuery counts one gateway GraphQL query named name (GetBlocks,
// GetTransactionMeta, GetAoProcessCheckpoints, ...) with result "success"
// when ok, else "error".
func (m *Metrics) GraphQLQuery(name string, ok bool) {
	result := "error"
	if ok {
		result = "success"
	}
	m.graphql.WithLabelValues(name, result).Inc()
}

// SetProcesses sets ao_cu_ao_process_total: the processes cached in memory
// (the LRU) and drained to files.
func (m *Metrics) SetProcesses(memory, file int) {
	g := m.gauges
	g.mu.Lock()
	g.memory, g.file = memory, file
	g.mu.Unlock()
}

// SetWorkers sets ao_cu_worker_total and ao_cu_worker_tasks_total for one
// worker pool ("primary" or "dry-run"; both are exposed, as zero, until set).
func (m *Metrics) SetWorkers(workerType string, total, pending, active int) {
	g := m.gauges
	g.mu.Lock()
	g.workers[workerType] = workerStats{total: total, pending: pending, active: active}
	g.mu.Unlock()
}

// OnCollect registers fn to run at the start of every collection of the
// gauges, before their values are read, so that it may call SetProcesses and
// SetWorkers with fresh values the way the reference's gauge collect()
// callbacks do. fn may run concurrently with itself when scrapes overlap.
func (m *Metrics) OnCollect(fn func()) {
	g := m.gauges
	g.mu.Lock()
	g.hooks = append(g.hooks, fn)
	g.mu.Unlock()
}

// Handler serves the registry: OpenMetrics when the client accepts it (as
// Prometheus does), else the Prometheus text format. A failing collector
// does not fail the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	})
}

// ObserveHTTP records one request in the HTTP histogram and summary.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	group := strconv.Itoa(status/100) + "xx"
	secs := d.Seconds()
	m.duration.WithLabelValues(method, route, s, group).Observe(secs)
	m.summary.WithLabelValues(method, route, s, group).Observe(secs)
}

// Middleware times the requests that next serves and records them with
// ObserveHTTP, labeled with the method, the route, the status and its group
// ("2xx"). route is called after next has served the request, so that it
// can read r.Pattern even when next is the ServeMux itself; nil means
// RoutePattern. A request whose route is "" (no route matched) is not
// recorded. The status is the one passed to WriteHeader, 200 when the
// handler only writes, and 500 when it panics (the panic goes on).
func (m *Metrics) Middleware(route func(*http.Request) string, next http.Handler) http.Handler {
	if route == nil {
		route = RoutePattern
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		panicked := true
		defer func() {
			status := sw.status
			if panicked && status == 0 {
				status = http.StatusInternalServerError
			} else if status == 0 {
				status = http.StatusOK
			}
			if rt := route(r); rt != "" {
				m.ObserveHTTP(r.Method, rt, status, time.Since(start))
			}
		}()
		next.ServeHTTP(sw, r)
		panicked = false
	})
}

// RoutePattern is r.Pattern (set by http.ServeMux) in the reference's
// Fastify form: without the method and host, with "{name}" as ":name",
// "{name...}" as "*" and "{$}" dropped; "GET /state/{processId}" gives
// "/state/:processId". It is "" when no pattern matched.
func RoutePattern(r *http.Request) string {
	p := r.Pattern
	if p == "" {
		return ""
	}
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == "{$}":
			segs[i] = ""
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			segs[i] = "*"
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

// statusWriter remembers the response status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that assert http.Flusher stream through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// unchecked is a collector without descriptors, so that the registry accepts
// its metrics under one name with different label sets.
type unchecked []prometheus.Collector

func (unchecked) Describe(chan<- *prometheus.Desc) {}

func (u unchecked) Collect(ch chan<- prometheus.Metric) {
	for _, c := range u {
		c.Collect(ch)
	}
}

type workerStats struct{ total, pending, active int }

// gaugeCollector produces the gauges from the values last set, like the
// reference's gauges whose collect() reads the current state.
type gaugeCollector struct {
	mu      sync.Mutex
	hooks   []func()
	memory  int
	file    int
	workers map[string]workerStats

	procTotal, procByType       *prometheus.Desc
	workerTotal, workerByType   *prometheus.Desc
	tasksTotal, tasksByTypeKind *prometheus.Desc
}

func newGaugeCollector() *gaugeCollector {
	const (
		procName, procHelp     = Prefix + "ao_process_total", "The total amount of ao Processes cached on the Compute Unit"
		workerName, workerHelp = Prefix + "worker_total", "The total amount of workers currently spun-up on the Compute Unit"
		tasksName, tasksHelp   = Prefix + "worker_tasks_total", "The total amount of worker tasks on the Compute Unit"
	)
	return &gaugeCollector{
		workers:         map[string]workerStats{WorkerPrimary: {}, WorkerDryRun: {}},
		procTotal:       prometheus.NewDesc(procName, procHelp, nil, nil),
		procByType:      prometheus.NewDesc(procName, procHelp, []string{"cache_type"}, nil),
		workerTotal:     prometheus.NewDesc(workerName, workerHelp, nil, nil),
		workerByType:    prometheus.NewDesc(workerName, workerHelp, []string{"worker_type"}, nil),
		tasksTotal:      prometheus.NewDesc(tasksName, tasksHelp, nil, nil),
		tasksByTypeKind: prometheus.NewDesc(tasksName, tasksHelp, []string{"worker_type", "task_type"}, nil),
	}
}

// Describe sends nothing: the collector is unchecked (see unchecked).
func (*gaugeCollector) Describe(chan<- *prometheus.Desc) {}

func (g *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	hooks := append([]func(){}, g.hooks...)
	g.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}

	g.mu.Lock()
	memory, file := g.memory, g.file
	types := make([]string, 0, len(g.workers))
	for t := range g.workers {
		types = append(types, t)
	}
	sort.Strings(types)
	stats := make([]workerStats, len(types))
	for i, t := range types {
		stats[i] = g.workers[t]
	}
	g.mu.Unlock()

	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}

	gauge(g.procTotal, memory+file)
	gauge(g.procByType, memory, "memory")
	gauge(g.procByType, file, "file")

	var total, active int
	for _, s := range stats {
		total += s.total
		active += s.active
	}
	gauge(g.workerTotal, total)
	for i, t := range types {
		gauge(g.workerByType, stats[i].total, t)
	}
	// The reference sets the unlabeled series to the pending sum and then
	// overwrites it with the active sum (perf.js); the active sum is kept.
	gauge(g.tasksTotal, active)
	for i, t := range types {
		gauge(g.tasksByTypeKind, stats[i].pending, t, "pending")
		gauge(g.tasksByTypeKind, stats[i].active, t, "active")
	}
}
