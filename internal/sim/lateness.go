package sim

import (
	"sync/atomic"
	"time"
)

// agentHeartbeatInterval is how often an agent sends /heartbeat (fixed in
// the agent, as in Python). A heartbeat that follows the previous one of
// its session by more than this is late by the difference.
const agentHeartbeatInterval = 10 * time.Second

// latenessBounds are the upper bounds of the lateness histogram's buckets;
// a last bucket holds everything beyond.
var latenessBounds = []time.Duration{
	0, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// latenessHistogram counts how late heartbeats arrive, without locks: a
// scale test reads whether thousands of agents beat on time as the server
// sees them.
type latenessHistogram struct {
	counts [12]atomic.Uint64 // len(latenessBounds)+1
	maxNS  atomic.Int64
}

func (l *latenessHistogram) observe(late time.Duration) {
	i := 0
	for i < len(latenessBounds) && late > latenessBounds[i] {
		i++
	}
	l.counts[i].Add(1)
	for {
		cur := l.maxNS.Load()
		if int64(late) <= cur || l.maxNS.CompareAndSwap(cur, int64(late)) {
			return
		}
	}
}

// HeartbeatLateness is the lateness histogram in the metrics: Counts[i]
// heartbeats were late by at most BoundsMS[i] milliseconds (0: on time or
// early), the last count by more than the last bound. P50MS and P99MS are
// bucket bounds (-1 beyond the last); MaxMS is exact.
type HeartbeatLateness struct {
	BoundsMS []float64 `json:"boundsMs"`
	Counts   []uint64  `json:"counts"`
	P50MS    float64   `json:"p50Ms"`
	P99MS    float64   `json:"p99Ms"`
	MaxMS    float64   `json:"maxMs"`
}

func (l *latenessHistogram) snapshot() HeartbeatLateness {
	out := HeartbeatLateness{Counts: make([]uint64, len(l.counts))}
	var total uint64
	for i := range l.counts {
		out.Counts[i] = l.counts[i].Load()
		total += out.Counts[i]
	}
	for _, b := range latenessBounds {
		out.BoundsMS = append(out.BoundsMS, float64(b)/float64(time.Millisecond))
	}
	quantile := func(q float64) float64 {
		if total == 0 {
			return 0
		}
		var cum uint64
		for i, c := range out.Counts {
			cum += c
			if float64(cum) >= q*float64(total) {
				if i < len(out.BoundsMS) {
					return out.BoundsMS[i]
				}
				break
			}
		}
		return -1
	}
	out.P50MS, out.P99MS = quantile(0.5), quantile(0.99)
	out.MaxMS = float64(max(l.maxNS.Load(), 0)) / float64(time.Millisecond)
	return out
}
