package sim

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// metrics are counters updated without the model lock.
type metrics struct {
	sessionsOpen    atomic.Int64
	sessionsTotal   atomic.Uint64
	framesIn        atomic.Uint64
	splitFramesIn   atomic.Uint64
	framesOut       atomic.Uint64
	sends           atomic.Uint64
	registrations   atomic.Uint64
	heartbeats      atomic.Uint64
	reports         atomic.Uint64
	cacheHits       atomic.Uint64
	cacheMisses     atomic.Uint64
	commandMessages atomic.Uint64
	slowConsumers   atomic.Uint64
	throttled       atomic.Uint64
	lateness        latenessHistogram

	// rates over the last sampling period, set by the background loop
	rateMu                       sync.Mutex
	framesInPS, framesOutPS      float64
	heartbeatsPS, registrationPS float64
}

// Metrics is a snapshot of the simulator's counters.
type Metrics struct {
	Uptime          string `json:"uptime"`
	Sessions        int64  `json:"sessions"` // open now
	SessionsTotal   uint64 `json:"sessionsTotal"`
	Hosts           int    `json:"hosts"`           // known
	RegisteredHosts int    `json:"registeredHosts"` // with a live registered session
	Registrations   uint64 `json:"registrations"`
	Heartbeats      uint64 `json:"heartbeats"`
	Reports         uint64 `json:"reports"`
	FramesIn        uint64 `json:"framesIn"`
	// SplitFramesIn counts agent frames that did not arrive as exactly one
	// WebSocket message (the protocol wants one message per frame).
	SplitFramesIn   uint64  `json:"splitFramesIn"`
	FramesOut       uint64  `json:"framesOut"`
	FramesInPerSec  float64 `json:"framesInPerSec"`
	FramesOutPerSec float64 `json:"framesOutPerSec"`
	HeartbeatsPerS  float64 `json:"heartbeatsPerSec"`
	RegistrationsPS float64 `json:"registrationsPerSec"`
	CacheHits       uint64  `json:"cacheHits"`
	CacheMisses     uint64  `json:"cacheMisses"`
	CommandMessages uint64  `json:"commandMessages"` // transmissions, re-sends included
	Tasks           int     `json:"tasks"`
	SlowConsumers   uint64  `json:"slowConsumers"` // sessions closed because they did not read
	Throttled       uint64  `json:"throttled"`     // connections refused
	LastRecord      uint64  `json:"lastRecord"`
	// HeartbeatLateness: how much later than 10 s after the previous one
	// of its session each heartbeat arrived, since the start.
	HeartbeatLateness HeartbeatLateness `json:"heartbeatLateness"`
}

// Metrics returns the current counters and rates (rates cover the last
// five seconds).
func (s *Server) Metrics() Metrics {
	mt := &s.metrics
	s.mu.Lock()
	hosts, registered := len(s.m.hosts), 0
	for _, h := range s.m.hosts {
		if h.session != nil {
			registered++
		}
	}
	tasks := len(s.tasks)
	var uptime time.Duration
	if s.running {
		uptime = time.Since(s.startedAt).Truncate(time.Second)
	}
	s.mu.Unlock()
	mt.rateMu.Lock()
	defer mt.rateMu.Unlock()
	return Metrics{
		Uptime: uptime.String(), Sessions: mt.sessionsOpen.Load(), SessionsTotal: mt.sessionsTotal.Load(),
		Hosts: hosts, RegisteredHosts: registered, Registrations: mt.registrations.Load(),
		Heartbeats: mt.heartbeats.Load(), Reports: mt.reports.Load(),
		FramesIn: mt.framesIn.Load(), FramesOut: mt.framesOut.Load(), SplitFramesIn: mt.splitFramesIn.Load(),
		FramesInPerSec: mt.framesInPS, FramesOutPerSec: mt.framesOutPS,
		HeartbeatsPerS: mt.heartbeatsPS, RegistrationsPS: mt.registrationPS,
		CacheHits: mt.cacheHits.Load(), CacheMisses: mt.cacheMisses.Load(),
		CommandMessages: mt.commandMessages.Load(), Tasks: tasks,
		SlowConsumers: mt.slowConsumers.Load(), Throttled: mt.throttled.Load(),
		LastRecord: s.rec.last(), HeartbeatLateness: mt.lateness.snapshot(),
	}
}

const samplePeriod = 5 * time.Second

// background samples rates, logs a traffic summary now and then, and marks
// hosts whose heartbeats stopped as lost.
func (s *Server) background(ctx context.Context) {
	defer close(s.bgDone)
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	mt := &s.metrics
	type counts struct{ in, out, hb, reg, reports, sends uint64 }
	read := func() counts {
		return counts{mt.framesIn.Load(), mt.framesOut.Load(), mt.heartbeats.Load(), mt.registrations.Load(), mt.reports.Load(), mt.sends.Load()}
	}
	prev, prevAt := read(), time.Now()
	summary, summaryAt := prev, prevAt
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			cur := read()
			secs := now.Sub(prevAt).Seconds()
			mt.rateMu.Lock()
			mt.framesInPS = float64(cur.in-prev.in) / secs
			mt.framesOutPS = float64(cur.out-prev.out) / secs
			mt.heartbeatsPS = float64(cur.hb-prev.hb) / secs
			mt.registrationPS = float64(cur.reg-prev.reg) / secs
			mt.rateMu.Unlock()
			prev, prevAt = cur, now
			s.checkHeartbeats(now)
			if s.cfg.SummaryInterval > 0 && now.Sub(summaryAt) >= s.cfg.SummaryInterval {
				if cur.sends != summary.sends {
					s.log.Infof("last %s: %d session(s) open, %d registration(s), %d heartbeat(s), %d report(s), %d frames in, %d out",
						now.Sub(summaryAt).Round(time.Second), mt.sessionsOpen.Load(), cur.reg-summary.reg, cur.hb-summary.hb,
						cur.reports-summary.reports, cur.in-summary.in, cur.out-summary.out)
				}
				summary, summaryAt = cur, now
			}
		}
	}
}

// checkHeartbeats marks registered hosts without a heartbeat for
// HeartbeatLostAfter as HEARTBEAT_LOST, as the server's heartbeat monitor
// does.
func (s *Server) checkHeartbeats(now time.Time) {
	if s.cfg.HeartbeatLostAfter < 0 {
		return
	}
	var lost []string
	s.mu.Lock()
	for _, h := range s.m.hosts {
		if h.session != nil && !h.lost && now.Sub(h.lastHeartbeat) > s.cfg.HeartbeatLostAfter {
			h.lost = true
			lost = append(lost, h.name)
		}
	}
	s.mu.Unlock()
	for _, name := range lost {
		s.log.WithField("host", name).Warnf("%s sent no heartbeat for %s: HEARTBEAT_LOST (RESTART_AGENT on its next heartbeat)", name, s.cfg.HeartbeatLostAfter)
	}
	if len(lost) > 0 {
		s.notify()
	}
}

// newStdLogger adapts the HTTP servers' error log (TLS handshake failures
// of probing clients, mostly) to debug lines.
func newStdLogger(e *logrus.Entry) *log.Logger {
	return log.New(debugWriter{e}, "", 0)
}

type debugWriter struct{ e *logrus.Entry }

func (w debugWriter) Write(p []byte) (int, error) {
	w.e.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// String renders metrics for logs.
func (m Metrics) String() string {
	return fmt.Sprintf("%d sessions, %d registered hosts, %.0f frames/s in, %.0f out", m.Sessions, m.RegisteredHosts, m.FramesInPerSec, m.FramesOutPerSec)
}
