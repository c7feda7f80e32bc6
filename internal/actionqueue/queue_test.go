package actionqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// Commands of one message run in the message's order, across clusters,
// one at a time.
func TestSerialExecutionInMessageOrder(t *testing.T) {
	e := newEnv(t, "", nil).start()
	rec := map[string]string{"record": e.path("rec"), "sleep": "0.05"}
	// Cluster keys in an order a Go map would not keep.
	e.intake(message(
		clusterMsg{id: "-1", commands: []map[string]any{cmd(5, "-1", rec), cmd(3, "-1", rec)}},
		clusterMsg{id: clusterID, commands: []map[string]any{cmd(9, clusterID, rec), cmd(1, clusterID, rec)}},
		clusterMsg{id: "-1", commands: nil},
	))
	e.sender.waitReport(t, 1, protocol.StatusCompleted)

	evs := e.events("rec")
	var got []string
	for _, ev := range evs {
		got = append(got, ev.what+strconv.Itoa(ev.task))
	}
	want := "start5 end5 start3 end3 start9 end9 start1 end1"
	if strings.Join(got, " ") != want {
		t.Fatalf("execution order = %v, want %s", got, want)
	}
}

// All cancels of a message apply before its commands: a command cancelled
// and re-sent in one message runs (the new copy), while a plain cancel of a
// queued command drops it without any report.
func TestIntakeAppliesCancelsBeforeCommands(t *testing.T) {
	e := newEnv(t, "", nil).start()
	rec := e.path("rec")
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(10, "-1", map[string]string{"record": rec, "wait_file": e.path("go10")}),
		cmd(11, "-1", map[string]string{"record": rec, "stdout_lines": "1"}),
		cmd(12, "-1", map[string]string{"record": rec}),
	}}))
	e.sender.waitReport(t, 10, protocol.StatusInProgress)

	// 11 is rescheduled with new parameters in the same message as its
	// cancel; 12 is just cancelled.
	e.intake(message(clusterMsg{id: "-1",
		cancels:  []map[string]any{cancelOf(11, "rescheduled"), cancelOf(12, "aborted by user")},
		commands: []map[string]any{cmd(11, "-1", map[string]string{"record": rec, "stdout_lines": "3"})},
	}))
	e.touch("go10")
	final := e.sender.waitReport(t, 11, protocol.StatusCompleted)
	if !strings.Contains(final["stdout"].(string), "line 3") {
		t.Errorf("task 11 ran the cancelled copy: stdout %q", final["stdout"])
	}
	// A later command proves the queue moved past where 12 was.
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{cmd(13, "-1", map[string]string{"record": rec})}}))
	e.sender.waitReport(t, 13, protocol.StatusCompleted)

	for _, ev := range e.events("rec") {
		if ev.task == 12 {
			t.Fatalf("cancelled queued command 12 ran")
		}
	}
	if rs := reportsOf(e.sender.all(), 12); len(rs) != 0 {
		t.Fatalf("cancelled queued command 12 was reported: %v", rs)
	}
	n := 0
	for _, ev := range e.events("rec") {
		if ev.task == 11 && ev.what == "start" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("task 11 started %d times, want 1", n)
	}
}

