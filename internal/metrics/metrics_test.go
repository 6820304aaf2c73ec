package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const openMetricsAccept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

func scrape(t *testing.T, m *Metrics, accept string) (string, string) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	return res.Header.Get("Content-Type"), string(body)
}

// hasLines fails unless every want line is a line of body.
func hasLines(t *testing.T, body string, want ...string) {
	t.Helper()
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, w := range want {
		if !lines[w] {
			t.Errorf("missing line %q", w)
		}
	}
	if t.Failed() {
		t.Logf("body:\n%s", body)
	}
}

func TestScrapeOpenMetrics(t *testing.T) {
	m := New()
	m.Evaluated(StreamPrimary, MessageScheduled, false)
	m.Evaluated(StreamPrimary, MessageScheduled, false)
	m.Evaluated(StreamPrimary, MessageCron, true)
	m.Evaluated(StreamDryRun, MessageDryRun, false)
	m.GraphQLQuery("GetBlocks", true)
	m.GraphQLQuery("GetBlocks", true)
	m.GraphQLQuery("GetTransactionMeta", false)
	m.SetProcesses(3, 2)
	m.SetWorkers(WorkerPrimary, 4, 1, 2)
	m.SetWorkers(WorkerDryRun, 2, 5, 1)

	ct, body := scrape(t, m, openMetricsAccept)
	if !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
		t.Fatalf("content type %q", ct)
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Fatalf("no # EOF")
	}
	hasLines(t, body,
		"# HELP ao_cu_ao_process_total_evaluations The total number of evaluations on a CU",
		"# TYPE ao_cu_ao_process_total_evaluations counter",
		"ao_cu_ao_process_total_evaluations_total 4.0",
		`ao_cu_ao_process_total_evaluations_total{message_type="scheduled",process_error="false",stream_type="primary"} 2.0`,
		`ao_cu_ao_process_total_evaluations_total{message_type="cron",process_error="true",stream_type="primary"} 1.0`,
		`ao_cu_ao_process_total_evaluations_total{message_type="dry-run",process_error="false",stream_type="dry-run"} 1.0`,

		"# HELP ao_cu_ao_process_total_graphql_queries The total number of GraphQL queries on a CU",
		"# TYPE ao_cu_ao_process_total_graphql_queries counter",
		`ao_cu_ao_process_total_graphql_queries_total{query_name="GetBlocks",result="success"} 2.0`,
		`ao_cu_ao_process_total_graphql_queries_total{query_name="GetTransactionMeta",result="error"} 1.0`,

		"# HELP ao_cu_ao_process_total The total amount of ao Processes cached on the Compute Unit",
		"# TYPE ao_cu_ao_process_total gauge",
		"ao_cu_ao_process_total 5.0",
		`ao_cu_ao_process_total{cache_type="memory"} 3.0`,
		`ao_cu_ao_process_total{cache_type="file"} 2.0`,

		"# HELP ao_cu_worker_total The total amount of workers currently spun-up on the Compute Unit",
		"# TYPE ao_cu_worker_total gauge",
		"ao_cu_worker_total 6.0",
		`ao_cu_worker_total{worker_type="primary"} 4.0`,
		`ao_cu_worker_total{worker_type="dry-run"} 2.0`,

		"# HELP ao_cu_worker_tasks_total The total amount of worker tasks on the Compute Unit",
		"# TYPE ao_cu_worker_tasks_total gauge",
		"ao_cu_worker_tasks_total 3.0",
		`ao_cu_worker_tasks_total{task_type="pending",worker_type="primary"} 1.0`,
		`ao_cu_worker_tasks_total{task_type="active",worker_type="primary"} 2.0`,
		`ao_cu_worker_tasks_total{task_type="pending",worker_type="dry-run"} 5.0`,
		`ao_cu_worker_tasks_total{task_type="active",worker_type="dry-run"} 1.0`,
	)
	for _, prefix := range []string{"ao_cu_process_cpu_seconds_total ", "ao_cu_process_resident_memory_bytes ", "ao_cu_process_start_time_seconds ", "ao_cu_go_goroutines "} {
		if !strings.Contains(body, "\n"+prefix) {
			t.Errorf("no %s metric", prefix)
		}
	}
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, Prefix) {
			t.Errorf("metric without the %s prefix: %q", Prefix, l)
		}
	}
}

func TestScrapeTextFormat(t *testing.T) {
	m := New()
	m.Evaluated(StreamPrimary, MessageAssignment, false)
	ct, body := scrape(t, m, "")
	if !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	hasLines(t, body,
		// The counters' series names are those Prometheus stores from the
		// reference's OpenMetrics output.
		"# TYPE ao_cu_ao_process_total_evaluations_total counter",
		"ao_cu_ao_process_total_evaluations_total 1",
		`ao_cu_ao_process_total_evaluations_total{message_type="assignment",process_error="false",stream_type="primary"} 1`,
		// Gauges are exposed (as zero) before anything is set.
		"ao_cu_ao_process_total 0",
		`ao_cu_ao_process_total{cache_type="memory"} 0`,
		`ao_cu_ao_process_total{cache_type="file"} 0`,
		`ao_cu_worker_total{worker_type="primary"} 0`,
		`ao_cu_worker_total{worker_type="dry-run"} 0`,
	)
}

func TestOwnRegistries(t *testing.T) {
	a, b := New(), New() // no duplicate registration panic
	a.GraphQLQuery("GetBlocks", true)
	_, body := scrape(t, b, "")
	if strings.Contains(body, `query_name="GetBlocks"`) {
		t.Fatal("registries are shared")
	}
}

