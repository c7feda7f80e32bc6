package recovery

import (
	"context"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// customRestart is the custom command that restarts a component.
const customRestart = "RESTART"

// ConfigurationsSource is the configurations cache as the manager reads it
// (*cache.ConfigurationsCache satisfies it).
type ConfigurationsSource interface {
	Snapshot() *cache.ConfigurationsSnapshot
	Subscribe() (changed <-chan struct{}, cancel func())
}

// HostLevelParamsSource is the host-level params cache as the manager reads
// it (*cache.HostLevelParamsCache satisfies it).
type HostLevelParamsSource interface {
	Snapshot() *cache.HostLevelParamsSnapshot
	Subscribe() (changed <-chan struct{}, cancel func())
}

// DefaultBackoffBase is the first step of the optional backoff.
const DefaultBackoffBase = time.Minute

// Config holds the manager's dependencies and options.
type Config struct {
	// Configurations supplies cluster-env (mode and limits). Nil: recovery
	// stays disabled.
	Configurations ConfigurationsSource
	// HostLevelParams supplies recoveryConfig.components and
	// blueprint_provisioning_state. Nil: nothing is recoverable.
	HostLevelParams HostLevelParamsSource
	// StateFile is where the attempt counters are kept across agent
	// restarts, normally StatePath(prefix). "" keeps them in memory only.
	StateFile string
	// Backoff turns on the exponential backoff between attempts of a
	// component that keeps failing ([agent] recovery_backoff).
	Backoff bool
	// BackoffBase is the backoff's first step; 0 means DefaultBackoffBase.
	BackoffBase time.Duration
	// Now is the clock; nil means time.Now. Only its whole seconds count.
	Now func() time.Time
	// Jitter returns a number in [0, 1) for the backoff's randomisation;
	// nil means math/rand/v2.Float64.
	Jitter func() float64
	// Log is the component logger; nil discards.
	Log *logrus.Entry
}

// component is the manager's view of one host component: where it should
// be, where it was last seen, and its attempt counters.
type component struct {
	current string // "" until a status or command outcome says otherwise
	desired string // from recoveryConfig and the server's execution commands
	// counted is true once the counters exist (Python creates them the
	// first time a component needing recovery is checked); only counted
	// components appear in Status and Counters.
	counted bool
	counter counter
}

// Manager is the recovery manager. All methods are safe for concurrent use;
// observations come from the action queue's workers and the status loop.
type Manager struct {
	cfg Config
	log *logrus.Entry
	now func() time.Time

	// mu guards everything below. Nothing blocks while it is held: logs are
	// written and the state file saved after it is released.
	mu          sync.Mutex
	enabled     bool
	mode        Mode
	lim         limiter
	clusterID   string              // the recovery cluster: only one is supported, as in Python
	recoverable map[string]struct{} // recoveryConfig.components, replaced as a whole
	services    map[string]string   // component -> service, for the commands' serviceName
	components  map[string]*component
	order       []string // components in the order first seen, for stable command order
	counted     []string // counted components in the order their counters were created
	lastTaskID  int64    // starts at the creation second; every command takes the next one

	// The snapshots last applied: a notification whose snapshot was already
	// applied (for instance the catch-up in Run) is not applied twice, which
	// matters because re-applying recoveryConfig resets desired states.
	seenConfigs *cache.ConfigurationsSnapshot
	seenParams  *cache.HostLevelParamsSnapshot

	// State-file writes happen outside mu; gen orders them so an older
	// snapshot never overwrites a newer one.
	gen     uint64 // guarded by mu
	writeMu sync.Mutex
	saved   uint64 // guarded by writeMu
}

// New builds a manager from what the caches hold now (loaded from disk at
// start-up) and the counters saved by the previous run. It never fails: an
// unreadable state file is logged and recovery starts with fresh counters.
func New(cfg Config) *Manager {
	log := cfg.Log
	log = logging.OrDiscard(log)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		cfg:         cfg,
		log:         log,
		now:         now,
		mode:        ModeFull,
		lim:         limiter{limits: DefaultLimits},
		recoverable: map[string]struct{}{},
		services:    map[string]string{},
		components:  map[string]*component{},
		lastTaskID:  now().Unix(),
	}
	if cfg.Backoff {
		b := &backoff{base: cfg.BackoffBase, jitter: cfg.Jitter}
		if b.base <= 0 {
			b.base = DefaultBackoffBase
		}
		if b.jitter == nil {
			b.jitter = rand.Float64
		}
		m.lim.backoff = b
	}

	logs := pendingLogs{log: log}
	m.loadState(&logs)
	// Same order as the Python constructor: cluster-env first, then the
	// host-level params, whose first cluster becomes the recovery cluster.
	if cfg.Configurations != nil {
		m.seenConfigs = cfg.Configurations.Snapshot()
		m.applyConfigurationsLocked(m.seenConfigs, &logs)
	}
	if cfg.HostLevelParams != nil {
		m.seenParams = cfg.HostLevelParams.Snapshot()
		m.applyHostLevelParamsLocked(m.seenParams, true, &logs)
	}
	logs.flush()
	return m
}