func TestIntakeRejectsMalformedAndFullQueue(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.MaxQueued = 2 })
	// Messages that are not commands messages at all are refused whole.
	for _, body := range []string{`not json`, `[1,2]`, `"x"`, `{"clusters":[1]}`, `{"clusters":{"2":{"commands":{"a":1}}}}`,
		`{"clusters":{"2":{"commands":"x"}}}`} {
		if err := e.q.Intake([]byte(body)); err == nil {
			t.Errorf("Intake(%s) = nil, want an error", body)
		}
	}
	// Not started: nothing leaves the queue.
	three := message(clusterMsg{id: "-1", commands: []map[string]any{cmd(1, "-1", nil), cmd(2, "-1", nil), cmd(3, "-1", nil)}})
	if err := e.q.Intake(three); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Intake over the bound = %v, want ErrQueueFull", err)
	}
	if !e.q.idle() {
		t.Fatal("a refused message left commands in the queue")
	}
	// Unknown types and commands without a task id are dropped, the rest
	// is queued.
	odd := cmd(4, "-1", nil)
	odd["commandType"] = "ALERT_EXECUTION_COMMAND"
	noID := cmd(5, "-1", nil)
	delete(noID, "taskId")
	if err := e.q.Intake(message(clusterMsg{id: "-1", commands: []map[string]any{odd, noID, cmd(6, "-1", nil)}})); err != nil {
		t.Fatal(err)
	}
	e.q.mu.Lock()
	n, first := len(e.q.main), e.q.main[0]
	e.q.mu.Unlock()
	if n != 1 || first.TaskID != 6 {
		t.Fatalf("queue holds %d commands (first %d), want only task 6", n, first.TaskID)
	}
	if first.ServiceName != "null" || first.raw["serviceName"] != "null" {
		t.Errorf("missing serviceName became %q, want \"null\"", first.ServiceName)
	}
	if first.raw["requiredConfigTimestamp"].(interface{ String() string }).String() != "1700000000000" {
		t.Errorf("requiredConfigTimestamp not copied into the command: %v", first.raw["requiredConfigTimestamp"])
	}
}

// One bad entry never costs the valid ones: every valid entry of a
// message runs, an entry that names its task is reported FAILED with the
// reason, one that does not is logged with the message id, and the message
// is accepted.
func TestIntakeRejectsEntriesOneByOne(t *testing.T) {
	e := newEnv(t, "", nil).start()
	unknown := cmd(31, "2", nil)
	unknown["commandType"] = "DANCE_COMMAND"
	status := cmd(32, "2", nil)
	status["commandType"] = protocol.StatusCommand
	badParams := cmd(33, "2", nil)
	badParams["commandParams"] = "not an object"
	noType := cmd(34, "2", nil)
	delete(noType, "commandType")
	noID := cmd(0, "2", nil)
	noID["taskId"] = "seven"
	// A bad entry naming the task of a valid one must not report it FAILED.
	dup := cmd(30, "2", nil)
	dup["commandType"] = "DANCE_COMMAND"
	body := message(clusterMsg{id: "2", commands: []map[string]any{cmd(30, "2", nil), unknown, status, badParams, noType, noID, dup}})
	// A non-object entry, spliced in before the last valid one.
	body = bytes.Replace(body, []byte(`"commands":[`), []byte(`"commands":[42,"text",null,`), 1)
	body = bytes.Replace(body, []byte(`]}}}`), []byte(`,`+string(mustJSON(t, cmd(35, "2", nil)))+`]}}}`), 1)
	if err := e.q.IntakeMessage("77", body); err != nil {
		t.Fatalf("IntakeMessage = %v, want the message accepted", err)
	}
	for _, id := range []int{30, 35} {
		e.sender.waitReport(t, id, protocol.StatusCompleted)
	}
	want := map[int]string{
		31: `unknown command type "DANCE_COMMAND"`,
		32: "command type STATUS_COMMAND is not run when pushed",
		33: "commandParams is a string, not an object",
		34: "command has no commandType",
	}
	for id, text := range want {
		r := e.sender.waitReport(t, id, protocol.StatusFailed)
		if stderr, _ := r["stderr"].(string); !strings.Contains(stderr, text) {
			t.Errorf("task %d: stderr %q lacks %q", id, stderr, text)
		}
		if fmt.Sprint(r["exitCode"]) != "1" || r["clusterId"] != "2" || r["role"] != "QTEST_SERVER" {
			t.Errorf("task %d: report %v", id, r)
		}
	}
	for _, r := range reportsOf(e.sender.all(), 30) {
		if r["status"] == protocol.StatusFailed {
			t.Errorf("task 30 reported FAILED for a bad entry naming it: %v", r)
		}
	}
	for id := range want {
		for _, r := range reportsOf(e.sender.all(), id) {
			if r["status"] != protocol.StatusFailed {
				t.Errorf("refused task %d was reported %v: it started", id, r["status"])
			}
		}
	}
	// The four entries without a usable task id are logged with the
	// message id.
	var dropped int
	for _, en := range e.hook.AllEntries() {
		if strings.Contains(en.Message, "has no task id") && en.Data["messageId"] == "77" {
			dropped++
		}
	}
	if dropped != 4 {
		t.Errorf("%d entries logged as dropped with the message id, want 4", dropped)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Parallel mode runs retry-enabled commands at the same time, never more
// than ParallelLimit.
func TestParallelExecutionOverlapsWithinBound(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.ParallelExecution = true; c.ParallelLimit = 2 }).start()
	var cmds []map[string]any
	// Every command runs until the test lets them end, once two run at
	// once: the overlap does not depend on how fast scripts start.
	for id := 20; id < 25; id++ {
		cmds = append(cmds, cmd(id, "-1", map[string]string{"record": e.path("rec"), "wait_file": e.path("go"), "command_retry_enabled": "true"}))
	}
	e.intake(message(clusterMsg{id: "-1", commands: cmds}))
	testutil.WaitFor(t, "two commands running at once", func() bool { return len(e.events("rec")) >= 2 })
	e.touch("go")
	e.sender.waitFor(t, "all completed", func(all []map[string]any) bool {
		n := 0
		for _, r := range all {
			if r["status"] == protocol.StatusCompleted {
				n++
			}
		}
		return n == 5
	})
	evs := e.events("rec")
	sort.Slice(evs, func(a, b int) bool { return evs[a].at < evs[b].at })
	cur, peak := 0, 0
	for _, ev := range evs {
		if ev.what == "start" {
			cur++
		} else {
			cur--
		}
		if cur > peak {
			peak = cur
		}
	}
	if peak != 2 {
		t.Fatalf("at most %d commands ran at once, want exactly 2 (overlap, bounded)", peak)
	}
}

