package alerts

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
)

// DefinitionSource is the alert-definitions cache as the alert framework
// needs it.
type DefinitionSource interface {
	// AlertDefinitions returns every cluster's definitions and the type of
	// the event that produced this state ("CREATE", "UPDATE", "DELETE"; ""
	// for a cache loaded from disk, treated like CREATE). The result is not
	// modified by the caller.
	AlertDefinitions() (clusters []ClusterDefinitions, eventType string)
	// Subscribe returns a channel that receives a value after every applied
	// change (capacity 1, coalescing: after any number of changes at least
	// one value arrives and AlertDefinitions then returns the latest state)
	// and a function that ends the subscription.
	Subscribe() (<-chan struct{}, func())
}

// ConfigSource resolves {{type/key}} and /path lookups in definitions.
type ConfigSource interface {
	// ClusterConfiguration returns the command-style dictionary the Python
	// agent's ConfigurationBuilder.get_configuration(cluster, None, None)
	// builds (docs/behaviour.md §5.4.1): "configurations" (type -> key -> value),
	// "clusterLevelParams", "hostLevelParams", "clusterHostInfo",
	// "agentLevelParams", ... Values are what encoding/json produces; decode
	// with UseNumber so numbers keep Python's int/float distinction. The map is only read, never kept after the check
	// that asked for it and never modified, so a shared immutable snapshot may
	// be returned. An error (cluster not in the caches yet) makes the
	// checks that need configuration UNKNOWN with the error text.
	ClusterConfiguration(clusterID string) (map[string]any, error)
}

// RecoverySource gives RECOVERY alerts the recovery manager's counters.
type RecoverySource interface {
	// RecoveryCounters returns the rate-limiting counters of a component
	// (docs/behaviour.md §8.3); ok is false when the recovery manager has none for it.
	RecoveryCounters(component string) (c RecoveryCounters, ok bool)
}

// RecoveryCounters is one component's recovery bookkeeping.
type RecoveryCounters struct {
	// Count is the number of attempts in the current window.
	Count int
	// LastAttempt and LastReset are the Python agent's integer epoch
	// seconds; the zero time means 0.
	LastAttempt, LastReset time.Time
	// LifetimeLimitReached is the Python "warnedThresholdReached" flag: an
	// attempt was refused because the lifetime maximum was reached.
	LifetimeLimitReached bool
	// Window is recovery_window_in_minutes; counters older than it (measured
	// from LastAttempt) are stale.
	Window time.Duration
}

// Link is the server connection as the reporter needs it.
type Link interface {
	// Registered reports whether the agent is registered right now.
	Registered() bool
	// Request sends body to destination and returns the server's reply. It
	// fails fast when not connected.
	Request(ctx context.Context, destination string, body []byte) ([]byte, error)
}

// Python is what the alert checks need from the resident Python helper;
// *pyrunner.Runner implements it.
type Python interface {
	Call(ctx context.Context, op string, args any, timeout time.Duration) ([]byte, error)
}

// Config holds the framework's dependencies and settings. Zero values take
// the Python agent's defaults where one exists.
type Config struct {
	Definitions    DefinitionSource
	Configurations ConfigSource
	// Recovery may be nil: RECOVERY alerts then see no counters (OK).
	Recovery RecoverySource
	// Link may be nil: results are collected but never sent.
	Link Link
	// Python runs SCRIPT alerts, METRIC/AMS expressions and Kerberos HTTP
	// calls. Nil: the framework starts its own helper from PythonConfig and
	// closes it when Run returns. Pass a shared helper when other parts of the
	// agent use one too (there must be one per agent).
	Python       Python
	PythonConfig pyrunner.Config
	// Log is the alerts logger (the Python agent writes ambari-alerts.log).
	Log *logrus.Entry

	// ReportInterval is [agent] alert_reports_interval; 0 disables the
	// reporter, as in Python. Negative: 5 s.
	ReportInterval time.Duration
	// GracePeriod is [agent] alert_grace_period: a run that starts later
	// than this after its scheduled time is skipped. 0: 5 s.
	GracePeriod time.Duration
	// SendChangesOnly is [agent] send_alert_changes_only as the config
	// package parses it (Python's bool(str): true for every non-empty value,
	// the shipped "0" included). When false every collected result is sent.
	SendChangesOnly bool
	// KinitTimeout is [agent] alert_kinit_timeout (0: 14400000 ms). Script
	// alerts get it in milliseconds as parameter kerberos.kinit.timer.
	KinitTimeout time.Duration
	// UseSystemProxy is [network] use_system_proxy_settings: false makes HTTP
	// checks and script alerts ignore the proxy environment variables.
	UseSystemProxy bool
	// TLSProtocol is [security] force_https_protocol (a Python ssl.PROTOCOL_*
	// name; "": PROTOCOL_TLSv1_2) and CACertPath is [security] ca_cert_path:
	// HTTPS checks verify the chain (never the host name) only when set.
	TLSProtocol string
	CACertPath  string
	// CacheDir is [agent] cache_dir: relative SCRIPT paths are looked up in
	// its stacks, common-services, host_scripts and extensions directories.
	CacheDir string
	// AgentTmpDir is the working directory of script alerts and Kerberos
	// calls ("": /var/lib/ambari-agent/tmp, as hard-coded in Python).
	AgentTmpDir string

	// Jitter brings the first run of a newly scheduled definition forward
	// by up to one minute (never more than its interval), so the checks of
	// many agents started together are spread; nil: exactly one interval
	// from now, as in Python.
	Jitter jitter.Source

	// MaxWorkers bounds concurrently running checks (0: 20, the Python
	// pool's maximum).
	MaxWorkers int
	// ScriptTimeout bounds one SCRIPT alert run (0: the definition's
	// interval). Python has no limit: a hung script holds a pool thread
	// forever.
	ScriptTimeout time.Duration
	// Minute is the length of a definition interval unit (0: time.Minute);
	// tests shorten it.
	Minute time.Duration
	// Now is the clock for result timestamps, stale checks and RECOVERY
	// alerts (nil: time.Now).
	Now func() time.Time

	// Liveness records the scheduler's progress for the agent's health
	// model (*liveness.Part): each check run is a unit of work bounded by
	// its timeout; nil = none.
	Liveness Liveness
	// Observe, when set, learns the state of every finished check
	// (metrics). It must return quickly.
	Observe func(definitionName, state string)
}

// Liveness is the scheduler's view of the agent's health model.
type Liveness interface {
	Idle()
	BeginFor(what string, bound time.Duration) (end func())
}

const (
	defaultReportInterval = 5 * time.Second
	defaultGracePeriod    = 5 * time.Second
	defaultKinitTimeout   = 14400000 * time.Millisecond
	defaultMaxWorkers     = 20
	defaultAgentTmpDir    = "/var/lib/ambari-agent/tmp"
	// reportTimeout bounds one /reports/alerts_status request.
	reportTimeout = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.ReportInterval < 0 {
		c.ReportInterval = defaultReportInterval
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = defaultGracePeriod
	}
	if c.KinitTimeout <= 0 {
		c.KinitTimeout = defaultKinitTimeout
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = defaultMaxWorkers
	}
	if c.AgentTmpDir == "" {
		c.AgentTmpDir = defaultAgentTmpDir
	}
	if c.Minute <= 0 {
		c.Minute = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Log = logging.OrDiscard(c.Log)
}
