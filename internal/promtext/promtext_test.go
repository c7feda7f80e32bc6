package promtext

import (
	"bytes"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestOutputParsesWithThePrometheusParser: every kind of family, label
// values needing escapes, and histogram buckets come out as the Prometheus
// parser reads them.
func TestOutputParsesWithThePrometheusParser(t *testing.T) {
	r := &Registry{}
	c := r.Counter("x_events_total", "Events.\nSecond line \\ backslash.")
	g := r.Gauge("x_up", "Up.")
	cv := r.CounterVec("x_commands_total", "Commands.", "command", "status")
	h := r.Histogram("x_seconds", "Durations.", []float64{1, 0.1, 10})
	hv := r.HistogramVec("x_by_status_seconds", "Durations by status.", []float64{1}, "status")
	r.GaugeFunc("x_parts", "Parts.", func() []Sample {
		return []Sample{{[]string{"status loop"}, 1}, {[]string{"server link"}, 0}}
	}, "part")
	r.CounterVec("x_unused_total", "Never used: not written.", "a")

	c.Inc()
	c.Add(2.5)
	g.Set(-1)
	cv.With("START", "COMPLETED").Inc()
	cv.With("START", "COMPLETED").Inc()
	cv.With(`we"ird\`+"\n", "FAILED").Inc()
	for _, v := range []float64{0.05, 0.1, 0.5, 5, 50} {
		h.Observe(v)
	}
	hv.With("COMPLETED").Observe(2)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("content type %q", ct)
	}
	body := rec.Body.Bytes()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if _, ok := fams["x_unused_total"]; ok {
		t.Error("an empty family was written")
	}
	if v := fams["x_events_total"].Metric[0].GetCounter().GetValue(); v != 3.5 {
		t.Errorf("counter %v", v)
	}
	if fams["x_events_total"].GetHelp() != "Events.\nSecond line \\ backslash." {
		t.Errorf("help %q", fams["x_events_total"].GetHelp())
	}
	if v := fams["x_up"].Metric[0].GetGauge().GetValue(); v != -1 {
		t.Errorf("gauge %v", v)
	}
	got := map[string]float64{}
	for _, m := range fams["x_commands_total"].Metric {
		got[m.Label[0].GetValue()+"/"+m.Label[1].GetValue()] = m.GetCounter().GetValue()
	}
	if got["START/COMPLETED"] != 2 || got[`we"ird\`+"\n/FAILED"] != 1 {
		t.Errorf("counter vec %v", got)
	}
	hist := fams["x_seconds"].Metric[0].GetHistogram()
	if hist.GetSampleCount() != 5 || math.Abs(hist.GetSampleSum()-55.65) > 1e-9 {
		t.Errorf("histogram count %d sum %v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	want := map[float64]uint64{0.1: 2, 1: 3, 10: 4, math.Inf(1): 5}
	for _, b := range hist.Bucket {
		if want[b.GetUpperBound()] != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want[b.GetUpperBound()])
		}
	}
	if m := fams["x_by_status_seconds"].Metric[0]; m.Label[0].GetValue() != "COMPLETED" || m.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("histogram vec %v", m)
	}
	if n := len(fams["x_parts"].Metric); n != 2 {
		t.Errorf("gauge func: %d samples", n)
	}
}
