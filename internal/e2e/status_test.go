package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// End-to-end tests of what an operator sees of component status, recovery,
// versions and host status (docs/behaviour.md §7, §8, §10.2; docs/protocol.md §6.2–6.4).

const (
	// statusCycleInterval is the harness's status_commands_run_interval.
	statusCycleInterval = 2 * time.Second
	// statusScriptSlack is what the status scripts of one cycle, the race
	// detector and a busy machine may add to a cycle.
	statusScriptSlack = 5 * time.Second
	// statusHeartbeatPeriod is the agent's heartbeat interval (not configurable).
	statusHeartbeatPeriod = 10 * time.Second
)

// TestStatusDeathAndAutoStart: a started DEMO_SERVER is reported STARTED;
// when its daemon dies, the next status cycle reports it INSTALLED; with
// AUTO_START recovery on, the agent starts it again by itself (an
// AUTO_EXECUTION_COMMAND the server learns of through its reports) and it
// is reported STARTED; once recovery_max_count attempts are used up in the
// window, a dead component is left dead.
//
// The limits are in whole minutes and compared with a strict '>': the
// smallest legal retry gap (1) means more than 60 s between attempts, and
// the window must exceed it (2). Showing that the count, not the gap, stops
// recovery after N attempts takes a wait past the gap after the N-th one,
// about N·61 s; only N = 1 keeps the test near 90 s. So the limit is one
// attempt per window, and after the second death the test waits until the
// retry gap has passed, when only the per-window count can hold recovery
// back.
func TestStatusDeathAndAutoStart(t *testing.T) {
	sc := demoScenario(t)
	env := sc.Clusters[0].Configurations["cluster-env"]
	env["recovery_type"] = "AUTO_START"
	env["recovery_max_count"] = "1"
	env["recovery_window_in_minutes"] = "2"
	env["recovery_retry_interval"] = "1"
	env["recovery_lifetime_max_count"] = "12"
	s := startSim(t, sc, nil)
	a := newAgent(t, s, "e2e-status-recovery", nil)
	ctx, _ := a.StartReady(s, 170*time.Second)
	statusStartDemo(ctx, t, s, a)

	// The operator turns recovery on; cluster-env reaches the agent.
	if _, err := s.UpdateConfigs(sim.ConfigChange{Type: "cluster-env", Properties: sim.StringMap{"recovery_enabled": "true"}}); err != nil {
		t.Fatal(err)
	}
	if !a.waitLog(ctx, "recovery configuration read clusterId=2 enabled=true") {
		t.Fatal("the agent never read the recovery configuration")
	}

	// First death: reported within one cycle, then started by the agent.
	since := s.LastSeq()
	died := statusKillDemo(t, a)
	rec := statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)
	lat := rec.Time.Sub(died)
	t.Logf("death to INSTALLED report: %s (interval %s)", lat.Round(time.Millisecond), statusCycleInterval)
	if lat > statusCycleInterval+statusScriptSlack {
		t.Errorf("INSTALLED reported %s after the death, more than one interval (%s) plus %s", lat, statusCycleInterval, statusScriptSlack)
	}
	var auto sim.TaskState
	if err := s.WaitFor(ctx, func() bool {
		starts := statusAutoStarts(s, a.Name, "DEMO_SERVER")
		if len(starts) > 0 && starts[0].Status == protocol.StatusCompleted {
			auto = starts[0]
			return true
		}
		return false
	}); err != nil {
		t.Fatalf("the agent did not start DEMO_SERVER by itself: %v (tasks %+v)", err, s.Tasks(a.Name))
	}
	t.Logf("auto start task %d completed %s after the death", auto.TaskID, auto.EndedAt.Sub(died).Round(time.Millisecond))
	statusCheckAutoReports(t, s, a.Name, auto.TaskID)
	statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentStarted)
	if pid := statusDemoPid(t, a); !alive(pid) {
		t.Fatalf("reported STARTED but daemon %d is not running", pid)
	}

	// Second death: reported, and left alone. Wait until the retry gap
	// has certainly passed since the attempt (its second is counted whole:
	// 61 s, plus one), then three more of the queue's 2 s recovery polls.
	since = s.LastSeq()
	statusKillDemo(t, a)
	statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)
	quiet, cancel := context.WithDeadline(ctx, auto.Created.Add(62*time.Second+3*2*time.Second))
	defer cancel()
	err := s.WaitFor(quiet, func() bool { return len(statusAutoStarts(s, a.Name, "DEMO_SERVER")) > 1 })
	if ctx.Err() != nil {
		t.Fatal("test deadline reached")
	}
	if err == nil {
		t.Fatalf("a second auto start although recovery_max_count is 1: %+v", statusAutoStarts(s, a.Name, "DEMO_SERVER"))
	}
	if n := len(statusAutoStarts(s, a.Name, "DEMO_SERVER")); n != 1 {
		t.Fatalf("%d auto starts, want exactly recovery_max_count = 1", n)
	}
	st, _ := s.HostState(a.Name)
	if got := st.ComponentStatus["DEMO_SERVER"].Status; got != protocol.ComponentInstalled {
		t.Errorf("DEMO_SERVER is %q at the server, want INSTALLED", got)
	}
	if pid := statusDemoPid(t, a); alive(pid) {
		t.Errorf("the daemon runs again (pid %d)", pid)
	}
}

