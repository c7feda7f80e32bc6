package testutil

import (
	"testing"
	"time"
)

// Timers fire when the clock reaches them, in deadline order, and not
// before; a stopped AfterFunc never runs.
func TestClockFiresDueTimersOnly(t *testing.T) {
	c := NewClock(time.Unix(1000, 0))
	late := c.After(2 * time.Second)
	early := c.After(time.Second)
	ran := make(chan string, 3)
	c.AfterFunc(1500*time.Millisecond, func() { ran <- "func" })
	stop := c.AfterFunc(time.Second, func() { ran <- "stopped" })
	if !stop() {
		t.Fatal("stop of a pending AfterFunc reported false")
	}
	if a, f := c.Pending(); a != 2 || f != 1 {
		t.Fatalf("pending %d After, %d AfterFunc; want 2 and 1", a, f)
	}

	c.Add(999 * time.Millisecond)
	select {
	case <-early:
		t.Fatal("After fired early")
	default:
	}
	c.Add(600 * time.Millisecond)
	if got := <-early; !got.Equal(time.Unix(1001, 599e6)) {
		t.Errorf("After delivered %v", got)
	}
	if got := <-ran; got != "func" {
		t.Errorf("ran %q", got)
	}
	select {
	case <-late:
		t.Fatal("the later After fired")
	default:
	}
	c.Add(time.Second)
	<-late
	select {
	case got := <-ran:
		t.Errorf("ran %q after it was stopped", got)
	default:
	}
	if c.After(0) == nil || len(c.After(-time.Second)) != 1 {
		t.Error("After(<=0) did not fire at once")
	}
}

// WaitTimers returns once the code under test has set its timer.
func TestClockWaitTimers(t *testing.T) {
	c := NewClock(time.Unix(0, 0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-c.After(time.Minute)
	}()
	c.WaitTimers(t, 1, 0)
	c.Add(time.Minute)
	<-done
}
