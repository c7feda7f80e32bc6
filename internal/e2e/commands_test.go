package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/actionqueue"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// End-to-end tests of command execution (docs/behaviour.md §5, §6; docs/protocol.md
// §5 to §7; docs/behaviour.md §6): the real agent runs the demo stack's and TESTKIT's
// Python scripts, commanded by the simulator, and the tests check what an
// operator sees: reports on the server, files in the data dir, processes.

// TestCommandInstallAndStartDemoServer: INSTALL then START of DEMO_SERVER
// go through the whole pipeline: the message is acknowledged, the command
// file holds the merged command, the reports are form A then form C, the
// output files are there and the daemon answers on its port. A RESTART
// (sent as CUSTOM_COMMAND) replaces the daemon.
func TestCommandInstallAndStartDemoServer(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-demo", nil, 60*time.Second)
	s, a := e.s, e.a

	install := e.send(sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "INSTALL"})
	task := e.done(install)
	r := cmdFinal(t, task, protocol.StatusCompleted)
	if r.ExitCode == nil || *r.ExitCode != 0 {
		t.Errorf("INSTALL exit code %s, want 0", cmdCode(r.ExitCode))
	}
	if !strings.Contains(cmdText(r.Stdout), "Installed DEMO_SERVER 1.0.0") ||
		!strings.HasSuffix(cmdText(r.Stdout), "\n\nCommand completed successfully!\n") {
		t.Errorf("INSTALL stdout %q", cmdText(r.Stdout))
	}
	// Hooks and the script share one structured output.
	so := cmdJSON(t, cmdText(r.StructuredOut))
	if so["version"] != "1.0.0" || !cmdHas(cmdList(so["hooks"]), "before-INSTALL") {
		t.Errorf("INSTALL structuredOut %v, want the version and the before-INSTALL hook", so)
	}

	start := e.send(sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "START"})
	task = e.done(start)
	r = cmdFinal(t, task, protocol.StatusCompleted)
	if r.ExitCode == nil || *r.ExitCode != 0 || r.Role != "DEMO_SERVER" || r.RoleCommand != "START" ||
		r.ServiceName != "DEMO" || r.ClusterID != "2" {
		t.Errorf("START final report %+v", r)
	}
	if r.ActionID != strconv.FormatInt(task.RequestID, 10)+"-0" {
		t.Errorf("actionId %v, want the commandId %d-0", r.ActionID, task.RequestID)
	}

	t.Run("acknowledged", func(t *testing.T) {
		if task.MessageID == nil {
			t.Fatal("the simulator recorded no messageId for the START")
		}
		want := strconv.FormatInt(*task.MessageID, 10)
		_, err := s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsResponses}, func(rec sim.Record) bool {
			var ack protocol.MessageAck
			return rec.Decode(&ack) == nil && ack.MessageID == want && ack.Status == protocol.StatusOK
		})
		if err != nil {
			t.Fatalf("no OK acknowledgement of message %s: %v", want, err)
		}
		if task.AckedAt.IsZero() || task.AckedAt.After(task.EndedAt) {
			t.Errorf("acknowledged at %v, ended at %v", task.AckedAt, task.EndedAt)
		}
	})

	t.Run("reports", func(t *testing.T) {
		// Form A first: the three file paths, no output yet.
		if len(task.History) < 2 {
			t.Fatalf("history %+v: want IN_PROGRESS then COMPLETED", task.History)
		}
		first := task.History[0].Report
		if first.Status != protocol.StatusInProgress || first.TmpOut != e.dataFile("output", start, ".txt") ||
			first.TmpErr != e.dataFile("errors", start, ".txt") ||
			cmdText(first.StructuredOut) != e.dataFile("structured-out", start, ".json") ||
			first.Stdout != nil || first.ExitCode != nil {
			t.Errorf("first report is not form A: %+v", first)
		}
		last := task.History[len(task.History)-1].Report
		if last.Status != protocol.StatusCompleted || task.EndedAt.Before(task.StartedAt) {
			t.Errorf("last report %+v", last)
		}
		if !strings.Contains(cmdText(r.Stdout), "Started DEMO_SERVER") || cmdText(r.Stderr) != "None" {
			t.Errorf("START output: stdout %q, stderr %q", cmdText(r.Stdout), cmdText(r.Stderr))
		}
	})

	t.Run("files", func(t *testing.T) {
		cmdFile := e.dataFile("command", start, ".json")
		mode, err := statMode(cmdFile)
		if err != nil {
			t.Fatal(err)
		}
		if mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds passwords)", cmdFile, mode)
		}
		// What the command printed and returned may repeat them.
		for _, f := range []string{e.dataFile("output", start, ".txt"), e.dataFile("errors", start, ".txt"), e.dataFile("structured-out", start, ".json")} {
			if mode, err := statMode(f); err != nil || mode != 0o600 {
				t.Errorf("%s has mode %v (%v), want 0600", f, mode, err)
			}
		}
		if mode, err := statMode(a.DataDir()); err != nil || mode != 0o750 {
			t.Errorf("data dir has mode %v (%v), want 0750", mode, err)
		}
		var cmd map[string]any
		readJSON(t, cmdFile, &cmd)
		configs, _ := cmd["configurations"].(map[string]any)
		env, _ := configs["demo-env"].(map[string]any)
		if env["server_port"] != e.port {
			t.Errorf("configurations.demo-env.server_port = %v, want %s", env["server_port"], e.port)
		}
		chi, _ := cmd["clusterHostInfo"].(map[string]any)
		if !cmdHas(cmdList(chi["demo_server_hosts"]), a.Name) || !cmdHas(cmdList(chi["all_hosts"]), a.Name) {
			t.Errorf("clusterHostInfo %v: the agent's host is missing from demo_server_hosts or all_hosts", chi)
		}
		if alp, _ := cmd["agentLevelParams"].(map[string]any); alp["hostname"] != a.Name {
			t.Errorf("agentLevelParams %v", alp)
		}
		if alp, _ := cmd["ambariLevelParams"].(map[string]any); alp["jdk_location"] != s.ResourcesURL() {
			t.Errorf("ambariLevelParams %v: jdk_location is not %s", alp, s.ResourcesURL())
		}
		if h, _ := s.HostState(a.Name); fmt.Sprint(cmd["requiredConfigTimestamp"]) != strconv.FormatInt(h.ConfigTimestamp, 10) {
			t.Errorf("requiredConfigTimestamp %v, the host's configurations are of %d", cmd["requiredConfigTimestamp"], h.ConfigTimestamp)
		}
		if !cmdHas(cmdList(cmd["localComponents"]), "DEMO_SERVER") {
			t.Errorf("localComponents %v", cmd["localComponents"])
		}
		if cmd["roleCommand"] != "START" || cmd["clusterName"] != "demo" {
			t.Errorf("command file: roleCommand %v, clusterName %v", cmd["roleCommand"], cmd["clusterName"])
		}
		for _, f := range []string{e.dataFile("output", start, ".txt"), e.dataFile("errors", start, ".txt"),
			e.dataFile("structured-out", start, ".json")} {
			if _, err := os.Stat(f); err != nil {
				t.Error(err)
			}
		}
		out, _ := os.ReadFile(e.dataFile("output", start, ".txt"))
		if !strings.Contains(string(out), "Started DEMO_SERVER") {
			t.Errorf("output file: %q", out)
		}
	})

	pidFile := a.Path("var/lib/ambari-agent/tmp/demo-stack/demo_server/demo_server.pid")
	firstPid := cmdReadPid(t, pidFile)
	t.Run("daemon", func(t *testing.T) {
		status, body, err := cmdHTTPGet("http://127.0.0.1:" + e.port + "/")
		if err != nil || status != 200 || !strings.Contains(body, "hello from DEMO_SERVER") {
			t.Fatalf("daemon on port %s: %d %q %v", e.port, status, body, err)
		}
		// The post-command status check sees it running.
		if _, err := s.WaitHost(e.ctx, a.Name, func(h sim.HostState) bool {
			return h.ComponentStatus["DEMO_SERVER"].Status == "STARTED"
		}); err != nil {
			t.Errorf("DEMO_SERVER never reported STARTED: %v", err)
		}
	})

	t.Run("restart", func(t *testing.T) {
		id := e.send(sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "RESTART"})
		task := e.done(id)
		r := cmdFinal(t, task, protocol.StatusCompleted)
		if r.RoleCommand != "CUSTOM_COMMAND" || r.CustomCommand != "RESTART" || r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("RESTART report: roleCommand %s, customCommand %q, exit %s", r.RoleCommand, r.CustomCommand, cmdCode(r.ExitCode))
		}
		if !strings.Contains(cmdText(r.Stdout), "Stopped DEMO_SERVER") || !strings.Contains(cmdText(r.Stdout), "Started DEMO_SERVER") {
			t.Errorf("RESTART stdout %q", cmdText(r.Stdout))
		}
		pid := cmdReadPid(t, pidFile)
		if pid == firstPid || alive(firstPid) {
			t.Errorf("daemon pid %d before, %d after the restart (old alive: %t)", firstPid, pid, alive(firstPid))
		}
		if status, _, err := cmdHTTPGet("http://127.0.0.1:" + e.port + "/"); err != nil || status != 200 {
			t.Errorf("daemon after the restart: %d %v", status, err)
		}
	})
}

