package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/ambari-go/ambari-agent/internal/actionqueue"
	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/liveness"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/monitor"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sdnotify"
	"github.com/ambari-go/ambari-agent/internal/statusexec"
	"github.com/ambari-go/ambari-agent/internal/version"
)

// Names of the liveness parts, as /healthz, `status -v` and the metrics
// show them.
const (
	PartLink         = "server link"
	PartHeartbeat    = "heartbeat sending"
	PartStatusLoop   = "status loop"
	PartIntake       = "action queue intake"
	PartJournal      = "report journal"
	PartAlerts       = "alert scheduler"
	PartPythonRunner = "python runner"
)

const (
	// defaultCheckTimeout is a status check's timeout when its component
	// names none: the server's default command_timeout.
	defaultCheckTimeout = 900 * time.Second
	// heartbeatDeadline is the hard deadline of one heartbeat request.
	heartbeatDeadline = 10 * time.Second
	// checkAllowance is added to a status check's bound beyond its
	// timeout: the orchestrator's kill waits up to 5 s after SIGTERM and
	// 5 s after SIGKILL, and writing the check's command file comes first.
	checkAllowance = 15 * time.Second
	// sessionSetup bounds connecting, registering (host checks are
	// bounded) and synchronising the five caches (10 s each).
	sessionSetup = 3 * time.Minute
)

// health is the agent's liveness model and what shows it.
type health struct {
	reg     *liveness.Registry
	metrics *monitor.Metrics // nil while the HTTP port is off
	mon     *monitor.Monitor
	// listener is the bound HTTP port (nil: off).
	listener net.Listener

	link, heartbeat, status, intake, journal, alerts *liveness.Part
	// runnerPart exists once a resident Python runner asked for its hooks.
	runnerPart *liveness.Part
}

// newHealth builds the liveness parts with bounds derived from the
// configuration. The HTTP port is bound here so that a port in use fails
// the start with its reason.
func (a *Agent) newHealth() (*health, error) {
	cfg := a.cfg
	h := &health{reg: liveness.New(nil)}
	h.link = h.reg.Part(PartLink, 2*max(cfg.Server.MaxReconnectRetryDelay, cfg.Server.ConnectRetryDelay)+sessionSetup)
	h.heartbeat = h.reg.Part(PartHeartbeat, 2*10*time.Second+heartbeatDeadline)
	// A cycle waits for no check longer than one interval; each check has
	// its own bound from its script timeout (statusRunner).
	h.status = h.reg.Part(PartStatusLoop, 2*cfg.Agent.StatusCommandsRunInterval+defaultCheckTimeout)
	h.intake = h.reg.Part(PartIntake, time.Minute)
	h.journal = h.reg.Part(PartJournal, 2*time.Minute)
	h.alerts = h.reg.Part(PartAlerts, time.Minute)
	h.alerts.Idle()
	h.intake.Idle()
	h.journal.Idle()
	if cfg.Agent.StatusCommandsRunInterval == 0 {
		h.status.Idle()
	}
	if cfg.Agent.HTTPPort != 0 {
		h.metrics = monitor.NewMetrics(monitor.MetricsSources{
			Liveness:       h.reg,
			PendingReports: func() int { return a.pendingReports() },
			CacheDir:       cache.Dir(cfg.Agent.CacheDir),
			CacheNames:     cacheNames(),
		})
		h.reg.OnUnit(func(part, what string, d time.Duration) {
			if part == PartStatusLoop && what == "" {
				h.metrics.StatusCycle(d)
			}
		})
	}
	watchdog, _ := sdnotify.WatchdogInterval()
	h.mon = monitor.New(monitor.Config{
		Liveness:  h.reg,
		Notifier:  sdnotify.FromEnv(),
		Watchdog:  watchdog,
		HTTPPort:  cfg.Agent.HTTPPort,
		Metrics:   h.metrics,
		StateFile: monitor.StateFile(cfg.PidFile()),
		State: func(st *monitor.State) {
			st.Components = a.localComponents()
			st.PendingReports = a.pendingReports()
			if d, reason := a.Degraded(); d {
				st.Degraded = reason
			}
		},
		Base: monitor.State{Pid: os.Getpid(), Version: a.agentVersion(), Build: version.Version + " " + version.Hash, Started: a.startTime},
		Log:  logging.Component(a.logger, "monitor"),
	}, h.link, h.heartbeat)
	l, err := h.mon.Listen()
	if err != nil {
		return nil, err
	}
	h.listener = l
	return h, nil
}

