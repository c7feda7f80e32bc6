package statusexec

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The first cycle reports every local component; later cycles report only
// what differs from the statuses the server acknowledged.
func TestReportsOnlyChangesAgainstAcknowledgedStatus(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B", "C", "D"}, remote: []string{"E"}})
	st.metadata("1")
	st.setState("A", "running")
	st.setState("B", "stopped")
	st.setState("C", "client")
	st.setState("D", "broken")
	st.setState("E", "running")
	h := startExecutor(t, st, nil)

	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "1/C/STATUS=INSTALLED", "1/D/STATUS=INSTALLED")
	h.waitCycles(3)
	h.sender.none(t)

	st.setState("B", "running")
	want(t, h.sender.next(t), "1/B/STATUS=STARTED")
	h.drainCycles()
	h.waitCycles(2)
	h.sender.none(t)

	if c := st.calls("E"); len(c) != 0 {
		t.Errorf("component of another host was checked: %v", c)
	}
	if c := st.calls("A"); len(c) < 3 || slices.ContainsFunc(c, func(s string) bool { return s != CommandStatus }) {
		t.Errorf("A ran with %v, want STATUS every cycle", c)
	}
	told := h.rec.told()
	for _, s := range []string{"1/A=STARTED", "1/B=INSTALLED", "1/C=INSTALLED", "1/D=INSTALLED", "1/B=STARTED"} {
		if !slices.Contains(told, s) {
			t.Errorf("recovery manager not told %s (told %v)", s, told)
		}
	}
	if got := strings.Count(strings.Join(told, " "), "1/A=STARTED"); got != 1 {
		t.Errorf("recovery manager told 1/A=STARTED %d times, want once (only on change)", got)
	}
	if !h.logged("Status command for D failed") {
		t.Error("a status script failing with an unexpected error was not logged")
	}
	if h.logged("Status command for B failed") || h.logged("Status command for C failed") {
		t.Error("ComponentIsNotRunning / ClientComponentHasNoStatus were logged as failures")
	}
}

// A report the server did not acknowledge, or that could not be sent, is
// sent again by the next cycle.
func TestUnacknowledgedStatusIsResent(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", "running")
	h := startExecutor(t, st, func(c *Config) { c.Interval = 20 * time.Millisecond })
	h.sender.set(true, false)

	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.sender.set(true, true)
	// Cycles under way may still have sent without an acknowledgement; the
	// first one that starts now is acknowledged, after it nothing is sent.
	h.drainCycles()
	h.waitCycles(2)
	for len(h.sender.reports) > 0 {
		want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	}
	h.waitCycles(3)
	h.sender.none(t)

	// Disconnected: nothing goes out, the recovery manager still learns.
	h.sender.set(false, true)
	st.setState("A", "stopped")
	h.drainCycles()
	h.waitCycles(3)
	h.sender.none(t)
	if !slices.Contains(h.rec.told(), "1/A=INSTALLED") {
		t.Error("recovery manager not told while disconnected")
	}
	h.sender.set(true, true)
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
}

// After each registration every acknowledged status is sent again at once,
// without waiting for a cycle; a status reset by a command is left out.
func TestForceSendAfterRegistration(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}}, cluster{id: "2", local: []string{"C"}})
	st.metadata("1", "2")
	st.setState("A", "running")
	st.setState("B", "stopped")
	st.setState("C", "running")
	h := startExecutor(t, st, func(c *Config) { c.Interval = time.Hour })
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "2/C/STATUS=STARTED")
	h.waitCycles(1)

	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "2/C/STATUS=STARTED")

	h.commandRan("1", "A")
	h.exec.Registered()
	want(t, h.sender.next(t), "1/B/STATUS=INSTALLED", "2/C/STATUS=STARTED")
	if len(h.cycles) != 0 {
		t.Error("a cycle ran; the resend must not wait for one")
	}
	if n := len(st.calls("A")); n != 1 {
		t.Errorf("A checked %d times; the resend must not run scripts", n)
	}
}