// A cancelled running command has its process tree killed and is reported
// FAILED with the reason.
func TestCancelRunningKillsTreeAndReportsReason(t *testing.T) {
	e := newEnv(t, "", nil).start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(30, "-1", map[string]string{"child_pid_file": e.path("child"), "wait_file": e.path("never")}),
	}}))
	e.waitFile("child", "")
	data, _ := os.ReadFile(e.path("child"))
	child, _ := strconv.Atoi(strings.TrimSpace(string(data)))

	e.intake(message(clusterMsg{id: "-1", cancels: []map[string]any{cancelOf(30, "Stage timeout")}}))
	final := e.sender.waitReport(t, 30, protocol.StatusFailed)
	for _, f := range []string{"stdout", "stderr"} {
		if !strings.Contains(final[f].(string), "Command aborted. Reason: 'Stage timeout'") {
			t.Errorf("%s = %q, want the abort reason", f, final[f])
		}
	}
	if !strings.HasSuffix(final["stdout"].(string), "\n\nCommand failed after 1 tries\n") {
		t.Errorf("stdout = %q, want the failure suffix", final["stdout"])
	}
	deadline := time.Now().Add(waitTimeout)
	for syscall.Kill(child, 0) == nil && !isZombie(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child process %d of the cancelled command survived", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && len(data) > i+2 && data[i+2] == 'Z'
}

// A running command cancelled and re-sent in one message (the server
// rescheduled it) sends no failure report; the new copy runs and reports.
func TestRescheduledCancelSendsNoFailure(t *testing.T) {
	e := newEnv(t, "", nil).start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(40, "-1", map[string]string{"record": e.path("rec"), "wait_file": e.path("never")}),
	}}))
	e.sender.waitReport(t, 40, protocol.StatusInProgress)
	e.waitFile("rec", "")
	e.intake(message(clusterMsg{id: "-1",
		cancels:  []map[string]any{cancelOf(40, "rescheduled")},
		commands: []map[string]any{cmd(40, "-1", map[string]string{"record": e.path("rec"), "stdout_lines": "2"})},
	}))
	e.sender.waitReport(t, 40, protocol.StatusCompleted)
	for _, r := range reportsOf(e.sender.all(), 40) {
		if r["status"] == protocol.StatusFailed {
			t.Fatalf("rescheduled task reported FAILED: %v", r)
		}
	}
	if n := len(e.events("rec")); n != 3 { // start of the killed run, start+end of the new one
		t.Fatalf("record has %d events, want 3: %v", n, e.events("rec"))
	}
}