// TestStatusSkippedWhileCommandRuns: while a command runs for SLEEPER, the
// agent runs no status check for it and the server gets no status for it,
// while other components' status changes still arrive; once the command
// ends, SLEEPER's status is reported again (a command resets it).
func TestStatusSkippedWhileCommandRuns(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	pids := filepath.Join(t.TempDir(), "sleeper.pids")
	t.Cleanup(func() { statusKillPidsIn(pids) }) // runs after the agent is gone
	a := newAgent(t, s, "e2e-status-busy", nil)
	ctx, _ := a.StartReady(s, 90*time.Second)
	statusStartDemo(ctx, t, s, a)
	if _, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool {
		return h.ComponentStatus["SLEEPER"].Status == protocol.ComponentInstalled
	}); err != nil {
		t.Fatalf("SLEEPER's status never arrived: %v", err)
	}

	sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "SLEEPER", RoleCommand: "START",
		CommandParams: sim.StringMap{"pids_file": pids}})
	if err != nil {
		t.Fatal(err)
	}
	task := sent.TaskIDs[0]
	if _, err := s.WaitTask(ctx, task, func(ts sim.TaskState) bool { return ts.Status == protocol.StatusInProgress }); err != nil {
		t.Fatal(err)
	}
	if err := statusPoll(ctx, func() bool { _, err := os.Stat(pids); return err == nil }); err != nil {
		t.Fatalf("SLEEPER's process tree never came up: %v", err)
	}
	since := s.LastSeq()
	skipped := strings.Count(a.Log(), statusSkipLine("SLEEPER"))

	// Other components' statusesIn still flow.
	died := statusKillDemo(t, a)
	rec := statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)
	t.Logf("DEMO_SERVER's death reported %s later while SLEEPER's command runs", rec.Time.Sub(died).Round(time.Millisecond))
	// At least two more cycles pass the busy component by.
	if err := statusPoll(ctx, func() bool { return strings.Count(a.Log(), statusSkipLine("SLEEPER")) >= skipped+2 }); err != nil {
		t.Fatalf("the log does not say that SLEEPER's check was skipped twice: %v", err)
	}
	for _, r := range s.Records(sim.Query{Host: a.Name, Destination: protocol.ReportsComponentStatus, Since: since}) {
		if st, ok := statusesIn(t, r)["SLEEPER"]; ok {
			t.Errorf("status %q of SLEEPER sent while its command runs", st)
		}
	}
	if ts, _ := s.Task(task); ts.Status != protocol.StatusInProgress {
		t.Fatalf("SLEEPER's command ended early: %s", ts.Status)
	}

	// The command ends: SLEEPER's status is reported again, although it
	// did not change.
	since = s.LastSeq()
	if err := s.Cancel(task, "test over"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitTaskDone(ctx, task); err != nil {
		t.Fatal(err)
	}
	statusWait(ctx, t, s, a.Name, since, "SLEEPER", protocol.ComponentInstalled)
	// Recovery is off in the demo scenario: the dead server stays dead.
	if n := len(statusAutoStarts(s, a.Name, "DEMO_SERVER")); n != 0 {
		t.Errorf("%d auto starts with recovery off", n)
	}
}

