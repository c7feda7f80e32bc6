package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/multiplier"
)

const multiplierUsage = `Usage: ambari-agent multiplier {start|stop|restart|status|run} [options]

Runs many agents on this machine for scale tests, as Ambari's
agent-multiplier.py: hosts <prefix>-<NNNN> for NNNN from start to
start+num-1 (agent-multiplier.conf), each with its home <home-root>/<host>,
ping port 5000+NNNN and a hostname.sh that prints its name.

start, stop, restart and status run one agent process per host. run runs
every host as an agent of this one process, in the foreground, until
SIGTERM: they share one resident Python runner; a host that fails is
started again with backoff. Its own log is <home-root>/ambari-agent-multiplier.log,
its pid file <home-root>/ambari-agent-multiplier.pid.

Options:
  --conf FILE        the conf (default /etc/ambari-agent/conf/agent-multiplier.conf,
                     with --home DIR: DIR/etc/ambari-agent/conf/agent-multiplier.conf)
  --home-root DIR    where the homes are made (default /home)
  --home DIR         take the template ini, data/version and cache from DIR
  --no-etc-hosts     leave /etc/hosts alone
  --force            take over homes the multiplier did not make
  --parallel N       agents started or stopped at once (default 16)
  -v, --verbose      list the hosts of each outcome; start agents with -v
  --log FILE         run: the process's own log
  --http-port N      run: serve /hosts and /debug/pprof/ on 127.0.0.1:N
                     (default: the first host's [agent] http_port)
`

func runMultiplier(argv []string, out io.Writer) int {
	var (
		action, confFile, home string
		logFile                string
		httpPort               int
		homeRoot               = "/home"
		opts                   = multiplier.Options{Out: out, EtcHosts: "/etc/hosts"}
	)
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		name, val, hasVal := strings.Cut(a, "=")
		value := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 >= len(argv) {
				fmt.Fprintf(out, "%s needs a value\n\n%s", name, multiplierUsage)
				return "", false
			}
			i++
			return argv[i], true
		}
		var ok = true
		switch name {
		case "--conf":
			confFile, ok = value()
		case "--home-root":
			homeRoot, ok = value()
		case "--home":
			home, ok = value()
		case "--parallel":
			var v string
			if v, ok = value(); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					fmt.Fprintf(out, "--parallel needs a positive number, not %q\n", v)
					return agent.ExitFailure
				}
				opts.Parallel = n
			}
		case "--log":
			logFile, ok = value()
		case "--http-port":
			var v string
			if v, ok = value(); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 65535 {
					fmt.Fprintf(out, "--http-port needs a port number, not %q\n", v)
					return agent.ExitFailure
				}
				httpPort = n
			}
		case "--no-etc-hosts":
			opts.EtcHosts = ""
		case "--force":
			opts.Force = true
		case "-v", "--verbose":
			opts.Verbose = true
			opts.AgentArgs = append(opts.AgentArgs, "-v")
		case "-h", "--help":
			fmt.Fprint(out, multiplierUsage)
			return agent.ExitOK
		default:
			if strings.HasPrefix(a, "-") || action != "" {
				fmt.Fprintf(out, "unexpected argument %s\n\n%s", a, multiplierUsage)
				return agent.ExitFailure
			}
			action = a
		}
		if !ok {
			return agent.ExitFailure
		}
	}
	switch action {
	case "start", "stop", "restart", "status", "run":
	default:
		fmt.Fprint(out, multiplierUsage)
		return agent.ExitFailure
	}
	if confFile == "" {
		confFile = multiplier.DefaultConfFile
		if home != "" {
			confFile = filepath.Join(home, multiplier.DefaultConfFile)
		}
	}
	conf, err := multiplier.ReadConf(confFile)
	if err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", err)
		return agent.ExitFailure
	}
	if homeRoot, err = filepath.Abs(homeRoot); err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", err)
		return agent.ExitFailure
	}
	opts.Conf, opts.HomeRoot, opts.Template = conf, homeRoot, multiplier.TemplateFor(home)
	if action == "run" {
		if _, err := os.Stat(opts.Template.Ini); err != nil {
			fmt.Fprintf(out, "ERROR: Ambari Agent config file: %v\n", err)
			return agent.ExitFailure
		}
		return runMany(multiplier.RunOptions{
			Conf: conf, HomeRoot: homeRoot, Template: opts.Template, TemplateHome: home,
			EtcHosts: opts.EtcHosts, Force: opts.Force, Parallel: opts.Parallel, Verbose: opts.Verbose,
		}, logFile, httpPort, out)
	}
	opts.Exe, _ = os.Executable()
	if f, ok := out.(*os.File); ok && isTerminal(f) {
		opts.Progress = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, ok := multiplier.Run(ctx, action, opts); !ok {
		return agent.ExitFailure
	}
	return agent.ExitOK
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