// Retries wait 2, 4, 8 ... (virtual) seconds until max_duration_for_retries
// is spent, append to the output files and mark the command as retried.
func TestRetriesWithGrowingDelays(t *testing.T) {
	vc := &virtualClock{unit: 100 * time.Millisecond, base: time.Unix(1700000000, 0)}
	e := newEnv(t, "", func(c *Config) { c.clock = vc }).start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(50, "-1", map[string]string{"record": e.path("rec"), "exit_code": "3", "stderr_text": "boom",
			"command_retry_enabled": "true", "max_duration_for_retries": "14"}),
	}}))
	final := e.sender.waitReport(t, 50, protocol.StatusFailed)

	var starts []event
	for _, ev := range e.events("rec") {
		if ev.what == "start" {
			starts = append(starts, ev)
		}
	}
	// Budget 14 s with instant attempts: wait 2 (12 left), 4 (8), 8 (0),
	// then one last attempt.
	if len(starts) != 4 {
		t.Fatalf("%d attempts, want 4", len(starts))
	}
	if starts[0].attempt != "first" || starts[1].attempt != "retry" || starts[3].attempt != "retry" {
		t.Errorf("commandBeingRetried marks = %v", starts)
	}
	// Each gap holds its wait (2, 4, 8 units) plus the script's start-up,
	// which a loaded machine can stretch: only the lower bounds are sure.
	for i := 1; i < len(starts); i++ {
		gap, wait := time.Duration(starts[i].at-starts[i-1].at), time.Duration(100<<i)*time.Millisecond
		if gap < wait {
			t.Errorf("attempt %d started %v after the one before, less than its wait of %v", i+1, gap, wait)
		}
	}
	if got := vc.slept(); len(got) != 3 || got[0] != 2*time.Second || got[1] != 4*time.Second || got[2] != 8*time.Second {
		t.Errorf("retry delays %v, want [2s 4s 8s]", got)
	}
	if !strings.HasSuffix(final["stdout"].(string), "\n\nCommand failed after 4 tries\n") {
		t.Errorf("stdout = %q", final["stdout"])
	}
	if n := strings.Count(final["stdout"].(string), "running INSTALL for task 50"); n != 4 {
		t.Errorf("output of %d attempts in the final stdout, want 4 (retries append)", n)
	}
	if final["exitCode"].(interface{ String() string }).String() != "3" {
		t.Errorf("exitCode = %v, want 3", final["exitCode"])
	}
}

// The example of docs/behaviour.md §5.3: a 10 s budget and attempts that take 1 s each give
// waits of 2, 4 and 1 s and four tries.
func TestRetryArithmeticSpecExample(t *testing.T) {
	vc := &virtualClock{base: time.Unix(1700000000, 0)}
	fr := &fakeRunner{clock: vc, attemptTime: time.Second, exitCode: 1}
	sender := newRecSender()
	q, err := New(Config{Runner: fr, Sender: sender, clock: vc})
	if err != nil {
		t.Fatal(err)
	}
	stop := runQueue(t, q)
	defer stop()
	c := cmd(60, "-1", map[string]string{"command_retry_enabled": "true", "max_duration_for_retries": "10"})
	if err := q.Intake(message(clusterMsg{id: "-1", commands: []map[string]any{c}})); err != nil {
		t.Fatal(err)
	}
	final := sender.waitReport(t, 60, protocol.StatusFailed)
	if fr.calls() != 4 {
		t.Errorf("%d attempts, want 4", fr.calls())
	}
	if got := vc.slept(); len(got) != 3 || got[0] != 2*time.Second || got[1] != 4*time.Second || got[2] != time.Second {
		t.Errorf("retry delays %v, want [2s 4s 1s]", got)
	}
	if !strings.HasSuffix(final["stdout"].(string), "Command failed after 4 tries\n") {
		t.Errorf("stdout = %q", final["stdout"])
	}
	// A command without retries never loops, whatever its budget.
	c = cmd(61, "-1", map[string]string{"max_duration_for_retries": "100"})
	if err := q.Intake(message(clusterMsg{id: "-1", commands: []map[string]any{c}})); err != nil {
		t.Fatal(err)
	}
	sender.waitReport(t, 61, protocol.StatusFailed)
	if fr.calls() != 5 {
		t.Errorf("non-retryable command ran %d times, want 1", fr.calls()-4)
	}
}

