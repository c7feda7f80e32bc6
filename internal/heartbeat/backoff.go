package heartbeat

import (
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing, capped, randomised delays.
type backoff struct {
	base, cap time.Duration
	n         int
	// jitter returns a number in [0,1); replaceable in tests.
	jitter func() float64
}

// next returns the delay before the next attempt: a random point in the
// upper half of min(cap, base·2^n), so many agents that lost the same server
// do not come back in step.
func (b *backoff) next() time.Duration {
	d := b.cap
	if b.n < 32 {
		if e := b.base << b.n; e > 0 && e < b.cap {
			d = e
		}
	}
	b.n++
	j := rand.Float64
	if b.jitter != nil {
		j = b.jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

func (b *backoff) reset() { b.n = 0 }
