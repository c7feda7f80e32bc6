package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// RECOVERY thresholds: executed recovery operations.
const (
	defaultRecoveryWarning  = 2
	defaultRecoveryCritical = 4
	unknownComponent        = "UNKNOWN_COMPONENT"
)

// recoveryCheck reports how often the recovery manager restarted a
// component.
type recoveryCheck struct {
	component         string
	warning, critical float64
}

func newRecoveryCheck(src *pyvalue.Dict, d Definition) (*recoveryCheck, error) {
	c := &recoveryCheck{component: d.ComponentName, warning: defaultRecoveryWarning, critical: defaultRecoveryCritical}
	if c.component == "" {
		c.component = unknownComponent
	}
	if rep, ok := dictGet(src, "reporting").(*pyvalue.Dict); ok {
		for state, dst := range map[string]*float64{"warning": &c.warning, "critical": &c.critical} {
			e, ok := dictGet(rep, state).(*pyvalue.Dict)
			if !ok {
				continue
			}
			if v, present := e.Get("count"); present {
				f, ok := pyvalue.Number(v)
				if !ok {
					return nil, fmt.Errorf("reporting.%s.count is not a number", state)
				}
				*dst = f
			}
		}
	}
	return c, nil
}

func (c *recoveryCheck) defaultText(state string) string {
	if state == StateOK {
		return "No recovery operations executed for {2}{0}."
	}
	return "{1} recovery operations executed for {2}{0}."
}

func (c *recoveryCheck) collect(_ context.Context, r *run) (string, []any, error) {
	var info RecoveryCounters
	found := false
	if r.m.cfg.Recovery != nil {
		info, found = r.m.cfg.Recovery.RecoveryCounters(c.component)
	}
	count := int64(0)
	since := ""
	limitHit := found && info.LifetimeLimitReached
	if found {
		// The recovery manager keeps whole epoch seconds; stale means more
		// than a window since the last attempt.
		stale := r.m.cfg.Now().Unix()-epochSeconds(info.LastAttempt) > int64(info.Window/time.Second)
		if !stale || limitHit {
			count = int64(info.Count)
			since = " since " + time.Unix(epochSeconds(info.LastReset), 0).Format("2006-01-02 15:04:05")
		}
	}
	n := float64(count)
	var state string
	switch {
	case n >= c.critical || limitHit:
		state = StateCritical
	case n >= c.warning:
		state = StateWarning
	case n < c.warning && n < c.critical:
		state = StateOK
	default:
		state = StateUnknown
	}
	return state, []any{since, count, c.component}, nil
}

func epochSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
