package recovery

import "time"

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