// Run follows the configurations and host-level params caches and re-reads
// the recovery settings whenever they change, until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	var cfgCh, hlpCh <-chan struct{}
	if m.cfg.Configurations != nil {
		ch, cancel := m.cfg.Configurations.Subscribe()
		defer cancel()
		cfgCh = ch
	}
	if m.cfg.HostLevelParams != nil {
		ch, cancel := m.cfg.HostLevelParams.Subscribe()
		defer cancel()
		hlpCh = ch
	}
	// Changes between New and the subscriptions above sent no notification
	// to us; catch up once.
	m.safely(m.refreshConfigurations)
	m.safely(m.refreshHostLevelParams)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cfgCh:
			m.safely(m.refreshConfigurations)
		case <-hlpCh:
			m.safely(m.refreshHostLevelParams)
		}
	}
}

// safely runs f and logs a panic instead of ending the loop: the manager
// keeps its previous settings.
func (m *Manager) safely(f func()) {
	defer func() {
		if r := recover(); r != nil {
			m.log.WithField("panic", r).WithField("stack", string(debug.Stack())).Error("panic while re-reading the recovery configuration")
		}
	}()
	f()
}

func (m *Manager) refreshConfigurations() {
	if m.cfg.Configurations == nil {
		return
	}
	snap := m.cfg.Configurations.Snapshot()
	logs := pendingLogs{log: m.log}
	m.mu.Lock()
	if snap != m.seenConfigs {
		m.seenConfigs = snap
		m.applyConfigurationsLocked(snap, &logs)
	}
	m.mu.Unlock()
	logs.flush()
}

func (m *Manager) refreshHostLevelParams() {
	if m.cfg.HostLevelParams == nil {
		return
	}
	snap := m.cfg.HostLevelParams.Snapshot()
	logs := pendingLogs{log: m.log}
	m.mu.Lock()
	if snap != m.seenParams {
		m.seenParams = snap
		m.applyHostLevelParamsLocked(snap, false, &logs)
	}
	m.mu.Unlock()
	logs.flush()
}

// applyConfigurationsLocked reads cluster-env of the first cluster, which
// becomes the recovery cluster. A snapshot without clusters changes nothing.
func (m *Manager) applyConfigurationsLocked(snap *cache.ConfigurationsSnapshot, logs *pendingLogs) {
	ids := snap.ClusterIDs()
	if len(ids) == 0 {
		return
	}
	m.clusterID = ids[0]
	var env map[string]string
	if c := snap.Cluster(ids[0]); c != nil {
		env = c.Configurations["cluster-env"]
	}
	m.applySettingsLocked(parseClusterEnv(env), logs)
}

