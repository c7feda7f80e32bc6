package agent

import (
	"context"
	"crypto/tls"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/alerts"
	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/diskhealth"
	"github.com/ambari-go/ambari-agent/internal/heartbeat"
	"github.com/ambari-go/ambari-agent/internal/hostinfo"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/security"
)

const (
	// stopBudget bounds a normal stop so `ambari-agent stop` never has to
	// fall back to SIGKILL.
	stopBudget = 8 * time.Second
	// restartBudget is the graceful-stop deadline before a self-restart
	// (the Python agent forces its exit 30 s after a restart request).
	restartBudget = 30 * time.Second
)

// Agent is the running agent: every component, built from the config.
type Agent struct {
	cfg     *config.Config
	logger  *logrus.Logger
	log     *logrus.Entry
	group   group
	restart *restartRequest

	startTime time.Time
	// hostname is this host's name as registered, resolved once.
	hostname string
	hostinfo *hostinfo.HostInfo
	caches   *cache.Store
	link     *heartbeat.Link
	key      encryptionKey
	work     *workers
	alerts   *alerts.Manager
	// disk is the degraded state: a write in the data dir failed.
	disk *diskhealth.Monitor
	// health is the liveness model and what shows it (systemd, status, HTTP).
	health *health

	linkLog, secLog *logrus.Entry
	// pinner pins the server's certificate key (server_cert_pinning=tofu);
	// nil when pinning is off.
	pinner *security.Pinner
	// connectedTo is the server of the latest connection: the one whose
	// key is pinned when its registration succeeds.
	connectedTo atomic.Value
	// shared are what other agents of the process share with this one
	// (Options.Runner, Options.TLSSessions).
	shared Options
}

// Options are what the daemon has already set up before building the
// agent.
type Options struct {
	Logger *logrus.Logger
	// AlertsLogger writes ambari-alerts.log; nil: the main logger.
	AlertsLogger *logrus.Logger
	// Ping is the bound ping port (bound before the pid file is written,
	// because it is the one-agent-per-port lock).
	Ping *PingListener
	// Runner is a resident Python runner shared with other agents of the
	// same process (`multiplier run`); nil: the agent builds its own. The
	// agent neither warms nor closes a shared runner, and leaves the
	// process environment (PATH) to its owner, because the runner serves
	// scripts only while every agent's script environment is the same.
	Runner *pyrunner.Runner
	// TLSSessions is a TLS session cache shared with the other agents of
	// the process, used for one-way TLS only (a resumed session would
	// carry another agent's client certificate); nil: none.
	TLSSessions tls.ClientSessionCache
}

