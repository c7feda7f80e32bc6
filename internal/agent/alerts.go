package agent

import (
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/alerts"
	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/recovery"
)

// buildAlerts builds the alert framework over the caches, the recovery
// counters and the link. Alerts log to their own file, ambari-alerts.log,
// as in the Python agent.
func (a *Agent) buildAlerts(alertsLog *logrus.Logger, w *workers) *alerts.Manager {
	cfg := a.cfg
	return alerts.New(alerts.Config{
		Definitions:     alertDefinitions{c: a.caches.AlertDefinitions(), log: logging.Component(alertsLog, "alerts")},
		Configurations:  &clusterConfigurations{caches: a.caches, orch: w.orch},
		Recovery:        recoveryCounters{w.recovery},
		Link:            a.link,
		Python:          w.python,
		Log:             logging.Component(alertsLog, "alerts"),
		ReportInterval:  cfg.Agent.AlertReportsInterval,
		GracePeriod:     cfg.Agent.AlertGracePeriod,
		SendChangesOnly: cfg.Agent.SendAlertChangesOnly,
		KinitTimeout:    cfg.Agent.AlertKinitTimeout,
		UseSystemProxy:  cfg.Network.UseSystemProxySettings,
		TLSProtocol:     cfg.Security.ForceHTTPSProtocol,
		CACertPath:      cfg.Security.CACertPath,
		CacheDir:        cfg.Agent.CacheDir,
		AgentTmpDir:     cfg.TmpDir(),
		Jitter:          jitter.Random,
		Minute:          alertMinute(logging.Component(alertsLog, "alerts")),
		Liveness:        a.health.alerts,
		Observe:         func(_, state string) { a.health.metrics.AlertRun(state) },
	})
}

// AlertMinuteEnv shortens the unit of alert intervals (definitions say
// minutes) for end-to-end tests and scale simulation: with
// AMBARI_AGENT_ALERT_MINUTE=2s a 1-minute alert runs every 2 seconds, and
// script timeouts and stale-alert limits shrink with it. It is an
// environment variable, not an ini key, so operators never meet it.
const AlertMinuteEnv = "AMBARI_AGENT_ALERT_MINUTE"

// minAlertMinute keeps a mistyped value from turning the scheduler into a
// busy loop.
const minAlertMinute = 100 * time.Millisecond

// alertMinute reads AlertMinuteEnv (a Go duration); 0 (a real minute) when
// unset or unusable.
func alertMinute(log *logrus.Entry) time.Duration {
	v := os.Getenv(AlertMinuteEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < minAlertMinute {
		log.Warnf("Ignoring %s=%q: not a duration of at least %s", AlertMinuteEnv, v, minAlertMinute)
		return 0
	}
	log.Warnf("Alert intervals count minutes of %s (%s, a testing aid)", d, AlertMinuteEnv)
	return d
}

// alertDefinitions reads the alert-definitions cache for the scheduler.
type alertDefinitions struct {
	c   *cache.AlertDefinitionsCache
	log *logrus.Entry
}

func (d alertDefinitions) AlertDefinitions() ([]alerts.ClusterDefinitions, string) {
	snap := d.c.Snapshot()
	var out []alerts.ClusterDefinitions
	for _, id := range snap.ClusterIDs() {
		c := snap.Cluster(id)
		if c == nil {
			continue
		}
		cd, err := alerts.ClusterDefinitionsFrom(c)
		if err != nil {
			// The other definitions of the cluster still run.
			d.log.WithError(err).Warn("Skipping alert definitions that cannot be scheduled")
		}
		out = append(out, cd)
	}
	return out, snap.EventType()
}

func (d alertDefinitions) Subscribe() (<-chan struct{}, func()) { return d.c.Subscribe() }

// clusterConfigurations gives alert checks the command-style dictionary of
// a cluster. It is built once per state of the caches, not per check: the
// checks only read it.
type clusterConfigurations struct {
	caches *cache.Store
	orch   *orchestrator.Orchestrator

	mu   sync.Mutex
	memo map[string]configMemo
}

type configMemo struct {
	topo *cache.TopologySnapshot
	meta *cache.MetadataSnapshot
	conf *cache.ConfigurationsSnapshot
	hlp  *cache.HostLevelParamsSnapshot
	dict map[string]any
}

func (c *clusterConfigurations) ClusterConfiguration(clusterID string) (map[string]any, error) {
	now := configMemo{
		topo: c.caches.Topology().Snapshot(),
		meta: c.caches.Metadata().Snapshot(),
		conf: c.caches.Configurations().Snapshot(),
		hlp:  c.caches.HostLevelParams().Snapshot(),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.memo[clusterID]; ok && m.topo == now.topo && m.meta == now.meta && m.conf == now.conf && m.hlp == now.hlp {
		return m.dict, nil
	}
	dict, err := c.orch.ClusterConfiguration(clusterID)
	if err != nil {
		return nil, err
	}
	if c.memo == nil {
		c.memo = map[string]configMemo{}
	}
	now.dict = dict
	c.memo[clusterID] = now
	return dict, nil
}

// recoveryCounters adapts the recovery manager's counters to RECOVERY
// alerts.
type recoveryCounters struct{ m *recovery.Manager }

func (r recoveryCounters) RecoveryCounters(component string) (alerts.RecoveryCounters, bool) {
	c, ok := r.m.Counters(component)
	if !ok {
		return alerts.RecoveryCounters{}, false
	}
	unix := func(s int64) time.Time {
		if s == 0 {
			return time.Time{}
		}
		return time.Unix(s, 0)
	}
	return alerts.RecoveryCounters{
		Count:                c.Count,
		LastAttempt:          unix(c.LastAttemptUnix),
		LastReset:            unix(c.LastResetUnix),
		LifetimeLimitReached: c.LifetimeLimitReached,
		Window:               c.Window,
	}, true
}