// A cancel during a retry wait ends the wait at once and reports the
// reason.
func TestCancelDuringRetryWait(t *testing.T) {
	// The retry wait ends only through the cancel: a report at all shows
	// that the cancel ended it.
	e := newEnv(t, "", func(c *Config) { c.clock = endlessWaits{} }).start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(70, "-1", map[string]string{"record": e.path("rec"), "exit_code": "1",
			"command_retry_enabled": "true", "max_duration_for_retries": "600"}),
	}}))
	e.waitFile("rec", "")
	// Let the first attempt end; the command then waits.
	testutil.WaitFor(t, "the first attempt to end", func() bool { return len(e.events("rec")) >= 2 })
	e.intake(message(clusterMsg{id: "-1", cancels: []map[string]any{cancelOf(70, "user abort")}}))
	final := e.sender.waitReport(t, 70, protocol.StatusFailed)
	if n := len(e.events("rec")); n != 2 {
		t.Errorf("%d events, want one attempt only", n)
	}
	if !strings.Contains(final["stderr"].(string), "Command aborted. Reason: 'user abort'") {
		t.Errorf("stderr = %q, want the reason", final["stderr"])
	}
}

// A background command reports IN_PROGRESS at once and its final result
// when its script ends, even while a foreground command is running.
func TestBackgroundCommand(t *testing.T) {
	e := newEnv(t, "", nil).start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(80, "-1", map[string]string{"wait_file": e.path("go80")}),
	}}))
	e.sender.waitReport(t, 80, protocol.StatusInProgress)
	bg := cmd(81, clusterID, map[string]string{"sleep": "0.2", "structured": `{"rebalance": "done"}`, "stdout_lines": "2"})
	bg["commandType"] = protocol.BackgroundExecutionCommand
	bg["roleCommand"] = "CUSTOM_COMMAND"
	bg["commandParams"].(map[string]any)["custom_command"] = "REBALANCEHDFS"
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{bg}}))

	started := e.sender.waitReport(t, 81, protocol.StatusInProgress)
	if started["tmpout"] != e.data+"/output-81.txt" {
		t.Errorf("IN_PROGRESS tmpout = %v", started["tmpout"])
	}
	final := e.sender.waitReport(t, 81, protocol.StatusCompleted)
	if final["structuredOut"] != `{"rebalance":"done"}` {
		t.Errorf("structuredOut = %#v, want the JSON text", final["structuredOut"])
	}
	if strings.Contains(final["stdout"].(string), "Command completed successfully") || !strings.Contains(final["stdout"].(string), "line 2") {
		t.Errorf("stdout = %q", final["stdout"])
	}
	if final["customCommand"] != "REBALANCEHDFS" {
		t.Errorf("customCommand = %v", final["customCommand"])
	}
	if rs := reportsOf(e.sender.all(), 80); rs[len(rs)-1]["status"] != protocol.StatusInProgress {
		t.Fatalf("foreground command ended before the background one was reported")
	}
	e.touch("go80")
	e.sender.waitReport(t, 80, protocol.StatusCompleted)
}

