package mu

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the MU's Prometheus metrics, on a registry of its own. Names
// start with ao_mu_ as the reference MU's; queue_size, running_cron_monitor
// and outgoing_http_request_duration_seconds are its names too.
type metrics struct {
	reg       *prometheus.Registry
	received  *prometheus.CounterVec   // items and assignments POSTed to the MU
	pushed    *prometheus.CounterVec   // crank steps done, by kind
	retries   *prometheus.CounterVec   // crank steps rescheduled after a failure
	failures  *prometheus.CounterVec   // crank steps given up
	dropped   *prometheus.CounterVec   // outbox entries not pushed, by reason
	outgoing  *prometheus.HistogramVec // calls to the CU, SUs and the gateway
	cronPolls *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_received_total", Help: "Data items and assignments received on POST /, by type",
		}, []string{"type"}),
		pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_crank_steps_total", Help: "Crank steps completed, by kind (result, message, spawn, spawned, assign)",
		}, []string{"kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_task_retries_total", Help: "Crank steps rescheduled after a failure, by kind",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_task_failures_total", Help: "Crank steps given up (permanent error or out of attempts), by kind",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_dropped_total", Help: "Outbox entries not pushed, by reason (max_depth, max_items, invalid)",
		}, []string{"reason"}),
		outgoing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ao_mu_outgoing_http_request_duration_seconds", Help: "Outgoing HTTP requests, by operation and status",
			Buckets: []float64{0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60},
		}, []string{"operation", "status"}),
		cronPolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ao_mu_cron_polls_total", Help: "Polls of the CU's /cron for monitored processes, by result",
		}, []string{"result"}),
	}
	gauge := func(name, help string, f func(context.Context) (int, error)) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := f(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	}
	reg.MustRegister(m.received, m.pushed, m.retries, m.failures, m.dropped, m.outgoing, m.cronPolls,
		gauge("ao_mu_queue_size", "Crank steps waiting or running", s.store.pending),
		gauge("ao_mu_running_cron_monitor", "Processes whose crons are monitored", func(ctx context.Context) (int, error) {
			ms, err := s.store.monitors(ctx)
			return len(ms), err
		}),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "ao_mu"}),
	)
	prometheus.WrapRegistererWithPrefix("ao_mu_", reg).MustRegister(collectors.NewGoCollector())
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
