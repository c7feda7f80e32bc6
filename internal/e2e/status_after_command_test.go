package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestStatusReportedAfterEachCommand: INSTALL and START sent together run
// back to back, the START beginning while the status after the INSTALL is
// still being checked; the server hears the status after each command
// anyway, INSTALLED and then STARTED, as from the Python agent
// (docs/behaviour.md §7.3).
func TestStatusReportedAfterEachCommand(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-status-after-command", nil)
	a.Start()
	ctx := ctxFor(t, 90*time.Second)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	// The first cycle finds the server not installed.
	statusWait(ctx, t, s, a.Name, 0, "DEMO_SERVER", protocol.ComponentInstalled)
	since := s.LastSeq()

	sent, err := s.SendCommand(a.Name,
		sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "INSTALL"},
		sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "START"})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range sent.TaskIDs {
		if ts, err := s.WaitTaskDone(ctx, task); err != nil || ts.Status != protocol.StatusCompleted {
			t.Fatalf("task %d: %s %v (stderr %v)", task, ts.Status, err, statusStderr(ts))
		}
	}
	statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentStarted)

	// A cycle may find the same status between the commands; what counts is
	// the sequence of changes.
	var seen []string
	for _, r := range statusReports(t, s, a.Name, since) {
		if st, ok := r["DEMO_SERVER"]; ok && (len(seen) == 0 || seen[len(seen)-1] != st) {
			seen = append(seen, st)
		}
	}
	if want := []string{protocol.ComponentInstalled, protocol.ComponentStarted}; !slices.Equal(seen, want) {
		t.Errorf("DEMO_SERVER reported %v after INSTALL and START, want %v", seen, want)
	}
}
