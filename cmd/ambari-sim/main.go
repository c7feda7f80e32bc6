// Command ambari-sim is a simulated Ambari server: agents register with it,
// receive a scenario's clusters, run its commands and report back, on one
// machine and without a real server. See configs/sim/README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/sim"
	"github.com/ambari-go/ambari-agent/internal/version"
)

const usage = `Usage: ambari-sim [options]

A simulated Ambari server. Agents connect to it as to a real server
(url_port, secured_url_port); a scenario file says which clusters, services,
components and configurations it has and what it does when agents register;
a control API (JSON over HTTP) pushes events, sends commands and shows what
agents reported.

Options:
  --scenario FILE          scenario (JSON, see configs/sim/README.md); without
                           one, agents register as hosts of no cluster
  --check                  load and check the scenario, print a summary, exit
  --listen ADDR            address to listen on (default 127.0.0.1)
  --public-host NAME       name agents reach the simulator by, used in the
                           resources URL and the certificate (default: the
                           listen address, or this host's name for 0.0.0.0)
  --url-port N             HTTPS port: /ca, /connection_info, certificates,
                           /resources (default 8440; 0 picks a free port)
  --secured-url-port N     WSS port of /agent/stomp/v1 (default 8441)
  --api-port N             control API and /resources over HTTP (default 8080)
  --resources DIR          the server's resources directory (stacks,
                           stack-hooks, custom_actions, host_scripts); default
                           testdata/resources when it exists here
  --two-way-ssl            require client certificates signed by the
                           simulator's CA (agents request them at /certs/<host>)
  --passphrase TEXT        what agents must send with their CSR (default: the
                           AMBARI_PASSPHRASE environment variable; empty
                           accepts any)
  --cert FILE, --key FILE  server certificate and key (PEM); default generated
  --ca-cert FILE, --ca-key FILE
                           CA that signs agent certificates; default generated
  --tls-dir DIR            keep generated certificates in DIR across runs
  --command-retry-interval D
                           re-send unacknowledged commands after D (default 15s)
  --records N              SENDs kept per host and destination (default 64)
  --join-broadcast-delay D push the topology updates of hosts that join within
                           D as one (default 200ms; 0: one push per join)
  -v, --verbose            every heartbeat and frame-level detail
  -q, --quiet              warnings and errors only (for many agents)
  --json-log               one JSON object per log line
  --version                print the version and exit
  -h, --help               this text

Examples:
  # The demo: one agent on this machine installs and starts DEMO_SERVER.
  ambari-sim --scenario configs/sim/demo.json

  # Agents with the stock ambari-agent.ini ([server] hostname=localhost)
  # register and heartbeat; nothing else happens.
  ambari-sim

  # 1000 agents (ambari-agent run --home DIR each) against one simulator.
  ambari-sim --scenario configs/sim/scale.json --quiet

  # What is going on:
  curl -s http://127.0.0.1:8080/api/v1/hosts
  curl -s http://127.0.0.1:8080/metrics
  curl -s 'http://127.0.0.1:8080/api/v1/reports?destination=/reports/commands_status&since=0'
  curl -s -X POST http://127.0.0.1:8080/api/v1/commands \
       -d '{"host":"*","commands":[{"component":"DEMO_SERVER","roleCommand":"STOP"}]}'
`

type options struct {
	scenario, listen, publicHost, resources      string
	urlPort, securedPort, apiPort                int
	twoWay, check, verbose, quiet, jsonLog, help bool
	version                                      bool
	passphrase, cert, key, caCert, caKey, tlsDir string
	retryInterval                                time.Duration
	joinDelay                                    time.Duration
	records                                      int
}

