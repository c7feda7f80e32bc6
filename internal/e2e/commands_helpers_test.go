package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// Helpers of the command tests (commands_*_test.go).

// cmdEnv is one simulator and one running, registered agent.
type cmdEnv struct {
	t   *testing.T
	s   *sim.Server
	a   *Agent
	ctx context.Context
	// port is the DEMO_SERVER daemon's port (demo-env/server_port).
	port string
}

// startCmdEnv starts the demo simulator and an agent named name, and waits
// until commands flow. d bounds the whole test.
func startCmdEnv(t *testing.T, name string, ini Ini, d time.Duration) *cmdEnv {
	t.Helper()
	sc := demoScenario(t)
	port := sc.Clusters[0].Configurations["demo-env"]["server_port"]
	s := startSim(t, sc, nil)
	a := newAgent(t, s, name, ini)
	ctx, _ := a.StartReady(s, d)
	return &cmdEnv{t: t, s: s, a: a, ctx: ctx, port: port}
}

// send sends one command in a message of its own and returns its task id.
func (e *cmdEnv) send(spec sim.CommandSpec) int64 {
	e.t.Helper()
	sent, err := e.s.SendCommand(e.a.Name, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return sent.TaskIDs[0]
}

// done waits for the task's final report.
func (e *cmdEnv) done(id int64) sim.TaskState {
	e.t.Helper()
	task, err := e.s.WaitTaskDone(e.ctx, id)
	if err != nil {
		st, _ := e.s.Task(id)
		e.t.Fatalf("task %d never ended (status %s): %v", id, st.Status, err)
	}
	return task
}

// running waits until the agent reported the task IN_PROGRESS.
func (e *cmdEnv) running(id int64) sim.TaskState {
	e.t.Helper()
	task, err := e.s.WaitTask(e.ctx, id, func(t sim.TaskState) bool {
		return t.Status == protocol.StatusInProgress || cmdTaskEnded(t.Status)
	})
	if err != nil {
		e.t.Fatalf("task %d never started: %v", id, err)
	}
	return task
}

// dataFile is a per-task file in the agent's data dir, e.g.
// dataFile("output", 3, ".txt").
func (e *cmdEnv) dataFile(kind string, id int64, ext string) string {
	return filepath.Join(e.a.DataDir(), fmt.Sprintf("%s-%d%s", kind, id, ext))
}

func cmdTaskEnded(s string) bool {
	switch s {
	case protocol.StatusCompleted, protocol.StatusFailed, sim.TaskAborted, sim.TaskTimedOut:
		return true
	}
	return false
}

// final is a task's final report; it fails the test when the task did not
// end with want.
func cmdFinal(t *testing.T, task sim.TaskState, want string) protocol.CommandReport {
	t.Helper()
	if task.Report == nil {
		t.Fatalf("task %d: no report", task.TaskID)
	}
	r := task.Report.Report
	if task.Status != want || r.Status != want {
		t.Fatalf("task %d %s %s ended %s (report %s), want %s\nstdout: %s\nstderr: %s",
			task.TaskID, task.RoleCommand, task.Role, task.Status, r.Status, want, cmdText(r.Stdout), cmdText(r.Stderr))
	}
	return r
}

func cmdText(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return *p
}

func cmdCode(p *int) string {
	if p == nil {
		return "<absent>"
	}
	return strconv.Itoa(*p)
}

// cmdInProgress are the task's IN_PROGRESS reports as the simulator
// received them, oldest first.
func cmdInProgress(task sim.TaskState) []protocol.CommandReport {
	var out []protocol.CommandReport
	for _, h := range task.History {
		if h.Report.Status == protocol.StatusInProgress {
			out = append(out, h.Report)
		}
	}
	return out
}

// cmdWaitFile waits until path exists and is not empty, and returns it.
func cmdWaitFile(ctx context.Context, path string) ([]byte, error) {
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s never appeared: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cmdSleeper is a SLEEPER command (sleep_tree.py): a script, its child and
// a grandchild that sleep far past any timeout, their pids written to
// pidsFile once all run.
type cmdSleeper struct {
	spec     sim.CommandSpec
	pidsFile string
}

// newCmdSleeper builds a SLEEPER command; whatever of its process tree is
// still alive when the test ends is killed.
func newCmdSleeper(t *testing.T, params sim.StringMap) cmdSleeper {
	t.Helper()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	p := sim.StringMap{"pids_file": pids}
	for k, v := range params {
		p[k] = v
	}
	t.Cleanup(func() {
		for _, f := range []string{pids, pids + ".child", pids + ".daemon"} {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(l); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return cmdSleeper{
		spec:     sim.CommandSpec{Component: "SLEEPER", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "SLEEP", CommandParams: p},
		pidsFile: pids,
	}
}

// pids waits until the whole tree runs and returns script, child and
// grandchild pids.
func (sl cmdSleeper) pids(t *testing.T, ctx context.Context) []int {
	t.Helper()
	b, err := cmdWaitFile(ctx, sl.pidsFile)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("pids file: %q", b)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 3 {
		t.Fatalf("pids file holds %v, want script, child and grandchild", pids)
	}
	return pids
}

// cmdAlive returns those of pids still running.
func cmdAlive(pids []int) []int {
	var out []int
	for _, p := range pids {
		if alive(p) {
			out = append(out, p)
		}
	}
	return out
}

// cmdHTTPGet fetches a URL on loopback with a short timeout.
func cmdHTTPGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// cmdLogLines returns the agent log lines holding all of subs.
func cmdLogLines(a *Agent, subs ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(a.Log()))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
next:
	for sc.Scan() {
		l := sc.Text()
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// cmdWaitLog waits for an agent log line holding all of subs.
func cmdWaitLog(ctx context.Context, a *Agent, subs ...string) bool {
	for {
		if len(cmdLogLines(a, subs...)) > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cmdJSON decodes a report's structuredOut text.
func cmdJSON(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("structuredOut %q: %v", text, err)
	}
	return m
}

func cmdHas(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
