package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"

	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/diskhealth"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/version"
)

// DaemonOptions are the command-line options of `ambari-agent run`.
type DaemonOptions struct {
	Verbose          bool
	ExpectedHostname string
	// Args are the arguments to re-execute with on a self-restart.
	Args []string
	// Stderr receives what an operator starting the agent must see
	// (ambari-agent.out when started with `start`).
	Stderr io.Writer
}

// restartHistoryEnv carries the times of recent self-restarts across exec,
// for rate limiting.
const restartHistoryEnv = "AMBARI_AGENT_RESTARTS"

// Self-restart rate limit: up to restartBurst restarts within
// restartWindow go at once; each one beyond waits twice as long as the
// previous, from restartMinDelay up to restartMaxDelay. The Python parent
// relaunches its child in a tight loop forever.
const (
	restartWindow   = 10 * time.Minute
	restartBurst    = 3
	restartMinDelay = 10 * time.Second
	restartMaxDelay = 5 * time.Minute
	// outFileLimit bounds ambari-agent.out; it only receives what escapes
	// the log (runtime crash reports, early startup errors, the output of
	// a library writing to stderr). It is checked every outFileCheck.
	outFileLimit = 10 << 20
	outFileCheck = time.Minute
)

// RunDaemon runs the agent in the foreground until it is stopped and
// returns the process exit code. A self-restart replaces the process image
// (same pid, so the pid file stays valid) and does not return.
func RunDaemon(cfg *config.Config, opts DaemonOptions) int {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "ERROR: "+format+"\n", args...)
		return ExitFailure
	}
	if err := prepareHome(cfg); err != nil {
		return fail("%v", err)
	}

	// -v or loglevel=DEBUG selects debug. (In the Python agent loglevel
	// silently overrides -v for the main log once the daemon is up.)
	level := logrus.InfoLevel
	if opts.Verbose || cfg.Agent.LogLevel == "DEBUG" {
		level = logrus.DebugLevel
	}
	// Under systemd the main log also goes to the journal (stderr); the
	// file log stays as it is.
	journal := logging.UnderJournal()
	logger, closeLog, err := logging.New(logging.Options{File: cfg.LogFile(), Level: level, JSON: cfg.Logging.Format == "json", Journal: journal})
	if err != nil {
		return fail("%v", err)
	}
	defer closeLog()
	alertsLogger, closeAlertsLog, err := logging.New(logging.Options{File: cfg.AlertsLogFile(), Level: level, JSON: cfg.Logging.Format == "json"})
	if err != nil {
		return fail("%v", err)
	}
	defer closeAlertsLog()
	if cfg.Logging.SyslogEnabled {
		if hook, err := lsyslog.NewSyslogHook("", "", syslog.LOG_INFO|syslog.LOG_LOCAL1, "ambari_agent"); err == nil {
			logger.AddHook(hook)
		} else {
			logger.WithError(err).Warn("syslog_enabled=1 but syslog is not reachable")
		}
	}
	log := logging.Component(logger, "main")
	log.Infof("ambari-agent %s starting (pid %d, config %s)", version.Version, os.Getpid(), cfg.File)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGUSR1:
				DumpGoroutines(log)
			case syscall.SIGHUP:
				// logrotate's usual postrotate: write to new files
				// under the old names.
				for _, l := range []*logrus.Logger{logger, alertsLogger} {
					if err := logging.Reopen(l); err != nil {
						log.WithError(err).Error("SIGHUP: cannot reopen a log file")
					}
				}
				log.Info("SIGHUP: log files reopened")
			default:
				log.Infof("Received %s, stopping", s)
				stop()
			}
		}
	}()

	if opts.ExpectedHostname != "" {
		got := newHostInfo(cfg, logger, nil).Hostname(ctx)
		if !strings.EqualFold(got, opts.ExpectedHostname) {
			log.Errorf("Host name %s does not match the expected %s", got, opts.ExpectedHostname)
			return fail("Expected hostname %s does not match this host's name %s", opts.ExpectedHostname, got)
		}
	}
	raiseOpenFilesLimit(cfg.Agent.UlimitOpenFiles, log)

	ping, err := ListenPing(cfg.Agent.PingPort, logging.Component(logger, "ping"))
	if err != nil {
		log.Error(err)
		return fail("%v", err)
	}
	if err := WritePidFile(cfg.PidFile()); err != nil {
		ping.Close()
		log.Error(err)
		return fail("%v", err)
	}
	go boundOutFile(ctx)

	a, err := New(cfg, Options{Logger: logger, AlertsLogger: alertsLogger, Ping: ping})
	if err != nil {
		ping.Close()
		RemovePidFile(cfg.PidFile())
		log.Error(err)
		return fail("%v", err)
	}
	// `start` reports success only now: a daemon that cannot even build
	// its components fails the start with its reason shown.
	signalReady()
	err = a.Run(ctx)
	if errors.Is(err, ErrRestart) {
		closeLog()
		closeAlertsLog()
		reexec(opts.Args, logger)
		// reexec returns only if exec failed; fall through to exit 77 so a
		// supervisor can start us again.
		RemovePidFile(cfg.PidFile())
		return 77
	}
	RemovePidFile(cfg.PidFile())
	if err != nil {
		log.WithError(err).Error("Agent stopped on error")
		return ExitFailure
	}
	log.Info("Agent stopped")
	return ExitOK
}

