package statusexec

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// The first cycle reports every local component; later cycles report only
// what differs from the statuses the server acknowledged.
func TestReportsOnlyChangesAgainstAcknowledgedStatus(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B", "C", "D"}, remote: []string{"E"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", stopped)
	st.setState("C", client)
	st.setState("D", broken)
	st.setState("E", running)
	h := startExecutor(t, st, nil)

	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "1/C/STATUS=INSTALLED", "1/D/STATUS=INSTALLED")
	h.waitCycles(1)
	h.ticks(2)
	h.sender.none(t)

	st.setState("B", running)
	h.tick()
	want(t, h.sender.next(t), "1/B/STATUS=STARTED")
	h.ticks(2)
	h.sender.none(t)

	if c := st.calls("E"); len(c) != 0 {
		t.Errorf("component of another host was checked: %v", c)
	}
	if c := st.calls("A"); len(c) != 6 || slices.ContainsFunc(c, func(s string) bool { return s != CommandStatus }) {
		t.Errorf("A ran with %v, want STATUS in each of the 6 cycles", c)
	}
	told := h.rec.told()
	slices.Sort(told)
	wantTold(t, told, "1/A=STARTED", "1/B=INSTALLED", "1/B=STARTED", "1/C=INSTALLED", "1/D=INSTALLED")
	if !h.logged("Status command for D failed") {
		t.Error("a status script failing with an unexpected error was not logged")
	}
	if h.logged("Status command for B failed") || h.logged("Status command for C failed") {
		t.Error("ComponentIsNotRunning / ClientComponentHasNoStatus were logged as failures")
	}
}

// Every status command of the cluster's status_commands_to_run is run and
// reported per component.
func TestRunsEveryStatusCommandToRun(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.clusterData([]string{CommandStatus, "SECURITY_STATUS"}, "1")
	st.setState("A", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/SECURITY_STATUS=STARTED", "1/A/STATUS=STARTED")
	if got := st.calls("A"); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"SECURITY_STATUS", CommandStatus}) {
		t.Errorf("A ran %v", got)
	}
}

// A report the server did not acknowledge, or that could not be sent, is
// sent again by the next cycle.
func TestUnacknowledgedStatusIsResent(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", running)
	// The first cycle waits for half an interval: time to turn the
	// acknowledgements off.
	h := startExecutor(t, st, func(c *Config) { c.Jitter = jitter.Fixed(0.5) })
	h.sender.set(true, false)
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")

	h.sender.set(true, true)
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.ticks(2)
	h.sender.none(t)

	// Disconnected: nothing goes out, the recovery manager still learns.
	h.sender.set(false, true)
	st.setState("A", stopped)
	h.ticks(2)
	h.sender.none(t)
	if !slices.Contains(h.rec.told(), "1/A=INSTALLED") {
		t.Error("recovery manager not told while disconnected")
	}
	h.sender.set(true, true)
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
}

// A check that gives no verdict (the agent cannot write the check's files,
// a full disk) reports nothing, never "stopped", and is tried again; once
// checks work again, statuses flow.
func TestNoVerdictReportsNothing(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", client)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED")
	h.waitCycles(1)

	st.setState("A", noDisk)
	st.setState("B", noDisk)
	h.ticks(3)
	h.sender.none(t)
	if !h.logged("Status check gave no result") {
		t.Error("the failed checks are not logged")
	}
	if got := len(st.calls("A")); got != 4 {
		t.Errorf("A checked %d times in 4 cycles", got)
	}
	if told := h.rec.told(); len(told) != 2 {
		t.Errorf("recovery manager told %v", told)
	}

	st.setState("A", stopped)
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
}

// After each registration every acknowledged status is sent again at once,
// without waiting for a cycle; a status reset by a command is left out.
func TestForceSendAfterRegistration(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}}, cluster{id: "2", local: []string{"C"}})
	st.metadata("1", "2")
	st.setState("A", running)
	st.setState("B", stopped)
	st.setState("C", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "2/C/STATUS=STARTED")
	h.waitCycles(1)

	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED", "2/C/STATUS=STARTED")

	h.commandStarts("1", "A")
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
	st.setState("A", running)
	hold := make(chan struct{})
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })
	h.sender.mu.Lock()
	h.sender.hold = hold
	h.sender.mu.Unlock()

	h.commandRan("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED") // the reply is held
	h.commandStarts("1", "A")
	close(hold)
	h.waitAfter()

	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
}