// applySettingsLocked validates first: invalid limits disable recovery and
// keep the previous limits and mode.
func (m *Manager) applySettingsLocked(s settings, logs *pendingLogs) {
	m.enabled = false
	if err := s.limits.validate(); err != nil {
		logs.add(logrus.WarnLevel, "", "recovery disabled: invalid cluster-env", logrus.Fields{"error": err.Error()})
		return
	}
	m.lim.limits = s.limits
	m.mode = s.mode
	m.enabled = s.enabled
	logs.add(logrus.InfoLevel, "", "recovery configuration read", logrus.Fields{
		"enabled": s.enabled, "recoveryType": s.mode.String(), "maxCount": s.limits.MaxCount,
		"windowMinutes": s.limits.WindowMinutes, "retryGapMinutes": s.limits.RetryGapMinutes,
		"lifetimeMaxCount": s.limits.LifetimeMaxCount, "clusterId": m.clusterID,
	})
}

// applyHostLevelParamsLocked reads recoveryConfig of the first cluster. At
// construction that cluster becomes the recovery cluster even without
// recoveryConfig; for later changes only when it carries one (both as in
// Python).
func (m *Manager) applyHostLevelParamsLocked(snap *cache.HostLevelParamsSnapshot, atStart bool, logs *pendingLogs) {
	ids := snap.ClusterIDs()
	if len(ids) == 0 {
		return
	}
	c := snap.Cluster(ids[0])
	if atStart {
		m.clusterID = ids[0]
	}
	if c == nil || !c.HasRecoveryConfig {
		return
	}
	m.clusterID = ids[0]
	rc, _ := c.Raw["recoveryConfig"].(map[string]any)
	if _, ok := rc["components"].([]any); !ok {
		// No (usable) component list: Python changes nothing either.
		return
	}
	set := make(map[string]struct{}, len(c.RecoveryComponents))
	for _, e := range c.RecoveryComponents {
		if e.ComponentName == "" {
			continue
		}
		set[e.ComponentName] = struct{}{}
		comp := m.componentLocked(e.ComponentName)
		if comp.desired != e.DesiredState {
			logs.add(logrus.InfoLevel, e.ComponentName, "desired state set", logrus.Fields{"desired": e.DesiredState})
		}
		comp.desired = e.DesiredState
		// The server only names components; commands need the service too.
		m.services[e.ComponentName] = e.ServiceName
	}
	m.recoverable = set
	logs.add(logrus.InfoLevel, "", "recoverable components updated", logrus.Fields{"count": len(set), "clusterId": m.clusterID})
}

// componentLocked returns the component's entry, creating it.
func (m *Manager) componentLocked(name string) *component {
	c, ok := m.components[name]
	if !ok {
		c = &component{}
		m.components[name] = c
		m.order = append(m.order, name)
	}
	return c
}

// isRestart reports whether the command is a RESTART custom command.
// Python only looks at a top-level custom_command, which server commands
// never carry (they keep it in commandParams), so its RESTART branches
// never run. We also accept CUSTOM_COMMAND with commandParams.custom_command
// == RESTART: after an operator restarts a component it is meant to be
// running.
func isRestart(h *protocol.CommandHeader) bool {
	if h.TopLevelCustomCommand == customRestart {
		return true
	}
	return h.RoleCommand == protocol.RoleCommandCustomCommand && h.CustomCommand == customRestart
}

// CommandStarted is told about every command of an execution type the
// action queue starts; server EXECUTION_COMMANDs for recoverable
// components move the desired state (INSTALL/STOP -> INSTALLED, START and
// RESTART -> STARTED). It is part of actionqueue.Observer.
func (m *Manager) CommandStarted(h protocol.CommandHeader) {
	if h.CommandType != protocol.ExecutionCommand {
		return
	}
	role, roleCommand := h.Role, h.RoleCommand
	if role == "" {
		return
	}
	var desired string
	switch {
	case roleCommand == protocol.RoleCommandInstall || roleCommand == protocol.RoleCommandStop:
		desired = StateInstalled
	case roleCommand == protocol.RoleCommandStart || isRestart(&h):
		desired = StateStarted
	default:
		return
	}
	logs := pendingLogs{log: m.log}
	m.mu.Lock()
	if m.enabled && m.isRecoverableLocked(role) {
		c := m.componentLocked(role)
		if c.desired != desired {
			logs.add(logrus.InfoLevel, role, "desired state set by a server command",
				logrus.Fields{"desired": desired, "roleCommand": roleCommand})
		}
		c.desired = desired
	}
	m.mu.Unlock()
	logs.flush()
}

