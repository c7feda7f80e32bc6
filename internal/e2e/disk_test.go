package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/diskhealth/disktest"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestWriteProtectedDataDirFailsStart: `ambari-agent start` over a data dir
// that takes no file fails, naming the directory, instead of starting an
// agent that registers and then fails every command. A read-only mount
// defeats root, as the tests run; where mounting is not allowed, the data
// dir's path is a regular file, which defeats root too.
func TestWriteProtectedDataDirFailsStart(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-disk-ro", nil)
	reason := "read-only file system"
	if err := disktest.TryMountTmpfs(t, a.DataDir(), "1m", "ro"); err != nil {
		t.Logf("%v; the data dir is a file instead", err)
		os.RemoveAll(a.DataDir())
		os.MkdirAll(filepath.Dir(a.DataDir()), 0o755)
		writeFile(t, a.DataDir(), []byte("not a directory\n"))
		reason = "not a directory"
	}
	t.Cleanup(func() { exec.Command(a.bin, "stop", "--home", a.Home).Run() })

	cmd := exec.Command(a.bin, "start", "--home", a.Home)
	cmd.Env = append(os.Environ(), "AMBARI_PASSPHRASE=e2e")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("start over a read-only data dir: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte(a.DataDir())) || !bytes.Contains(out, []byte(reason)) {
		t.Errorf("start does not name the directory and the reason:\n%s", out)
	}
	if _, err := os.Stat(a.Path("var/run/ambari-agent/ambari-agent.pid")); !os.IsNotExist(err) {
		t.Errorf("a pid file was left (%v)", err)
	}
	if st, _ := s.HostState(a.Name); st.Registrations > 0 {
		t.Error("the agent registered")
	}
}

// TestFullDiskNeverReportsStopped: with the data dir full, status checks
// of a running component give no status at all; the server never hears
// that the component stopped, and the agent says it is degraded.
func TestFullDiskNeverReportsStopped(t *testing.T) {
	sc := demoScenario(t)
	s := startSim(t, sc, nil)
	a := newAgent(t, s, "e2e-disk-full", nil)
	disktest.MountTmpfs(t, a.DataDir(), "8m")
	ctx, _ := a.StartReady(s, 120*time.Second)
	e := &cmdEnv{t: t, s: s, a: a, ctx: ctx}
	for _, rc := range []string{"INSTALL", "START"} {
		cmdFinal(t, e.done(e.send(sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: rc})), protocol.StatusCompleted)
	}
	if _, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool {
		return h.ComponentStatus["DEMO_SERVER"].Status == "STARTED"
	}); err != nil {
		t.Fatalf("DEMO_SERVER never reported STARTED: %v", err)
	}
	since := s.LastSeq()

	free := disktest.KeepFull(t, a.DataDir())
	if !a.waitLog(ctx, "the agent is degraded") {
		t.Fatal("the agent never said it is degraded")
	}
	// Several status cycles (every 2 s here) run on the full disk.
	for n := 0; strings.Count(a.Log(), "Status check gave no result") < 6; n++ {
		select {
		case <-ctx.Done():
			t.Fatal("status checks did not run on the full disk")
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, r := range s.Records(sim.Query{Host: a.Name, Destination: protocol.ReportsComponentStatus, Since: since}) {
		var rep protocol.ComponentStatusReport
		if err := r.Decode(&rep); err != nil {
			t.Fatal(err)
		}
		for _, list := range rep.Clusters {
			for _, c := range list {
				if c.ComponentName == "DEMO_SERVER" && c.Status != nil && *c.Status != "STARTED" {
					t.Errorf("DEMO_SERVER reported %s while it runs and the disk is full", *c.Status)
				}
			}
		}
	}
	free()
	if st, _ := s.HostState(a.Name); st.ComponentStatus["DEMO_SERVER"].Status != "STARTED" {
		t.Errorf("DEMO_SERVER is %s on the server", st.ComponentStatus["DEMO_SERVER"].Status)
	}
}
