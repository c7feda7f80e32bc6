package sim

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
)

// TestPrometheusMetrics: GET /metrics on the API port is Prometheus text
// with the simulator's side of the traffic: an agent that registered and
// sent a heartbeat shows in sessions, registrations and frames.
func TestPrometheusMetrics(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	resp, err := http.Get(s.APIURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for name, min := range map[string]float64{
		"ambari_sim_sessions":            1,
		"ambari_sim_registrations_total": 1,
		"ambari_sim_registered_hosts":    1,
		"ambari_sim_frames_in_total":     2,
		"ambari_sim_frames_out_total":    2,
	} {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Errorf("%s missing", name)
			continue
		}
		m := f.Metric[0]
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if v < min {
			t.Errorf("%s = %v, want at least %v", name, v, min)
		}
	}
	for _, name := range []string{"ambari_sim_registrations_per_second", "ambari_sim_reports_total"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}
