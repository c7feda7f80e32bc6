package actionqueue

import (
	"github.com/ambari-go/ambari-agent/internal/atomicfile"

	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// cleanerPattern is the data cleaner's file pattern (docs/behaviour.md §3.8); no
// journal file may match it.
var cleanerPattern = regexp.MustCompile(`^(auto_command-\d+.json|auto_errors-\d+.txt|auto_output-\d+.txt|auto_structured-out-\d+.json|errors-\d+.txt|output-\d+.txt|site-\d+.pp|structured-out-\d+.json|command-\d+.json)`)

// journaled returns the journal's records by task id.
func (e *env) journaled() map[int]journalRecord {
	e.t.Helper()
	dir := filepath.Join(e.data, "reports")
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int]journalRecord{}
	for _, de := range ents {
		if cleanerPattern.MatchString(de.Name()) {
			e.t.Errorf("journal file %s matches the data cleaner's pattern", de.Name())
		}
		if atomicfile.IsTemp(de.Name()) || !strings.HasPrefix(de.Name(), journalPrefix) {
			continue // being written, or not the journal's
		}
		info, err := de.Info()
		if err != nil {
			continue // replaced meanwhile
		}
		if info.Mode().Perm() != 0o600 {
			e.t.Errorf("journal file %s has mode %v, want 0600", de.Name(), info.Mode().Perm())
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		var rec journalRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			e.t.Fatalf("journal file %s: %v", de.Name(), err)
		}
		var r protocol.CommandReport
		json.Unmarshal(rec.Report, &r)
		out[int(r.TaskID)] = rec
	}
	return out
}

func statusOf(rec journalRecord) string {
	var r protocol.CommandReport
	json.Unmarshal(rec.Report, &r)
	return r.Status
}

// waitJournal waits until pred holds for the journal.
func (e *env) waitJournal(what string, pred func(map[int]journalRecord) bool) map[int]journalRecord {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		j := e.journaled()
		if pred(j) {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for the journal to show %s: %v", what, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reports produced while the link is down are journaled and go out in the
// order they were produced as soon as the agent registers again.
func TestReportsWhileDisconnectedGoOutAfterRegistration(t *testing.T) {
	e := newEnv(t, "", nil)
	e.sender.setDown(true)
	e.start()
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{
		cmd(200, clusterID, nil), cmd(201, clusterID, map[string]string{"exit_code": "2"}),
		cmd(202, clusterID, map[string]string{"wait_file": e.path("go202")}),
	}}))
	e.waitJournal("three tasks", func(j map[int]journalRecord) bool {
		return statusOf(j[200]) == protocol.StatusCompleted && statusOf(j[201]) == protocol.StatusFailed &&
			statusOf(j[202]) == protocol.StatusInProgress
	})
	if info, err := os.Stat(filepath.Join(e.data, "reports")); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("journal directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	if n := len(e.sender.messages()); n != 0 {
		t.Fatalf("%d messages got through a down link", n)
	}

	e.sender.setDown(false)
	e.q.Registered()
	all := e.sender.waitFor(t, "the pending reports", func(all []map[string]any) bool { return len(all) >= 3 })
	got := summarize(all[:3])
	if got != "[200 COMPLETED][201 FAILED][202 IN_PROGRESS]" {
		t.Fatalf("after registration the server got %s, want the latest states in production order", got)
	}
	e.waitJournal("the acknowledged final reports dropped", func(j map[int]journalRecord) bool {
		_, a := j[200]
		_, b := j[201]
		return !a && !b && statusOf(j[202]) == protocol.StatusInProgress
	})
	e.touch("go202")
	e.sender.waitReport(t, 202, protocol.StatusCompleted)
	e.waitJournal("nothing left", func(j map[int]journalRecord) bool { return len(j) == 0 })
}

// A final report stays journaled and is sent again every cycle until the
// server acknowledges it.
func TestFinalReportKeptUntilAcknowledged(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.ReportInterval = 50 * time.Millisecond })
	e.sender.setWithhold(true)
	e.start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{cmd(210, "-1", nil)}}))
	e.sender.waitFor(t, "three sends of the final report", func(all []map[string]any) bool {
		n := 0
		for _, r := range reportsOf(all, 210) {
			if r["status"] == protocol.StatusCompleted {
				n++
			}
		}
		return n >= 3
	})
	if j := e.journaled(); statusOf(j[210]) != protocol.StatusCompleted {
		t.Fatalf("unacknowledged final report not journaled: %v", j)
	}
	e.sender.setWithhold(false)
	e.waitJournal("the report dropped after the acknowledgement", func(j map[int]journalRecord) bool { return len(j) == 0 })
	n := len(e.sender.messages())
	time.Sleep(300 * time.Millisecond)
	if m := len(e.sender.messages()); m != n {
		t.Errorf("%d more messages after the acknowledgement", m-n)
	}
}

