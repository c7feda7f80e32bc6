// Package jitter spreads the periodic work of many agents on one machine
// (the multiplier's separate processes, or many agents in one process) so
// that heartbeats, status cycles and alert checks do not all fire in the
// same instant. A Source is injected where randomness is used, so tests
// choose the phase.
package jitter

import (
	"math/rand/v2"
	"time"
)

// Source returns a number in [0,1). A nil Source means no jitter: every
// phase is zero and timings are exactly as configured.
type Source func() float64

// Random draws from the process's shared generator (safe for concurrent
// use): the Source agents run with.
func Random() float64 { return rand.Float64() }

// Fixed always returns f (clamped to [0,1)), for tests.
func Fixed(f float64) Source { return func() float64 { return f } }

// Phase returns a start offset in [0, interval): where in its period a
// loop of this interval begins. Zero for a nil src or a non-positive
// interval.
func Phase(src Source, interval time.Duration) time.Duration {
	if src == nil || interval <= 0 {
		return 0
	}
	f := src()
	switch {
	case f != f || f < 0: // NaN or negative
		f = 0
	case f >= 1:
		f = 0.999999
	}
	return time.Duration(f * float64(interval))
}
