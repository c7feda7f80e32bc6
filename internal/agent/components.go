package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/actionqueue"
	"github.com/ambari-go/ambari-agent/internal/filecache"
	"github.com/ambari-go/ambari-agent/internal/hoststatus"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/recovery"
	"github.com/ambari-go/ambari-agent/internal/security"
	"github.com/ambari-go/ambari-agent/internal/statusexec"
)

// workers are the components that do the agent's work once it talks to
// the server.
type workers struct {
	files    *filecache.Cache
	orch     *orchestrator.Orchestrator
	queue    *actionqueue.Queue
	recovery *recovery.Manager
	status   *statusexec.Executor
	versions *statusexec.VersionReporter
	host     *hoststatus.Reporter
	// python is the one resident Python runner: alert checks and, with
	// [python] resident_runner, every stack script.
	python *pyrunner.Runner
}

// agentConfig returns the server's [agentConfig] keys (metadata "-1"
// agentConfigs), which change with every metadata update.
func (a *Agent) agentConfig() map[string]string {
	return a.caches.Metadata().Snapshot().AgentConfig()
}

// buildWorkers builds the command, status and recovery components. They
// reach each other only through the small interfaces of their packages,
// each built before the ones that use it: the action queue, built last,
// tells the recovery manager and the status loop of every command's life
// (actionqueue.Observer).
func (a *Agent) buildWorkers(logger *logrus.Logger) (*workers, error) {
	cfg := a.cfg
	w := &workers{}

	dlTLS, err := security.DefaultContextTLS(cfg.Security.CACertPath)
	if err != nil {
		return nil, err
	}
	w.files = filecache.New(filecache.Config{
		CacheDir:  cfg.Agent.CacheDir,
		AgentDirs: []string{cfg.Agent.Prefix, cfg.Security.KeysDir, cfg.TmpDir()},
		AutoUpdate: func() bool {
			return !strings.EqualFold(strings.TrimSpace(a.agentConfig()["agent.auto.cache.update"]), "false")
		},
		TolerateDownloadFailures: cfg.Agent.TolerateDownloadFailures,
		TLS:                      dlTLS,
		Log:                      logging.Component(logger, "file_cache"),
	})

	parallel := 0
	if cfg.Agent.ParallelExecution {
		parallel = 1
	}
	w.orch, err = orchestrator.New(orchestrator.Config{
		Prefix:                 cfg.Agent.Prefix,
		CacheDir:               cfg.Agent.CacheDir,
		TmpDir:                 cfg.TmpDir(),
		KeysDir:                cfg.Security.KeysDir,
		WorkDir:                cfg.WorkDir(),
		Python:                 cfg.Python.Executable,
		PythonPath:             cfg.Python.LibDirs,
		ForceHTTPSProtocol:     cfg.Security.ForceHTTPSProtocol,
		CACertPath:             cfg.Security.CACertPath,
		LogOutFiles:            cfg.Logging.LogOutFiles,
		LogLevel:               func() string { return levelName(logger.GetLevel()) },
		RetentionPolicy:        cfg.Agent.CommandFileRetentionPolicy,
		LogMaxSymbols:          cfg.Heartbeat.LogMaxSymbolsSize,
		LogCommandExecutes:     cfg.Logging.LogCommandExecutes,
		PublicHostname:         a.hostinfo.PublicHostname(context.Background()),
		ParallelExecution:      parallel,
		UseSystemProxySettings: cfg.Network.UseSystemProxySettings,
		CredentialLibDir:       cfg.Security.CredentialLibDir,
		CredentialConfDir:      cfg.Security.CredentialConfDir,
		CredentialShellCmd:     cfg.Security.CredentialShellCmd,
		Caches:                 orchestrator.NewCacheSource(a.caches, a.hostname),
		FileCache:              w.files,
		EncryptionKey:          a.key.get,
		OnWriteError:           a.disk.WriteFailed,
		Log:                    logging.Component(logger, "orchestrator"),
	})
	if err != nil {
		return nil, err
	}
	runnerPart, runnerRestarted := a.health.RunnerHooks()
	w.python = pyrunner.New(pyrunner.Config{
		Busy:      runnerPart.BeginFor,
		Restarted: runnerRestarted,
		Python:    w.orch.Python(),
		Environ:   w.orch.ScriptEnviron(),
		Dir:       filepath.Join(cfg.WorkDir(), "pyrunner"),
		WorkDir:   cfg.TmpDir(),
		Scripts:   cfg.Python.ResidentRunner,
		Preload:   cfg.Python.PreloadModules,
		Log:       logging.Component(logger, "python_runner"),
	})
	if a.shared.Runner != nil {
		// The one built above never starts a process: nothing calls it.
		w.python = a.shared.Runner
	}
	if cfg.Python.ResidentRunner {
		w.orch.SetResident(w.python)
	} else {
		logging.Component(logger, "python_runner").Warn("Stack scripts run in fresh interpreters: [python] resident_runner is false")
	}

	w.recovery = recovery.New(recovery.Config{
		Configurations:  a.caches.Configurations(),
		HostLevelParams: a.caches.HostLevelParams(),
		StateFile:       recovery.StatePath(cfg.Agent.Prefix),
		Backoff:         cfg.Agent.RecoveryBackoff,
		Log:             logging.Component(logger, "recovery"),
	})

	checks := &statusRunner{next: w.orch, part: a.health.status, interval: cfg.Agent.StatusCommandsRunInterval,
		caches: a.caches, metrics: a.health.metrics}
	w.status, err = statusexec.New(statusexec.Config{
		HostName:    a.hostname,
		Caches:      a.caches,
		Runner:      checks,
		Liveness:    a.health.status,
		Sender:      a.link,
		Recovery:    w.recovery,
		Interval:    cfg.Agent.StatusCommandsRunInterval,
		Jitter:      jitter.Random,
		Concurrency: cfg.Agent.StatusCommandsConcurrency,
		Log:         logging.Component(logger, "status"),
	})
	if err != nil {
		return nil, err
	}
	w.versions, err = statusexec.NewVersionReporter(statusexec.VersionConfig{
		HostName:    a.hostname,
		Caches:      a.caches,
		Runner:      checks,
		Sender:      a.link,
		Concurrency: cfg.Agent.StatusCommandsConcurrency,
		Log:         logging.Component(logger, "versions"),
	})
	if err != nil {
		return nil, err
	}

	var commands actionqueue.Runner = w.orch
	if a.health.metrics != nil {
		commands = commandRunner{Runner: w.orch, metrics: a.health.metrics}
	}
	w.queue, err = actionqueue.New(actionqueue.Config{
		Runner:            commands,
		IntakeLiveness:    a.health.intake,
		JournalLiveness:   a.health.journal,
		Sender:            a.link,
		Prefix:            cfg.Agent.Prefix,
		ParallelExecution: cfg.Agent.ParallelExecution,
		ParallelLimit:     cfg.Agent.ParallelExecutionLimit,
		ReportInterval:    cfg.Agent.CommandReportsInterval,
		LogMaxSymbols:     cfg.Heartbeat.LogMaxSymbolsSize,
		Recovery:          w.recovery,
		// The recovery manager first: a command's outcome must reach it
		// before the live state the status loop's check reports.
		Observers:    []actionqueue.Observer{w.recovery, w.status},
		OnWriteError: a.disk.WriteFailed,
		Log:          logging.Component(logger, "action_queue"),
	})
	if err != nil {
		return nil, err
	}

	w.host, err = hoststatus.New(hoststatus.Config{
		Source:     a.hostinfo,
		Sender:     a.link,
		Registered: a.link.Registered,
		Interval:   cfg.Heartbeat.StateInterval,
		Log:        logging.Component(logger, "host_status"),
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// registered tells every worker that a new session registered: the file
// cache checks its directories again, pending reports go out, statuses
// are force-sent, versions and host status are reported afresh.
func (w *workers) registered() {
	w.files.Reset()
	w.queue.Registered()
	w.status.Registered()
	w.versions.Registered()
	w.host.Registered()
}

func levelName(l logrus.Level) string {
	if l >= logrus.DebugLevel {
		return "DEBUG"
	}
	return "INFO"
}

// ensurePath puts the agent's working directory on PATH, where stack
// scripts look for ambari-sudo.sh (the Python control script's
// ambari-env.sh does the same).
func ensurePath(dir string) {
	path := os.Getenv("PATH")
	for _, p := range strings.Split(path, ":") {
		if p == dir {
			return
		}
	}
	os.Setenv("PATH", fmt.Sprintf("%s:%s", path, dir))
}

// pythonRunner runs the resident Python runner as an agent component: it
// is warmed up at start and stopped (with the alert checks and status
// checks it still runs, not the commands) when the agent stops.
type pythonRunner struct{ r *pyrunner.Runner }

func (p pythonRunner) Run(ctx context.Context) error {
	p.r.Warm()
	<-ctx.Done()
	return p.r.Close()
}
