package recovery

import (
	"testing"

	"github.com/sirupsen/logrus"
)

func discardLogs() *pendingLogs {
	l := logrus.New()
	l.SetLevel(logrus.PanicLevel)
	return &pendingLogs{log: logrus.NewEntry(l)}
}

// The worked example of docs/behaviour.md §8.3, step by step on the counter: max 2,
// window 5 min, gap 1 min, fresh counters.
func TestWorkedExampleOnCounter(t *testing.T) {
	lim := limiter{limits: Limits{MaxCount: 2, WindowMinutes: 5, RetryGapMinutes: 1, LifetimeMaxCount: 4}}
	var c counter
	logs := discardLogs()
	steps := []struct {
		now                       int64
		may, ok                   bool
		count, lifetime           int
		lastAttempt, lastReset    int64
		warnedGap, warnedWindowed bool
	}{
		{now: 1000, may: true, ok: true, count: 1, lifetime: 1, lastAttempt: 1000, lastReset: 1000},
		// 4 s since the last attempt is not > 60.
		{now: 1004, may: false, ok: false, count: 1, lifetime: 1, lastAttempt: 1000, lastReset: 1000, warnedGap: true},
		// 71 s > 60: second attempt of the window; the warning flag clears.
		{now: 1071, may: true, ok: true, count: 2, lifetime: 2, lastAttempt: 1071, lastReset: 1000},
		// count at max and only 150 s since lastReset.
		{now: 1150, may: false, ok: false, count: 2, lifetime: 2, lastAttempt: 1071, lastReset: 1000, warnedWindowed: true},
		// 329 s since the last attempt > 300: the window resets first.
		{now: 1400, may: true, ok: true, count: 1, lifetime: 3, lastAttempt: 1400, lastReset: 1400},
	}
	for _, s := range steps {
		if got := lim.mayExecute(&c, s.now, logs, "NODEMANAGER"); got != s.may {
			t.Errorf("t=%d: mayExecute = %v, want %v", s.now, got, s.may)
		}
		if got := lim.consume(&c, s.now, logs, "NODEMANAGER"); got != s.ok {
			t.Errorf("t=%d: consume = %v, want %v", s.now, got, s.ok)
		}
		if c.count != s.count || c.lifetimeCount != s.lifetime || c.lastAttempt != s.lastAttempt || c.lastReset != s.lastReset {
			t.Errorf("t=%d: count=%d lifetime=%d lastAttempt=%d lastReset=%d, want %d %d %d %d", s.now,
				c.count, c.lifetimeCount, c.lastAttempt, c.lastReset, s.count, s.lifetime, s.lastAttempt, s.lastReset)
		}
		if c.warnedLastAttempt != s.warnedGap || c.warnedLastReset != s.warnedWindowed {
			t.Errorf("t=%d: warned gap/window = %v/%v, want %v/%v", s.now, c.warnedLastAttempt, c.warnedLastReset, s.warnedGap, s.warnedWindowed)
		}
	}
}

// Boundaries are strict: exactly the gap, exactly the window is not enough.
func TestStrictComparisons(t *testing.T) {
	lim := limiter{limits: Limits{MaxCount: 1, WindowMinutes: 5, RetryGapMinutes: 1, LifetimeMaxCount: 10}}
	logs := discardLogs()
	c := counter{}
	if !lim.consume(&c, 1000, logs, "X") {
		t.Fatal("first attempt refused")
	}
	// count is at max (1): the next attempt needs now-lastReset > 300.
	if lim.mayExecute(&c, 1300, logs, "X") || lim.consume(&c, 1300, logs, "X") {
		t.Fatal("allowed exactly one window after the reset")
	}
	if !lim.mayExecute(&c, 1301, logs, "X") || !lim.consume(&c, 1301, logs, "X") {
		t.Fatal("refused one second after the window")
	}

	lim = limiter{limits: Limits{MaxCount: 5, WindowMinutes: 5, RetryGapMinutes: 1, LifetimeMaxCount: 10}}
	c = counter{}
	lim.consume(&c, 1000, logs, "X")
	if lim.mayExecute(&c, 1060, logs, "X") || lim.consume(&c, 1060, logs, "X") {
		t.Fatal("allowed exactly one retry gap after the last attempt")
	}
	if !lim.consume(&c, 1061, logs, "X") {
		t.Fatal("refused one second after the retry gap")
	}
}