// Run implements Component.
func (h *health) Run(ctx context.Context) error {
	defer h.mon.RemoveStateFile()
	return h.mon.Run(ctx, h.listener)
}

// RunnerHooks are what a resident Python runner reports: its liveness
// part (each call a unit of work bounded by the call's own timeout, Idle
// while no call runs) and its restarts. Wire them into the runner's
// Config when it is built.
func (h *health) RunnerHooks() (part *liveness.Part, restarted func()) {
	return h.runner(), h.metrics.RunnerRestart
}

func (h *health) runner() *liveness.Part {
	if h.runnerPart == nil {
		h.runnerPart = h.reg.Part(PartPythonRunner, time.Minute)
		h.runnerPart.Idle()
	}
	return h.runnerPart
}

func cacheNames() []string {
	var out []string
	for _, n := range cache.Names() {
		out = append(out, string(n))
	}
	return out
}

func (a *Agent) pendingReports() int {
	if a.work == nil || a.work.queue == nil {
		return 0
	}
	return a.work.queue.PendingReports()
}

// localComponents counts the components the topology places on this host.
func (a *Agent) localComponents() int {
	topo := a.caches.Topology().Snapshot()
	n := 0
	for _, id := range topo.ClusterIDs() {
		c := topo.Cluster(id)
		if hostID, ok := c.HostID(a.hostname); ok {
			n += len(c.ComponentsOnHost(hostID))
		}
	}
	return n
}

// statusRunner runs status checks as units of work of the status loop's
// liveness part, each bounded by two status intervals plus its own script
// timeout (plus checkAllowance for the kill): a check still running then
// was not ended by its timeout (a kill that did not take, a package
// manager the agent will not kill), and the loop counts as stalled. It also feeds the check metrics.
type statusRunner struct {
	next     statusexec.StatusRunner
	part     *liveness.Part
	interval time.Duration
	caches   *cache.Store
	metrics  *monitor.Metrics
}

func (r *statusRunner) RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (int, string, map[string]any, error) {
	bound := 2*r.interval + r.timeout(clusterID, serviceName, component) + checkAllowance
	end := r.part.BeginFor(commandName+" of "+serviceName+"/"+component, bound)
	start := time.Now()
	code, stderr, out, err := r.next.RunStatus(ctx, clusterID, serviceName, component, commandName)
	end()
	result := "live"
	switch {
	case err != nil:
		result = "none"
	case code != 0:
		result = "dead"
	}
	r.metrics.StatusCheck(commandName, result, time.Since(start))
	return code, stderr, out, err
}

// timeout is the component's command_timeout, which the orchestrator
// applies to its status script.
func (r *statusRunner) timeout(clusterID, serviceName, component string) time.Duration {
	if c := r.caches.Topology().Snapshot().Cluster(clusterID); c != nil {
		if comp := c.Component(serviceName, component); comp != nil {
			if n, err := strconv.Atoi(comp.CommandParams["command_timeout"]); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return defaultCheckTimeout
}

// commandRunner counts command script runs by role command and outcome.
type commandRunner struct {
	actionqueue.Runner
	metrics *monitor.Metrics
}

func (r commandRunner) Run(ctx context.Context, req orchestrator.Request) orchestrator.Result {
	name := req.CommandName
	if name == "" {
		name, _ = req.Command["roleCommand"].(string)
	}
	start := time.Now()
	if done := req.OnBackgroundDone; done != nil {
		req.OnBackgroundDone = func(res orchestrator.Result) {
			r.record(name, res, start)
			done(res)
		}
	}
	res := r.Runner.Run(ctx, req)
	r.record(name, res, start)
	return res
}

func (r commandRunner) record(name string, res orchestrator.Result, start time.Time) {
	status := "FAILED"
	switch {
	case errors.Is(res.Err, orchestrator.ErrStopped):
		return // no verdict: the agent is stopping
	case res.ExitCode == protocol.ExitCodeInProgress:
		status = "IN_PROGRESS"
	case res.Canceled:
		status = "ABORTED"
	case res.TimedOut:
		status = "TIMEDOUT"
	case res.ExitCode == 0 && res.Err == nil:
		status = "COMPLETED"
	}
	r.metrics.Command(name, status, time.Since(start))
}

// close releases the HTTP port of an agent that failed to build.
func (h *health) close() {
	if h.listener != nil {
		h.listener.Close()
	}
}
