package actionqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

func sortedKeys(m map[string]any) string {
	k := keysOf(m)
	sort.Strings(k)
	return strings.Join(k, ",")
}

func num(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return fmt.Sprintf("<%T %v>", v, v)
}

// The three report forms carry exactly the fields of docs/protocol.md §6.1.
func TestReportFormsExactFields(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.ReportInterval = 100 * time.Millisecond }).start()
	c := cmd(100, clusterID, map[string]string{"stdout_lines": "25", "stderr_text": "warn1\nwarn2\n",
		"structured": `{"progress": 1}`, "wait_file": e.path("go"), "custom_command": "RESTART"})
	c["roleCommand"] = "CUSTOM_COMMAND"
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{c}}))

	all := e.sender.waitFor(t, "a periodic report", func(all []map[string]any) bool {
		for _, r := range reportsOf(all, 100) {
			if r["exitCode"] != nil && strings.Contains(r["stdout"].(string), "line 25") {
				return true
			}
		}
		return false
	})
	formA := reportsOf(all, 100)[0]
	if got, want := sortedKeys(formA), "actionId,clusterId,role,roleCommand,serviceName,status,structuredOut,taskId,tmperr,tmpout"; got != want {
		t.Errorf("form A fields %s, want %s", got, want)
	}
	wantA := map[string]any{"role": "QTEST_SERVER", "actionId": "7-100", "clusterId": "2", "serviceName": "QTEST",
		"roleCommand": "CUSTOM_COMMAND", "status": "IN_PROGRESS", "tmpout": e.data + "/output-100.txt",
		"tmperr": e.data + "/errors-100.txt", "structuredOut": e.data + "/structured-out-100.json"}
	for k, v := range wantA {
		if formA[k] != v {
			t.Errorf("form A %s = %#v, want %#v", k, formA[k], v)
		}
	}
	if num(formA["taskId"]) != "100" {
		t.Errorf("form A taskId = %v", formA["taskId"])
	}

	var formB map[string]any
	for _, r := range reportsOf(all, 100) {
		if r["exitCode"] != nil && strings.Contains(r["stdout"].(string), "line 25") {
			formB = r
		}
	}
	if got, want := sortedKeys(formB), "actionId,clusterId,exitCode,role,roleCommand,serviceName,status,stderr,stdout,structuredOut,taskId"; got != want {
		t.Errorf("form B fields %s, want %s", got, want)
	}
	var last10 []string
	for i := 16; i <= 25; i++ {
		last10 = append(last10, fmt.Sprintf("line %d", i))
	}
	if formB["stdout"] != strings.Join(last10, "\n") {
		t.Errorf("form B stdout = %q, want the last 10 lines", formB["stdout"])
	}
	if formB["stderr"] != "warn1\nwarn2" || formB["structuredOut"] != `{"progress": 1}` ||
		num(formB["exitCode"]) != "777" || formB["status"] != "IN_PROGRESS" {
		t.Errorf("form B = %v", formB)
	}

	e.touch("go")
	formC := e.sender.waitReport(t, 100, protocol.StatusCompleted)
	if got, want := sortedKeys(formC), "actionId,clusterId,customCommand,exitCode,role,roleCommand,serviceName,status,stderr,stdout,structuredOut,taskId"; got != want {
		t.Errorf("form C fields %s, want %s", got, want)
	}
	if !strings.HasPrefix(formC["stdout"].(string), "running RESTART for task 100") ||
		!strings.HasSuffix(formC["stdout"].(string), "line 25\n\nCommand completed successfully!\n") {
		t.Errorf("form C stdout = %q", formC["stdout"])
	}
	if formC["stderr"] != "warn1\nwarn2" || formC["structuredOut"] != `{"progress":1}` ||
		num(formC["exitCode"]) != "0" || formC["customCommand"] != "RESTART" {
		t.Errorf("form C = %v", formC)
	}

	// Once acknowledged, the task is gone: later cycles send nothing.
	n := len(e.sender.messages())
	time.Sleep(400 * time.Millisecond)
	if m := len(e.sender.messages()); m != n {
		t.Errorf("%d messages sent after everything was acknowledged", m-n)
	}
}

