package monitor

import (
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ambari-go/ambari-agent/internal/liveness"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics (the HTTP
// port is off) records nothing and costs nothing.
type Metrics struct {
	reg *prometheus.Registry

	registered     prometheus.Gauge
	reconnects     prometheus.Counter
	heartbeats     prometheus.Counter
	heartbeatLate  prometheus.Histogram
	heartbeatRTT   prometheus.Histogram
	commands       *prometheus.CounterVec
	commandSeconds *prometheus.HistogramVec
	checks         *prometheus.CounterVec
	checkSeconds   prometheus.Histogram
	cycleSeconds   prometheus.Histogram
	alertRuns      *prometheus.CounterVec
	runnerRestarts prometheus.Counter
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

// NewMetrics builds the metrics and their registry.
func NewMetrics(src MetricsSources) *Metrics {
	const ns = "ambari_agent"
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		registered: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "registered",
			Help: "1 while a registered session with the Ambari server exists."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "reconnects_total",
			Help: "Failed connection or registration attempts and lost sessions."}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "heartbeats_total",
			Help: "Heartbeats the server acknowledged."}),
		heartbeatLate: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "heartbeat_lateness_seconds",
			Help: "How long after its due time each heartbeat left.", Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 5, 10}}),
		heartbeatRTT: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "heartbeat_round_trip_seconds",
			Help: "Time from sending a heartbeat to the server's answer.", Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 5, 10}}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "commands_total",
			Help: "Command script runs by role command and outcome (COMPLETED, FAILED, TIMEDOUT, ABORTED, IN_PROGRESS for a background start)."},
			[]string{"command", "status"}),
		commandSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "command_duration_seconds",
			Help: "Duration of command script runs by outcome.", Buckets: secondsBuckets}, []string{"status"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "status_checks_total",
			Help: "Status checks (STATUS, GET_VERSION) by command and result (live, dead, none)."}, []string{"command", "result"}),
		checkSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "status_check_duration_seconds",
			Help: "Duration of status check scripts.", Buckets: secondsBuckets}),
		cycleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "status_cycle_duration_seconds",
			Help: "Duration of status loop cycles.", Buckets: secondsBuckets}),
		alertRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alert_runs_total",
			Help: "Alert check runs by resulting state."}, []string{"state"}),
		runnerRestarts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "runner_restarts_total",
			Help: "Restarts of the resident Python runner."}),
	}
	m.reg.MustRegister(m.registered, m.reconnects, m.heartbeats, m.heartbeatLate, m.heartbeatRTT,
		m.commands, m.commandSeconds, m.checks, m.checkSeconds, m.cycleSeconds, m.alertRuns, m.runnerRestarts)
	if src.PendingReports != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "pending_reports",
			Help: "Command reports journaled and not yet acknowledged by the server."},
			func() float64 { return float64(src.PendingReports()) }))
	}
	m.reg.MustRegister(&scrapeCollector{src: src})
	return m
}

// Registry is what /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

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
	m.commands.WithLabelValues(command, status).Inc()
	m.commandSeconds.WithLabelValues(status).Observe(d.Seconds())
}

// StatusCheck records one status check.
func (m *Metrics) StatusCheck(command, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.checks.WithLabelValues(command, result).Inc()
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
		m.alertRuns.WithLabelValues(state).Inc()
	}
}

// RunnerRestart counts a restart of the resident Python runner.
func (m *Metrics) RunnerRestart() {
	if m != nil {
		m.runnerRestarts.Inc()
	}
}

// scrapeCollector reads, at scrape time, what is cheaper to read than to
// keep up to date: each part's health and each cache's files.
type scrapeCollector struct{ src MetricsSources }

var (
	partStalledDesc = prometheus.NewDesc("ambari_agent_part_stalled",
		"1 when the part made no progress within its bound.", []string{"part"}, nil)
	partProgressDesc = prometheus.NewDesc("ambari_agent_part_last_progress_seconds",
		"Seconds since the part last made progress.", []string{"part"}, nil)
	cacheSizeDesc = prometheus.NewDesc("ambari_agent_cache_size_bytes",
		"Size of the cache's file.", []string{"cache"}, nil)
	cacheHashAgeDesc = prometheus.NewDesc("ambari_agent_cache_hash_age_seconds",
		"Seconds since the cache's hash last changed.", []string{"cache"}, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- partStalledDesc
	ch <- partProgressDesc
	ch <- cacheSizeDesc
	ch <- cacheHashAgeDesc
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	if c.src.Liveness != nil {
		for _, h := range c.src.Liveness.Check() {
			stalled := 0.0
			if h.Stalled {
				stalled = 1
			}
			ch <- prometheus.MustNewConstMetric(partStalledDesc, prometheus.GaugeValue, stalled, h.Name)
			ch <- prometheus.MustNewConstMetric(partProgressDesc, prometheus.GaugeValue, now.Sub(h.LastProgress).Seconds(), h.Name)
		}
	}
	for _, name := range c.src.CacheNames {
		if st, err := os.Stat(filepath.Join(c.src.CacheDir, name+".json")); err == nil {
			ch <- prometheus.MustNewConstMetric(cacheSizeDesc, prometheus.GaugeValue, float64(st.Size()), name)
		}
		if st, err := os.Stat(filepath.Join(c.src.CacheDir, "."+name+".hash")); err == nil {
			ch <- prometheus.MustNewConstMetric(cacheHashAgeDesc, prometheus.GaugeValue, now.Sub(st.ModTime()).Seconds(), name)
		}
	}
}