// Components with an execution command in flight are not checked.
func TestSkipsComponentWithCommandRunning(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	h := startExecutorWith(t, st, nil, func(e *Executor) { e.AttemptStarted(header("1", "A")) })

	want(t, h.sender.next(t), "1/B/STATUS=STARTED")
	h.waitCycles(1)
	h.ticks(2)
	h.sender.none(t)
	if c := st.calls("A"); len(c) != 0 {
		t.Fatalf("A was checked %d times while its command ran", len(c))
	}
	if !h.logged("Skipping status command for A") {
		t.Error("skip not logged")
	}
	h.exec.AttemptEnded(header("1", "A"))
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
}

// A hanging status script holds neither the other components' reports nor
// the next cycles; it is not started again while it runs, and its result is
// sent on its own.
func TestSlowCheckDoesNotDelayOtherComponents(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B", "C"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	st.setState("C", stopped)
	releaseA := st.runner.hold("A")
	// A, checked first, holds the only slot.
	h := startExecutor(t, st, func(c *Config) { c.Concurrency = 1 })

	st.runner.waitCalls("A", 1)
	h.clock.WaitTimers(t, 0, 1) // A's slow-check timer
	if n := len(st.calls("B")); n != 0 {
		t.Fatalf("B checked while A held the only slot")
	}
	h.clock.Add(slowAfter)
	want(t, h.sender.next(t), "1/B/STATUS=STARTED", "1/C/STATUS=INSTALLED")
	h.waitCycles(1)
	h.ticks(3)
	if n := len(st.calls("A")); n != 1 {
		t.Fatalf("A started %d times while its first check was running", n)
	}
	if n := len(st.calls("B")); n != 4 {
		t.Fatalf("B checked %d times in 4 cycles", n)
	}
	h.sender.none(t) // A's result is not in yet
	if !h.logged("still running after") {
		t.Error("slow check not logged")
	}

	releaseA()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	// The check counts as running until its result is recorded; only then
	// does a cycle check A again.
	testutil.WaitFor(t, "A's slow check to end", func() bool {
		h.exec.mu.Lock()
		defer h.exec.mu.Unlock()
		return len(h.exec.running) == 0
	})
	st.setState("A", stopped)
	h.tick()
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
}

// A cycle ends when its checks have all answered: the next one starts an
// interval after that, never earlier, and the first one waits for the
// jitter phase.
func TestCycleWaitsIntervalAfterTheLastEnded(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", running)
	release := st.runner.hold("A")
	h := startExecutor(t, st, func(c *Config) { c.Jitter = jitter.Fixed(0.5) })

	h.clock.WaitTimers(t, 1, 0)
	h.clock.Add(interval/2 - time.Second)
	if len(st.calls("A")) != 0 {
		t.Fatal("first cycle ran before its jitter phase")
	}
	h.clock.Add(time.Second)
	st.runner.waitCalls("A", 1)
	// The check takes 15 s of the clock: less than SlowCheckAfter.
	h.clock.WaitTimers(t, 0, 1)
	h.clock.Add(15 * time.Second)
	if a, _ := h.clock.Pending(); a != 0 {
		t.Fatal("the next cycle was scheduled while a check of the cycle still ran")
	}
	release()
	h.waitCycles(1)
	h.clock.WaitTimers(t, 1, 0)
	h.clock.Add(interval - time.Second)
	if n := len(st.calls("A")); n != 1 {
		t.Fatalf("next cycle ran %s early", time.Second)
	}
	h.clock.Add(time.Second)
	h.waitCycles(1)
	if n := len(st.calls("A")); n != 2 {
		t.Fatalf("A checked %d times", n)
	}
}

