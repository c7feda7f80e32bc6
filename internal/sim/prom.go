package sim

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the simulator's counters in the Prometheus text
// format (GET /metrics on the API port), for the server's side of a scale
// test next to the agents' own /metrics.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(simCollector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

type simMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(Metrics) float64
}

func simDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("ambari_sim_"+name, help, nil, nil)
}

var simMetrics = []simMetric{
	{simDesc("sessions", "Agent sessions open now."), prometheus.GaugeValue, func(m Metrics) float64 { return float64(m.Sessions) }},
	{simDesc("sessions_total", "Agent sessions opened."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.SessionsTotal) }},
	{simDesc("hosts", "Hosts known."), prometheus.GaugeValue, func(m Metrics) float64 { return float64(m.Hosts) }},
	{simDesc("registered_hosts", "Hosts with a registered session."), prometheus.GaugeValue, func(m Metrics) float64 { return float64(m.RegisteredHosts) }},
	{simDesc("registrations_total", "Registrations accepted."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.Registrations) }},
	{simDesc("registrations_per_second", "Registrations per second over the last five seconds."), prometheus.GaugeValue, func(m Metrics) float64 { return m.RegistrationsPS }},
	{simDesc("heartbeats_total", "Heartbeats answered."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.Heartbeats) }},
	{simDesc("heartbeats_per_second", "Heartbeats per second over the last five seconds."), prometheus.GaugeValue, func(m Metrics) float64 { return m.HeartbeatsPerS }},
	{simDesc("reports_total", "Reports received (commands, statuses, alerts, host status)."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.Reports) }},
	{simDesc("frames_in_total", "STOMP frames received."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.FramesIn) }},
	{simDesc("frames_out_total", "STOMP frames sent."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.FramesOut) }},
	{simDesc("split_frames_in_total", "Agent frames that did not arrive as one WebSocket message."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.SplitFramesIn) }},
	{simDesc("frames_in_per_second", "Frames received per second over the last five seconds."), prometheus.GaugeValue, func(m Metrics) float64 { return m.FramesInPerSec }},
	{simDesc("frames_out_per_second", "Frames sent per second over the last five seconds."), prometheus.GaugeValue, func(m Metrics) float64 { return m.FramesOutPerSec }},
	{simDesc("cache_hits_total", "Cache requests answered with the agent's own hash."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.CacheHits) }},
	{simDesc("cache_misses_total", "Cache requests answered with a full cache."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.CacheMisses) }},
	{simDesc("command_messages_total", "Command messages sent, re-sends included."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.CommandMessages) }},
	{simDesc("tasks", "Tasks known."), prometheus.GaugeValue, func(m Metrics) float64 { return float64(m.Tasks) }},
	{simDesc("slow_consumers_total", "Sessions closed because they did not read."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.SlowConsumers) }},
	{simDesc("throttled_total", "Connections refused by throttling."), prometheus.CounterValue, func(m Metrics) float64 { return float64(m.Throttled) }},
}

// simCollector reads one Metrics snapshot per scrape.
type simCollector struct{ s *Server }

func (c simCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range simMetrics {
		ch <- m.desc
	}
}

func (c simCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.Metrics()
	for _, m := range simMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(snap))
	}
}