// AttemptStarted and AttemptEnded complete actionqueue.Observer; the
// manager has no use for single attempts.
func (m *Manager) AttemptStarted(protocol.CommandHeader) {}

// AttemptEnded: see AttemptStarted.
func (m *Manager) AttemptEnded(protocol.CommandHeader) {}

// CommandFinished is told the final status (COMPLETED or FAILED) of every
// command of an execution type, auto-recovery commands included, and
// moves the current state accordingly. A background command's end changes
// nothing, as in the Python agent. It is part of actionqueue.Observer.
func (m *Manager) CommandFinished(h protocol.CommandHeader, status string) {
	if h.IsBackground() {
		return
	}
	role, roleCommand := h.Role, h.RoleCommand
	if role == "" || roleCommand == "" {
		return
	}
	var current string
	switch status {
	case protocol.StatusCompleted:
		switch {
		case roleCommand == protocol.RoleCommandStart:
			current = StateStarted
		case roleCommand == protocol.RoleCommandStop || roleCommand == protocol.RoleCommandInstall:
			current = StateInstalled
		case roleCommand == protocol.RoleCommandCustomCommand && isRestart(&h):
			current = StateStarted
		}
	case protocol.StatusFailed:
		if roleCommand == protocol.RoleCommandInstall {
			current = StateInstallFailed
		}
	}
	if current == "" {
		return
	}
	logs := pendingLogs{log: m.log}
	m.mu.Lock()
	if m.enabled && m.isRecoverableLocked(role) {
		m.setCurrentLocked(role, current, &logs)
	}
	m.mu.Unlock()
	logs.flush()
}

// ObserveLiveStatus is told a component's new live status (STARTED or
// INSTALLED) when the status loop sees it change. INSTALLED does not
// overwrite INSTALL_FAILED: a failed install sticks until the component is
// seen running.
func (m *Manager) ObserveLiveStatus(componentName, status string) {
	if componentName == "" {
		return
	}
	logs := pendingLogs{log: m.log}
	m.mu.Lock()
	if c, ok := m.components[componentName]; status == StateStarted || !ok || c.current != StateInstallFailed {
		m.setCurrentLocked(componentName, status, &logs)
	}
	m.mu.Unlock()
	logs.flush()
}

// LiveStatus is ObserveLiveStatus in the status loop's terms. The cluster
// is not used: like the Python agent, the manager knows components by name
// within its one recovery cluster.
func (m *Manager) LiveStatus(clusterID, componentName, status string) {
	m.ObserveLiveStatus(componentName, status)
}

func (m *Manager) setCurrentLocked(name, state string, logs *pendingLogs) {
	c := m.componentLocked(name)
	if c.current != state {
		logs.add(logrus.InfoLevel, name, "current state set", logrus.Fields{"current": state})
	}
	c.current = state
}

func (m *Manager) isRecoverableLocked(name string) bool {
	_, ok := m.recoverable[name]
	return ok
}

// allowedLocked reports whether the mode acts on this desired and current
// state at all (docs/behaviour.md §8.2).
func (m *Manager) allowedLocked(desired, current string) bool {
	switch m.mode {
	case ModeAutoStart:
		return desired == StateStarted && current == StateInstalled
	case ModeAutoInstallStart:
		return (desired == StateInstalled || desired == StateStarted) &&
			(current == StateInstallFailed || current == StateInstalled)
	default:
		return (desired == StateInstalled || desired == StateStarted) &&
			(current == StateInit || current == StateInstallFailed || current == StateInstalled || current == StateStarted)
	}
}

// requiresRecoveryLocked is Python's requires_recovery for a recoverable
// component. Python's FULL mode also recovers a component whose state is
// right but whose configuration is stale; nothing ever marks a
// configuration stale, so that case is left out.
func (m *Manager) requiresRecoveryLocked(c *component) bool {
	return c.current != c.desired && m.allowedLocked(c.desired, c.current)
}