// writtenDirs are the directories the agent writes to.
func writtenDirs(cfg *config.Config) []string {
	return []string{cfg.Agent.Prefix, cfg.Agent.CacheDir, cfg.Security.KeysDir, cfg.TmpDir(), cfg.Agent.LogDir, cfg.Agent.PidDir}
}

// prepareHome checks the configuration and makes the directories the
// agent writes to, failing with the reason when one is unusable.
func prepareHome(cfg *config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The package creates these; a fresh --home may not have them yet.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{cfg.Agent.Prefix, 0o755}, {cfg.Agent.LogDir, 0o755}, {cfg.Agent.PidDir, 0o755},
		{cfg.Agent.CacheDir, 0o755}, {cfg.Security.KeysDir, 0o700}, {cfg.WorkDir(), 0o755},
		{cfg.TmpDir(), 0o1777},
	} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("cannot create %s: %v", d.path, err)
		}
	}
	if err := ensureTmpDir(cfg.TmpDir()); err != nil {
		return err
	}
	// A read-only or full directory fails the start here, naming it,
	// rather than yielding an agent that registers and fails every
	// command.
	return diskhealth.ProbeAll(writtenDirs(cfg)...)
}

// signalReady tells a waiting `ambari-agent start` that the daemon holds
// its ping port and pid file.
func signalReady() {
	fd, err := strconv.Atoi(os.Getenv(readyFDEnv))
	os.Unsetenv(readyFDEnv)
	if err != nil || fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	f.Write([]byte("ready\n"))
	f.Close()
}

// boundOutFile truncates ambari-agent.out when it grows past its limit;
// the file is opened in append mode, so truncating it is safe.
func boundOutFile(ctx context.Context) {
	path := os.Getenv(outFileEnv)
	if path == "" {
		return
	}
	t := time.NewTicker(outFileCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if st, err := os.Stat(path); err == nil && st.Size() > outFileLimit {
				os.Truncate(path, 0)
			}
		}
	}
}

// DumpGoroutines writes every goroutine's stack to the log (SIGUSR1; the
// Python agent dumps its threads' stacks).
func DumpGoroutines(log *logrus.Entry) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	log.Warnf("SIGUSR1: goroutine dump follows\n%s", buf)
}

func raiseOpenFilesLimit(want int, log *logrus.Entry) {
	if want <= 0 {
		return
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if uint64(want) < lim.Cur {
		log.Warnf("ulimit.open.files=%d is below the current limit %d; left unchanged", want, lim.Cur)
		return
	}
	lim.Max = uint64(want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.WithError(err).Warnf("cannot raise the open files limit to %d", want)
	}
}

// reexec replaces the process with a fresh copy of the agent, after a delay
// when restarts come too often.
func reexec(args []string, logger *logrus.Logger) {
	now := time.Now()
	var recent []time.Time
	for _, f := range strings.Split(os.Getenv(restartHistoryEnv), ",") {
		if sec, err := strconv.ParseInt(f, 10, 64); err == nil {
			if t := time.Unix(sec, 0); now.Sub(t) < restartWindow {
				recent = append(recent, t)
			}
		}
	}
	if delay := restartDelay(len(recent)); delay > 0 {
		fmt.Fprintf(os.Stderr, "%d restarts in the last %s; waiting %s before restarting\n", len(recent), restartWindow, delay)
		time.Sleep(delay)
	}
	recent = append(recent, now)
	hist := make([]string, len(recent))
	for i, t := range recent {
		hist[i] = strconv.FormatInt(t.Unix(), 10)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "restart: %v\n", err)
		return
	}
	env := append(os.Environ(), restartHistoryEnv+"="+strings.Join(hist, ","))
	err = syscall.Exec(exe, append([]string{exe}, args...), env)
	fmt.Fprintf(os.Stderr, "restart: exec %s: %v\n", exe, err)
}

// restartDelay is the wait before the n+1-th restart within the window.
func restartDelay(n int) time.Duration {
	if n < restartBurst {
		return 0
	}
	d := restartMinDelay << (n - restartBurst)
	if d > restartMaxDelay || d <= 0 {
		d = restartMaxDelay
	}
	return d
}
