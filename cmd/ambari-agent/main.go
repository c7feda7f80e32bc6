// Command ambari-agent is the Ambari host agent: the operator commands
// (start, stop, status, restart, reset) and the daemon itself (run).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/version"
)

const usage = `Usage: ambari-agent {start|stop|restart|status|reset <server_hostname>|run} [options]

Commands:
  start     start the agent in the background
  stop      stop the agent (SIGTERM, then SIGKILL after 10 s)
  restart   stop, then start
  status    exit 0 if running, 2 on a stale pid file, 3 if not running
  reset     point the agent at another server and clear its certificates
  run       run the agent in the foreground (for systemd and containers)
  multiplier {start|stop|restart|status}
            many agents on this machine for scale tests (multiplier --help)

Options (in any position):
  --home DIR                  agent home: config at DIR/etc/ambari-agent/conf,
                              every path placed under DIR (many agents per host)
  -v, --verbose               debug logging
  -e, --expected-hostname H   refuse to start unless this host's name is H
  --version                   print the registered version and the build, and exit
  --hash                      print the build's source revision and exit
  -h, --help                  print this help (after a command: that command's)
`

// ExitUsage is the exit code of a command line that cannot be run: an
// unknown command or option, or arguments a command does not take.
const ExitUsage = 2

// commandHelp is what `ambari-agent CMD --help` prints.
var commandHelp = map[string]string{
	"start": `Usage: ambari-agent start [--home DIR] [-v] [-e HOST]

Start the agent in the background and wait until it holds its ping port
and pid file. Exit 0 when started, 255 when it could not start.
`,
	"stop": `Usage: ambari-agent stop [--home DIR]

Stop the running agent: SIGTERM, then SIGKILL after 10 s. The daemons the
agent's commands started keep running.
`,
	"restart": `Usage: ambari-agent restart [--home DIR] [-v] [-e HOST]

Stop the agent, then start it.
`,
	"status": `Usage: ambari-agent status [--home DIR] [-v]

Say whether the agent runs: exit 0 running, 2 stale pid file, 3 not
running. A running agent's registration, last acknowledged heartbeat,
version, uptime, pending reports and stalled parts follow; -v adds every
part's liveness.
`,
	"reset": `Usage: ambari-agent reset SERVER_HOSTNAME [--home DIR]

Point the stopped agent at another Ambari server: change [server] hostname
and clear its certificates.
`,
	"run": `Usage: ambari-agent run [--home DIR] [-v] [-e HOST]

Run the agent in the foreground (systemd, containers). Under systemd it
reports readiness and feeds the watchdog (Type=notify).
`,
}

type options struct {
	command string
	// help: -h or --help came after a command.
	help             bool
	args             []string
	home             string
	verbose          bool
	expectedHostname string
}