// A background command that cannot start (no such script) is reported
// FAILED instead of staying IN_PROGRESS forever.
func TestBackgroundCommandThatCannotStart(t *testing.T) {
	e := newEnv(t, "", nil).start()
	bg := cmd(82, "-1", nil)
	bg["commandType"] = protocol.BackgroundExecutionCommand
	bg["commandParams"].(map[string]any)["script"] = "scripts/missing.py"
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{bg}}))
	final := e.sender.waitReport(t, 82, protocol.StatusFailed)
	if !strings.Contains(final["stderr"].(string), "does not exist") {
		t.Errorf("stderr = %q", final["stderr"])
	}
	time.Sleep(100 * time.Millisecond)
	n := 0
	for _, r := range reportsOf(e.sender.all(), 82) {
		if r["status"] == protocol.StatusFailed {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d FAILED reports, want 1", n)
	}
}

// Recovery commands are injected only when the queue is idle; every
// observer hears of each command's start, attempts and end, in order.
func TestRecoveryAndObservers(t *testing.T) {
	rm := &fakeRecovery{}
	obs := &recorder{}
	e := newEnv(t, "", func(c *Config) {
		c.Recovery = rm
		c.Observers = []Observer{rm, obs}
		c.RecoveryInterval = 50 * time.Millisecond
		c.ReportInterval = 50 * time.Millisecond
	})
	rm.q = e.q
	e.start()
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{
		cmd(90, clusterID, map[string]string{"wait_file": e.path("go90")}),
	}}, clusterMsg{id: "-1", commands: []map[string]any{cmd(91, "-1", nil)}}))
	e.sender.waitReport(t, 90, protocol.StatusInProgress)
	rm.offer(map[string]any{"clusterId": clusterID, "roleCommand": "START", "commandType": protocol.AutoExecutionCommand,
		"taskId": int64(1729091235), "commandId": int64(1729091235), "role": "QTEST_SERVER", "serviceName": "QTEST"})
	time.Sleep(200 * time.Millisecond)
	if rm.askedWhileBusy() {
		t.Fatal("recovery commands were requested while a command was active")
	}
	e.touch("go90")
	e.sender.waitReport(t, 91, protocol.StatusCompleted)
	auto := e.sender.waitReport(t, 1729091235, protocol.StatusCompleted)
	if auto["actionId"].(interface{ String() string }).String() != "1729091235" {
		t.Errorf("recovery report actionId = %v", auto["actionId"])
	}
	inProgress := e.sender.waitReport(t, 1729091235, protocol.StatusInProgress)
	if inProgress["tmpout"] != e.data+"/auto_output-1729091235.txt" {
		t.Errorf("recovery tmpout = %v", inProgress["tmpout"])
	}
	// Several periodic cycles later the recovery reports were not repeated.
	time.Sleep(300 * time.Millisecond)
	if rs := reportsOf(e.sender.all(), 1729091235); len(rs) != 2 {
		t.Errorf("recovery command reported %d times, want 2 (once per state)", len(rs))
	}
	for _, id := range []int64{90, 91, 1729091235} {
		if got := obs.of(id); got != "started,attempt,ended,COMPLETED" {
			t.Errorf("observer heard %q of task %d", got, id)
		}
	}
	seen, results := rm.observed()
	if strings.Join(seen, ",") != "90,91,1729091235" {
		t.Errorf("recovery saw commands %v", seen)
	}
	if strings.Join(results, ",") != "90:COMPLETED,91:COMPLETED,1729091235:COMPLETED" {
		t.Errorf("recovery saw results %v", results)
	}
}

