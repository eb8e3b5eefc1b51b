package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// Metrics counts what the conductor's events say happened, for the optional
// Prometheus endpoint ([metrics] listen). It is fed from the actor event
// stream (every event, never dropped: it only adds to counters) and read on
// each scrape, together with a fresh snapshot of the conductor.
type Metrics struct {
	mu          sync.Mutex
	transitions map[[2]string]float64 // {kind, status} -> count
	started     map[string]time.Time  // "job/sheet" -> when its running try began
	durations   map[string]*histogram // outcome -> try durations
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	return &Metrics{transitions: map[[2]string]float64{}, started: map[string]time.Time{},
		durations: map[string]*histogram{}}
}

// durationBuckets suit sheets from seconds to hours.
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200}

type histogram struct {
	counts []float64 // per bucket, cumulative at render time
	sum    float64
	n      float64
}

// Observe folds one event into the counters.
func (m *Metrics) Observe(e *messages.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.transitions[[2]string{e.GetKind(), e.GetStatus()}]++
	if e.EventKind() != messages.EventSheetStatus {
		return
	}
	key := fmt.Sprintf("%s/%d", e.GetJobId(), e.GetSheet())
	at := time.Now()
	if e.GetTimeUnixNano() != 0 {
		at = time.Unix(0, e.GetTimeUnixNano())
	}
	if messages.SheetState(e.GetStatus()) == messages.SheetRunning {
		m.started[key] = at
		return
	}
	began, ok := m.started[key]
	if !ok {
		return
	}
	delete(m.started, key)
	h := m.durations[e.GetStatus()]
	if h == nil {
		h = &histogram{counts: make([]float64, len(durationBuckets))}
		m.durations[e.GetStatus()] = h
	}
	d := at.Sub(began).Seconds()
	for i, b := range durationBuckets {
		if d <= b {
			h.counts[i]++
		}
	}
	h.sum += d
	h.n++
}

// pressureLevels are the levels in order, for a numeric gauge.
var pressureLevels = map[string]int{"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// write renders the Prometheus text format (version 0.0.4).
func (m *Metrics) write(w io.Writer, snap *messages.TopSnapshot) {
	c := snap.GetConductor()
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
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

	byStatus := map[string]float64{string(messages.JobRunning): 0, string(messages.JobQueued): 0, string(messages.JobPaused): 0}
	stalled := 0.0
	for _, j := range snap.GetJobs() {
		byStatus[j.GetStatus()]++
	}
	for _, s := range snap.GetSheets() {
		if s.GetSheet().GetStalled() {
			stalled++
		}
	}
	fmt.Fprintf(w, "# HELP mzt_jobs Active jobs by status.\n# TYPE mzt_jobs gauge\n")
	for _, st := range sortedKeys(byStatus) {
		fmt.Fprintf(w, "mzt_jobs{status=%q} %g\n", st, byStatus[st])
	}
	gauge("mzt_sheets_stalled", "Running sheets flagged stalled.", stalled)

	m.mu.Lock()
	defer m.mu.Unlock()
	counter := func(name, help string, kind messages.EventKind, label string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		keys := make([][2]string, 0)
		for k := range m.transitions {
			if messages.EventKind(k[0]) == kind {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][1] < keys[j][1] })
		for _, k := range keys {
			if label == "" {
				fmt.Fprintf(w, "%s %g\n", name, m.transitions[k])
			} else {
				fmt.Fprintf(w, "%s{%s=%q} %g\n", name, label, k[1], m.transitions[k])
			}
		}
	}
	counter("mzt_job_transitions_total", "Job status changes since start, by new status.", messages.EventJobStatus, "status")
	counter("mzt_sheet_transitions_total", "Sheet status changes since start, by new status (running = a try started).", messages.EventSheetStatus, "status")
	counter("mzt_pressure_changes_total", "Pressure level changes since start, by new level.", messages.EventPressure, "level")
	counter("mzt_stalls_total", "Stall flags and recoveries since start.", messages.EventStall, "status")
	anomalies := 0.0
	for k, v := range m.transitions {
		if messages.EventKind(k[0]) == messages.EventAnomaly {
			anomalies += v
		}
	}
	fmt.Fprintf(w, "# HELP mzt_anomalies_total Anomalies flagged since start.\n# TYPE mzt_anomalies_total counter\nmzt_anomalies_total %g\n", anomalies)

	fmt.Fprintf(w, "# HELP mzt_try_duration_seconds Duration of finished tries by the status they left the sheet in.\n# TYPE mzt_try_duration_seconds histogram\n")
	for _, outcome := range sortedKeys(m.durations) {
		h := m.durations[outcome]
		for i, b := range durationBuckets {
			fmt.Fprintf(w, "mzt_try_duration_seconds_bucket{status=%q,le=%q} %g\n", outcome, fmt.Sprint(b), h.counts[i])
		}
		fmt.Fprintf(w, "mzt_try_duration_seconds_bucket{status=%q,le=\"+Inf\"} %g\n", outcome, h.n)
		fmt.Fprintf(w, "mzt_try_duration_seconds_sum{status=%q} %g\n", outcome, h.sum)
		fmt.Fprintf(w, "mzt_try_duration_seconds_count{status=%q} %g\n", outcome, h.n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
		var b strings.Builder
		m.write(&b, snap.(*messages.TopSnapshot))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		io.WriteString(w, b.String())
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
