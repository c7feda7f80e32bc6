package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestSelfRestart: RESTART_AGENT from the server, and a heartbeat reply out
// of sequence, make the agent stop gracefully and come back as a fresh
// process image under the same pid (so the pid file stays valid), which
// registers again.
func TestSelfRestart(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-restart-self", nil)
	ctx, st := a.StartReady(s, 90*time.Second)
	pid := a.Pid()
	pidFile := a.Path("var/run/ambari-agent/ambari-agent.pid")

	restartedBy := func(cause func()) {
		t.Helper()
		cause()
		st2, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool { return h.Registrations > st.Registrations && h.Ready })
		if err != nil {
			t.Fatalf("no registration after the restart: %v", err)
		}
		st = st2
		if a.Pid() != pid {
			t.Fatalf("pid changed from %d to %d", pid, a.Pid())
		}
		select {
		case <-a.Exited():
			t.Fatal("the agent process exited instead of restarting in place")
		default:
		}
		b, err := os.ReadFile(pidFile)
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
			t.Fatalf("pid file %q (%v), want %d", b, err, pid)
		}
		// The restarted process is the one the pid file's identity names.
		if out, err := exec.Command(a.bin, "status", "--home", a.Home).CombinedOutput(); err != nil {
			t.Fatalf("status after the restart: %v\n%s", err, out)
		}
	}

	restartedBy(func() {
		if err := s.RestartAgent(a.Name); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(a.Log(), "RESTART_AGENT") {
		t.Error("the log does not say why the agent restarted")
	}
	restartedBy(func() { s.SetFaults(sim.Faults{Host: a.Name, HeartbeatIDZero: 1}) })
	if !strings.Contains(a.Log(), "Heartbeat id mismatch") {
		t.Error("the log does not mention the heartbeat id mismatch")
	}
}
