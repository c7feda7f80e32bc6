package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/liveness"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/sdnotify"
)

const (
	// stateRefresh is how often the state file and STATUS= are refreshed
	// when nothing else (a heartbeat, a link change) did it.
	stateRefresh = 30 * time.Second
	// readyWait bounds how long READY=1 waits for the first registration:
	// a host whose server is down must still finish booting, and systemd
	// must not kill an agent that is only waiting for its server.
	readyWait = 60 * time.Second
)

// Config wires a Monitor.
type Config struct {
	Liveness *liveness.Registry
	// Notifier reaches systemd; nil outside systemd.
	Notifier *sdnotify.Notifier
	// Watchdog is systemd's WatchdogSec=; 0 = no watchdog. WATCHDOG=1 goes
	// out every Watchdog/2 while no part is stalled.
	Watchdog time.Duration
	// HTTPPort serves /healthz, /metrics and /debug/pprof/ on 127.0.0.1;
	// 0 = off.
	HTTPPort int
	// Metrics are served on /metrics; nil = an empty registry.
	Metrics *Metrics
	// StateFile is rewritten at each heartbeat ("" = none).
	StateFile string
	// State fills in what the agent knows beyond the link (components,
	// pending reports); called from the monitor's goroutine.
	State func(*State)
	// Base is the state's fixed part (pid, version, build, start time).
	Base State
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	Log *logrus.Entry
}

// Monitor is the component that tells systemd, the state file and HTTP
// clients how the agent is. It also implements heartbeat.Observer.
type Monitor struct {
	cfg Config
	log *logrus.Entry
	now func() time.Time
	// link is the part the link's attempts beat; heartbeat the part beaten
	// by acknowledged heartbeats.
	link, heartbeat *liveness.Part

	mu sync.Mutex
	st State // link facts, updated by the Observer methods
	// registeredOnce is closed at the first registration (READY=1).
	registeredOnce sync.Once
	registeredCh   chan struct{}
	// nudge asks the monitor's goroutine to rewrite the state file now.
	nudge chan struct{}
	// ticks, when set before Run (tests), replaces the refresh ticker.
	ticks <-chan time.Time
}

// New builds a monitor. Link and heartbeat are the liveness parts it beats
// from the link's events.
func New(cfg Config, link, heartbeat *liveness.Part) *Monitor {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	m := &Monitor{cfg: cfg, log: logging.OrDiscard(cfg.Log), now: now, link: link, heartbeat: heartbeat,
		st: cfg.Base, registeredCh: make(chan struct{}), nudge: make(chan struct{}, 1)}
	heartbeat.Idle()
	return m
}

// Listen binds the HTTP port on 127.0.0.1 (before Run, so that a port in
// use fails the start with its reason). nil when the port is off.
func (m *Monitor) Listen() (net.Listener, error) {
	if m.cfg.HTTPPort == 0 {
		return nil, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.cfg.HTTPPort)))
	if err != nil {
		return nil, fmt.Errorf("http_port %d: %w", m.cfg.HTTPPort, err)
	}
	return l, nil
}

// Run notifies systemd and serves HTTP on l (nil: no HTTP) until ctx ends;
// then it says STOPPING=1.
func (m *Monitor) Run(ctx context.Context, l net.Listener) error {
	var srv *http.Server
	if l != nil {
		srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.log.WithError(err).Error("HTTP server stopped")
			}
		}()
		m.log.Infof("Serving /healthz, /metrics and /debug/pprof/ on http://%s", l.Addr())
	}
	defer func() {
		m.notify(sdnotify.Stopping, sdnotify.Status("stopping"))
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			srv.Shutdown(sctx)
			cancel()
		}
	}()

	period := stateRefresh
	if m.cfg.Watchdog > 0 {
		period = min(period, m.cfg.Watchdog/2)
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	ticks := tick.C
	if m.ticks != nil {
		ticks = m.ticks
	}
	readyTimer := time.NewTimer(readyWait)
	defer readyTimer.Stop()
	ready := false
	sayReady := func(why string) {
		if !ready {
			ready = true
			m.log.Debugf("Ready (%s)", why)
			m.notify(sdnotify.Ready, sdnotify.Status(m.snapshot().Summary()))
		}
	}
	lastRefresh := m.now()
	healthy := true
	registered := m.registeredCh
	m.refresh()
	m.pingWatchdog(&healthy)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-registered:
			registered = nil
			sayReady("registered")
			m.refresh()
			lastRefresh = m.now()
		case <-readyTimer.C:
			sayReady("no registration yet; serving anyway")
		case <-m.nudge:
			m.refresh()
			lastRefresh = m.now()
		case <-ticks:
			if m.now().Sub(lastRefresh) >= stateRefresh-time.Second {
				m.refresh()
				lastRefresh = m.now()
			}
			m.pingWatchdog(&healthy)
		}
	}
}

