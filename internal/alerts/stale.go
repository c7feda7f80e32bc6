package alerts

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// StaleAlert is one entry of the heartbeat's "staleAlerts" list.
type StaleAlert = protocol.StaleAlert

// staleMonitor is StaleAlertsMonitor: when each definition last produced a
// result, and which definitions have been silent for
// interval × staleIntervalMultiplier.
type staleMonitor struct {
	mu sync.Mutex
	// lastRun is definitionId -> epoch seconds of the last result (or of
	// when the definition was first seen).
	lastRun map[int64]float64
	// reported remembers which definitions are currently stale, so the
	// transition is logged once instead of at every heartbeat.
	reported map[int64]bool
}

func newStaleMonitor() *staleMonitor {
	return &staleMonitor{lastRun: map[int64]float64{}, reported: map[int64]bool{}}
}

// ran records a result as it is produced. Deliberate difference: Python
// records results when its reporter drains them, which it does only while
// registered, so after a server outage longer than interval ×
// staleIntervalMultiplier the first heartbeat lists every alert that kept
// running throughout as stale.
func (s *staleMonitor) ran(r Result) {
	s.mu.Lock()
	s.lastRun[r.DefinitionID] = float64(r.Timestamp) / 1000
	s.mu.Unlock()
}

// prune forgets definitions that no longer exist (Python keeps them
// forever; the map would grow with every definition ever seen).
func (s *staleMonitor) prune(snap *defSnapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.lastRun {
		if !snap.ids[id] {
			delete(s.lastRun, id)
			delete(s.reported, id)
		}
	}
}

// stale lists the stale definitions of the clusters that have a
// staleIntervalMultiplier. Disabled definitions are included, as in Python.
// The interval uses the scheduler's rule (missing or < 1 minute is 1).
func (s *staleMonitor) stale(snap *defSnapshot, now time.Time, minute time.Duration, log *logrus.Entry) []StaleAlert {
	if snap == nil {
		return nil
	}
	nowSec := float64(now.UnixNano()) / 1e9
	var out []StaleAlert
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range snap.clusters {
		c := &snap.clusters[i]
		if c.StaleIntervalMultiplier == nil {
			continue
		}
		mult := *c.StaleIntervalMultiplier
		for j := range c.Definitions {
			d := &c.Definitions[j]
			last, ok := s.lastRun[d.DefinitionID]
			if !ok {
				last = nowSec
				s.lastRun[d.DefinitionID] = last
			}
			limit := float64(d.intervalMinutes()) * minute.Seconds() * mult
			if nowSec > last+limit {
				if !s.reported[d.DefinitionID] {
					s.reported[d.DefinitionID] = true
					log.WithField("alert", d.Name).Infof("Alert %s got stale. Reporting to the server.", d.Name)
				}
				out = append(out, StaleAlert{ID: d.DefinitionID, Timestamp: int64(last * 1000)})
			} else if s.reported[d.DefinitionID] {
				delete(s.reported, d.DefinitionID)
			}
		}
	}
	return out
}