// must drops an error: a file being replaced reads as nothing for a moment.
func must(b []byte, _ error) []byte { return b }

func cmdList(v any) []any {
	s, _ := v.([]any)
	return s
}

func cmdReadPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

// TestCommandTimeoutKillsProcessTree: a script that outlives its
// command_timeout is killed with its child and grandchild; the server gets
// FAILED, exit code 999 and the timeout line in stderr.
func TestCommandTimeoutKillsProcessTree(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-timeout", nil, 60*time.Second)
	sl := newCmdSleeper(t, nil)
	sl.spec.Timeout = 3
	id := e.send(sl.spec)
	pids := sl.pids(t, e.ctx)
	if alive := cmdAlive(pids); len(alive) != 3 {
		t.Fatalf("only %v of %v run", alive, pids)
	}
	task := e.done(id)
	r := cmdFinal(t, task, protocol.StatusFailed)
	if alive := cmdAlive(pids); len(alive) > 0 {
		t.Errorf("processes %v of the tree %v survived the timeout", alive, pids)
	}
	if r.ExitCode == nil || *r.ExitCode != 999 {
		t.Errorf("exit code %s, want 999", cmdCode(r.ExitCode))
	}
	const msg = "Python script has been killed due to timeout after waiting 3 secs"
	if !strings.Contains(cmdText(r.Stderr), msg) {
		t.Errorf("stderr %q lacks %q", cmdText(r.Stderr), msg)
	}
	if !strings.Contains(cmdText(r.Stdout), "tree ready") || !strings.HasSuffix(cmdText(r.Stdout), "Command failed after 1 tries\n") {
		t.Errorf("stdout %q", cmdText(r.Stdout))
	}
	took := task.EndedAt.Sub(task.StartedAt)
	t.Logf("IN_PROGRESS to FAILED: %s (timeout 3 s)", took.Round(time.Millisecond))
	if took < 3*time.Second {
		t.Errorf("the command ended %s after it started, before its 3 s timeout", took)
	}

	t.Run("sigterm-ignored", func(t *testing.T) {
		// The script ignores SIGTERM: SIGKILL follows.
		sl := newCmdSleeper(t, sim.StringMap{"ignore_term": "true"})
		sl.spec.Timeout = 2
		id := e.send(sl.spec)
		pids := sl.pids(t, e.ctx)
		r := cmdFinal(t, e.done(id), protocol.StatusFailed)
		if alive := cmdAlive(pids); len(alive) > 0 {
			t.Errorf("%v of %v survived", alive, pids)
		}
		if r.ExitCode == nil || *r.ExitCode != 999 {
			t.Errorf("exit code %s", cmdCode(r.ExitCode))
		}
	})

	t.Run("package-manager-spared", func(t *testing.T) {
		// A package manager in the tree (the grandchild, named yum) is
		// left running; the rest goes.
		sl := newCmdSleeper(t, sim.StringMap{"spare_yum": "true"})
		sl.spec.Timeout = 2
		id := e.send(sl.spec)
		pids := sl.pids(t, e.ctx)
		cmdFinal(t, e.done(id), protocol.StatusFailed)
		if alive := cmdAlive(pids); len(alive) != 1 || alive[0] != pids[2] {
			t.Errorf("alive after the timeout: %v of %v; want only the yum grandchild %d", alive, pids, pids[2])
		}
	})
}

