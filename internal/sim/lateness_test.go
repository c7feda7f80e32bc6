package sim

import (
	"testing"
	"time"
)

func TestLatenessHistogram(t *testing.T) {
	var h latenessHistogram
	for range 98 {
		h.observe(-2 * time.Second) // early: the jittered second heartbeat
	}
	h.observe(300 * time.Millisecond)
	h.observe(12 * time.Second)
	s := h.snapshot()
	if s.P50MS != 0 || s.P99MS != 500 || s.MaxMS != 12000 {
		t.Errorf("p50 %g p99 %g max %g, want 0, 500, 12000", s.P50MS, s.P99MS, s.MaxMS)
	}
	if s.Counts[0] != 98 || s.Counts[len(s.Counts)-1] != 1 {
		t.Errorf("counts %v", s.Counts)
	}
}