// Status scripts of a cycle run side by side, never more than Concurrency.
func TestCycleConcurrencyIsBounded(t *testing.T) {
	st := newStack(t)
	names := []string{"A", "B", "C", "D", "E", "F"}
	st.topology("CREATE", cluster{id: "1", local: names})
	st.metadata("1")
	var release []func()
	for _, n := range names {
		st.setState(n, running)
		release = append(release, st.runner.hold(n))
	}
	h := startExecutor(t, st, func(c *Config) { c.Concurrency = 3 })
	for _, n := range names[:3] {
		st.runner.waitCalls(n, 1)
	}
	if p := st.runner.peakChecks(); p != 3 {
		t.Fatalf("%d checks at once, want 3", p)
	}
	for _, r := range release {
		r()
	}
	if got := len(h.sender.next(t)); got != len(names) {
		t.Fatalf("first report has %d statuses", got)
	}
	if p := st.runner.peakChecks(); p != 3 {
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
	st.setState("A", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitCycles(1)

	h.commandRan("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()

	h.commandFinished("1", "A")
	h.waitAfter()
	h.sender.none(t)

	st.setState("A", stopped)
	h.commandRan("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	h.waitAfter()
	if told := h.rec.told(); told[len(told)-1] != "1/A=INSTALLED" {
		t.Errorf("recovery manager told %v", told)
	}
	if len(h.cycles) != 0 {
		t.Error("a cycle ran; the post-command check must not wait for one")
	}
}

// A cycle result computed before a command's post-command report was sent
// is discarded: the older "STARTED" must not overwrite the fresh
// "INSTALLED" on the server, nor reach the recovery manager.
func TestStaleCycleResultIsDiscarded(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=STARTED")
	h.waitCycles(1)

	// The next cycle's check of A reads "running" and takes a while.
	release := st.runner.hold("A")
	h.clock.WaitTimers(t, 1, 0)
	h.clock.Add(interval)
	st.runner.waitCalls("A", 2)
	st.runner.waitCalls("B", 2)
	// Meanwhile a stop command ends and its check reports at once.
	st.setState("A", stopped)
	st.setState("B", stopped)
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	h.waitAfter()
	release()
	h.waitCycles(1) // the cycle holding the stale check
	h.sender.none(t)
	if !h.logged("Discarding outdated status") {
		t.Error("discard not logged")
	}
	h.tick()
	want(t, h.sender.next(t), "1/B/STATUS=INSTALLED")
	h.ticks(2)
	h.sender.none(t)
	told := h.rec.told()
	slices.Sort(told[:min(2, len(told))])
	wantTold(t, told, "1/A=STARTED", "1/B=STARTED", "1/A=INSTALLED", "1/B=INSTALLED")
}

// A cycle check running when a command for its component starts gives a
// stale result: it describes the component before the command.
func TestCycleResultBeforeCommandStartIsDiscarded(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", stopped)
	release := st.runner.hold("A")
	h := startExecutor(t, st, nil)
	st.runner.waitCalls("A", 1)
	h.commandStarts("1", "A")
	release()
	h.waitCycles(1)
	h.sender.none(t)
	if told := h.rec.told(); len(told) != 0 {
		t.Errorf("recovery manager told the stale status: %v", told)
	}
}

// The status after a command reaches the server even when the next command
// for the component starts while it is being checked, as with the Python
// agent, which checks before it starts the next command: after INSTALL the
// server hears INSTALLED, after START, STARTED. The next command's reset
// stands, so its own status is reported even if it did not change.
func TestPostCommandStatusSurvivesNextCommandStart(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", stopped)
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })

	// INSTALL ends; its check is slow, and START begins meanwhile.
	h.commandStarts("1", "A")
	release := st.runner.hold("A")
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	st.runner.waitCalls("A", 1)
	h.commandStarts("1", "A")
	release()
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	h.waitAfter()

	// A command that leaves the status as it was (a CONFIGURE-like custom
	// command) still gets its status reported: its reset stands.
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
	h.waitAfter()

	// START.
	h.commandStarts("1", "A")
	st.setState("A", running)
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()
	wantTold(t, h.rec.told(), "1/A=INSTALLED", "1/A=INSTALLED", "1/A=STARTED")
}

// Whether a post-command check is owed is decided when the command ends:
// the next command starting before the check has even begun does not
// cancel it.
func TestPostCommandCheckRunsWhenNextCommandStartsFirst(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", stopped)
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })
	for range 20 {
		h.commandRan("1", "A")
		h.commandFinished("1", "A")
		h.commandStarts("1", "A")
		want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
		h.waitAfter()
		h.commandEnds("1", "A")
	}
}