// pingWatchdog sends WATCHDOG=1 when no part is stalled, and logs when
// that changes.
func (m *Monitor) pingWatchdog(healthy *bool) {
	err := m.cfg.Liveness.Err()
	if err != nil {
		if *healthy {
			m.log.WithError(err).Error("A part of the agent is stalled; systemd's watchdog is no longer fed")
			m.refresh()
		}
		*healthy = false
		return
	}
	if !*healthy {
		m.log.Info("Every part of the agent makes progress again; feeding systemd's watchdog")
		m.refresh()
	}
	*healthy = true
	if m.cfg.Watchdog > 0 {
		m.notify(sdnotify.Watchdog)
	}
}

func (m *Monitor) notify(states ...string) {
	if err := m.cfg.Notifier.Notify(states...); err != nil {
		m.log.WithError(err).Debug("Cannot notify systemd")
	}
}

// snapshot is the state as of now.
func (m *Monitor) snapshot() *State {
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if m.cfg.State != nil {
		m.cfg.State(&st)
	}
	st.Updated = m.now()
	st.Parts = m.cfg.Liveness.Check()
	return &st
}

// refresh rewrites the state file and STATUS=.
func (m *Monitor) refresh() {
	st := m.snapshot()
	if m.cfg.StateFile != "" {
		if err := WriteState(m.cfg.StateFile, st); err != nil {
			m.log.WithError(err).Warn("Cannot write the state file")
		}
	}
	m.notify(sdnotify.Status(st.Summary()))
}

// RemoveStateFile removes the state file (the daemon stops).
func (m *Monitor) RemoveStateFile() {
	if m.cfg.StateFile != "" {
		os.Remove(m.cfg.StateFile)
	}
}

func (m *Monitor) poke() {
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

// Connecting implements heartbeat.Observer.
func (m *Monitor) Connecting(server string) {
	m.link.Beat()
	m.link.Note("connecting to " + server)
	m.mu.Lock()
	m.st.Server = server
	m.mu.Unlock()
}

// Registered implements heartbeat.Observer.
func (m *Monitor) Registered(server string) {
	m.link.Idle()
	m.link.Note("registered with " + server)
	m.heartbeat.Beat()
	m.mu.Lock()
	m.st.Server, m.st.Registered, m.st.LinkError, m.st.DownSince = server, true, "", time.Time{}
	m.mu.Unlock()
	m.cfg.Metrics.Registered(true)
	m.registeredOnce.Do(func() { close(m.registeredCh) })
	m.poke()
}

// Disconnected implements heartbeat.Observer.
func (m *Monitor) Disconnected(server string, err error, retryIn time.Duration) {
	m.link.Beat()
	m.link.Note(fmt.Sprintf("%s unreachable; next attempt in %s", server, retryIn.Round(time.Second)))
	m.heartbeat.Idle()
	m.mu.Lock()
	if m.st.Registered || m.st.DownSince.IsZero() {
		m.st.DownSince = m.now()
	}
	m.st.Server, m.st.Registered = server, false
	if err != nil {
		m.st.LinkError = err.Error()
	}
	m.mu.Unlock()
	m.cfg.Metrics.Registered(false)
	m.cfg.Metrics.Reconnect()
	m.poke()
}

// HeartbeatAcked implements heartbeat.Observer.
func (m *Monitor) HeartbeatAcked(rtt, late time.Duration) {
	m.heartbeat.Beat()
	m.mu.Lock()
	m.st.LastHeartbeat = m.now()
	m.mu.Unlock()
	m.cfg.Metrics.Heartbeat(rtt, late)
	m.poke()
}