// TestCommandCancel: a cancel of a running command kills its process tree
// and the server gets FAILED with the reason; a cancel of a command still
// waiting in the agent's queue means it never runs.
func TestCommandCancel(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-cancel", nil, 60*time.Second)
	s, a := e.s, e.a

	t.Run("running", func(t *testing.T) {
		sl := newCmdSleeper(t, nil)
		id := e.send(sl.spec)
		pids := sl.pids(t, e.ctx)
		e.running(id)
		// While it runs, periodic reports carry the output so far (form B).
		b, err := s.WaitTask(e.ctx, id, func(task sim.TaskState) bool {
			for _, r := range cmdInProgress(task) {
				if strings.Contains(cmdText(r.Stdout), "tree ready") {
					return true
				}
			}
			return false
		})
		if err != nil {
			t.Fatalf("no IN_PROGRESS report with the output so far: %v", err)
		}
		for _, r := range cmdInProgress(b)[1:] {
			if r.ExitCode == nil || *r.ExitCode != 777 || r.TmpOut != "" || r.Stderr == nil || r.StructuredOut == nil {
				t.Errorf("periodic report is not form B: %+v", r)
			}
		}
		if err := s.Cancel(id, "operator changed their mind"); err != nil {
			t.Fatal(err)
		}
		task := e.done(id)
		r := cmdFinal(t, task, protocol.StatusFailed)
		const want = "Command aborted. Reason: 'operator changed their mind'"
		if !strings.Contains(cmdText(r.Stdout), want) || !strings.Contains(cmdText(r.Stderr), want) {
			t.Errorf("report lacks %q:\nstdout %q\nstderr %q", want, cmdText(r.Stdout), cmdText(r.Stderr))
		}
		if alive := cmdAlive(pids); len(alive) > 0 {
			t.Errorf("processes %v of the tree %v survived the cancel", alive, pids)
		}
		if r.ExitCode == nil || *r.ExitCode == 0 {
			t.Errorf("exit code %s", cmdCode(r.ExitCode))
		}
		out, _ := os.ReadFile(e.dataFile("output", id, ".txt"))
		if !strings.Contains(string(out), want) {
			t.Errorf("output file lacks the abort reason: %q", out)
		}
	})

	t.Run("queued", func(t *testing.T) {
		// A runs; B and C wait behind it in the agent's queue. B is
		// cancelled, then A: C runs, B never does.
		first := newCmdSleeper(t, nil)
		idA := e.send(first.spec)
		first.pids(t, e.ctx)
		second := newCmdSleeper(t, nil)
		idB := e.send(second.spec)
		idC := e.send(sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})
		if _, err := s.WaitTask(e.ctx, idC, func(t sim.TaskState) bool { return t.Status == sim.TaskQueued }); err != nil {
			t.Fatalf("the agent never took the commands: %v", err)
		}
		since := s.LastSeq()
		if err := s.Cancel(idB, "not needed"); err != nil {
			t.Fatal(err)
		}
		// The cancel message is acknowledged: the agent applied it.
		if _, err := s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsResponses, Since: since}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Cancel(idA, "make room"); err != nil {
			t.Fatal(err)
		}
		cmdFinal(t, e.done(idA), protocol.StatusFailed)
		cmdFinal(t, e.done(idC), protocol.StatusCompleted)

		taskB, _ := s.Task(idB)
		if len(taskB.History) > 0 || taskB.Status != sim.TaskQueued {
			t.Errorf("the cancelled queued task was reported: status %s, %d reports", taskB.Status, len(taskB.History))
		}
		for _, f := range []string{e.dataFile("output", idB, ".txt"), e.dataFile("command", idB, ".json"), second.pidsFile} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%s exists: the cancelled command ran", f)
			}
		}
		if len(cmdLogLines(a, "Removed 1 queued command(s) of the task", "taskId="+strconv.FormatInt(idB, 10))) == 0 {
			t.Errorf("the agent log does not say the queued command was removed")
		}
	})

	t.Run("retry-wait", func(t *testing.T) {
		// Cancelled while waiting to retry: no further attempt, FAILED
		// with the reason.
		state := filepath.Join(t.TempDir(), "attempts")
		id := e.send(sim.CommandSpec{Component: "FLAKY", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "FLAKE",
			CommandParams: sim.StringMap{"state_file": state, "fail_times": "100",
				"command_retry_enabled": "true", "max_duration_for_retries": "600"}})
		if _, err := cmdWaitFile(e.ctx, state); err != nil {
			t.Fatal(err)
		}
		if !cmdWaitLog(e.ctx, a, "Retrying command after a wait", "taskId="+strconv.FormatInt(id, 10)) {
			t.Fatal("the command never waited to retry")
		}
		if err := s.Cancel(id, "stop retrying"); err != nil {
			t.Fatal(err)
		}
		r := cmdFinal(t, e.done(id), protocol.StatusFailed)
		if !strings.Contains(cmdText(r.Stderr), "Command aborted. Reason: 'stop retrying'") {
			t.Errorf("stderr %q lacks the reason", cmdText(r.Stderr))
		}
		if b, _ := os.ReadFile(state); string(b) != "1" || !strings.HasSuffix(cmdText(r.Stdout), "Command failed after 1 tries\n") {
			t.Errorf("%q attempts; stdout %q", b, cmdText(r.Stdout))
		}
	})

	t.Run("rescheduled", func(t *testing.T) {
		// The server cancels a running task and sends it again in the same
		// message: the cancelled run is not reported, the new one runs.
		first := newCmdSleeper(t, nil)
		id := e.send(first.spec)
		pids := first.pids(t, e.ctx)
		e.running(id)
		again := newCmdSleeper(t, nil)
		since := s.LastSeq()
		event := fmt.Sprintf(`{"clusters":{"2":{
			"cancelCommands":[{"commandType":"CANCEL_COMMAND","target_task_id":%d,"reason":"rescheduled"}],
			"commands":[{"commandType":"EXECUTION_COMMAND","taskId":%d,"requestId":%d,"commandId":"%d-0","clusterId":"2",
				"role":"SLEEPER","roleCommand":"CUSTOM_COMMAND","serviceName":"TESTKIT",
				"commandParams":{"custom_command":"SLEEP","script":"scripts/sleep_tree.py","script_type":"PYTHON",
					"command_timeout":"600","service_package_folder":"stacks/DEMO/1.0/services/TESTKIT/package",
					"pids_file":%q}}]}}}`, id, id, 900+id, 900+id, again.pidsFile)
		if _, err := s.SendCommandEvent(a.Name, json.RawMessage(event)); err != nil {
			t.Fatal(err)
		}
		newPids := again.pids(t, e.ctx)
		if alive := cmdAlive(pids); len(alive) > 0 {
			t.Errorf("%v of the first run survived the cancel", alive)
		}
		if err := s.Cancel(id, "final"); err != nil {
			t.Fatal(err)
		}
		r := cmdFinal(t, e.done(id), protocol.StatusFailed)
		if !strings.Contains(cmdText(r.Stderr), "Reason: 'final'") {
			t.Errorf("stderr %q", cmdText(r.Stderr))
		}
		var statuses []string
		for _, rec := range s.Records(sim.Query{Host: a.Name, Destination: protocol.ReportsCommandsStatus, Since: since}) {
			if st := reportStatus(rec, id); st != "" && (len(statuses) == 0 || statuses[len(statuses)-1] != st) {
				statuses = append(statuses, st)
			}
		}
		if len(statuses) == 0 || statuses[0] != protocol.StatusInProgress || statuses[len(statuses)-1] != protocol.StatusFailed ||
			strings.Count(strings.Join(statuses, " "), protocol.StatusFailed) != 1 {
			t.Errorf("reports of the task after the reschedule: %v, want IN_PROGRESS ... then one FAILED", statuses)
		}
		if alive := cmdAlive(newPids); len(alive) > 0 {
			t.Errorf("%v of the second run survived the cancel", alive)
		}
	})
}