// TestStatusResentAfterReRegistration: after the server restarts, the
// re-registered agent sends every acknowledged component status again, and
// its versions and host status.
func TestStatusResentAfterReRegistration(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-status-resend", nil)
	ctx, _ := a.StartReady(s, 90*time.Second)
	statusStartDemo(ctx, t, s, a)
	components := []string{"DEMO_SERVER", "DEMO_CLIENT", "SLEEPER", "FLAKY", "CHATTY"}
	before, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool {
		for _, c := range components {
			if h.ComponentStatus[c].Status == "" {
				return false
			}
		}
		return h.HostStatus != nil && len(h.Versions) > 0
	})
	if err != nil {
		t.Fatalf("not every component's status arrived: %v", err)
	}
	want := map[string]string{}
	for _, c := range components {
		want[c] = before.ComponentStatus[c].Status
	}
	if want["DEMO_SERVER"] != protocol.ComponentStarted || want["DEMO_CLIENT"] != protocol.ComponentInstalled {
		t.Fatalf("statuses before the restart: %v", want)
	}

	since := s.LastSeq()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	reg, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.Register, Since: since}, nil)
	if err != nil {
		t.Fatalf("no re-registration: %v", err)
	}
	// Every acknowledged status is sent again though nothing changed: the
	// forced resend. A check that turns slow on a loaded host is sent on
	// its own when it ends, so they may come in more than one report.
	var reports []map[string]string
	err = s.WaitFor(ctx, func() bool {
		reports = statusReports(t, s, a.Name, reg.Seq)
		resent := map[string]string{}
		for _, r := range reports {
			maps.Copy(resent, r)
		}
		for c, st := range want {
			if resent[c] != st {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("not every acknowledged status was re-sent after re-registration (want %v; got %v): %v", want, reports, err)
	}
	t.Logf("all %d statuses re-sent in %d report(s) within %s of the registration", len(want), len(reports), time.Since(reg.Time).Round(time.Millisecond))
	for _, dest := range []string{protocol.ReportsComponentVersion, protocol.ReportsHostStatus} {
		if _, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: dest, Since: reg.Seq}, nil); err != nil {
			t.Errorf("no %s after re-registration: %v", dest, err)
		}
	}
}