// When the next command has also ended by the time a post-command check
// answers, that answer is older than the newer command's final report: it
// is dropped, and the check runs again for the newer command, whose status
// is the one reported.
func TestPostCommandStatusDroppedWhenNextCommandEnded(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", stopped)
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })

	h.commandStarts("1", "A")
	release := st.runner.hold("A")
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	st.runner.waitCalls("A", 1)
	h.commandStarts("1", "A")
	st.setState("A", running)
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	release()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()
	h.sender.none(t)
	if n := len(st.calls("A")); n != 2 {
		t.Errorf("A checked %d times, want once per command", n)
	}
	wantTold(t, h.rec.told(), "1/A=STARTED")
	if !h.logged("the next command for the component has ended") {
		t.Error("the dropped result is not logged")
	}
}

// With parallel execution, a command that ends while another one for the
// same component still runs triggers no check; the last one to end does.
func TestNoPostCommandCheckWhileAnotherCommandRuns(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", running)
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })
	h.commandStarts("1", "A")
	h.commandStarts("1", "A")
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	h.commandEnds("1", "A")
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()
	if n := len(st.calls("A")); n != 1 {
		t.Errorf("A checked %d times, want once", n)
	}
}

// Statuses of a cluster that left the topology are forgotten: not checked,
// not resent after registration, and reported afresh if it comes back.
func TestVanishedClusterIsForgotten(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}}, cluster{id: "2", local: []string{"B"}})
	st.metadata("1", "2")
	st.setState("A", running)
	st.setState("B", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "2/B/STATUS=STARTED")
	h.waitCycles(1)

	st.apply("topology", map[string]any{"eventType": "DELETE", "hash": "d", "clusters": map[string]any{"2": map[string]any{}}})
	h.ticks(2)
	if n := len(st.calls("B")); n != 1 {
		t.Errorf("B of the deleted cluster still checked (%d runs)", n)
	}
	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")

	st.topology("UPDATE", cluster{id: "2", local: []string{"B"}})
	h.tick()
	want(t, h.sender.next(t), "2/B/STATUS=STARTED")
}

// A component moved to another host is forgotten too: no longer checked,
// and left out of the resend after registration.
func TestComponentMovedOffHostIsForgotten(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=STARTED")
	h.waitCycles(1)

	st.topology("CREATE", cluster{id: "1", local: []string{"A"}, remote: []string{"B"}})
	h.tick()
	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	if n := len(st.calls("B")); n != 1 {
		t.Errorf("B checked %d times after it moved", n)
	}
}

// With the interval at 0 there are no cycles, but commands still get
// their immediate check and registrations their resend.
func TestIntervalZeroKeepsPostCommandChecks(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", running)
	h := startExecutor(t, st, func(c *Config) { c.Interval = 0 })
	h.commandFinished("1", "A")
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	h.waitAfter()
	h.exec.Registered()
	want(t, h.sender.next(t), "1/A/STATUS=STARTED")
	if len(st.calls("A")) != 1 {
		t.Errorf("A checked %d times, want only after the command", len(st.calls("A")))
	}
	if a, _ := h.clock.Pending(); a != 0 {
		t.Error("a cycle is scheduled with the interval at 0")
	}
}

// The logger's "component" field names the agent part that logs (the log
// layout prints it before the message); a line about a stack component
// names it in componentName instead of overwriting that field.
func TestLogLinesKeepTheLoggerComponent(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A"}})
	st.metadata("1")
	st.setState("A", broken)
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

// Stopping the loop ends the checks still running (the orchestrator kills
// their scripts) and Run returns; nothing is reported for them.
func TestStopEndsRunningChecks(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	st.runner.hold("A")
	st.runner.hold("B")
	e, err := New(Config{HostName: testHost, Caches: st.store, Runner: st.runner, Sender: newSender(), Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	e.clock = testutil.NewClock(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	st.runner.waitCalls("A", 1)
	st.runner.waitCalls("B", 1)
	cancel()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Run did not return while checks were running")
	}
	if n := st.runner.runningChecks(); n != 0 {
		t.Errorf("%d checks still running after Run returned", n)
	}
}
