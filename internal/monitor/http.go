package monitor

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/ambari-go/ambari-agent/internal/liveness"
)

// Health is the /healthz body.
type Health struct {
	Healthy bool              `json:"healthy"`
	Time    time.Time         `json:"time"`
	Parts   []liveness.Health `json:"parts"`
}

// Handler serves /healthz, /metrics and /debug/pprof/.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", m.healthz)
	if m.cfg.Metrics != nil {
		mux.Handle("/metrics", m.cfg.Metrics.Handler())
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// healthz answers 200 while no part is stalled, 503 otherwise, with every
// part's health as JSON.
func (m *Monitor) healthz(w http.ResponseWriter, r *http.Request) {
	h := Health{Time: m.now(), Parts: m.cfg.Liveness.Check()}
	h.Healthy = len(liveness.Stalled(h.Parts)) == 0
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !h.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(h)
}