// With the periodic cycle off, unacknowledged reports are still retried.
func TestUnacknowledgedReportRetriedWithoutPeriodicCycle(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.ReportInterval = 0 })
	e.sender.setWithhold(true)
	e.start()
	e.intake(message(clusterMsg{id: "-1", commands: []map[string]any{cmd(215, "-1", nil)}}))
	e.sender.waitReport(t, 215, protocol.StatusCompleted)
	e.sender.setWithhold(false)
	e.waitJournal("the report acknowledged by a retry", func(j map[int]journalRecord) bool { return len(j) == 0 })
}

// An agent that stops while a command runs reports that command FAILED
// after its restart, with the tail of its output; an unacknowledged final
// report from before the restart is sent again.
func TestRestartReportsRunningCommandFailed(t *testing.T) {
	e := newEnv(t, "", nil)
	e.sender.setWithhold(true)
	e.start()
	t.Cleanup(func() { os.WriteFile(e.path("never"), nil, 0o644) }) // let the orphaned script end
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{
		cmd(221, clusterID, nil),
		cmd(220, clusterID, map[string]string{"stdout_lines": "3", "stderr_text": "partial\n", "wait_file": e.path("never")}),
	}}))
	e.sender.waitReport(t, 221, protocol.StatusCompleted)
	e.sender.waitReport(t, 220, protocol.StatusInProgress)
	// stderr is written after the stdout lines have been flushed.
	e.waitFile("data/errors-220.txt", "partial")
	// The script's identity is journaled as soon as it runs.
	proc := e.waitJournal("the running script", func(j map[int]journalRecord) bool { return j[220].Process != nil })[220].Process
	e.halt()
	if j := e.journaled(); statusOf(j[220]) != protocol.StatusInProgress || statusOf(j[221]) != protocol.StatusCompleted {
		t.Fatalf("journal after the stop: %v", j)
	}
	if ok, why := proc.Same(); !ok || proc.PGID != proc.PID {
		t.Fatalf("journaled script %+v: %s", proc, why)
	}

	// The script still runs: the next agent process stops it before it
	// reports anything.
	e2 := newEnv(t, e.root, nil).start()
	if ok, _ := proc.Same(); ok {
		t.Fatal("the command left running was not stopped at start")
	}
	if n := len(e2.sender.messages()); n != 0 {
		t.Fatalf("%d messages before registration", n)
	}
	e2.q.Registered()
	all := e2.sender.waitFor(t, "the reports of the previous run", func(all []map[string]any) bool { return len(all) >= 2 })
	if got := summarize(all[:2]); got != "[221 COMPLETED][220 FAILED]" {
		t.Fatalf("after the restart the server got %s", got)
	}
	failed := all[1]
	if !strings.HasSuffix(failed["stderr"].(string), "partial\n\n"+ReapedMessage) {
		t.Errorf("stderr = %q, want the output tail and the restart message", failed["stderr"])
	}
	if !strings.HasSuffix(failed["stdout"].(string), "line 3") || num(failed["exitCode"]) != "1" {
		t.Errorf("report = %v", failed)
	}
	if got, want := sortedKeys(failed), "actionId,clusterId,exitCode,role,roleCommand,serviceName,status,stderr,stdout,structuredOut,taskId"; got != want {
		t.Errorf("fields %s, want %s", got, want)
	}
	e2.waitJournal("everything acknowledged", func(j map[int]journalRecord) bool { return len(j) == 0 })
}