func parseArgs(argv []string) (options, error) {
	var o options
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		value := func(name string) (string, error) {
			if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
				return v, nil
			}
			if i+1 >= len(argv) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return argv[i], nil
		}
		var err error
		switch {
		case a == "--home" || strings.HasPrefix(a, "--home="):
			o.home, err = value("--home")
		case a == "-v" || a == "--verbose":
			o.verbose = true
		case a == "-e" || a == "--expected-hostname" || strings.HasPrefix(a, "--expected-hostname="):
			o.expectedHostname, err = value("--expected-hostname")
		case a == "-h" || a == "--help":
			if o.command == "" {
				o.command = a
			} else {
				o.help = true
			}
		case a == "--version" || a == "--hash":
			if o.command == "" {
				o.command = a
			}
		case strings.HasPrefix(a, "-"):
			err = fmt.Errorf("unknown option %s", a)
		case o.command == "":
			o.command = a
		default:
			o.args = append(o.args, a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

func run(argv []string, out io.Writer) int {
	if len(argv) > 0 && argv[0] == "multiplier" {
		return runMultiplier(argv[1:], out)
	}
	o, err := parseArgs(argv)
	if err != nil {
		return usageError(out, "%v", err)
	}
	switch o.command {
	case "--version":
		printVersion(o, out)
		return agent.ExitOK
	case "--hash":
		fmt.Fprintln(out, version.Hash)
		return agent.ExitOK
	case "-h", "--help":
		fmt.Fprint(out, usage)
		return agent.ExitOK
	case "":
		return usageError(out, "no command given")
	case "start", "stop", "restart", "status", "reset", "run":
	default:
		return usageError(out, "unknown command %q", o.command)
	}
	if o.help {
		fmt.Fprint(out, commandHelp[o.command])
		return agent.ExitOK
	}
	allowed := 0
	if o.command == "reset" {
		allowed = 1
	}
	if len(o.args) > allowed {
		return usageError(out, "%s does not take the argument(s) %s", o.command, strings.Join(o.args[allowed:], " "))
	}
	if o.home != "" {
		fmt.Fprintf(out, "Using agent home %s\n", o.home)
	}
	if o.command == "reset" && len(o.args) != 1 {
		fmt.Fprintln(out, "You must supply the hostname of the Ambari Server with the reset option. (e.g. ambari-agent reset c6401.ambari.apache.org)")
		return agent.ExitFailure
	}

	// Control commands act on the whole agent installation; like the
	// control script, they need root or sudo.
	if o.command != "status" && o.command != "run" && !agent.SudoAllowed() {
		// The control script exits 0 here; a non-zero code lets callers
		// notice that nothing happened.
		fmt.Fprintln(out, "You can't perform this operation as non-sudoer user. Please, re-login or configure sudo access for this user.")
		return agent.ExitFailure
	}

	cfg, err := loadConfig(o)
	if err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", err)
		if o.command == "start" || o.command == "restart" {
			return agent.ExitStartFail
		}
		return agent.ExitFailure
	}

	daemonArgs := []string{}
	if o.home != "" {
		daemonArgs = append(daemonArgs, "--home", o.home)
	}
	if o.verbose {
		daemonArgs = append(daemonArgs, "-v")
	}
	if o.expectedHostname != "" {
		daemonArgs = append(daemonArgs, "--expected-hostname="+o.expectedHostname)
	}
	exe, _ := os.Executable()
	ctl := &agent.Control{Config: cfg, Out: out, Exe: exe, DaemonArgs: daemonArgs}

	switch o.command {
	case "start", "restart":
		// Before anything is stopped or started: an unknown run_as_user,
		// a missing ambari-sudo.sh or an unreadable ambari-env.sh leave
		// the agent as it was.
		if err := agent.PrepareStart(cfg); err != nil {
			fmt.Fprintf(out, "ERROR: %v\n", err)
			return agent.ExitStartFail
		}
		if _, err := version.ReadAmbari(cfg.VersionFile()); err != nil {
			fmt.Fprintf(out, "WARNING: %s\n", version.MissingAmbari(cfg.VersionFile()))
		}
	case "run":
		if err := agent.PrepareDaemon(cfg, append([]string{"run"}, daemonArgs...)); err != nil {
			fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
			return agent.ExitFailure
		}
	}

	switch o.command {
	case "status":
		code := ctl.Status()
		if code == agent.ExitOK {
			ctl.PrintState(o.verbose)
		}
		return code
	case "start":
		return ctl.Start()
	case "stop":
		return ctl.Stop()
	case "restart":
		fmt.Fprintln(out, "Restarting ambari-agent")
		// Unlike the control script, the stop half keeps --home.
		ctl.Stop()
		return ctl.Start()
	case "reset":
		return ctl.Reset(o.args[0])
	default: // run
		limitMemory()
		return agent.RunDaemon(cfg, agent.DaemonOptions{
			Verbose:          o.verbose,
			ExpectedHostname: o.expectedHostname,
			Args:             append([]string{"run"}, daemonArgs...),
		})
	}
}

// loadConfig reads the agent's ini file. stop and status work from the
// defaults when there is no file, so an agent can still be stopped after
// its configuration was removed.
func loadConfig(o options) (*config.Config, error) {
	path := config.Locate(o.home)
	cfg, err := config.Load(path, o.home)
	if errors.Is(err, os.ErrNotExist) && (o.command == "stop" || o.command == "status") {
		return config.Defaults(o.home), nil
	}
	return cfg, err
}

// usageError prints the usage, then what was wrong, and returns ExitUsage.
func usageError(out io.Writer, format string, args ...any) int {
	fmt.Fprint(out, usage)
	fmt.Fprintf(out, "\nambari-agent: "+format+"\n", args...)
	return ExitUsage
}

// printVersion prints the Ambari version the agent registers with (first
// line, as the Python agent's --version prints it) and the build.
func printVersion(o options, out io.Writer) {
	cfg, err := config.Load(config.Locate(o.home), o.home)
	if err != nil {
		cfg = config.Defaults(o.home)
	}
	if cfg.Agent.Prefix == "" {
		cfg.Agent.Prefix = config.HomePath(o.home, "/var/lib/ambari-agent/data")
	}
	if v, err := version.ReadAmbari(cfg.VersionFile()); err == nil {
		fmt.Fprintln(out, v)
	} else {
		fmt.Fprintln(out, version.Version)
		fmt.Fprintf(out, "WARNING: %s\n", version.MissingAmbari(cfg.VersionFile()))
	}
	fmt.Fprintln(out, version.Build())
}
