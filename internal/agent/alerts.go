package agent

import (
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/alerts"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/recovery"
)

// buildAlerts builds the alert framework over the caches, the recovery
// counters and the link. Alerts log to their own file, ambari-alerts.log,
// as in the Python agent.
func (a *Agent) buildAlerts(alertsLog *logrus.Logger, w *workers) *alerts.Manager {
	cfg := a.cfg
	return alerts.New(alerts.Config{
		Definitions:     alerts.CacheDefinitions(a.caches.AlertDefinitions(), logging.Component(alertsLog, "alerts")),
		Configurations:  w.orch,
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