// New builds every component from cfg.
func New(cfg *config.Config, opts Options) (*Agent, error) {
	logger := opts.Logger
	a := &Agent{
		cfg:       cfg,
		logger:    logger,
		log:       logging.Component(logger, "agent"),
		restart:   newRestartRequest(),
		startTime: time.Now(),
		shared:    Options{Runner: opts.Runner, TLSSessions: opts.TLSSessions},
	}
	a.group.log = a.log
	a.linkLog, a.secLog = newLinkLoggers(logger)
	a.setUpServerIdentity()
	a.disk = &diskhealth.Monitor{Dir: cfg.Agent.Prefix, Log: logging.Component(logger, "disk")}

	a.caches = cache.Open(cache.Dir(cfg.Agent.CacheDir), logging.Component(logger, "cache"))
	a.hostinfo = newHostInfo(cfg, logger, func() map[string]string {
		return a.caches.Metadata().Snapshot().AgentConfig()
	})
	// Resolved once for the process lifetime, like the Python agent; the
	// hostname script is bounded by a timeout.
	a.hostname = a.hostinfo.Hostname(context.Background())
	a.log.Infof("This host registers as %s, agent version %s", a.hostname, a.agentVersion())
	var err error
	if a.health, err = a.newHealth(); err != nil {
		return nil, err
	}

	a.link = heartbeat.New(heartbeat.Config{
		Servers: a.hostinfo.ServerHostnames(context.Background()),
		Probe: func(ctx context.Context, server string) error {
			return security.ProbeServer(ctx, a.securityConfig(server))
		},
		ProbeDelay:    cfg.Server.ConnectRetryDelay,
		Connect:       a.connect,
		Registration:  a.registration,
		Caches:        a.caches,
		Commands:      func(id string, body []byte) error { return a.work.queue.IntakeMessage(id, body) },
		Restart:       a.RequestRestart,
		EncryptionKey: a.key.set,
		OnRegistered:  a.onRegistered,
		StaleAlerts:   func() []protocol.StaleAlert { return a.alerts.StaleAlerts() },
		MaxBackoff:    cfg.Server.MaxReconnectRetryDelay,
		Observer:      a.health.mon,
		Jitter:        jitter.Random,
		Log:           a.linkLog,
	})
	work, err := a.buildWorkers(logger)
	if err != nil {
		a.health.close()
		return nil, err
	}
	a.work = work
	if opts.Runner == nil {
		ensurePath(cfg.WorkDir())
	}
	alertsLogger := opts.AlertsLogger
	if alertsLogger == nil {
		alertsLogger = logger
	}
	a.alerts = a.buildAlerts(alertsLogger, work)

	// Stopped in the reverse order: the link is added first so that it
	// stops last and what the others flush while stopping can still reach
	// the server; the queue stops after the status loop that feeds it.
	a.group.add("server link", a.link)
	if opts.Runner == nil {
		a.group.add("python runner", pythonRunner{work.python})
	}
	a.group.add("action queue", work.queue)
	a.group.add("recovery manager", work.recovery)
	a.group.add("component status", work.status)
	a.group.add("component versions", work.versions)
	a.group.add("host status", work.host)
	a.group.add("alerts", a.alerts)
	a.group.add("disk health", a.disk)

	if cfg.Agent.DataCleanupInterval > 0 {
		a.group.add("data cleaner", &DataCleaner{
			Dir:      cfg.Agent.Prefix,
			Interval: cfg.Agent.DataCleanupInterval,
			MaxAge:   cfg.Agent.DataCleanupMaxAge,
			MaxSize:  int64(cfg.Agent.DataCleanupMaxSizeMB) * 1_000_000,
			Log:      logging.Component(logger, "data_cleaner"),
		})
	}
	if opts.Ping != nil {
		a.group.add("ping port listener", opts.Ping)
	}
	// Added last, stopped first: STOPPING=1 goes out as the stop begins.
	a.group.add("monitor", a.health)
	return a, nil
}

// Degraded reports whether a write in the data dir failed and has not
// been shown to work since, with the last error: the agent runs, but
// commands and reports may be lost.
func (a *Agent) Degraded() (degraded bool, reason string) {
	d, r, _ := a.disk.Degraded()
	return d, r
}

// onRegistered runs after every registration; it must not block.
func (a *Agent) onRegistered() {
	a.pinServerKey()
	a.work.registered()
}

// newHostInfo builds the host facts collector from the configuration.
func newHostInfo(cfg *config.Config, logger *logrus.Logger, agentConfig func() map[string]string) *hostinfo.HostInfo {
	return hostinfo.New(hostinfo.Config{
		Prefix:                  cfg.Agent.Prefix,
		HostnameScript:          cfg.Agent.HostnameScript,
		PublicHostnameScript:    cfg.Agent.PublicHostnameScript,
		ServerHostname:          cfg.Server.Hostname,
		ServerHostnameScript:    cfg.Server.HostnameScript,
		IgnoreMountPoints:       strings.Join(cfg.Agent.IgnoreMountPoints, ","),
		SystemResourceOverrides: cfg.Agent.SystemResourceOverrides,
		AgentConfig:             agentConfig,
		Log:                     logging.Component(logger, "hostinfo"),
	})
}

// RequestRestart asks the agent to stop gracefully and start afresh (the
// server's RESTART_AGENT, or a heartbeat id mismatch).
func (a *Agent) RequestRestart(reason string) { a.restart.request(reason) }

func (a *Agent) restartRequested() bool {
	select {
	case <-a.restart.ch:
		return true
	default:
		return false
	}
}

// Run runs every component until ctx is done (nil), a restart is requested
// (ErrRestart) or a component fails (its error).
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.restart.ch:
			a.log.Warnf("Restarting the agent: %s", a.restart.reason)
			cancel()
		case <-ctx.Done():
		}
	}()
	a.log.Info("Agent components starting")
	err := a.group.run(ctx, func() time.Duration {
		if a.restartRequested() {
			return restartBudget
		}
		return stopBudget
	})
	if err == nil && a.restartRequested() {
		return ErrRestart
	}
	return err
}