// The journal holds at most MaxStoredReports tasks; the oldest go first,
// with a warning.
func TestJournalBounded(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.MaxStoredReports = 3 })
	e.sender.setDown(true)
	e.start()
	var cmds []map[string]any
	for id := 230; id < 235; id++ {
		cmds = append(cmds, cmd(id, "-1", nil))
	}
	e.intake(message(clusterMsg{id: "-1", commands: cmds}))
	j := e.waitJournal("the last task done", func(j map[int]journalRecord) bool { return statusOf(j[234]) == protocol.StatusCompleted })
	var ids []int
	for id := range j {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	if len(ids) != 3 || ids[0] != 232 {
		t.Fatalf("journal holds %v, want the newest three", ids)
	}
	warned := false
	for _, en := range e.hook.AllEntries() {
		if en.Level == logrus.WarnLevel && strings.Contains(en.Message, "dropping the oldest") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning about dropped reports")
	}
	e.sender.setDown(false)
	e.q.Registered()
	all := e.sender.waitFor(t, "three final reports", func(all []map[string]any) bool {
		n := 0
		for _, r := range all {
			if r["status"] == protocol.StatusCompleted {
				n++
			}
		}
		return n == 3
	})
	var finals []map[string]any
	for _, r := range all {
		if id := taskOf(r); id < 232 {
			t.Errorf("dropped task %d was sent", id)
		}
		if r["status"] == protocol.StatusCompleted {
			finals = append(finals, r)
		}
	}
	if got := summarize(finals); got != "[232 COMPLETED][233 COMPLETED][234 COMPLETED]" {
		t.Errorf("sent %s", got)
	}
}

// Leftover temp files are removed and unreadable records dropped at start.
func TestJournalLoadSkipsDamage(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data", "reports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".tmp-5-123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "task-6.json"), []byte("{not json"), 0o600)
	good := `{"version":1,"seq":4,"commandType":"EXECUTION_COMMAND","report":{"role":"R","actionId":"1-2","taskId":7,"clusterId":"-1","serviceName":"null","roleCommand":"INSTALL","stdout":"ok","stderr":"None","exitCode":0,"structuredOut":"{}","status":"COMPLETED"}}`
	os.WriteFile(filepath.Join(dir, "task-7.json"), []byte(good), 0o600)

	e := newEnv(t, root, nil).start()
	e.q.Registered()
	r := e.sender.waitReport(t, 7, protocol.StatusCompleted)
	if r["actionId"] != "1-2" || r["stdout"] != "ok" {
		t.Errorf("reloaded report = %v", r)
	}
	// The file goes once the acknowledgement is applied, just after the
	// send.
	e.waitJournal("the acknowledged report dropped", func(j map[int]journalRecord) bool { return len(j) == 0 })
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		t.Errorf("left in the journal: %s", de.Name())
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("journal directory mode %v, want 0700", info.Mode().Perm())
	}
}

// Commands the server handed over that had not started when the agent
// stopped are reported FAILED after the restart (the server counts them as
// delivered once acknowledged); one cancelled while queued is forgotten.
func TestRestartReportsQueuedCommandFailed(t *testing.T) {
	e := newEnv(t, "", nil)
	e.start()
	t.Cleanup(func() { os.WriteFile(e.path("never"), nil, 0o644) })
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{
		cmd(240, clusterID, map[string]string{"wait_file": e.path("never")}),
		cmd(241, clusterID, nil),
		cmd(242, clusterID, nil),
	}}))
	e.sender.waitReport(t, 240, protocol.StatusInProgress)
	j := e.journaled()
	if !j[241].Queued || !j[242].Queued || j[240].Queued {
		t.Fatalf("journal while 240 runs: %+v", j)
	}
	e.intake(message(clusterMsg{id: clusterID, cancels: []map[string]any{{"target_task_id": 242, "reason": "no longer needed"}}}))
	e.waitJournal("the cancelled queued task forgotten", func(j map[int]journalRecord) bool { _, ok := j[242]; return !ok })
	e.halt()

	e2 := newEnv(t, e.root, nil).start()
	e2.q.Registered()
	all := e2.sender.waitFor(t, "the reports of the previous run", func(all []map[string]any) bool { return len(all) >= 2 })
	byTask := map[int]map[string]any{}
	for _, r := range all {
		byTask[taskOf(r)] = r
	}
	if r := byTask[241]; r == nil || r["status"] != protocol.StatusFailed || !strings.Contains(r["stderr"].(string), NotRunMessage) {
		t.Fatalf("queued task after the restart: %v", r)
	}
	if r := byTask[240]; r == nil || !strings.Contains(r["stderr"].(string), ReapedMessage) {
		t.Fatalf("running task after the restart: %v", r)
	}
	if _, ok := byTask[242]; ok {
		t.Fatal("the cancelled task was reported")
	}
}