// TestCommandRetries: a failing retry-enabled command is run again after
// waits of 2, 4, 8 s until max_duration_for_retries is spent, then
// reported FAILED with the number of tries.
func TestCommandRetries(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-retry", nil, 60*time.Second)
	state := filepath.Join(t.TempDir(), "attempts")
	// A budget of 14 s: attempt 1, wait 2, attempt 2, wait 4, attempt 3,
	// wait 8 (less the whole seconds the attempts took), attempt 4.
	id := e.send(sim.CommandSpec{Component: "FLAKY", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "FLAKE",
		CommandParams: sim.StringMap{"state_file": state, "fail_times": "100",
			"command_retry_enabled": "true", "max_duration_for_retries": "14"}})

	// When each attempt started (the script bumps the state file first
	// thing) and ended (its last line reaches the output file as it
	// exits), watched from here.
	var starts, ends []time.Time
	out := e.dataFile("output", id, ".txt")
	var task sim.TaskState
	for {
		now := time.Now()
		if b, err := os.ReadFile(state); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				for len(starts) < n {
					starts = append(starts, now)
				}
			}
		}
		b, _ := os.ReadFile(out)
		for len(ends) < len(starts) && strings.Contains(string(b), "attempt "+strconv.Itoa(len(ends)+1)+" fails") {
			ends = append(ends, now)
		}
		var ok bool
		if task, ok = e.s.Task(id); ok && cmdTaskEnded(task.Status) {
			break
		}
		select {
		case <-e.ctx.Done():
			t.Fatalf("the command never ended; %d attempts so far", len(starts))
		case <-time.After(20 * time.Millisecond):
		}
	}
	r := cmdFinal(t, task, protocol.StatusFailed)
	b, _ := os.ReadFile(state)
	attempts, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if attempts != 4 || len(starts) != 4 || len(ends) != 4 {
		t.Fatalf("%d attempts (%d starts, %d ends seen), want 4", attempts, len(starts), len(ends))
	}
	// The waits between one attempt's end and the next one's start: 2, 4,
	// then 8 s or what is left of the 14 s budget, whichever is less; on a
	// loaded machine the attempts take seconds each and the last wait may
	// rightly be the shortest, so only the doubling from 2 to 4 and the cap
	// are checked.
	var gaps, waits []time.Duration
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Sub(starts[i-1]).Round(10*time.Millisecond))
		waits = append(waits, starts[i].Sub(ends[i-1]).Round(10*time.Millisecond))
	}
	t.Logf("%d attempts; between their starts: %v; waits from one's end to the next one's start: %v", attempts, gaps, waits)
	if waits[1] <= waits[0] {
		t.Errorf("wait 2 (%s) is not longer than wait 1 (%s)", waits[1], waits[0])
	}
	if waits[2] > 10*time.Second { // 8 s, plus a slow interpreter start
		t.Errorf("wait 3 (%s) is longer than the 8 s delay", waits[2])
	}
	if waits[0] < 2*time.Second {
		t.Errorf("the first retry came %s after the first attempt ended, before the 2 s delay", waits[0])
	}
	if !strings.HasSuffix(cmdText(r.Stdout), "\n\nCommand failed after 4 tries\n") {
		t.Errorf("stdout %q", cmdText(r.Stdout))
	}
	if r.ExitCode == nil || *r.ExitCode != 1 {
		t.Errorf("exit code %s, want the script's 1", cmdCode(r.ExitCode))
	}
	// Retries append to the output file, and the report has it all.
	for i := 1; i <= 4; i++ {
		if !strings.Contains(cmdText(r.Stdout), "attempt "+strconv.Itoa(i)+" fails") {
			t.Errorf("stdout lacks attempt %d: %q", i, cmdText(r.Stdout))
		}
	}
}