// A command that starts while a report about its component is on its way
// keeps its reset: the acknowledgement of the older report does not
// restore the status, so the status after the command is reported even
// though it did not change.
func TestAcknowledgementDoesNotUndoCommandReset(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", "running")
	h := startExecutor(t, st, func(c *Config) { c.Interval = time.Hour })
	hold := make(chan struct{})
	h.sender.mu.Lock()
	h.sender.hold = hold
	h.sender.mu.Unlock()

	want(t, h.sender.next(t), "1/A/STATUS=STARTED") // the reply is held
	h.commandRan("1", "A")
	close(hold)
	h.waitCycles(1)

	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
}

// Components with an execution command in flight are not checked.
func TestSkipsComponentWithCommandRunning(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", "running")
	st.setState("B", "running")
	h := startExecutorWith(t, st, nil, func(e *Executor) { e.AttemptStarted(header("1", "A")) })

	want(t, h.sender.next(t), "1/B/STATUS=STARTED")
	h.waitCycles(3)
	h.sender.none(t)
	if c := st.calls("A"); len(c) != 0 {
		t.Fatalf("A was checked %d times while its command ran", len(c))
	}
	if !h.logged("Skipping status command for A") {
		t.Error("skip not logged")
	}
	h.exec.AttemptEnded(header("1", "A"))
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
}

// A hanging status script (12 s here, 60 s or more in the field) holds
// neither the other components' reports nor the next cycles; it is not
// started again while it runs, and its result is sent on its own.
func TestSlowCheckDoesNotDelayOtherComponents(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B", "C"}})
	st.metadata("1")
	st.setState("A", "running sleep=12")
	st.setState("B", "running")
	st.setState("C", "stopped")
	h := startExecutor(t, st, func(c *Config) {
		c.Concurrency = 1                  // A, checked first, holds the only slot
		c.SlowCheckAfter = 4 * time.Second // B and C take far less, A far more
	})

	want(t, h.sender.next(t), "1/B/STATUS=STARTED", "1/C/STATUS=INSTALLED")
	h.waitCycles(3)
	if n := len(st.calls("A")); n != 1 {
		t.Fatalf("A started %d times while its first check was running", n)
	}
	if n := len(st.calls("B")); n < 3 {
		t.Fatalf("B checked %d times in 3 cycles", n)
	}
	h.sender.none(t) // A's result is not in yet

	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	st.setState("A", "stopped")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	if !h.logged("still running after") {
		t.Error("slow check not logged")
	}
}

// Status scripts of a cycle run side by side, never more than Concurrency.
func TestCycleConcurrencyIsBounded(t *testing.T) {
	st := newStack(t)
	names := []string{"A", "B", "C", "D", "E", "F"}
	st.topology("CREATE", cluster{id: "1", local: names})
	st.metadata("1")
	for _, n := range names {
		st.setState(n, "running sleep=0.4")
	}
	h := startExecutor(t, st, func(c *Config) { c.Concurrency = 3; c.Interval = time.Hour })
	if got := len(h.sender.next(t)); got != len(names) {
		t.Fatalf("first report has %d statuses", got)
	}
	if p := h.runner.peak.Load(); p != 3 {
		t.Fatalf("peak of %d status scripts at once, want 3", p)
	}
}

