package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/multiplier"
	"github.com/ambari-go/ambari-agent/internal/sdnotify"
	"github.com/ambari-go/ambari-agent/internal/version"
)

// manyStopWait bounds the stop of every agent of `multiplier run`: each
// agent's own stop is bounded by 8 s, they stop in parallel, and the
// process (with a second to close the Python runner) must be gone before
// a supervisor's 10 s SIGKILL.
const manyStopWait = 8500 * time.Millisecond

// Memory limit of `multiplier run` unless GOMEMLIMIT sets one: a base for
// the process plus a share per agent. With 100 to 300 registered hosts the
// process holds 1.0 to 1.4 MB of RSS per host (bench/scale.sh run), of
// which a third is live heap; the limit makes the collector work harder
// before the heap doubles, as defaultMemoryLimit does for one agent,
// without making it run all the time.
const (
	manyMemoryBase     = 128 << 20
	manyMemoryPerAgent = 2 << 20
)

// runHook, when set (test builds only), adjusts the options of
// `multiplier run`.
var runHook func(*multiplier.RunOptions)

// runMany is `ambari-agent multiplier run`: every host of the conf as an
// agent of this process, until SIGTERM or SIGINT. What belongs to the
// process is done here, once: its log, pid file, signals, memory and open
// files limits, systemd notification and the HTTP port.
func runMany(o multiplier.RunOptions, logFile string, httpPort int, out io.Writer) int {
	if logFile == "" {
		logFile = filepath.Join(o.HomeRoot, "ambari-agent-multiplier.log")
	}
	pidFile := filepath.Join(o.HomeRoot, "ambari-agent-multiplier.pid")
	level := logrus.InfoLevel
	if o.Verbose {
		level = logrus.DebugLevel
	}
	if err := os.MkdirAll(o.HomeRoot, 0o755); err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", err)
		return agent.ExitFailure
	}
	logger, closeLog, err := logging.New(logging.Options{File: logFile, Level: level, Journal: logging.UnderJournal()})
	if err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", err)
		return agent.ExitFailure
	}
	defer closeLog()
	log := logging.Component(logger, "multiplier")
	fail := func(err error) int {
		log.Error(err)
		fmt.Fprintf(out, "ERROR: %v\n", err)
		return agent.ExitFailure
	}
	log.Infof("ambari-agent %s multiplier run starting (pid %d): %d hosts %s-%04d..%04d under %s",
		version.Version, os.Getpid(), o.Conf.Num, o.Conf.Prefix, o.Conf.Start, o.Conf.Start+o.Conf.Num-1, o.HomeRoot)

	// systemd's variables are the process's: no agent may notify or
	// feed the watchdog on its own.
	notifier := sdnotify.FromEnv()
	watchdog, _ := sdnotify.WatchdogInterval()
	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(v)
	}

	o.Log = logger
	o.Logs = &agent.LogSet{}
	if runHook != nil {
		runHook(&o)
	}
	if err := agent.WritePidFile(pidFile); err != nil {
		return fail(err)
	}
	defer agent.RemovePidFile(pidFile)
	r, err := multiplier.NewRunner(o)
	if err != nil {
		return fail(err)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(int64(manyMemoryBase + r.Hosts()*manyMemoryPerAgent))
	}
	cfg, err := r.ConfigOf()
	if err != nil {
		return fail(err)
	}
	raiseFileLimit(max(cfg.Agent.UlimitOpenFiles, 1024+32*r.Hosts()), log)
	if httpPort == 0 {
		httpPort = cfg.Agent.HTTPPort
	}
	if httpPort != 0 {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)))
		if err != nil {
			return fail(fmt.Errorf("HTTP port: %w", err))
		}
		srv := &http.Server{Handler: manyHandler(r), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		defer srv.Close()
		log.Infof("HTTP port %d: /hosts and /debug/pprof/", l.Addr().(*net.TCPAddr).Port)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGUSR1:
				agent.DumpGoroutines(log)
			case syscall.SIGHUP:
				failed := o.Logs.Reopen()
				if err := logging.Reopen(logger); err != nil {
					failed++
				}
				log.Infof("SIGHUP: log files reopened (%d failed)", failed)
			default:
				log.Infof("Received %s, stopping", s)
				notifier.Notify("STOPPING=1")
				stop()
			}
		}
	}()
	notifier.Notify("READY=1", sdnotify.Status(fmt.Sprintf("%d agents", r.Hosts())))
	if watchdog > 0 {
		go func() {
			t := time.NewTicker(watchdog / 2)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					notifier.Notify("WATCHDOG=1")
				}
			}
		}()
	}
	r.Run(ctx, manyStopWait)
	log.Info("Multiplier stopped")
	return agent.ExitOK
}

// manyHandler serves every host's state at /hosts and the profiler.
func manyHandler(r *multiplier.Runner) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hosts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.States())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// raiseFileLimit raises the soft open files limit to want, within the
// hard limit (raised too when permitted): every agent holds its ping
// port, its connection and its log files.
func raiseFileLimit(want int, log *logrus.Entry) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || uint64(want) <= lim.Cur {
		return
	}
	if uint64(want) > lim.Max {
		raised := lim
		raised.Cur, raised.Max = uint64(want), uint64(want)
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return
		}
	}
	lim.Cur = min(uint64(want), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.WithError(err).Warnf("cannot raise the open files limit to %d", want)
	} else if lim.Cur < uint64(want) {
		log.Warnf("open files limit %d is below the %d these agents may need", lim.Cur, want)
	}
}
