package sim

import (
	"net/http"

	"github.com/ambari-go/ambari-agent/internal/promtext"
)

// metricsHandler serves the simulator's counters in the Prometheus text
// format (GET /metrics on the API port), for the server's side of a scale
// test next to the agents' own /metrics.
func (s *Server) metricsHandler() http.Handler {
	r := &promtext.Registry{}
	for _, m := range simMetrics {
		value := m.value
		f := func() []promtext.Sample { return []promtext.Sample{{Value: value(s.Metrics())}} }
		if m.counter {
			r.CounterFunc("ambari_sim_"+m.name, m.help, f)
		} else {
			r.GaugeFunc("ambari_sim_"+m.name, m.help, f)
		}
	}
	return r.Handler()
}

type simMetric struct {
	name, help string
	counter    bool
	value      func(Metrics) float64
}

var simMetrics = []simMetric{
	{"sessions", "Agent sessions open now.", false, func(m Metrics) float64 { return float64(m.Sessions) }},
	{"sessions_total", "Agent sessions opened.", true, func(m Metrics) float64 { return float64(m.SessionsTotal) }},
	{"hosts", "Hosts known.", false, func(m Metrics) float64 { return float64(m.Hosts) }},
	{"registered_hosts", "Hosts with a registered session.", false, func(m Metrics) float64 { return float64(m.RegisteredHosts) }},
	{"registrations_total", "Registrations accepted.", true, func(m Metrics) float64 { return float64(m.Registrations) }},
	{"registrations_per_second", "Registrations per second over the last five seconds.", false, func(m Metrics) float64 { return m.RegistrationsPS }},
	{"heartbeats_total", "Heartbeats answered.", true, func(m Metrics) float64 { return float64(m.Heartbeats) }},
	{"heartbeats_per_second", "Heartbeats per second over the last five seconds.", false, func(m Metrics) float64 { return m.HeartbeatsPerS }},
	{"reports_total", "Reports received (commands, statuses, alerts, host status).", true, func(m Metrics) float64 { return float64(m.Reports) }},
	{"frames_in_total", "STOMP frames received.", true, func(m Metrics) float64 { return float64(m.FramesIn) }},
	{"frames_out_total", "STOMP frames sent.", true, func(m Metrics) float64 { return float64(m.FramesOut) }},
	{"split_frames_in_total", "Agent frames that did not arrive as one WebSocket message.", true, func(m Metrics) float64 { return float64(m.SplitFramesIn) }},
	{"frames_in_per_second", "Frames received per second over the last five seconds.", false, func(m Metrics) float64 { return m.FramesInPerSec }},
	{"frames_out_per_second", "Frames sent per second over the last five seconds.", false, func(m Metrics) float64 { return m.FramesOutPerSec }},
	{"cache_hits_total", "Cache requests answered with the agent's own hash.", true, func(m Metrics) float64 { return float64(m.CacheHits) }},
	{"cache_misses_total", "Cache requests answered with a full cache.", true, func(m Metrics) float64 { return float64(m.CacheMisses) }},
	{"command_messages_total", "Command messages sent, re-sends included.", true, func(m Metrics) float64 { return float64(m.CommandMessages) }},
	{"tasks", "Tasks known.", false, func(m Metrics) float64 { return float64(m.Tasks) }},
	{"slow_consumers_total", "Sessions closed because they did not read.", true, func(m Metrics) float64 { return float64(m.SlowConsumers) }},
	{"throttled_total", "Connections refused by throttling.", true, func(m Metrics) float64 { return float64(m.Throttled) }},
}
