package alerts

import (
	"testing"
	"time"
)

type fakeRecovery map[string]RecoveryCounters

func (f fakeRecovery) RecoveryCounters(c string) (RecoveryCounters, bool) {
	v, ok := f[c]
	return v, ok
}

func TestRecoveryAlert(t *testing.T) {
	now := time.Date(2024, 10, 16, 12, 0, 0, 0, time.Local)
	lastReset := now.Add(-10 * time.Minute)
	since := " since " + lastReset.Format("2006-01-02 15:04:05")
	rec := fakeRecovery{
		"NONE":     {Count: 0, LastAttempt: now.Add(-time.Minute), LastReset: lastReset, Window: time.Hour},
		"ONE":      {Count: 1, LastAttempt: now.Add(-time.Minute), LastReset: lastReset, Window: time.Hour},
		"TWO":      {Count: 2, LastAttempt: now.Add(-time.Minute), LastReset: lastReset, Window: time.Hour},
		"FOUR":     {Count: 4, LastAttempt: now.Add(-time.Minute), LastReset: lastReset, Window: time.Hour},
		"OLD":      {Count: 5, LastAttempt: now.Add(-61 * time.Minute), LastReset: lastReset, Window: time.Hour},
		"EDGE":     {Count: 5, LastAttempt: now.Add(-60 * time.Minute), LastReset: lastReset, Window: time.Hour},
		"LIFETIME": {Count: 1, LastAttempt: now.Add(-2 * time.Hour), LastReset: lastReset, Window: time.Hour, LifetimeLimitReached: true},
	}
	e := newEnv(t, func(c *Config) {
		c.Recovery = rec
		c.Now = func() time.Time { return now }
	})
	mk := func(component string, reporting map[string]any) map[string]any {
		d := def(9, "recovery", 1, map[string]any{"type": "RECOVERY", "reporting": reporting})
		d["componentName"] = component
		return d
	}
	cases := []struct {
		component   string
		reporting   map[string]any
		state, text string
	}{
		{"NONE", nil, StateOK, "No recovery operations executed for NONE" + since + "."},
		{"ONE", nil, StateOK, "No recovery operations executed for ONE" + since + "."},
		{"TWO", nil, StateWarning, "2 recovery operations executed for TWO" + since + "."},
		{"FOUR", nil, StateCritical, "4 recovery operations executed for FOUR" + since + "."},
		{"OLD", nil, StateOK, "No recovery operations executed for OLD."},
		{"EDGE", nil, StateCritical, "5 recovery operations executed for EDGE" + since + "."},
		{"LIFETIME", nil, StateCritical, "1 recovery operations executed for LIFETIME" + since + "."},
		{"UNTRACKED", nil, StateOK, "No recovery operations executed for UNTRACKED."},
		{"", nil, StateOK, "No recovery operations executed for UNKNOWN_COMPONENT."},
		{"ONE", map[string]any{"warning": map[string]any{"count": 1}, "critical": map[string]any{"count": 3}}, StateWarning,
			"1 recovery operations executed for ONE" + since + "."},
		{"TWO", map[string]any{"warning": map[string]any{"text": "{1} restarts of {2}{0}"}}, StateWarning,
			"2 restarts of TWO" + since},
	}
	for _, c := range cases {
		r := e.evalDef("h1", mk(c.component, c.reporting))
		if r.State != c.state || r.Text != c.text {
			t.Errorf("%s: got %s %q, want %s %q", c.component, r.State, r.Text, c.state, c.text)
		}
	}
}