// Python's test_sliding_window second part: the lifetime limit stops a
// component for good; the refusal sets the flag RECOVERY alerts read.
func TestLifetimeLimit(t *testing.T) {
	lim := limiter{limits: Limits{MaxCount: 2, WindowMinutes: 5, RetryGapMinutes: 1, LifetimeMaxCount: 5}}
	logs := discardLogs()
	var c counter
	for _, s := range []struct {
		now int64
		ok  bool
	}{{1500, true}, {1572, true}, {1653, false}, {1900, true}, {1971, true}, {2300, true}, {2700, false}, {9000, false}} {
		if got := lim.consume(&c, s.now, logs, "NODEMANAGER2"); got != s.ok {
			t.Fatalf("t=%d: consume = %v, want %v", s.now, got, s.ok)
		}
	}
	if c.lifetimeCount != 5 || !c.warnedThresholdReached {
		t.Fatalf("lifetime=%d warned=%v, want 5 true", c.lifetimeCount, c.warnedThresholdReached)
	}
	if lim.mayExecute(&c, 99999, logs, "NODEMANAGER2") {
		t.Fatal("mayExecute allows past the lifetime limit")
	}
}

func TestBackoffGaps(t *testing.T) {
	b := &backoff{base: 60e9, jitter: func() float64 { return 0.5 }}
	const G, W = 60, 3600
	// d = max(G, 60·2^n); plus 0.5·d/4; capped at W.
	want := map[int]int64{1: 135, 2: 270, 3: 540, 4: 1080, 5: 2160, 6: 3600, 7: 3600, 1000: 3600}
	for n, w := range want {
		if got := b.gap(n, G, W); got != w {
			t.Errorf("gap(%d) = %d, want %d", n, got, w)
		}
	}
	// Never below the server's retry gap.
	b = &backoff{base: 1e9, jitter: func() float64 { return 0 }}
	if got := b.gap(1, 300, 3600); got != 300 {
		t.Errorf("gap below the retry gap: %d", got)
	}
}

// The two window measures differ: the counter resets when a window passed
// since the last attempt, while a component at its maximum may go again
// once a window passed since the last reset, however recent its last
// attempt.
func TestWindowMeasures(t *testing.T) {
	lim := limiter{limits: Limits{MaxCount: 3, WindowMinutes: 5, RetryGapMinutes: 1, LifetimeMaxCount: 10}}
	logs := discardLogs()
	var c counter
	for _, at := range []int64{1000, 1200} {
		if !lim.consume(&c, at, logs, "X") {
			t.Fatalf("t=%d refused", at)
		}
	}
	// 350 s since the reset but only 150 s since the last attempt: no
	// reset, this is the window's third attempt.
	if !lim.consume(&c, 1350, logs, "X") || c.count != 3 || c.lastReset != 1000 {
		t.Fatalf("t=1350: count=%d lastReset=%d, want 3 1000", c.count, c.lastReset)
	}
	// At the maximum, 70 s after the last attempt but 420 s after the
	// reset: allowed, and a new window starts.
	if !lim.mayExecute(&c, 1420, logs, "X") || !lim.consume(&c, 1420, logs, "X") {
		t.Fatal("t=1420 refused")
	}
	if c.count != 1 || c.lastReset != 1420 || c.lifetimeCount != 4 {
		t.Fatalf("t=1420: count=%d lastReset=%d lifetime=%d, want 1 1420 4", c.count, c.lastReset, c.lifetimeCount)
	}
}

// Both the check and the consume honour the backoff gap on their own.
func TestBackoffGatesCheckAndConsume(t *testing.T) {
	lim := limiter{limits: Limits{MaxCount: 10, WindowMinutes: 60, RetryGapMinutes: 1, LifetimeMaxCount: 20},
		backoff: &backoff{base: 60e9, jitter: func() float64 { return 0.5 }}}
	logs := discardLogs()
	var c counter
	lim.consume(&c, 1000, logs, "X")
	if c.backoffGap != 135 || c.streak != 1 {
		t.Fatalf("gap=%d streak=%d, want 135 1", c.backoffGap, c.streak)
	}
	if lim.mayExecute(&c, 1100, logs, "X") {
		t.Fatal("check allows inside the backoff gap")
	}
	if lim.consume(&c, 1100, logs, "X") || c.count != 1 {
		t.Fatal("consume allows inside the backoff gap")
	}
	if !lim.consume(&c, 1136, logs, "X") || c.backoffGap != 270 {
		t.Fatalf("after the gap: gap=%d", c.backoffGap)
	}
}