func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ambari-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.scenario, "scenario", "", "")
	fs.BoolVar(&o.check, "check", false, "")
	fs.StringVar(&o.listen, "listen", "127.0.0.1", "")
	fs.StringVar(&o.publicHost, "public-host", "", "")
	fs.IntVar(&o.urlPort, "url-port", 8440, "")
	fs.IntVar(&o.securedPort, "secured-url-port", 8441, "")
	fs.IntVar(&o.apiPort, "api-port", 8080, "")
	fs.StringVar(&o.resources, "resources", "", "")
	fs.BoolVar(&o.twoWay, "two-way-ssl", false, "")
	fs.StringVar(&o.passphrase, "passphrase", os.Getenv("AMBARI_PASSPHRASE"), "")
	fs.StringVar(&o.cert, "cert", "", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.StringVar(&o.caCert, "ca-cert", "", "")
	fs.StringVar(&o.caKey, "ca-key", "", "")
	fs.StringVar(&o.tlsDir, "tls-dir", "", "")
	fs.DurationVar(&o.retryInterval, "command-retry-interval", 15*time.Second, "")
	fs.DurationVar(&o.joinDelay, "join-broadcast-delay", 200*time.Millisecond, "")
	fs.IntVar(&o.records, "records", 64, "")
	for _, name := range []string{"v", "verbose"} {
		fs.BoolVar(&o.verbose, name, false, "")
	}
	for _, name := range []string{"q", "quiet"} {
		fs.BoolVar(&o.quiet, name, false, "")
	}
	fs.BoolVar(&o.jsonLog, "json-log", false, "")
	for _, name := range []string{"h", "help"} {
		fs.BoolVar(&o.help, name, false, "")
	}
	fs.BoolVar(&o.version, "version", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.verbose && o.quiet {
		return o, errors.New("--verbose and --quiet exclude each other")
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"--url-port", o.urlPort}, {"--secured-url-port", o.securedPort}, {"--api-port", o.apiPort}} {
		if p.v < 0 || p.v > 65535 {
			return o, fmt.Errorf("%s %d is not a port", p.name, p.v)
		}
	}
	if o.records <= 0 {
		return o, errors.New("--records must be positive")
	}
	if o.resources == "" {
		if st, err := os.Stat("testdata/resources"); err == nil && st.IsDir() {
			o.resources = "testdata/resources"
		}
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "ambari-sim: %v\n\n%s", err, usage)
		return 2
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if o.version {
		fmt.Fprintln(stdout, version.Version)
		return 0
	}
	sc := &sim.Scenario{Name: "empty", Description: "no clusters: agents register and heartbeat"}
	if o.scenario != "" {
		if sc, err = sim.LoadScenario(o.scenario); err != nil {
			fmt.Fprintf(stderr, "ambari-sim: %v\n", err)
			return 1
		}
	}
	if o.check {
		fmt.Fprint(stdout, summary(sc))
		return 0
	}

	log := logrus.New()
	log.SetOutput(stderr)
	switch {
	case o.verbose:
		log.SetLevel(logrus.DebugLevel)
	case o.quiet:
		log.SetLevel(logrus.WarnLevel)
	default:
		log.SetLevel(logrus.InfoLevel)
	}
	if o.jsonLog {
		log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	} else {
		log.SetFormatter(&consoleFormatter{fields: o.verbose})
	}

	s, err := sim.New(sim.Config{
		Scenario: sc, ListenAddr: o.listen, PublicHost: o.publicHost,
		URLPort: o.urlPort, SecuredURLPort: o.securedPort, APIPort: o.apiPort,
		ResourcesDir: o.resources, TwoWaySSL: o.twoWay, Passphrase: o.passphrase,
		CertFile: o.cert, KeyFile: o.key, CACertFile: o.caCert, CAKeyFile: o.caKey, TLSDir: o.tlsDir,
		CommandRetryInterval: o.retryInterval, RecordsPerHost: o.records,
		JoinBroadcastDelay: o.joinDelay,
		Log:                log.WithField("component", "sim"),
	})
	if err != nil {
		fmt.Fprintf(stderr, "ambari-sim: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.Start(); err != nil {
		fmt.Fprintf(stderr, "ambari-sim: %v\n", err)
		return 1
	}
	if o.scenario == "" {
		log.Info("no --scenario: agents register as hosts of no cluster (try --scenario configs/sim/demo.json)")
	}
	<-ctx.Done()
	stop() // a second Ctrl-C kills the process the default way
	log.Info("shutting down")
	if err := s.Close(); err != nil {
		log.WithError(err).Warn("shutdown")
	}
	return 0
}

// summary describes a scenario for --check.
func summary(sc *sim.Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %q: %s\n", sc.Name, sc.Description)
	for _, c := range sc.Clusters {
		var comps []string
		for _, s := range c.Services {
			for _, comp := range s.Components {
				comps = append(comps, s.Name+"/"+comp.Name)
			}
		}
		fmt.Fprintf(&b, "  cluster %s: %d host(s), components %s, %d config type(s), %d alert definition(s)\n",
			c.Name, len(c.Hosts), strings.Join(comps, " "), len(c.Configurations), len(c.AlertDefinitions))
	}
	if sc.Options.JoinUnknownHosts {
		b.WriteString("  unknown hosts join\n")
	}
	for i, st := range sc.Timeline {
		name := st.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		fmt.Fprintf(&b, "  step %s after %s\n", name, st.After)
	}
	return b.String()
}

// consoleFormatter prints one short line per event: time, level when it is
// not info, the message, and with --verbose the fields.
type consoleFormatter struct{ fields bool }

func (f *consoleFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(e.Time.Format("15:04:05.000"))
	b.WriteByte(' ')
	switch e.Level {
	case logrus.InfoLevel:
	case logrus.WarnLevel:
		b.WriteString("WARN ")
	case logrus.DebugLevel, logrus.TraceLevel:
		b.WriteString("debug ")
	default:
		b.WriteString(strings.ToUpper(e.Level.String()) + " ")
	}
	b.WriteString(e.Message)
	if f.fields {
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			if k != "component" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
		}
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