// TestStatusHangingCheckDoesNotHoldOthers: a component whose status script
// hangs for a minute holds up neither the other components' reports nor the
// heartbeat, and nothing is reported for it meanwhile.
func TestStatusHangingCheckDoesNotHoldOthers(t *testing.T) {
	sc := demoScenario(t)
	hangPids := t.TempDir()
	t.Cleanup(func() { statusKillPidFiles(hangPids) }) // runs after the agent is gone
	statusAddComponent(sc, sim.ComponentSpec{Name: "HANGER", Category: "SLAVE", Script: "scripts/status_hang.py", Timeout: 600,
		CommandParams: sim.StringMap{"pids_dir": hangPids, "hang_seconds": "60"}})
	s := startSim(t, sc, nil)
	a := newAgent(t, s, "e2e-status-hang", nil)
	ctx, _ := a.StartReady(s, 90*time.Second)
	hangLine := regexp.MustCompile(`Status command still running after .* componentName=HANGER`)
	if err := statusPoll(ctx, func() bool { return hangLine.MatchString(a.Log()) }); err != nil {
		t.Fatalf("HANGER's check never turned slow: %v", err)
	}
	if entries, _ := os.ReadDir(hangPids); len(entries) != 1 {
		t.Fatalf("%d hanging status scripts, want 1", len(entries))
	}
	hungAt := time.Now()
	hb := s.LastSeq()

	statusStartDemo(ctx, t, s, a)
	for round := 1; round <= 2; round++ {
		since := s.LastSeq()
		died := statusKillDemo(t, a)
		rec := statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)
		lat := rec.Time.Sub(died)
		t.Logf("round %d: death to INSTALLED report %s with HANGER hanging", round, lat.Round(time.Millisecond))
		if lat > 2*statusCycleInterval+statusScriptSlack {
			t.Errorf("round %d: INSTALLED reported %s after the death, more than two cycles", round, lat)
		}
		if round == 1 {
			statusRunTask(ctx, t, s, a.Name, sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "START"})
			statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentStarted)
		}
	}

	// Heartbeats go on every 10 s: wait for three after the hang began.
	if err := s.WaitFor(ctx, func() bool { return len(statusHeartbeats(s, a.Name, hb)) >= 3 }); err != nil {
		t.Fatalf("heartbeats stopped: %v", err)
	}
	times := statusHeartbeats(s, a.Name, hb)
	prev := hungAt
	var worst time.Duration
	for _, at := range times {
		worst = max(worst, at.Sub(prev))
		prev = at
	}
	t.Logf("%d heartbeats in %s of hanging; longest gap %s", len(times), time.Since(hungAt).Round(time.Second), worst.Round(time.Millisecond))
	if worst > statusHeartbeatPeriod+3*time.Second {
		t.Errorf("a heartbeat gap of %s while a status script hangs", worst)
	}
	// The script hangs for 60 s from a little before hungAt; on a machine
	// slow enough to get there, its end proves nothing either way.
	if time.Since(hungAt) > 55*time.Second {
		t.Logf("the hanging check may have ended (%s): not checking for its result", time.Since(hungAt).Round(time.Second))
		return
	}
	entries, _ := os.ReadDir(hangPids)
	if len(entries) != 1 {
		t.Errorf("%d hanging status scripts, want still the one", len(entries))
	}
	st, _ := s.HostState(a.Name)
	if c, ok := st.ComponentStatus["HANGER"]; ok {
		t.Errorf("HANGER reported %q while its check hangs", c.Status)
	}

	// Stopping the agent ends the check it was waiting for, as it would
	// end with the Python agent's process: nothing the agent started for
	// itself outlives it and writes into its directories.
	var hung []int
	entries, _ = os.ReadDir(hangPids)
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			hung = append(hung, pid)
		}
	}
	a.Stop()
	for _, pid := range hung {
		if !waitFor(ctxFor(t, 5*time.Second), func() bool { return !alive(pid) }) {
			t.Errorf("hanging status script %d still runs after the agent stopped", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(a.DataDir(), "status_*")); len(left) > 0 {
		t.Errorf("status files left behind: %v", left)
	}
}

// TestStatusVersionAndHostStatusReports: the version report and the host
// status report carry the fields of the protocol, with the types the
// server reads.
func TestStatusVersionAndHostStatusReports(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-status-fields", nil)
	ctx, _ := a.StartReady(s, 60*time.Second)

	rec, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsComponentVersion}, nil)
	if err != nil {
		t.Fatalf("no version report: %v", err)
	}
	var vr struct {
		Clusters map[string][]map[string]any `json:"clusters"`
	}
	if err := rec.Decode(&vr); err != nil || len(vr.Clusters) != 1 {
		t.Fatalf("version report %s: %v", rec.Body, err)
	}
	versions := map[string]string{}
	for cid, list := range vr.Clusters {
		for _, v := range list {
			if keys := statusKeys(v); !slices.Equal(keys, []string{"clusterId", "componentName", "serviceName", "version"}) {
				t.Errorf("version entry has keys %v", keys)
			}
			for k, x := range v {
				if _, ok := x.(string); !ok {
					t.Errorf("version entry %s is %T, want a string", k, x)
				}
			}
			if v["clusterId"] != cid || cid != "2" {
				t.Errorf("version entry of cluster %q says clusterId %v", cid, v["clusterId"])
			}
			if v["serviceName"] != "DEMO" {
				t.Errorf("%v of service %v", v["componentName"], v["serviceName"])
			}
			versions[fmt.Sprint(v["componentName"])] = fmt.Sprint(v["version"])
		}
	}
	// Only scripts whose GET_VERSION succeeds with a version are reported:
	// the TESTKIT scripts fail or write none.
	if want := map[string]string{"DEMO_SERVER": "1.0.0", "DEMO_CLIENT": "1.0.0"}; !maps.Equal(versions, want) {
		t.Errorf("versions %v, want %v", versions, want)
	}

	rec, err = s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsHostStatus}, nil)
	if err != nil {
		t.Fatalf("no host status: %v", err)
	}
	var hs struct {
		AgentEnv map[string]any   `json:"agentEnv"`
		Mounts   []map[string]any `json:"mounts"`
	}
	if err := rec.Decode(&hs); err != nil {
		t.Fatal(err)
	}
	t.Logf("host status: %s", rec.Body)
	env := hs.AgentEnv
	wantEnv := []string{"alternatives", "existingUsers", "firewallName", "firewallRunning", "hasUnlimitedJcePolicy",
		"hostHealth", "reverseLookup", "stackFoldersAndFiles", "transparentHugePage", "umask"}
	if keys := statusKeys(env); !slices.Equal(keys, wantEnv) {
		t.Errorf("agentEnv keys %v, want %v", keys, wantEnv)
	}
	health, _ := env["hostHealth"].(map[string]any)
	if ts, ok := health["agentTimeStampAtReporting"].(float64); !ok || time.Since(time.UnixMilli(int64(ts))).Abs() > time.Minute {
		t.Errorf("hostHealth.agentTimeStampAtReporting = %v", health["agentTimeStampAtReporting"])
	}
	live, ok := health["liveServices"].([]any)
	if !ok || len(live) != 1 {
		t.Errorf("hostHealth.liveServices = %v, want the NTP entry", health["liveServices"])
	} else if svc, _ := live[0].(map[string]any); !slices.Equal(statusKeys(svc), []string{"desc", "name", "status"}) ||
		(svc["status"] != "Healthy" && svc["status"] != "Unhealthy") {
		t.Errorf("liveServices entry %v", live[0])
	}
	// The umask in decimal: the agent's own (inherited from this test).
	if u, ok := env["umask"].(string); !ok || u != strconv.Itoa(statusUmask(t, a.Pid())) {
		t.Errorf("umask %v, the agent's is %d", env["umask"], statusUmask(t, a.Pid()))
	}
	for _, k := range []string{"transparentHugePage", "firewallName"} {
		if _, ok := env[k].(string); !ok {
			t.Errorf("%s = %v, want a string", k, env[k])
		}
	}
	for _, k := range []string{"firewallRunning", "reverseLookup"} {
		if _, ok := env[k].(bool); !ok {
			t.Errorf("%s = %v, want a boolean", k, env[k])
		}
	}
	if env["hasUnlimitedJcePolicy"] != nil {
		t.Errorf("hasUnlimitedJcePolicy = %v without java.home, want null", env["hasUnlimitedJcePolicy"])
	}
	// The periodic report is the cheap variant: these are empty lists.
	for _, k := range []string{"alternatives", "existingUsers", "stackFoldersAndFiles"} {
		if l, ok := env[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %v, want []", k, env[k])
		}
	}

	if len(hs.Mounts) == 0 {
		t.Fatal("no mounts")
	}
	root := false
	numeric := regexp.MustCompile(`^\d+$`)
	for _, m := range hs.Mounts {
		if keys := statusKeys(m); !slices.Equal(keys, []string{"available", "device", "mountpoint", "percent", "size", "type", "used"}) {
			t.Errorf("mount has keys %v", keys)
		}
		for k, v := range m {
			if _, ok := v.(string); !ok {
				t.Errorf("mount %s = %v (%T), want a string", k, v, v)
			}
		}
		for _, k := range []string{"size", "used", "available"} {
			if !numeric.MatchString(fmt.Sprint(m[k])) {
				t.Errorf("mount %s = %v, want kB digits", k, m[k])
			}
		}
		if p := fmt.Sprint(m["percent"]); !strings.HasSuffix(p, "%") {
			t.Errorf("mount percent %q", p)
		}
		mp := fmt.Sprint(m["mountpoint"])
		root = root || mp == "/"
		if first := strings.SplitN(strings.TrimPrefix(mp, "/"), "/", 2)[0]; slices.Contains([]string{"proc", "dev", "sys", "boot", "home"}, first) {
			t.Errorf("mount %s should have been left out", mp)
		}
		if slices.Contains([]string{"proc", "tmpfs", "cgroup", "mqueue", "shm"}, fmt.Sprint(m["device"])) {
			t.Errorf("mount of device %v should have been left out", m["device"])
		}
	}
	if !root {
		t.Errorf("the root file system is not among the mounts %v", hs.Mounts)
	}
}

