package agent

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/logging"
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
}

// Options are what the daemon has already set up before building the
// agent.
type Options struct {
	Logger *logrus.Logger
	// Ping is the bound ping port (bound before the pid file is written,
	// because it is the one-agent-per-port lock).
	Ping *PingListener
}

// New builds every component from cfg.
func New(cfg *config.Config, opts Options) (*Agent, error) {
	logger := opts.Logger
	a := &Agent{
		cfg:     cfg,
		logger:  logger,
		log:     logging.Component(logger, "agent"),
		restart: newRestartRequest(),
	}
	a.group.log = a.log

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
	return a, nil
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