// roleCommandLocked is the docs/behaviour.md §8.2 table: which command moves the component
// from its current to its desired state in this mode ("" for none).
func (m *Manager) roleCommandLocked(c *component) string {
	d, cur := c.desired, c.current
	switch m.mode {
	case ModeAutoStart:
		if d == StateStarted && cur == StateInstalled {
			return protocol.RoleCommandStart
		}
	case ModeAutoInstallStart:
		switch {
		case d == StateStarted && cur == StateInstalled:
			return protocol.RoleCommandStart
		case cur == StateInstallFailed && (d == StateStarted || d == StateInstalled):
			return protocol.RoleCommandInstall
		}
	default:
		switch {
		case d == StateStarted && cur == StateInstalled:
			return protocol.RoleCommandStart
		case (d == StateStarted || d == StateInstalled) && (cur == StateInit || cur == StateInstallFailed):
			return protocol.RoleCommandInstall
		case d == StateInstalled && cur == StateStarted:
			return protocol.RoleCommandStop
		}
	}
	return ""
}

// Commands returns the recovery commands to run now, at most one per
// component, and consumes an attempt for each. The action queue calls it
// only when its main queue is empty and no foreground command runs
// (docs/behaviour.md §8.5); it returns nothing while recovery is disabled
// or, per component, while the blueprint is being provisioned for it.
func (m *Manager) Commands() []map[string]any {
	var params *cache.HostLevelParamsSnapshot
	if m.cfg.HostLevelParams != nil {
		params = m.cfg.HostLevelParams.Snapshot()
	}
	now := m.now().Unix()
	logs := pendingLogs{log: m.log}
	var out []map[string]any
	var state []byte
	var gen uint64

	m.mu.Lock()
	if m.enabled && len(m.recoverable) > 0 {
		for _, name := range m.order {
			if _, ok := m.recoverable[name]; !ok {
				continue
			}
			c := m.components[name]
			if !m.requiresRecoveryLocked(c) {
				continue
			}
			m.countLocked(name, c)
			if !m.lim.mayExecute(&c.counter, now, &logs, name) {
				continue
			}
			roleCommand := m.roleCommandLocked(c)
			if roleCommand == "" {
				continue
			}
			if blueprintInProgress(params, m.clusterID, name) {
				if logs.on(logrus.DebugLevel) {
					logs.add(logrus.DebugLevel, name, "recovery paused: blueprint is being provisioned", nil)
				}
				continue
			}
			if !m.lim.consume(&c.counter, now, &logs, name) {
				continue
			}
			m.lastTaskID++
			cmd := map[string]any{
				"clusterId":   m.clusterID,
				"roleCommand": roleCommand,
				"commandType": protocol.AutoExecutionCommand,
				"taskId":      m.lastTaskID,
				"commandId":   m.lastTaskID,
				"role":        name,
			}
			if svc := m.services[name]; svc != "" {
				cmd["serviceName"] = svc
			}
			out = append(out, cmd)
			logs.add(logrus.InfoLevel, name, "recovery command created", logrus.Fields{
				"roleCommand": roleCommand, "taskId": m.lastTaskID, "desired": c.desired, "current": c.current,
				"count": c.counter.count, "lifetimeCount": c.counter.lifetimeCount,
			})
		}
		if len(out) > 0 {
			state, gen = m.encodeStateLocked(&logs)
		}
	}
	m.mu.Unlock()
	logs.flush()
	if state != nil {
		m.saveState(state, gen)
	}
	return out
}

// countLocked creates the component's counters, as Python's may_execute
// does the first time it checks a component.
func (m *Manager) countLocked(name string, c *component) {
	if !c.counted {
		c.counted = true
		m.counted = append(m.counted, name)
	}
}

func blueprintInProgress(params *cache.HostLevelParamsSnapshot, clusterID, name string) bool {
	if params == nil {
		return false
	}
	c := params.Cluster(clusterID)
	return c != nil && c.BlueprintProvisioningState[name] == protocol.ProvisioningInProgress
}
