package testutil

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Clock is a clock that only the test moves: time stands still until Add,
// and the timers made by After and AfterFunc fire when Add reaches them.
// Code under test takes it through its own small clock interface, so a
// test steps through intervals and timeouts without waiting for them.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*clockTimer
	// added is closed (and replaced) whenever a timer is set, so that
	// WaitTimers waits without polling.
	added chan struct{}
}

type clockTimer struct {
	at time.Time
	ch chan time.Time // After
	f  func()         // AfterFunc
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, added: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock on by d and fires, in deadline order, every timer
// that is due: an After channel receives the time, an AfterFunc function
// runs on a goroutine of its own.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*clockTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *clockTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		due = append(due, t)
		return true
	})
	now := c.now
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *clockTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		if t.ch != nil {
			t.ch <- now
		} else {
			go t.f()
		}
	}
}

// After is time.After on this clock; d <= 0 fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.addLocked(&clockTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// AfterFunc is time.AfterFunc on this clock. stop cancels the call and
// reports whether it did, like time.Timer.Stop.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	t := &clockTimer{at: c.Now().Add(d), f: f}
	c.mu.Lock()
	c.addLocked(t)
	c.mu.Unlock()
	if d <= 0 {
		c.Add(0)
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.timers)
		c.timers = slices.DeleteFunc(c.timers, func(x *clockTimer) bool { return x == t })
		return len(c.timers) < n
	}
}

func (c *Clock) addLocked(t *clockTimer) {
	c.timers = append(c.timers, t)
	close(c.added)
	c.added = make(chan struct{})
}

// Pending returns the number of After and AfterFunc timers not yet fired
// or stopped.
func (c *Clock) Pending() (afters, funcs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if t.ch != nil {
			afters++
		} else {
			funcs++
		}
	}
	return afters, funcs
}

// WaitTimers waits until at least afters After timers and funcs AfterFunc
// timers are pending: the code under test has reached the point where it
// waits for time to pass. It fails the test after Wait.
func (c *Clock) WaitTimers(t testing.TB, afters, funcs int) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		added := c.added
		c.mu.Unlock()
		if a, f := c.Pending(); a >= afters && f >= funcs {
			return
		}
		select {
		case <-added:
		case <-deadline.C:
			a, f := c.Pending()
			t.Fatalf("waited for %d After and %d AfterFunc timers; %d and %d are pending", afters, funcs, a, f)
		}
	}
}