// In parallel mode a command without retries runs on its own: the commands
// behind it wait for it, as in the Python agent.
func TestParallelModeRunsNonRetryableSynchronously(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.ParallelExecution = true }).start()
	rec := e.path("rec")
	par := map[string]string{"record": rec, "sleep": "0.3", "command_retry_enabled": "true"}
	// 110 runs until the test lets it end, once 111 has started.
	first := map[string]string{"record": rec, "wait_file": e.path("go110"), "command_retry_enabled": "true"}
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{
		cmd(110, "-1", first),
		cmd(111, "-1", map[string]string{"record": rec, "sleep": "0.3"}),
		cmd(112, "-1", par),
	}}))
	testutil.WaitFor(t, "the synchronous command to start while the parallel one before it runs", func() bool {
		return slices.ContainsFunc(e.events("rec"), func(ev event) bool { return ev.what == "start" && ev.task == 111 })
	})
	e.touch("go110")
	e.sender.waitReport(t, 110, protocol.StatusCompleted)
	e.sender.waitReport(t, 112, protocol.StatusCompleted)
	at := map[string]int64{}
	for _, ev := range e.events("rec") {
		at[ev.what+strconv.Itoa(ev.task)] = ev.at
	}
	if at["start112"] < at["end111"] {
		t.Errorf("a command started while the synchronous one before it ran")
	}
}

// cancelRaceRunner knows a task only some time after Run began, like the
// orchestrator while it registers the task; until then Cancel fails.
type cancelRaceRunner struct {
	fakeRunner
	entered chan struct{}
	mu      sync.Mutex
	known   bool
	killed  chan struct{}
}

func (r *cancelRaceRunner) Run(ctx context.Context, req orchestrator.Request) orchestrator.Result {
	r.entered <- struct{}{}
	time.Sleep(150 * time.Millisecond)
	r.mu.Lock()
	r.known = true
	r.mu.Unlock()
	// Only the cancel ends the command: a lost cancel means no report.
	select {
	case <-r.killed:
		return orchestrator.Result{ExitCode: -15, Canceled: true, Stdout: "x\nCommand aborted.", StructuredOut: map[string]any{}}
	case <-ctx.Done():
		return orchestrator.Result{ExitCode: 0, StructuredOut: map[string]any{}, Err: orchestrator.ErrStopped}
	}
}

func (r *cancelRaceRunner) Cancel(taskID, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.known {
		return false
	}
	select {
	case <-r.killed:
	default:
		close(r.killed)
	}
	return true
}

// A cancel arriving while the orchestrator is still taking the command on
// is not lost.
func TestCancelWhileOrchestratorStartsCommand(t *testing.T) {
	r := &cancelRaceRunner{entered: make(chan struct{}, 1), killed: make(chan struct{})}
	sender := newRecSender()
	q, err := New(Config{Runner: r, Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	defer runQueue(t, q)()
	if err := q.Intake(message(clusterMsg{id: "-1", commands: []map[string]any{cmd(120, "-1", nil)}})); err != nil {
		t.Fatal(err)
	}
	<-r.entered
	if err := q.Intake(message(clusterMsg{id: "-1", cancels: []map[string]any{cancelOf(120, "")}})); err != nil {
		t.Fatal(err)
	}
	final := sender.waitReport(t, 120, protocol.StatusFailed)
	if !strings.Contains(final["stdout"].(string), "Command aborted.") {
		t.Errorf("stdout = %q", final["stdout"])
	}
}

// An attempt whose command cannot be prepared (no caches for its cluster)
// runs no script: observers hear of the command and its failure, not of
// an attempt, so the status loop neither counts the component busy nor
// forgets its acknowledged status for it.
func TestObserversHearNoAttemptThatWasNotPrepared(t *testing.T) {
	obs := &recorder{}
	e := newEnv(t, "", func(c *Config) { c.Observers = []Observer{obs} })
	e.start()
	e.intake(message(clusterMsg{id: "9", commands: []map[string]any{cmd(95, "9", nil)}}))
	final := e.sender.waitReport(t, 95, protocol.StatusFailed)
	if !strings.Contains(final["stderr"].(string), "no metadata for cluster 9") {
		t.Fatalf("stderr %q, want the preparation failure", final["stderr"])
	}
	deadline := time.Now().Add(waitTimeout)
	for obs.of(95) != "started,FAILED" {
		if time.Now().After(deadline) {
			t.Fatalf("observer heard %q, want started,FAILED", obs.of(95))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