func TestOnCollect(t *testing.T) {
	m := New()
	var calls atomic.Int32
	m.OnCollect(func() {
		n := int(calls.Add(1))
		m.SetProcesses(n, 10)
		m.SetWorkers("primary", 7, 0, 0)
	})
	_, body := scrape(t, m, "")
	hasLines(t, body, "ao_cu_ao_process_total 11", `ao_cu_ao_process_total{cache_type="memory"} 1`, `ao_cu_worker_total{worker_type="primary"} 7`)
	_, body = scrape(t, m, "")
	hasLines(t, body, `ao_cu_ao_process_total{cache_type="memory"} 2`)
}

func TestMiddleware(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state/{processId}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "state") // implicit 200
	})
	mux.HandleFunc("POST /dry-run", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("GET /slow/{id}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(600 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})
	h := m.Middleware(nil, mux) // around the whole mux: route read afterwards

	do := func(method, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	if c := do("GET", "/state/p1"); c != 200 {
		t.Fatalf("state %d", c)
	}
	do("GET", "/state/p2")
	if c := do("POST", "/dry-run?process-id=x"); c != 429 {
		t.Fatalf("dry-run %d", c)
	}
	do("GET", "/slow/1")
	if c := do("GET", "/nowhere"); c != 404 {
		t.Fatalf("nowhere %d", c)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		do("GET", "/boom")
	}()

	// A custom route function, per route.
	h2 := m.Middleware(func(*http.Request) string { return "/custom" }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))

	_, body := scrape(t, m, openMetricsAccept)
	hasLines(t, body,
		"# HELP ao_cu_http_request_duration_seconds Request duration in seconds",
		"# TYPE ao_cu_http_request_duration_seconds histogram",
		"# HELP ao_cu_http_request_summary_seconds Request duration in seconds summary",
		"# TYPE ao_cu_http_request_summary_seconds summary",
		`ao_cu_http_request_duration_seconds_bucket{method="GET",route="/state/:processId",status="200",statusGroup="2xx",le="0.5"} 2`,
		`ao_cu_http_request_duration_seconds_bucket{method="GET",route="/state/:processId",status="200",statusGroup="2xx",le="+Inf"} 2`,
		`ao_cu_http_request_duration_seconds_count{method="GET",route="/state/:processId",status="200",statusGroup="2xx"} 2`,
		`ao_cu_http_request_duration_seconds_count{method="POST",route="/dry-run",status="429",statusGroup="4xx"} 1`,
		`ao_cu_http_request_duration_seconds_bucket{method="GET",route="/slow/:id",status="202",statusGroup="2xx",le="0.5"} 0`,
		`ao_cu_http_request_duration_seconds_bucket{method="GET",route="/slow/:id",status="202",statusGroup="2xx",le="1.0"} 1`,
		`ao_cu_http_request_duration_seconds_count{method="GET",route="/boom",status="500",statusGroup="5xx"} 1`,
		`ao_cu_http_request_duration_seconds_count{method="GET",route="/custom",status="404",statusGroup="4xx"} 1`,
		`ao_cu_http_request_summary_seconds_count{method="GET",route="/state/:processId",status="200",statusGroup="2xx"} 2`,
		`ao_cu_http_request_summary_seconds_count{method="POST",route="/dry-run",status="429",statusGroup="4xx"} 1`,
	)
	for _, q := range []string{"0.01", "0.05", "0.5", "0.9", "0.95", "0.99"} {
		if !strings.Contains(body, `ao_cu_http_request_summary_seconds{method="POST",route="/dry-run",status="429",statusGroup="4xx",quantile="`+q+`"}`) {
			t.Errorf("no summary quantile %s", q)
		}
	}
	for _, le := range []string{"0.5", "1.0", "3.0", "5.0", "10.0", "30.0", "+Inf"} {
		if !strings.Contains(body, `route="/dry-run",status="429",statusGroup="4xx",le="`+le+`"}`) {
			t.Errorf("no bucket %s", le)
		}
	}
	// The unmatched request (404 from the mux, no pattern) is not recorded.
	if n := strings.Count(body, "ao_cu_http_request_duration_seconds_count{"); n != 5 {
		t.Errorf("want 5 recorded routes, got %d", n)
	}
	if strings.Contains(body, `route=""`) || strings.Contains(body, "nowhere") {
		t.Error("unmatched request recorded")
	}
}

func TestMiddlewareKeepsFlusher(t *testing.T) {
	m := New()
	var flushed bool
	h := m.Middleware(func(*http.Request) string { return "/s" }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("no Flusher")
			return
		}
		f.Flush()
		flushed = true
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/s", nil))
	if !flushed || !rec.Flushed {
		t.Fatal("not flushed")
	}
	_, body := scrape(t, m, "")
	hasLines(t, body, `ao_cu_http_request_duration_seconds_count{method="GET",route="/s",status="200",statusGroup="2xx"} 1`)
}

func TestRoutePattern(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                                "",
		"/":                               "/",
		"GET /state/{processId}":          "/state/:processId",
		"GET /result/{messageId}":         "/result/:messageId",
		"POST /dry-run":                   "/dry-run",
		"GET /cron/{processId}":           "/cron/:processId",
		"GET /{$}":                        "/",
		"GET example.com/files/{path...}": "/files/*",
		"/healthcheck":                    "/healthcheck",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Pattern = pattern
		if got := RoutePattern(r); got != want {
			t.Errorf("RoutePattern(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestDiskAndFailedGauges(t *testing.T) {
	m := New()
	m.SetDisk("memory", 3, 1234)
	m.SetFailedProcesses(2)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`ao_cu_disk_bytes{dir="memory"} 1234`, `ao_cu_disk_files{dir="memory"} 3`, "ao_cu_failed_processes 2"} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
}
