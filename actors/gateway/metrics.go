package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics counts what the conductor's events say happened, for the optional
// Prometheus endpoint ([metrics] listen). It is fed from the actor event
// stream (every event, never dropped: it only adds to counters) and read on
// each scrape, together with gauges from a fresh snapshot of the conductor.
type Metrics struct {
	reg *prometheus.Registry // the counters; gauges are made per scrape

	// transitions counts status changes by event kind, labelled with the
	// new status (or level).
	transitions map[messages.EventKind]*prometheus.CounterVec
	anomalies   prometheus.Counter
	durations   *prometheus.HistogramVec // try durations by the status they left the sheet in
	cost        *prometheus.CounterVec   // USD the tries reported, by instrument and model
	tokens      *prometheus.CounterVec   // tokens (in and out) the tries reported, likewise

	mu      sync.Mutex
	started map[string]time.Time // "job/sheet" -> when its running try began
}

// durationBuckets suit sheets from seconds to hours.
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), started: map[string]time.Time{}, transitions: map[messages.EventKind]*prometheus.CounterVec{}}
	for _, c := range []struct {
		kind              messages.EventKind
		name, help, label string
	}{
		{messages.EventJobStatus, "mzt_job_transitions_total", "Job status changes since start, by new status.", "status"},
		{messages.EventSheetStatus, "mzt_sheet_transitions_total", "Sheet status changes since start, by new status (running = a try started).", "status"},
		{messages.EventPressure, "mzt_pressure_changes_total", "Pressure level changes since start, by new level.", "level"},
		{messages.EventStall, "mzt_stalls_total", "Stall flags and recoveries since start.", "status"},
	} {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: c.name, Help: c.help}, []string{c.label})
		m.transitions[c.kind] = v
		m.reg.MustRegister(v)
	}
	m.anomalies = prometheus.NewCounter(prometheus.CounterOpts{Name: "mzt_anomalies_total", Help: "Anomalies flagged since start."})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mzt_try_duration_seconds",
		Help: "Duration of finished tries by the status they left the sheet in.", Buckets: durationBuckets}, []string{"status"})
	m.reg.MustRegister(m.anomalies, m.durations)
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mzt_cost_usd_total",
		Help: "US dollars the agents reported spending since start, by instrument and model."}, []string{"instrument", "model"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mzt_tokens_total",
		Help: "Tokens (input and output) the agents reported since start, by instrument and model."}, []string{"instrument", "model"})
	m.reg.MustRegister(m.cost, m.tokens)
	return m
}

// Observe folds one event into the counters.
func (m *Metrics) Observe(e *messages.Event) {
	if v := m.transitions[e.EventKind()]; v != nil {
		v.WithLabelValues(e.GetStatus()).Inc()
	}
	if e.EventKind() == messages.EventAnomaly {
		m.anomalies.Inc()
	}
	if e.EventKind() == messages.EventUsage {
		m.observeUsage(e)
		return
	}
	if e.EventKind() != messages.EventSheetStatus {
		return
	}
	key := fmt.Sprintf("%s/%d", e.GetJobId(), e.GetSheet())
	at := time.Now()
	if e.GetTimeUnixNano() != 0 {
		at = time.Unix(0, e.GetTimeUnixNano())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if messages.SheetState(e.GetStatus()) == messages.SheetRunning {
		m.started[key] = at
		return
	}
	began, ok := m.started[key]
	if !ok {
		return
	}
	delete(m.started, key)
	m.durations.WithLabelValues(e.GetStatus()).Observe(at.Sub(began).Seconds())
}

// observeUsage adds what one try reported; a cost or token count it did
// not report adds nothing (and a negative one is not believed).
func (m *Metrics) observeUsage(e *messages.Event) {
	labels := []string{e.GetInstrument(), e.GetModel()}
	if e.GetHasCost() && e.GetCostUsd() >= 0 {
		m.cost.WithLabelValues(labels...).Add(e.GetCostUsd())
	}
	if n := e.GetInputTokens() + e.GetOutputTokens(); e.GetHasTokens() && e.GetInputTokens() >= 0 && e.GetOutputTokens() >= 0 {
		m.tokens.WithLabelValues(labels...).Add(float64(n))
	}
}

// pressureLevels are the levels in order, for a numeric gauge.
var pressureLevels = map[string]int{"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// gatherer is what one scrape serves: the counters, and gauges of snap.
func (m *Metrics) gatherer(snap *messages.TopSnapshot) prometheus.Gatherer {
	gauges := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		gauges.MustRegister(g)
	}
	c := snap.GetConductor()
	gauge("mzt_up", "1 while the conductor answers.", 1)
	gauge("mzt_uptime_seconds", "Seconds since the conductor started.", c.GetUptimeSeconds())
	gauge("mzt_accepting_work", "1 when new jobs are accepted.", b2f(c.GetAcceptingWork()))
	gauge("mzt_pressure_level", "Resource pressure: 0 none, 1 low, 2 medium, 3 high, 4 critical.",
		float64(pressureLevels[c.GetPressure()]))
	gauge("mzt_memory_mb", "Memory of the conductor and every sheet's process tree.", c.GetMemoryMb())
	gauge("mzt_memory_limit_mb", "resource_limits.max_memory_mb.", c.GetMemoryLimitMb())
	gauge("mzt_child_processes", "Descendant processes of the conductor.", float64(c.GetChildProcesses()))
	gauge("mzt_process_limit", "resource_limits.max_processes.", float64(c.GetProcessLimit()))
	gauge("mzt_sheets_running", "Sheets running now.", float64(c.GetRunningSheets()))
	gauge("mzt_jobs_queued", "Jobs waiting for admission.", float64(c.GetQueuedJobs()))

	jobs := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mzt_jobs", Help: "Active jobs by status."}, []string{"status"})
	for _, st := range []messages.JobState{messages.JobRunning, messages.JobQueued, messages.JobPaused} {
		jobs.WithLabelValues(string(st)) // present at 0
	}
	for _, j := range snap.GetJobs() {
		jobs.WithLabelValues(j.GetStatus()).Inc()
	}
	gauges.MustRegister(jobs)
	stalled := 0.0
	for _, s := range snap.GetSheets() {
		if s.GetSheet().GetStalled() {
			stalled++
		}
	}
	gauge("mzt_sheets_stalled", "Running sheets flagged stalled.", stalled)
	return prometheus.Gatherers{gauges, m.reg}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsServer serves /metrics over HTTP.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

func startMetrics(addr string, m *Metrics, d *dispatcher, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		snap, err := d.top()
		if err != nil {
			http.Error(w, "conductor snapshot: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		promhttp.HandlerFor(m.gatherer(snap.(*messages.TopSnapshot)), promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
	s := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	log.Info("metrics endpoint listening", "addr", ln.Addr().String())
	return s, nil
}

func (s *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}