// --- helpers -----------------------------------------------------------------

// statusStartDemo installs and starts DEMO_SERVER and waits until the
// server sees it STARTED.
func statusStartDemo(ctx context.Context, t *testing.T, s *sim.Server, a *Agent) {
	t.Helper()
	since := s.LastSeq()
	statusRunTask(ctx, t, s, a.Name, sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "INSTALL"})
	statusRunTask(ctx, t, s, a.Name, sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "START"})
	statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentStarted)
}

// statusRunTask sends one command and waits for it to complete.
func statusRunTask(ctx context.Context, t *testing.T, s *sim.Server, host string, spec sim.CommandSpec) sim.TaskState {
	t.Helper()
	sent, err := s.SendCommand(host, spec)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := s.WaitTaskDone(ctx, sent.TaskIDs[0])
	if err != nil || ts.Status != protocol.StatusCompleted {
		t.Fatalf("%s %s: %s %v (stderr %v)", spec.RoleCommand, spec.Component, ts.Status, err, statusStderr(ts))
	}
	return ts
}

func statusStderr(ts sim.TaskState) string {
	if ts.Report == nil || ts.Report.Report.Stderr == nil {
		return ""
	}
	return *ts.Report.Report.Stderr
}

// statusDemoPidFile is where demo_server.py keeps its daemon's pid: under
// the agent's tmp dir.
func statusDemoPidFile(a *Agent) string {
	return a.Path("var/lib/ambari-agent/tmp/demo-stack/demo_server/demo_server.pid")
}

