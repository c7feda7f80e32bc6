package recovery

import (
	"time"

	"github.com/sirupsen/logrus"
)

// counter is one component's rate-limiting bookkeeping (the Python agent's
// "action counter"). Times are integer epoch seconds, as in Python, so that
// the strict ">" comparisons of docs/behaviour.md §8.3 give the same answers to the second.
type counter struct {
	count         int   // attempts in the current window
	lastAttempt   int64 // time of the last attempt
	lastReset     int64 // start of the current window
	lifetimeCount int   // attempts in the lifetime (persisted, see doc.go)

	// Each refusal reason warns once, then logs quietly until an attempt or
	// a reset clears it. warnedThresholdReached is only ever set by
	// consume, which Commands never calls once the lifetime is used up (the
	// check refuses first): Python behaves the same, and RECOVERY alerts
	// read this flag, so it is kept exactly and exposed as is.
	warnedLastAttempt      bool
	warnedLastReset        bool
	warnedThresholdReached bool
	// loggedLifetime makes the check log, once, that the lifetime limit
	// stopped recovery (Python says nothing at all in that case).
	loggedLifetime bool

	// streak counts attempts since the last quiet window: an attempt that is
	// followed by another one within a window did not fix the component, so
	// streak-1 attempts of the streak have failed. Only the backoff uses it.
	streak int
	// backoffGap is the minimum number of seconds after lastAttempt before
	// the next attempt when the backoff is on (0: none).
	backoffGap int64
}

// limiter holds what the counter arithmetic needs besides the counter.
type limiter struct {
	limits  Limits
	backoff *backoff // nil: off, as in the Python agent
}

// mayExecute is the Python agent's "check only": no counter changes. The
// backoff gate comes on top of Python's rule and never allows an attempt
// Python would refuse.
func (l limiter) mayExecute(c *counter, now int64, logs *pendingLogs, component string) bool {
	if c.lifetimeCount >= l.limits.LifetimeMaxCount {
		if !c.loggedLifetime {
			c.loggedLifetime = true
			logs.add(logrus.WarnLevel, component, "recovery stopped: lifetime limit of attempts reached",
				logrus.Fields{"lifetimeCount": c.lifetimeCount, "limit": l.limits.LifetimeMaxCount})
		}
		return false
	}
	since := now - c.lastAttempt
	if l.backoff != nil && c.backoffGap > 0 && !(since > c.backoffGap) {
		if logs.on(logrus.DebugLevel) {
			logs.add(logrus.DebugLevel, component, "recovery waits for the backoff gap",
				logrus.Fields{"backoffSeconds": c.backoffGap, "sinceLastAttempt": since})
		}
		return false
	}
	if c.count < l.limits.MaxCount {
		if since > l.limits.gapSec() {
			return true
		}
		// Python logs this at INFO on every queue iteration; DEBUG here.
		if logs.on(logrus.DebugLevel) {
			logs.add(logrus.DebugLevel, component, "recovery waits for the retry gap",
				logrus.Fields{"retryGapSeconds": l.limits.gapSec(), "sinceLastAttempt": since})
		}
		return false
	}
	return now-c.lastReset > l.limits.windowSec()
}

// consume is the Python agent's "execute": it takes one attempt if the
// limits allow it and reports whether it did. The window is reset when a
// whole window has passed since the last attempt (not since the last
// reset), before anything else is decided.
func (l limiter) consume(c *counter, now int64, logs *pendingLogs, component string) bool {
	if c.lifetimeCount >= l.limits.LifetimeMaxCount {
		if !c.warnedThresholdReached {
			c.warnedThresholdReached = true
			logs.add(logrus.WarnLevel, component, "lifetime limit of recovery attempts reached; further attempts are skipped",
				logrus.Fields{"lifetimeCount": c.lifetimeCount})
		} else {
			logs.add(logrus.ErrorLevel, component, "lifetime limit of recovery attempts reached",
				logrus.Fields{"lifetimeCount": c.lifetimeCount})
		}
		return false
	}
	W, G := l.limits.windowSec(), l.limits.gapSec()
	since := now - c.lastAttempt
	if since > W {
		c.count = 0
		c.lastReset = now
		c.warnedLastReset = false
		c.streak = 0 // a quiet window ends a failure streak
	}
	if l.backoff != nil && c.backoffGap > 0 && !(since > c.backoffGap) {
		if !c.warnedLastAttempt {
			c.warnedLastAttempt = true
			logs.add(logrus.WarnLevel, component, "recovery attempt skipped until the backoff gap has passed",
				logrus.Fields{"backoffSeconds": c.backoffGap, "sinceLastAttempt": since})
		}
		return false
	}
	if c.count < l.limits.MaxCount {
		if !(since > G) {
			if !c.warnedLastAttempt {
				c.warnedLastAttempt = true
				logs.add(logrus.WarnLevel, component, "recovery attempt skipped until the retry gap has passed",
					logrus.Fields{"retryGapSeconds": G, "sinceLastAttempt": since})
			} else {
				logs.add(logrus.DebugLevel, component, "retry gap has not passed",
					logrus.Fields{"retryGapSeconds": G, "sinceLastAttempt": since})
			}
			return false
		}
		c.count++
		c.lifetimeCount++
		c.lastAttempt = now
		c.warnedLastAttempt = false
		if c.count == 1 {
			c.lastReset = now
		}
	} else {
		if !(now-c.lastReset > W) {
			if !c.warnedLastReset {
				c.warnedLastReset = true
				logs.add(logrus.WarnLevel, component, "attempts per window reached the limit; skipped until the window resets",
					logrus.Fields{"count": c.count, "windowMinutes": l.limits.WindowMinutes})
			} else {
				logs.add(logrus.DebugLevel, component, "attempts per window reached the limit",
					logrus.Fields{"count": c.count, "windowMinutes": l.limits.WindowMinutes})
			}
			return false
		}
		c.count = 1
		c.lifetimeCount++
		c.lastAttempt = now
		c.lastReset = now
		c.warnedLastReset = false
	}
	c.streak++
	if l.backoff != nil {
		c.backoffGap = l.backoff.gap(c.streak, G, W)
	}
	return true
}

// backoff spaces out the attempts of a component that keeps failing
// ([agent] recovery_backoff; not in the Python agent). After the n-th
// consecutive failed attempt the next one waits
//
//	min(W, d + jitter·d/4)   with d = max(G, base·2^n)
//
// seconds: never less than the server's retry gap G, never more than the
// window W, so the window and lifetime limits keep their meaning.
type backoff struct {
	base   time.Duration
	jitter func() float64 // in [0, 1)
}

func (b *backoff) gap(n int, G, W int64) int64 {
	base := int64(b.base / time.Second)
	if base < 1 {
		base = 1
	}
	d := base
	for i := 0; i < n && d < W; i++ { // doubling stops at W: no overflow for any n
		d *= 2
	}
	if d < G {
		d = G
	}
	if d >= W {
		return W
	}
	r := b.jitter()
	if r < 0 || r >= 1 {
		r = 0
	}
	d += int64(r * float64(d) / 4)
	if d > W {
		d = W
	}
	return d
}