// A command resets the acknowledged status, so the check right after the
// command reports even an unchanged status; a further unchanged check does
// not.
func TestPostCommandCheckReportsAtOnce(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", "running")
	h := startExecutor(t, st, func(c *Config) { c.Interval = time.Hour })
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitCycles(1)

	h.commandRan("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()

	h.commandFinished("1", "A")
	h.waitAfter()
	h.sender.none(t)

	st.setState("A", "stopped")
	h.commandRan("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	h.waitAfter()
	if told := h.rec.told(); told[len(told)-1] != "1/A=INSTALLED" {
		t.Errorf("recovery manager told %v", told)
	}
}

// A cycle result computed before a command's post-command report was sent
// is discarded: the older "STARTED" must not overwrite the fresh
// "INSTALLED" on the server.
func TestStaleCycleResultIsDiscarded(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", "running")
	st.setState("B", "running")
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=STARTED")
	h.waitCycles(1)

	// The next cycle's check of A reads "running" and takes a while.
	st.setState("A", "running sleep=1.5")
	n := len(st.calls("A"))
	st.waitCalls("A", n+1)
	// Meanwhile a stop command ends and its check reports at once.
	st.setState("A", "stopped")
	st.setState("B", "stopped")
	h.drainCycles()
	h.commandFinished("1", "A")
	// A cycle already under way may report B's change first.
	got := h.sender.next(t)
	if slices.Equal(got, []string{"1/B/STATUS=INSTALLED"}) {
		got = h.sender.next(t)
	}
	want(t, got, "1/A/STATUS=INSTALLED")
	h.waitCycles(1) // the cycle holding the stale check
	for {
		select {
		case r := <-h.sender.reports:
			for _, l := range statusLines(t, r) {
				if strings.HasPrefix(l, "1/A/") {
					t.Fatalf("stale cycle result sent: %v", l)
				}
			}
			continue
		default:
		}
		break
	}
	if !h.waitLogged("Discarding outdated status") {
		t.Error("discard not logged")
	}
	h.waitCycles(2)
	for {
		select {
		case r := <-h.sender.reports:
			want(t, statusLines(t, r), "1/B/STATUS=INSTALLED")
			continue
		default:
		}
		break
	}
	h.sender.none(t)
	if told := h.rec.told(); slices.Index(told, "1/A=INSTALLED") < 0 || slices.Contains(told[slices.Index(told, "1/A=INSTALLED"):], "1/A=STARTED") {
		t.Errorf("recovery manager told the stale status: %v", told)
	}
}

// Statuses of a cluster that left the topology are forgotten: not checked,
// not resent after registration, and reported afresh if it comes back.
func TestVanishedClusterIsForgotten(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}}, cluster{id: "2", local: []string{"B"}})
	st.metadata("1", "2")
	st.setState("A", "running")
	st.setState("B", "running")
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "2/B/STATUS=STARTED")
	h.waitCycles(1)

	st.apply("topology", map[string]any{"eventType": "DELETE", "hash": "d", "clusters": map[string]any{"2": map[string]any{}}})
	h.drainCycles()
	h.waitCycles(2)
	calls := len(st.calls("B"))
	h.waitCycles(2)
	if n := len(st.calls("B")); n != calls {
		t.Errorf("B of the deleted cluster still checked (%d -> %d runs)", calls, n)
	}
	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")

	st.topology("UPDATE", cluster{id: "2", local: []string{"B"}})
	want(t, h.sender.next(t), "2/B/STATUS=STARTED")
}

// With the interval at 0 there are no cycles, but commands still get
// their immediate check and registrations their resend.
func TestIntervalZeroKeepsPostCommandChecks(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", "running")
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()
	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	if len(st.calls("A")) != 1 {
		t.Errorf("A checked %d times, want only after the command", len(st.calls("A")))
	}
}

// The logger's "component" field names the agent part that logs (the log
// layout prints it before the message); a line about a stack component
// names it in componentName instead of overwriting that field.
func TestLogLinesKeepTheLoggerComponent(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", "broken")
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	found := false
	for _, e := range h.logs.AllEntries() {
		if e.Data["component"] != "statusexec" {
			t.Errorf("log line %q has component %v", e.Message, e.Data["component"])
		}
		if strings.Contains(e.Message, "Status command for A failed") {
			found = true
			if e.Data["componentName"] != "A" {
				t.Errorf("failure line names component %v", e.Data["componentName"])
			}
		}
	}
	if !found {
		t.Error("the failing status script was not logged")
	}
}
