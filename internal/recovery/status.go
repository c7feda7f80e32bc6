package recovery

import (
	"sort"
	"time"
)

// Summaries of Status.
const (
	SummaryDisabled             = "DISABLED"
	SummaryRecoverable          = "RECOVERABLE"
	SummaryPartiallyRecoverable = "PARTIALLY_RECOVERABLE"
	SummaryUnrecoverable        = "UNRECOVERABLE"
)

// Status is the Python agent's get_recovery_status, for logs and
// diagnostics (the server is never sent it).
type Status struct {
	// Summary is DISABLED, RECOVERABLE, PARTIALLY_RECOVERABLE (some
	// components reached the lifetime limit) or UNRECOVERABLE (all did).
	Summary string `json:"summary"`
	// ComponentReports lists every component with counters; empty when
	// disabled.
	ComponentReports []ComponentReport `json:"componentReports,omitempty"`
}

// ComponentReport is one component of Status.
type ComponentReport struct {
	Name         string `json:"name"`
	NumAttempts  int    `json:"numAttempts"`  // lifetime count
	LimitReached bool   `json:"limitReached"` // lifetime limit reached
}

// Status summarises recovery per component.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.enabled {
		return Status{Summary: SummaryDisabled}
	}
	st := Status{Summary: SummaryRecoverable, ComponentReports: make([]ComponentReport, 0, len(m.counted))}
	reached := 0
	for _, name := range m.counted {
		c := m.components[name].counter
		r := ComponentReport{Name: name, NumAttempts: c.lifetimeCount,
			LimitReached: m.lim.limits.LifetimeMaxCount <= c.lifetimeCount}
		if r.LimitReached {
			reached++
		}
		st.ComponentReports = append(st.ComponentReports, r)
	}
	switch {
	case reached > 0 && reached == len(st.ComponentReports):
		st.Summary = SummaryUnrecoverable
	case reached > 0:
		st.Summary = SummaryPartiallyRecoverable
	}
	return st
}

// Counters is one component's rate-limiting bookkeeping, for RECOVERY
// alerts (docs/behaviour.md §9.4).
type Counters struct {
	// Count is the number of attempts in the current window.
	Count int
	// LastAttemptUnix and LastResetUnix are epoch seconds (0: never), as
	// the Python agent keeps them.
	LastAttemptUnix, LastResetUnix int64
	// LifetimeCount is the number of attempts in the lifetime.
	LifetimeCount int
	// LifetimeLimitReached is LifetimeCount >= recovery_lifetime_max_count.
	LifetimeLimitReached bool
	// WarnedThresholdReached is the Python flag RECOVERY alerts read: an
	// attempt was refused for the lifetime limit. As in Python it stays
	// false in practice, because the check before an attempt already
	// refuses; LifetimeLimitReached is the state the alert text describes.
	WarnedThresholdReached bool
	// Window is recovery_window_in_minutes.
	Window time.Duration
	// Stale is Python's is_action_info_stale: more than a window has passed
	// since the last attempt.
	Stale bool
}

// Counters returns a component's counters; ok is false when the manager has
// none for it (it never needed recovery).
func (m *Manager) Counters(componentName string) (Counters, bool) {
	now := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	comp, ok := m.components[componentName]
	if !ok || !comp.counted {
		return Counters{}, false
	}
	c, lim := comp.counter, m.lim.limits
	return Counters{
		Count:                  c.count,
		LastAttemptUnix:        c.lastAttempt,
		LastResetUnix:          c.lastReset,
		LifetimeCount:          c.lifetimeCount,
		LifetimeLimitReached:   c.lifetimeCount >= lim.LifetimeMaxCount,
		WarnedThresholdReached: c.warnedThresholdReached,
		Window:                 time.Duration(lim.WindowMinutes) * time.Minute,
		Stale:                  now-c.lastAttempt > lim.windowSec(),
	}, true
}

// Settings is the configuration in force.
type Settings struct {
	Enabled bool
	Mode    Mode
	Limits  Limits
	// ClusterID is the recovery cluster, the clusterId of recovery commands
	// ("" until a cache names one).
	ClusterID string
	// Recoverable lists recoveryConfig.components, sorted.
	Recoverable []string
}

// Settings returns the configuration in force, for diagnostics.
func (m *Manager) Settings() Settings {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Settings{Enabled: m.enabled, Mode: m.mode, Limits: m.lim.limits, ClusterID: m.clusterID,
		Recoverable: make([]string, 0, len(m.recoverable))}
	for name := range m.recoverable {
		s.Recoverable = append(s.Recoverable, name)
	}
	sort.Strings(s.Recoverable)
	return s
}