// TestCommandsInParallel: with parallel_execution=1 retry-enabled commands
// run at the same time, at most parallel_execution_limit of them.
func TestCommandsInParallel(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-parallel", Ini{"agent": {"parallel_execution": "1", "parallel_execution_limit": "2"}}, 60*time.Second)
	retry := sim.StringMap{"command_retry_enabled": "true", "max_duration_for_retries": "60"}
	one, two, three := newCmdSleeper(t, retry), newCmdSleeper(t, retry), newCmdSleeper(t, retry)
	sent, err := e.s.SendCommand(e.a.Name, one.spec, two.spec, three.spec)
	if err != nil {
		t.Fatal(err)
	}
	id1, id2, id3 := sent.TaskIDs[0], sent.TaskIDs[1], sent.TaskIDs[2]
	// Both trees run at once, and the server sees both IN_PROGRESS before
	// either ended.
	pids := append(one.pids(t, e.ctx), two.pids(t, e.ctx)...)
	if alive := cmdAlive(pids); len(alive) != 6 {
		t.Fatalf("only %v of %v run at once", alive, pids)
	}
	t1, t2 := e.running(id1), e.running(id2)
	if t1.Status != protocol.StatusInProgress || t2.Status != protocol.StatusInProgress {
		t.Fatalf("statuses %s and %s, want both IN_PROGRESS", t1.Status, t2.Status)
	}
	t.Logf("second command started %s after the first", t2.StartedAt.Sub(t1.StartedAt).Round(time.Millisecond))
	// The third waits for a free slot.
	time.Sleep(time.Second)
	if t3, _ := e.s.Task(id3); t3.Status != sim.TaskQueued {
		t.Errorf("third command %s while two run with a limit of 2", t3.Status)
	}
	if _, err := os.Stat(three.pidsFile); err == nil {
		t.Errorf("the third command runs beyond the limit")
	}
	if err := e.s.Cancel(id1, "done"); err != nil {
		t.Fatal(err)
	}
	pids = append(pids, three.pids(t, e.ctx)...)
	if t3 := e.running(id3); t3.Status != protocol.StatusInProgress {
		t.Errorf("third command %s once a slot was free", t3.Status)
	}
	for _, id := range []int64{id2, id3} {
		if err := e.s.Cancel(id, "done"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range sent.TaskIDs {
		r := cmdFinal(t, e.done(id), protocol.StatusFailed)
		// A cancelled command is not retried, whatever its budget.
		if !strings.HasSuffix(cmdText(r.Stdout), "Command failed after 1 tries\n") {
			t.Errorf("task %d stdout %q", id, cmdText(r.Stdout))
		}
	}
	if alive := cmdAlive(pids); len(alive) > 0 {
		t.Errorf("%v survived the cancels", alive)
	}
	if n := len(cmdLogLines(e.a, "Kicking off a goroutine for the retry-enabled command")); n != 3 {
		t.Errorf("the agent log shows %d parallel starts, want 3", n)
	}
}

// TestCommandSurvivesServerRestart: a command that ends while the server
// is down is reported once the agent registered again.
func TestCommandSurvivesServerRestart(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-simrestart", nil, 60*time.Second)
	s, a := e.s, e.a
	state := filepath.Join(t.TempDir(), "attempts")
	// Fails once, succeeds 2 s later on its retry.
	id := e.send(sim.CommandSpec{Component: "FLAKY", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "FLAKE",
		CommandParams: sim.StringMap{"state_file": state, "fail_times": "1",
			"command_retry_enabled": "true", "max_duration_for_retries": "30"}})
	e.running(id)
	// The first attempt ran (so the scripts are in the cache) and failed;
	// the retry comes 2 s later, while the server is down.
	if b, err := cmdWaitFile(e.ctx, state); err != nil || string(b) != "1" {
		t.Fatalf("first attempt: %q %v", b, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := s.LastSeq()
	if !cmdWaitLog(e.ctx, a, "Command completed successfully", "taskId="+strconv.FormatInt(id, 10)) {
		t.Fatal("the command never completed while the server was down")
	}
	if task, _ := s.Task(id); task.Status != protocol.StatusInProgress {
		t.Fatalf("task %s while the server was down", task.Status)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	task := e.done(id)
	r := cmdFinal(t, task, protocol.StatusCompleted)
	if !strings.Contains(cmdText(r.Stdout), "attempt 2 succeeds") {
		t.Errorf("stdout %q", cmdText(r.Stdout))
	}
	reg, err := s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.Register, Since: stopped}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsCommandsStatus, Since: stopped}, func(rec sim.Record) bool {
		return reportStatus(rec, id) == protocol.StatusCompleted
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seq < reg.Seq {
		t.Errorf("the COMPLETED report (seq %d) came before the re-registration (seq %d)", rep.Seq, reg.Seq)
	}
	t.Logf("COMPLETED reported %s after the re-registration", rep.Time.Sub(reg.Time).Round(time.Millisecond))
}

// TestCommandAgentKilled: an agent killed while a command runs stops the
// command's process tree when it is back, then reports the command FAILED,
// saying why. A daemon the command started, which left its tree, lives on.
func TestCommandAgentKilled(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-kill", nil, 90*time.Second)
	s, a := e.s, e.a
	sl := newCmdSleeper(t, sim.StringMap{"daemon": "true"})
	id := e.send(sl.spec)
	pids := sl.pids(t, e.ctx)
	b, err := cmdWaitFile(e.ctx, sl.pidsFile+".daemon")
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("daemon pid file: %q", b)
	}
	e.running(id)
	// The script's identity reaches the report journal once it runs.
	journal := filepath.Join(a.DataDir(), "reports", fmt.Sprintf("task-%d.json", id))
	for !strings.Contains(string(must(os.ReadFile(journal))), `"process"`) {
		select {
		case <-e.ctx.Done():
			t.Fatalf("the running script never reached %s", journal)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A second command waits behind the first in the agent's queue: the
	// agent acknowledged it, so the server counts it as delivered.
	queued := e.send(sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})
	if _, err := s.WaitTask(e.ctx, queued, func(ts sim.TaskState) bool { return ts.Status == "QUEUED" }); err != nil {
		t.Fatalf("second command not acknowledged: %v", err)
	}
	st, _ := s.HostState(a.Name)
	a.Kill()
	a.Start()
	if r := cmdFinal(t, e.done(queued), protocol.StatusFailed); !strings.Contains(cmdText(r.Stderr), actionqueue.NotRunMessage) {
		t.Errorf("queued command after the restart: stderr %q lacks %q", cmdText(r.Stderr), actionqueue.NotRunMessage)
	}
	task := e.done(id)
	// The agent stops the tree before it sends the report.
	if alive := cmdAlive(pids); len(alive) > 0 {
		t.Errorf("processes %v of the command still run after its FAILED report", alive)
	}
	if !alive(daemon) {
		t.Error("the daemon the command started was killed")
	}
	r := cmdFinal(t, task, protocol.StatusFailed)
	if !strings.Contains(cmdText(r.Stderr), actionqueue.ReapedMessage) {
		t.Errorf("stderr %q lacks %q", cmdText(r.Stderr), actionqueue.ReapedMessage)
	}
	if !strings.Contains(cmdText(r.Stdout), "tree ready") {
		t.Errorf("stdout %q lacks the script's output so far", cmdText(r.Stdout))
	}
	if r.Role != "SLEEPER" || r.CustomCommand != "SLEEP" || r.ExitCode == nil || *r.ExitCode == 0 {
		t.Errorf("report %+v", r)
	}
	if now, _ := s.HostState(a.Name); now.Registrations <= st.Registrations {
		t.Errorf("FAILED without a new registration")
	}

	t.Run("stopped", func(t *testing.T) {
		// A clean stop leaves the script running too; the command is
		// reported the same way after the start.
		sl := newCmdSleeper(t, nil)
		id := e.send(sl.spec)
		sl.pids(t, e.ctx)
		e.running(id)
		a.Stop()
		a.Start()
		r := cmdFinal(t, e.done(id), protocol.StatusFailed)
		if !strings.Contains(cmdText(r.Stderr), actionqueue.ReapedMessage) {
			t.Errorf("stderr %q lacks %q", cmdText(r.Stderr), actionqueue.ReapedMessage)
		}
		// And the restarted agent runs commands.
		cmdFinal(t, e.done(e.send(sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})), protocol.StatusCompleted)
	})
}

// reportStatus is the status of task id in a commands_status record ("" if
// absent).
func reportStatus(rec sim.Record, id int64) string {
	var rep protocol.CommandsStatusReport
	if rec.Decode(&rep) != nil {
		return ""
	}
	for _, list := range rep.Clusters {
		for _, r := range list {
			if r.TaskID == id {
				return r.Status
			}
		}
	}
	return ""
}

// TestCommandScriptOutsideCacheRefused: script paths or package folders
// that lead out of the cache dir are refused with FAILED and a clear
// message; nothing runs.
func TestCommandScriptOutsideCacheRefused(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-escape", nil, 60*time.Second)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	evil := []byte("open(" + strconv.Quote(marker) + ", 'a').write('ran\\n')\n")
	cache := e.a.Path("var/lib/ambari-agent/cache")
	pkg := filepath.Join(cache, "stacks/DEMO/1.0/services/TESTKIT/package")
	for _, f := range []string{"evil.py", "scripts/sleep_tree.py", "scripts/evil.py"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		writeFile(t, filepath.Join(dir, f), evil)
	}
	rel := func(from, to string) string {
		r, err := filepath.Rel(from, to)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name string
		spec sim.CommandSpec
	}{
		{"script", sim.CommandSpec{Component: "SLEEPER", RoleCommand: "START",
			Script: rel(pkg, filepath.Join(dir, "evil.py"))}},
		{"script-fixed-depth", sim.CommandSpec{Component: "SLEEPER", RoleCommand: "START",
			Script: "../../../../../../../../../../../../../../../.." + filepath.Join(dir, "evil.py")}},
		{"package-folder", sim.CommandSpec{Component: "SLEEPER", RoleCommand: "START",
			CommandParams: sim.StringMap{"service_package_folder": rel(cache, dir)}}},
		{"custom-action", sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action",
			Script: rel(filepath.Join(cache, "custom_actions/scripts"), filepath.Join(dir, "evil.py"))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := e.send(c.spec)
			r := cmdFinal(t, e.done(id), protocol.StatusFailed)
			stderr := cmdText(r.Stderr)
			if !strings.Contains(stderr, "Refusing") || !strings.Contains(stderr, "escapes its base directory") {
				t.Errorf("stderr %q does not say the path was refused", stderr)
			}
			if r.ExitCode == nil || *r.ExitCode != 1 {
				t.Errorf("exit code %s, want 1", cmdCode(r.ExitCode))
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the script outside the cache ran")
			}
			if _, err := os.Stat(e.dataFile("command", id, ".json")); err == nil {
				t.Errorf("a command file was written for a refused command")
			}
			t.Logf("stderr: %s", stderr)
		})
	}
	t.Run("stale-configs", func(t *testing.T) {
		// A command needing newer configurations than the agent has fails
		// at once (docs/protocol.md §5.2).
		ids, err := e.s.SendCommandEvent(e.a.Name, json.RawMessage(`{"requiredConfigTimestamp":9999999999999,"clusters":{"2":{"commands":[
			{"commandType":"EXECUTION_COMMAND","taskId":7001,"requestId":7001,"commandId":"7001-0","clusterId":"2",
			 "role":"SLEEPER","roleCommand":"START","serviceName":"TESTKIT",
			 "commandParams":{"script":"scripts/sleep_tree.py","script_type":"PYTHON","command_timeout":"600",
			 "service_package_folder":"stacks/DEMO/1.0/services/TESTKIT/package","pids_file":`+strconv.Quote(marker)+`}}]}}}`))
		if err != nil {
			t.Fatal(err)
		}
		r := cmdFinal(t, e.done(ids[0]), protocol.StatusFailed)
		if !strings.Contains(cmdText(r.Stderr), "Command requires configs with timestamp=9999999999999 but configs on agent have timestamp=") {
			t.Errorf("stderr %q", cmdText(r.Stderr))
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("the script ran")
		}
	})
	// The agent still runs commands.
	cmdFinal(t, e.done(e.send(sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})), protocol.StatusCompleted)
}

// TestCommandActionAndBackground: a custom action runs from
// custom_actions; background commands run beside foreground ones and
// report like them, without the success line.
func TestCommandActionAndBackground(t *testing.T) {
	e := startCmdEnv(t, "e2e-cmd-action", nil, 60*time.Second)
	a := e.a

	t.Run("action", func(t *testing.T) {
		id := e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action",
			CommandParams: sim.StringMap{"message": "hi from e2e"}})
		task := e.done(id)
		r := cmdFinal(t, task, protocol.StatusCompleted)
		if r.Role != "demo_action" || r.RoleCommand != "ACTIONEXECUTE" || r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("report %+v", r)
		}
		if !strings.Contains(cmdText(r.Stdout), "ACTIONEXECUTE on "+a.Name+": hi from e2e") ||
			!strings.HasSuffix(cmdText(r.Stdout), "Command completed successfully!\n") {
			t.Errorf("stdout %q", cmdText(r.Stdout))
		}
		so := cmdJSON(t, cmdText(r.StructuredOut))
		if so["action"] != "demo_action" || so["host"] != a.Name || so["message"] != "hi from e2e" {
			t.Errorf("structuredOut %v", so)
		}
		if _, err := os.Stat(a.Path("var/lib/ambari-agent/cache/custom_actions/scripts/demo_action.py")); err != nil {
			t.Errorf("the action script was not fetched into the cache: %v", err)
		}
		if ip := cmdInProgress(task); len(ip) == 0 || ip[0].TmpOut == "" {
			t.Errorf("no form A report: %+v", ip)
		}
	})

	t.Run("no-cluster", func(t *testing.T) {
		// An action bound to no cluster (clusterId "-1"), as host checks
		// are: reported under "-1".
		since := e.s.LastSeq()
		id := e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action", Cluster: "-1"})
		r := cmdFinal(t, e.done(id), protocol.StatusCompleted)
		if r.ClusterID != "-1" || !strings.Contains(cmdText(r.Stdout), "hello from demo_action") {
			t.Errorf("report: clusterId %q, stdout %q", r.ClusterID, cmdText(r.Stdout))
		}
		rec, err := e.s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsCommandsStatus, Since: since}, func(rec sim.Record) bool {
			return reportStatus(rec, id) == protocol.StatusCompleted
		})
		if err != nil {
			t.Fatal(err)
		}
		var rep protocol.CommandsStatusReport
		if rec.Decode(&rep) != nil || len(rep.Clusters["-1"]) == 0 {
			t.Errorf("the report is not filed under cluster -1: %s", rec.Body)
		}
	})

	t.Run("background", func(t *testing.T) {
		sl := newCmdSleeper(t, nil)
		sl.spec.Background = true
		bg := e.send(sl.spec)
		pids := sl.pids(t, e.ctx)
		if task := e.running(bg); len(cmdInProgress(task)) == 0 || cmdInProgress(task)[0].TmpOut != e.dataFile("output", bg, ".txt") {
			t.Errorf("no form A report for the background command: %+v", task.History)
		}
		// Foreground commands run while it does.
		fg := e.send(sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})
		cmdFinal(t, e.done(fg), protocol.StatusCompleted)
		if task, _ := e.s.Task(bg); task.Status != protocol.StatusInProgress {
			t.Fatalf("background task %s while its script runs", task.Status)
		}
		// A quick background action completes on its own.
		quick := e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action", Background: true,
			CommandParams: sim.StringMap{"message": "in the background"}})
		r := cmdFinal(t, e.done(quick), protocol.StatusCompleted)
		if !strings.Contains(cmdText(r.Stdout), "in the background") || strings.Contains(cmdText(r.Stdout), "Command completed successfully") {
			t.Errorf("background stdout %q: want the script's output without the success line", cmdText(r.Stdout))
		}
		if r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("background exit code %s", cmdCode(r.ExitCode))
		}
		// The long one is cancelled: tree killed, FAILED with the reason.
		if err := e.s.Cancel(bg, "enough"); err != nil {
			t.Fatal(err)
		}
		r = cmdFinal(t, e.done(bg), protocol.StatusFailed)
		if !strings.Contains(cmdText(r.Stderr), "Command aborted. Reason: 'enough'") || r.CustomCommand != "SLEEP" {
			t.Errorf("cancelled background report: customCommand %q, stderr %q", r.CustomCommand, cmdText(r.Stderr))
		}
		if alive := cmdAlive(pids); len(alive) > 0 {
			t.Errorf("%v survived the cancel", alive)
		}
	})
}

