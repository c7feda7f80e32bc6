package alerts

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyrunner"
)

// Manager is the alert framework: scheduler, checks, collector, reporter
// and stale-alert monitor.
type Manager struct {
	cfg Config
	log *logrus.Entry

	python    Python
	ownPython *pyrunner.Runner // closed by Run when the framework started it
	client    *http.Client

	// defs is the definitions as last loaded, read without locks by the
	// reporter and the heartbeat's StaleAlerts.
	defs      atomic.Pointer[defSnapshot]
	collector *collector
	rep       *reporter
	stale     *staleMonitor

	// nudge wakes the scheduler to reload definitions. It is buffered and
	// written without blocking.
	nudge chan struct{}

	running sync.Mutex // one Run at a time

	// onResult, when set (tests), sees every collected result.
	onResult func(Result)
}

// defSnapshot is an immutable view of the definitions.
type defSnapshot struct {
	clusters []ClusterDefinitions
	byName   map[resultKey]*Definition
	ids      map[int64]bool
}

func newDefSnapshot(clusters []ClusterDefinitions) *defSnapshot {
	s := &defSnapshot{clusters: clusters, byName: map[resultKey]*Definition{}, ids: map[int64]bool{}}
	for i := range clusters {
		c := &clusters[i]
		for j := range c.Definitions {
			d := &c.Definitions[j]
			k := resultKey{c.ClusterID, d.Name}
			// Python takes the first definition with the name.
			if _, dup := s.byName[k]; !dup {
				s.byName[k] = d
			}
			s.ids[d.DefinitionID] = true
		}
	}
	return s
}

// New builds the framework. Nothing runs until Run.
func New(cfg Config) *Manager {
	cfg.setDefaults()
	m := &Manager{
		cfg:       cfg,
		log:       cfg.Log,
		collector: newCollector(),
		rep:       newReporter(),
		stale:     newStaleMonitor(),
		nudge:     make(chan struct{}, 1),
	}
	m.defs.Store(newDefSnapshot(nil))
	client, err := newHTTPClient(&m.cfg, m.log)
	if err != nil {
		m.log.WithError(err).Error("HTTPS alert checks will fail: ca_cert_path is unusable")
	}
	m.client = client
	m.python = cfg.Python
	if m.python == nil {
		pc := cfg.PythonConfig
		if pc.Log == nil {
			pc.Log = m.log.WithField("component", "pyrunner")
		}
		m.ownPython = pyrunner.New(pc)
		m.python = m.ownPython
	}
	return m
}

// Run schedules the definitions and runs checks and reports until ctx
// ends. Checks in flight are canceled and waited for; a helper the
// framework started is stopped, so a Manager runs once.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.TryLock() {
		return fmt.Errorf("alerts: already running")
	}
	defer m.running.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var changes <-chan struct{}
	if m.cfg.Definitions != nil {
		ch, unsubscribe := m.cfg.Definitions.Subscribe()
		defer unsubscribe()
		changes = ch
	}
	s := newScheduler(m)
	m.reload(s, true)
	if m.cfg.Liveness != nil {
		m.cfg.Liveness.Idle()
	}

	var reporterDone sync.WaitGroup
	reporterDone.Add(1)
	go func() {
		defer reporterDone.Done()
		m.runReporter(ctx)
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if next, ok := s.nextDue(); ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			cancel()
			s.wg.Wait()
			reporterDone.Wait()
			if m.ownPython != nil {
				if err := m.ownPython.Close(); err != nil {
					m.log.WithError(err).Warn("Stopping the Python helper")
				}
			}
			m.log.Info("[AlertScheduler] Stopped the alert scheduler.")
			return nil
		case <-timer.C:
			s.dispatchDue(ctx, time.Now())
		case <-changes:
			m.reload(s, false)
		case <-m.nudge:
			m.reload(s, false)
		}
	}
}

// reload reads the definitions and reschedules. The first load of a run is
// a full (CREATE) schedule whatever event produced the cache.
func (m *Manager) reload(s *scheduler, first bool) {
	var clusters []ClusterDefinitions
	eventType := "CREATE"
	if m.cfg.Definitions != nil {
		var ev string
		clusters, ev = m.cfg.Definitions.AlertDefinitions()
		if !first {
			eventType = ev
		}
	}
	snap := newDefSnapshot(clusters)
	m.defs.Store(snap)
	m.stale.prune(snap)
	s.reschedule(snap, eventType, time.Now())
}

// DefinitionsChanged asks the scheduler to reload the definitions now. It
// never blocks; use it when the definitions source has no Subscribe
// channel of its own or to force a reload.
func (m *Manager) DefinitionsChanged() {
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

// StaleAlerts lists the definitions that produced no result for
// interval × staleIntervalMultiplier, for the heartbeat's "staleAlerts"
// (nil when there are none). Cheap: one pass over the loaded definitions.
func (m *Manager) StaleAlerts() []StaleAlert {
	return m.stale.stale(m.defs.Load(), m.cfg.Now(), m.cfg.Minute, m.log)
}