func statusDemoPid(t testing.TB, a *Agent) int {
	t.Helper()
	b, err := os.ReadFile(statusDemoPidFile(a))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

// statusKillDemo kills the DEMO_SERVER daemon with SIGKILL, as a crash or
// the OOM killer would, and returns when it was killed once it is gone.
func statusKillDemo(t testing.TB, a *Agent) time.Time {
	t.Helper()
	pid := statusDemoPid(t, a)
	if !alive(pid) {
		t.Fatalf("DEMO_SERVER daemon %d is not running", pid)
	}
	died := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("daemon %d survived SIGKILL", pid)
		}
	}
	return died
}

// statusKillPidsIn kills the processes listed one per line in file.
func statusKillPidsIn(file string) {
	b, _ := os.ReadFile(file)
	for _, l := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(l); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// statusKillPidFiles kills the processes whose pids name the files in dir.
func statusKillPidFiles(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// statusesIn returns component -> status of one component_status report
// ("" for null).
func statusesIn(t testing.TB, r sim.Record) map[string]string {
	t.Helper()
	var rep protocol.ComponentStatusReport
	if err := r.Decode(&rep); err != nil {
		t.Fatalf("component status report %s: %v", r.Body, err)
	}
	out := map[string]string{}
	for _, list := range rep.Clusters {
		for _, c := range list {
			st := ""
			if c.Status != nil {
				st = *c.Status
			}
			out[c.ComponentName] = st
		}
	}
	return out
}

// statusReports lists the component status reports after since, for
// failure messages.
func statusReports(t testing.TB, s *sim.Server, host string, since uint64) []map[string]string {
	var out []map[string]string
	for _, r := range s.Records(sim.Query{Host: host, Destination: protocol.ReportsComponentStatus, Since: since}) {
		out = append(out, statusesIn(t, r))
	}
	return out
}

// statusWait waits for a component status report after since that gives
// component the status.
func statusWait(ctx context.Context, t testing.TB, s *sim.Server, host string, since uint64, component, status string) sim.Record {
	t.Helper()
	r, err := s.WaitRecord(ctx, sim.Query{Host: host, Destination: protocol.ReportsComponentStatus, Since: since}, func(r sim.Record) bool {
		return statusesIn(t, r)[component] == status
	})
	if err != nil {
		t.Fatalf("%s was never reported %s: %v (reports since: %v)", component, status, err, statusReports(t, s, host, since))
	}
	return r
}

// statusAutoStarts lists the START commands of component that the agent's
// recovery generated (tasks the server learnt of from reports only).
func statusAutoStarts(s *sim.Server, host, component string) []sim.TaskState {
	var out []sim.TaskState
	for _, ts := range s.Tasks(host) {
		if ts.Origin == sim.OriginAgent && ts.Role == component && ts.RoleCommand == "START" {
			out = append(out, ts)
		}
	}
	return out
}

// statusCheckAutoReports checks the reports of a recovery command as
// the server gets them: the agent's own integer commandId as actionId, the
// recovery cluster, an IN_PROGRESS and a COMPLETED report.
func statusCheckAutoReports(t *testing.T, s *sim.Server, host string, taskID int64) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range s.Records(sim.Query{Host: host, Destination: protocol.ReportsCommandsStatus}) {
		var body struct {
			Clusters map[string][]map[string]any `json:"clusters"`
		}
		if err := r.Decode(&body); err != nil {
			t.Fatal(err)
		}
		for cid, list := range body.Clusters {
			for _, rep := range list {
				if id, _ := rep["taskId"].(float64); int64(id) != taskID {
					continue
				}
				if action, ok := rep["actionId"].(float64); !ok || int64(action) != taskID {
					t.Errorf("auto start report actionId %v (%T), want the number %d", rep["actionId"], rep["actionId"], taskID)
				}
				if cid != "2" || rep["clusterId"] != "2" || rep["serviceName"] != "DEMO" || rep["role"] != "DEMO_SERVER" {
					t.Errorf("auto start report in cluster %s: %v", cid, rep)
				}
				seen[fmt.Sprint(rep["status"])] = true
			}
		}
	}
	if !seen[protocol.StatusInProgress] || !seen[protocol.StatusCompleted] {
		t.Errorf("auto start task %d reported %v, want IN_PROGRESS and COMPLETED", taskID, seen)
	}
}

// statusSkipLine is what the agent logs when a cycle passes a component by
// because a command runs for it.
func statusSkipLine(component string) string {
	return "Skipping status command for " + component + ". Since command for it is running"
}

// statusPoll polls cond (for conditions outside the simulator, such as the
// agent's log).
func statusPoll(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// statusHeartbeats are the arrival times of the host's heartbeats after since.
func statusHeartbeats(s *sim.Server, host string, since uint64) []time.Time {
	var out []time.Time
	for _, r := range s.Records(sim.Query{Host: host, Destination: protocol.Heartbeat, Since: since}) {
		out = append(out, r.Time)
	}
	return out
}

// statusAddComponent adds a component to the TESTKIT service of a
// demoScenario and places it on every joining host.
func statusAddComponent(sc *sim.Scenario, c sim.ComponentSpec) {
	svcs := sc.Clusters[0].Services
	for i := range svcs {
		if svcs[i].Name == "TESTKIT" {
			svcs[i].Components = append(svcs[i].Components, c)
		}
	}
	sc.Options.JoinTemplate.Components = append(sc.Options.JoinTemplate.Components, c.Name)
}

// statusUmask reads a process's umask from /proc.
func statusUmask(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("no Umask in /proc status")
	return 0
}

func statusKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