// TestCommandScriptsFollowServer: the agent runs the scripts the server
// serves: a changed package is fetched again after the next registration
// (each directory is checked once per registration), files gone from the
// server are gone from the cache, and with agent.auto.cache.update=false
// nothing is fetched.
func TestCommandScriptsFollowServer(t *testing.T) {
	const script = "stacks/DEMO/1.0/services/TESTKIT/package/scripts/e2e_version.py"
	const extra = "stacks/DEMO/1.0/services/TESTKIT/package/scripts/e2e_extra.py"
	version := func(v string) string { return "print('script " + v + "')\n" }
	res := cmdCopyResources(t, map[string]string{script: version("v1"), extra: "pass\n"})
	s := startSim(t, demoScenario(t), func(c *sim.Config) { c.ResourcesDir = res })
	a := newAgent(t, s, "e2e-cmd-cache", nil)
	a.Start()
	e := &cmdEnv{t: t, s: s, a: a, ctx: ctxFor(t, 60*time.Second)}
	st, err := s.WaitReady(e.ctx, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		id := e.send(sim.CommandSpec{Component: "FLAKY", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "SHOW",
			Script: "scripts/e2e_version.py"})
		return cmdText(cmdFinal(t, e.done(id), protocol.StatusCompleted).Stdout)
	}
	if out := run(); !strings.Contains(out, "script v1") {
		t.Fatalf("stdout %q", out)
	}
	cached := a.Path("var/lib/ambari-agent/cache/" + extra)
	if _, err := os.Stat(cached); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(res, script), []byte(version("v2, changed")))
	os.Remove(filepath.Join(res, extra))
	if out := run(); !strings.Contains(out, "script v1") {
		t.Errorf("stdout %q: the package was checked again within one registration", out)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitHost(e.ctx, a.Name, func(h sim.HostState) bool { return h.Ready && h.Registrations > st.Registrations }); err != nil {
		t.Fatal(err)
	}
	if out := run(); !strings.Contains(out, "script v2, changed") {
		t.Errorf("stdout %q: the changed package was not fetched after the registration", out)
	}
	if _, err := os.Stat(cached); err == nil {
		t.Errorf("%s is still in the cache, though gone from the server", extra)
	}
}

