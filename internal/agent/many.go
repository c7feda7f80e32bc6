package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/version"
)

// HostedOptions are what a process running many agents (`ambari-agent
// multiplier run`) gives each of them.
type HostedOptions struct {
	Verbose bool
	// Runner is the process's resident Python runner (nil: each agent
	// builds its own).
	Runner *pyrunner.Runner
	// TLSSessions is the process's TLS session cache (nil: none).
	TLSSessions tls.ClientSessionCache
	// Logs hears of the agent's log files while it runs, so that the
	// process reopens them all on SIGHUP; nil: none.
	Logs *LogSet
	// Extra, when set, is run as one more component of the agent (tests
	// use it to make one host fail).
	Extra Component
}

// RunHosted runs the agent of cfg inside a process that hosts many, until
// ctx is done (nil), the agent asks for a restart (ErrRestart) or it
// fails (its error; a panic while it is built or run is one). It does
// what RunDaemon does for one agent except what belongs to the process:
// signals, the pid file, systemd notification, the memory limit, the open
// files limit, self-restart by exec and the monitor's HTTP port (each
// agent's http_port is ignored). Each agent keeps its own ping port, log
// files, caches, queue, journal and recovery state under its home.
func RunHosted(ctx context.Context, cfg *config.Config, o HostedOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	// One port for the process, served by its owner.
	cfg.Agent.HTTPPort = 0
	if err := prepareHome(cfg); err != nil {
		return err
	}
	level := logrus.InfoLevel
	if o.Verbose || cfg.Agent.LogLevel == "DEBUG" {
		level = logrus.DebugLevel
	}
	json := cfg.Logging.Format == "json"
	logger, closeLog, err := logging.New(logging.Options{File: cfg.LogFile(), Level: level, JSON: json})
	if err != nil {
		return err
	}
	alertsLogger, closeAlertsLog, err := logging.New(logging.Options{File: cfg.AlertsLogFile(), Level: level, JSON: json})
	if err != nil {
		closeLog()
		return err
	}
	// A part that did not stop within the stop budget may still log. When
	// the process is stopping its exit closes the files; an agent started
	// again in the same process closes them first, so none pile up.
	defer func() {
		if ctx.Err() == nil {
			closeLog()
			closeAlertsLog()
		}
	}()
	defer o.Logs.add(logger, alertsLogger)()
	log := logging.Component(logger, "main")
	log.Infof("ambari-agent %s starting in a process of many agents (config %s)", version.Version, cfg.File)

	ping, err := ListenPing(cfg.Agent.PingPort, logging.Component(logger, "ping"))
	if err != nil {
		log.Error(err)
		return err
	}
	a, err := New(cfg, Options{Logger: logger, AlertsLogger: alertsLogger, Ping: ping, Runner: o.Runner, TLSSessions: o.TLSSessions})
	if err != nil {
		ping.Close()
		log.Error(err)
		return err
	}
	if o.Extra != nil {
		a.group.add("extra", o.Extra)
	}
	err = a.Run(ctx)
	switch {
	case errors.Is(err, ErrRestart):
		log.Info("Agent stopped for a restart")
	case err != nil:
		log.WithError(err).Error("Agent stopped on error")
	default:
		log.Info("Agent stopped")
	}
	return err
}

// HostedPath puts dir on PATH for the scripts of every hosted agent (a
// single agent puts its own home's agent directory there, where stack
// scripts find ambari-sudo.sh). Call it before the first agent is built.
func HostedPath(dir string) { ensurePath(dir) }

// LogSet is the log files of every agent of a process, reopened together
// (SIGHUP, after logrotate moved them). The zero value is ready; a nil
// *LogSet ignores everything.
type LogSet struct {
	mu   sync.Mutex
	next int
	logs map[int][]*logrus.Logger
}

// add registers loggers and returns what removes them.
func (s *LogSet) add(loggers ...*logrus.Logger) (remove func()) {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		s.logs = map[int][]*logrus.Logger{}
	}
	id := s.next
	s.next++
	s.logs[id] = loggers
	return func() {
		s.mu.Lock()
		delete(s.logs, id)
		s.mu.Unlock()
	}
}

// Reopen reopens every registered log file and returns how many could not
// be reopened.
func (s *LogSet) Reopen() (failed int) {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.logs {
		for _, l := range ls {
			if logging.Reopen(l) != nil {
				failed++
			}
		}
	}
	return failed
}
