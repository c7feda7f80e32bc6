package monitor

import (
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ambari-go/ambari-agent/internal/liveness"
	"github.com/ambari-go/ambari-agent/internal/promtext"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics (the HTTP
// port is off) records nothing and costs nothing.
type Metrics struct {
	reg *promtext.Registry

	registered     *promtext.Gauge
	reconnects     *promtext.Counter
	heartbeats     *promtext.Counter
	heartbeatLate  *promtext.Histogram
	heartbeatRTT   *promtext.Histogram
	commands       *promtext.CounterVec
	commandSeconds *promtext.HistogramVec
	checks         *promtext.CounterVec
	checkSeconds   *promtext.Histogram
	cycleSeconds   *promtext.Histogram
	alertRuns      *promtext.CounterVec
	runnerRestarts *promtext.Counter
}

// MetricsSources are read at every scrape.
type MetricsSources struct {
	// Liveness gives each part's health.
	Liveness *liveness.Registry
	// PendingReports counts the journaled reports not yet acknowledged.
	PendingReports func() int
	// CacheDir is the cluster cache directory (cache.Dir): each cache's
	// size and the age of its hash are read from its files.
	CacheDir string
	// CacheNames are the caches' base names.
	CacheNames []string
}

// secondsBuckets span a quick status script to a long install.
var secondsBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// networkBuckets span a loopback answer to a request's 10 s deadline.
var networkBuckets = []float64{0.001, 0.01, 0.1, 0.5, 1, 5, 10}

// NewMetrics builds the metrics.
func NewMetrics(src MetricsSources) *Metrics {
	r := &promtext.Registry{}
	m := &Metrics{
		reg:            r,
		registered:     r.Gauge("ambari_agent_registered", "1 while a registered session with the Ambari server exists."),
		reconnects:     r.Counter("ambari_agent_reconnects_total", "Failed connection or registration attempts and lost sessions."),
		heartbeats:     r.Counter("ambari_agent_heartbeats_total", "Heartbeats the server acknowledged."),
		heartbeatLate:  r.Histogram("ambari_agent_heartbeat_lateness_seconds", "How long after its due time each heartbeat left.", networkBuckets),
		heartbeatRTT:   r.Histogram("ambari_agent_heartbeat_round_trip_seconds", "Time from sending a heartbeat to the server's answer.", networkBuckets),
		commands:       r.CounterVec("ambari_agent_commands_total", "Command script runs by role command and outcome (COMPLETED, FAILED, TIMEDOUT, ABORTED; IN_PROGRESS for a background start).", "command", "status"),
		commandSeconds: r.HistogramVec("ambari_agent_command_duration_seconds", "Duration of command script runs by outcome.", secondsBuckets, "status"),
		checks:         r.CounterVec("ambari_agent_status_checks_total", "Status checks (STATUS, GET_VERSION) by command and result (live, dead, none).", "command", "result"),
		checkSeconds:   r.Histogram("ambari_agent_status_check_duration_seconds", "Duration of status check scripts.", secondsBuckets),
		cycleSeconds:   r.Histogram("ambari_agent_status_cycle_duration_seconds", "Duration of status loop cycles.", secondsBuckets),
		alertRuns:      r.CounterVec("ambari_agent_alert_runs_total", "Alert check runs by resulting state.", "state"),
		runnerRestarts: r.Counter("ambari_agent_runner_restarts_total", "Restarts of the resident Python runner."),
	}
	if src.PendingReports != nil {
		r.GaugeFunc("ambari_agent_pending_reports", "Command reports journaled and not yet acknowledged by the server.",
			func() []promtext.Sample { return []promtext.Sample{{Value: float64(src.PendingReports())}} })
	}
	if src.Liveness != nil {
		r.GaugeFunc("ambari_agent_part_stalled", "1 when the part made no progress within its bound.", func() []promtext.Sample {
			return partSamples(src.Liveness, func(h liveness.Health, _ time.Time) float64 {
				if h.Stalled {
					return 1
				}
				return 0
			})
		}, "part")
		r.GaugeFunc("ambari_agent_part_last_progress_seconds", "Seconds since the part last made progress.", func() []promtext.Sample {
			return partSamples(src.Liveness, func(h liveness.Health, now time.Time) float64 { return now.Sub(h.LastProgress).Seconds() })
		}, "part")
	}
	r.GaugeFunc("ambari_agent_cache_size_bytes", "Size of the cache's file.", func() []promtext.Sample {
		return cacheSamples(src, func(name string) string { return name + ".json" }, func(st os.FileInfo) float64 { return float64(st.Size()) })
	}, "cache")
	r.GaugeFunc("ambari_agent_cache_hash_age_seconds", "Seconds since the cache's hash last changed.", func() []promtext.Sample {
		now := time.Now()
		return cacheSamples(src, func(name string) string { return "." + name + ".hash" }, func(st os.FileInfo) float64 { return now.Sub(st.ModTime()).Seconds() })
	}, "cache")
	return m
}

func partSamples(reg *liveness.Registry, value func(liveness.Health, time.Time) float64) []promtext.Sample {
	now := time.Now()
	hs := reg.Check()
	out := make([]promtext.Sample, len(hs))
	for i, h := range hs {
		out[i] = promtext.Sample{Labels: []string{h.Name}, Value: value(h, now)}
	}
	return out
}

func cacheSamples(src MetricsSources, file func(string) string, value func(os.FileInfo) float64) []promtext.Sample {
	var out []promtext.Sample
	for _, name := range src.CacheNames {
		if st, err := os.Stat(filepath.Join(src.CacheDir, file(name))); err == nil {
			out = append(out, promtext.Sample{Labels: []string{name}, Value: value(st)})
		}
	}
	return out
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.reg.Handler() }

// Registered sets the registration gauge.
func (m *Metrics) Registered(on bool) {
	if m == nil {
		return
	}
	if on {
		m.registered.Set(1)
	} else {
		m.registered.Set(0)
	}
}

// Reconnect counts a failed attempt or a lost session.
func (m *Metrics) Reconnect() {
	if m != nil {
		m.reconnects.Inc()
	}
}

// Heartbeat records an acknowledged heartbeat.
func (m *Metrics) Heartbeat(rtt, late time.Duration) {
	if m == nil {
		return
	}
	m.heartbeats.Inc()
	m.heartbeatRTT.Observe(rtt.Seconds())
	m.heartbeatLate.Observe(late.Seconds())
}

// Command records one command script run.
func (m *Metrics) Command(command, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.commands.With(command, status).Inc()
	m.commandSeconds.With(status).Observe(d.Seconds())
}

// StatusCheck records one status check.
func (m *Metrics) StatusCheck(command, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.checks.With(command, result).Inc()
	m.checkSeconds.Observe(d.Seconds())
}

// StatusCycle records one status loop cycle.
func (m *Metrics) StatusCycle(d time.Duration) {
	if m != nil {
		m.cycleSeconds.Observe(d.Seconds())
	}
}

// AlertRun records one alert check's resulting state.
func (m *Metrics) AlertRun(state string) {
	if m != nil {
		m.alertRuns.With(state).Inc()
	}
}

// RunnerRestart counts a restart of the resident Python runner.
func (m *Metrics) RunnerRestart() {
	if m != nil {
		m.runnerRestarts.Inc()
	}
}