// TestCommandNoCacheUpdate: with agent.auto.cache.update=false the agent
// fetches nothing and runs what is in its cache.
func TestCommandNoCacheUpdate(t *testing.T) {
	sc := demoScenario(t)
	sc.AgentConfig = sim.StringMap{"agent.auto.cache.update": "false"}
	s := startSim(t, sc, nil)
	a := newAgent(t, s, "e2e-cmd-nocache", nil)
	a.Start()
	e := &cmdEnv{t: t, s: s, a: a, ctx: ctxFor(t, 60*time.Second)}
	if _, err := s.WaitReady(e.ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	spec := sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"}
	r := cmdFinal(t, e.done(e.send(spec)), protocol.StatusFailed)
	if !strings.Contains(cmdText(r.Stderr), "demo_client.py does not exist") {
		t.Errorf("stderr %q", cmdText(r.Stderr))
	}
	if _, err := os.Stat(a.Path("var/lib/ambari-agent/cache/stacks")); err == nil {
		t.Errorf("the agent fetched scripts although told not to")
	}
	// An operator puts the stack in place by hand.
	src := filepath.Join(repoRoot, "testdata/resources")
	for _, dir := range []string{"stacks/DEMO/1.0/services/DEMO/package/scripts", "stack-hooks/before-INSTALL/scripts", "stack-hooks/after-INSTALL/scripts"} {
		if err := os.CopyFS(a.Path("var/lib/ambari-agent/cache/"+dir), os.DirFS(filepath.Join(src, dir))); err != nil {
			t.Fatal(err)
		}
	}
	r = cmdFinal(t, e.done(e.send(spec)), protocol.StatusCompleted)
	if !strings.Contains(cmdText(r.Stdout), "Configured DEMO_CLIENT") {
		t.Errorf("stdout %q", cmdText(r.Stdout))
	}
}
