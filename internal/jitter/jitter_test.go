package jitter

import (
	"math"
	"testing"
	"time"
)

func TestPhaseStaysInsideTheInterval(t *testing.T) {
	const iv = 20 * time.Second
	for _, c := range []struct {
		f    float64
		want time.Duration
	}{
		{0, 0},
		{0.25, 5 * time.Second},
		{0.5, 10 * time.Second},
		{-1, 0},
		{math.NaN(), 0},
	} {
		if got := Phase(Fixed(c.f), iv); got != c.want {
			t.Errorf("Phase(%v, %v) = %v, want %v", c.f, iv, got, c.want)
		}
	}
	if got := Phase(Fixed(1), iv); got < 0 || got >= iv {
		t.Errorf("Phase(1, %v) = %v, want inside [0, %v)", iv, got, iv)
	}
}

func TestNoSourceMeansNoJitter(t *testing.T) {
	if got := Phase(nil, time.Minute); got != 0 {
		t.Errorf("Phase(nil) = %v, want 0", got)
	}
	if got := Phase(Fixed(0.5), 0); got != 0 {
		t.Errorf("Phase with a zero interval = %v, want 0", got)
	}
}

// Many agents drawing from Random land all over the period, not in one
// spot: the point of spreading.
func TestRandomSpreadsPhases(t *testing.T) {
	const iv = 10 * time.Second
	var buckets [10]int
	for i := 0; i < 2000; i++ {
		p := Phase(Random, iv)
		if p < 0 || p >= iv {
			t.Fatalf("phase %v outside [0, %v)", p, iv)
		}
		buckets[p/time.Second]++
	}
	for i, n := range buckets {
		if n == 0 {
			t.Errorf("no phase among 2000 fell in second %d of the period: %v", i, buckets)
		}
	}
}