// An empty output is reported as "None".
func TestFinalReportNoneForEmptyOutput(t *testing.T) {
	fr := &fakeRunner{}
	sender := newRecSender()
	q, err := New(Config{Runner: emptyRunner{fr}, Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	defer runQueue(t, q)()
	if err := q.Intake(message(clusterMsg{id: "-1", commands: []map[string]any{cmd(101, "-1", nil)}})); err != nil {
		t.Fatal(err)
	}
	r := sender.waitReport(t, 101, protocol.StatusCompleted)
	if r["stderr"] != "None" || r["stdout"] != "\n\nCommand completed successfully!\n" || r["structuredOut"] != "{}" {
		t.Errorf("report = %v", r)
	}
}

type emptyRunner struct{ *fakeRunner }

func (r emptyRunner) Run(ctx context.Context, req orchestrator.Request) orchestrator.Result {
	return orchestrator.Result{StructuredOut: map[string]any{}}
}

// Reports are split greedily in order so that every message's map stays
// within MaxReportSize; a larger report goes alone; no message is empty.
func TestReportsSplitAtSizeLimit(t *testing.T) {
	sender := newRecSender()
	s, err := newStatusStore(storeConfig{maxEntries: 100, sender: sender, log: testutil.DiscardLog()})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{800000, 800000, 2500000, 800000, 300000, 900000, 10}
	for i, n := range sizes {
		c := &command{CommandHeader: protocol.CommandHeader{CommandType: protocol.ExecutionCommand, TaskID: int64(300 + i),
			CommandID: "1-1", ClusterID: []string{"2", "-1"}[i%2], Role: "R", RoleCommand: "INSTALL", ServiceName: "S"},
			raw: map[string]any{}}
		r := template(c)
		r.Stdout = ptr(strings.Repeat("x", n))
		r.Stderr = ptr("None")
		r.ExitCode = ptr(0)
		r.StructuredOut = ptr("{}")
		r.Status = protocol.StatusCompleted
		s.put(c, orchestrator.TaskFiles{}, r)
	}
	s.sendPending(context.Background(), false)

	msgs := sender.messages()
	var order []int
	var perMsg []int
	for _, m := range msgs {
		inner := len(m.body) - len(`{"clusters":`) - 1
		if len(m.reports) == 0 {
			t.Fatal("an empty message was sent")
		}
		if inner > MaxReportSize && len(m.reports) > 1 {
			t.Errorf("message of %d characters holds %d reports", inner, len(m.reports))
		}
		ids := make([]int, 0, len(m.reports))
		for _, r := range m.reports {
			ids = append(ids, taskOf(r))
		}
		sort.Ints(ids)
		order = append(order, ids...)
		perMsg = append(perMsg, len(m.reports))
	}
	// 800k+800k | 2.5M alone | 800k+300k+... 900k would exceed | 900k+10
	if fmt.Sprint(perMsg) != "[2 1 2 2]" {
		t.Errorf("reports per message %v, want [2 1 2 2]", perMsg)
	}
	if fmt.Sprint(order) != "[300 301 302 303 304 305 306]" {
		t.Errorf("reports sent in order %v", order)
	}
	s.mu.Lock()
	left := len(s.entries)
	s.mu.Unlock()
	if left != 0 {
		t.Errorf("%d reports left after all were acknowledged", left)
	}
}

// splitPoint's arithmetic matches the rendered JSON exactly: each part is
// the longest prefix whose map fits.
func TestSplitPointMatchesRenderedSize(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	keys := [][]byte{[]byte(`"2"`), []byte(`"-1"`), []byte(`"17"`)}
	for round := 0; round < 300; round++ {
		n := 1 + rng.Intn(12)
		items := make([]item, n)
		for i := range items {
			items[i] = item{clusterKey: keys[rng.Intn(len(keys))], body: []byte(strings.Repeat("a", 1+rng.Intn(60)))}
		}
		max := 20 + rng.Intn(300)
		k := splitPoint(items, max)
		inner := func(part []item) int { return len(buildMessage(part)) - len(`{"clusters":`) - 1 }
		if k < 1 || k > n {
			t.Fatalf("splitPoint = %d for %d items", k, n)
		}
		if k > 1 && inner(items[:k]) > max {
			t.Fatalf("part of %d items renders to %d > %d", k, inner(items[:k]), max)
		}
		if k < n && inner(items[:k+1]) <= max {
			t.Fatalf("part of %d items stops early: %d items render to %d <= %d", k, k+1, inner(items[:k+1]), max)
		}
	}
}

// With nothing pending the periodic cycle neither sends nor allocates.
func TestIdleCycleDoesNothing(t *testing.T) {
	sender := newRecSender()
	s, err := newStatusStore(storeConfig{maxEntries: 10, sender: sender, log: testutil.DiscardLog(), prefix: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() { s.sendPending(ctx, true) })
	if allocs != 0 {
		t.Errorf("idle cycle allocates %.1f times", allocs)
	}
	if n := len(sender.messages()); n != 0 {
		t.Errorf("idle cycle sent %d messages", n)
	}
}

// A periodic cycle that comes before the immediate send of a starting
// command's report sends form A, not the output so far: the server always
// sees the file paths first. Later cycles send form B.
func TestPeriodicCycleSendsFormAFirst(t *testing.T) {
	sender := newRecSender()
	s, err := newStatusStore(storeConfig{maxEntries: 10, sender: sender, log: testutil.DiscardLog()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := orchestrator.TaskFiles{Out: dir + "/output-5.txt", Err: dir + "/errors-5.txt",
		StructuredOut: dir + "/structured-out-5.json", ReportedStructuredOut: dir + "/structured-out-5.json"}
	c := &command{CommandHeader: protocol.CommandHeader{CommandType: protocol.ExecutionCommand, TaskID: 5,
		CommandID: "1-0", ClusterID: "2", Role: "R", RoleCommand: "START", ServiceName: "S"},
		taskKey: "5", raw: map[string]any{}}
	s.put(c, files, formA(c, files))

	s.sendPending(context.Background(), true)
	s.sendPending(context.Background(), true)
	reps := reportsOf(sender.all(), 5)
	if len(reps) != 2 {
		t.Fatalf("%d reports sent, want 2: %v", len(reps), reps)
	}
	if reps[0]["tmpout"] != files.Out || reps[0]["exitCode"] != nil {
		t.Errorf("first report %v, want form A", reps[0])
	}
	if reps[1]["tmpout"] != nil || num(reps[1]["exitCode"]) != "777" {
		t.Errorf("second report %v, want form B", reps[1])
	}
}
