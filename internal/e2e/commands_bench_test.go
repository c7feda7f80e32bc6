package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// cmdStampScript records the moment its first line runs, in epoch
// nanoseconds, as its structured output: the end point of the latency
// measurement. Everything before that line is the agent's work plus the
// interpreter's start, which the benchmark measures on its own.
const cmdStampScript = `import time
t0 = time.time_ns()
import json, sys
args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[3], "w") as f:
    json.dump({"start_ns": t0}, f)
`

// BenchmarkCommandLatency runs b.N trivial commands one after another
// through the real (non-race) agent and reports:
//
//   - send-to-exec: from the simulator handing the command message to its
//     session writer (TaskState.SentAt) to the first line of the script
//     (its own time.time_ns()); p50 and p99;
//   - python-start: the same end point for the same script started
//     directly from this process (fork, exec, interpreter start), the
//     part of send-to-exec the agent cannot help;
//   - intake-to-start: from the agent log's "Adding EXECUTION_COMMAND to
//     the queue" (frame read and decoded) to its DEBUG "Script started"
//     (the script process exists), millisecond log timestamps;
//   - agent CPU per command: utime+stime of the agent process (its own
//     threads only; scripts are children and not counted) over the run,
//     with and without the idle rate measured just before. Each command
//     is a cluster command, so the figure includes the status check the
//     agent runs after it (a second script, DEMO_CLIENT's STATUS).
//
// Run it with -benchtime=200x for the figures in the report:
//
//	go test -run '^$' -bench CommandLatency -benchtime=200x ./internal/e2e/
func BenchmarkCommandLatency(b *testing.B) {
	res := cmdCopyResources(b, map[string]string{"stacks/DEMO/1.0/services/DEMO/package/scripts/e2e_stamp.py": cmdStampScript})
	py := cmdPython(b)
	s := startSim(b, demoScenario(b), func(c *sim.Config) { c.ResourcesDir = res })
	// Periodic status checks off: they would run Python beside the
	// commands. The check after each command still runs. The interpreter
	// is the real one, not a wrapper script such as pyenv's shim.
	a := newAgent(b, s, "e2e-cmd-bench", Ini{"agent": {"status_commands_run_interval": "0"}, "python": {"executable": py}})
	a.bin = plainBin
	ctx, _ := a.StartReady(s, 30*time.Minute)
	spec := sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "STAMP",
		Script: "scripts/e2e_stamp.py"}
	run := func() (sim.TaskState, int64) {
		sent, err := s.SendCommand(a.Name, spec)
		if err != nil {
			b.Fatal(err)
		}
		task, err := s.WaitTaskDone(ctx, sent.TaskIDs[0])
		if err != nil || task.Status != protocol.StatusCompleted {
			b.Fatalf("task %+v: %v", task, err)
		}
		var so struct {
			StartNS int64 `json:"start_ns"`
		}
		if err := json.Unmarshal([]byte(*task.Report.Report.StructuredOut), &so); err != nil || so.StartNS == 0 {
			b.Fatalf("structuredOut %q: %v", *task.Report.Report.StructuredOut, err)
		}
		return task, so.StartNS
	}
	// The first command fetches the package into the cache.
	run()
	time.Sleep(time.Second)

	pid := a.Pid()
	idleFrom, idleTicks := time.Now(), cmdCPUTicks(b, pid)
	time.Sleep(5 * time.Second)
	idleRate := float64(cmdCPUTicks(b, pid).total()-idleTicks.total()) / time.Since(idleFrom).Seconds()

	lat := make([]time.Duration, 0, b.N)
	ids := make([]int64, 0, b.N)
	from, ticks := time.Now(), cmdCPUTicks(b, pid)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		task, startNS := run()
		lat = append(lat, time.Unix(0, startNS).Sub(task.SentAt))
		ids = append(ids, task.TaskID)
	}
	b.StopTimer()
	wall := time.Since(from)
	after := cmdCPUTicks(b, pid)
	used := after.total() - ticks.total()
	user, sys := after.user-ticks.user, after.sys-ticks.sys
	hz := cmdClockTicks(b)

	pyStart := cmdPythonStart(b, py, filepath.Join(res, "stacks/DEMO/1.0/services/DEMO/package/scripts/e2e_stamp.py"), 50)
	intake := cmdIntakeToStart(b, a, ids)
	perCmd := float64(used) / float64(hz) / float64(b.N)
	perCmdNet := (float64(used) - idleRate*wall.Seconds()) / float64(hz) / float64(b.N)
	b.ReportMetric(cmdMs(cmdPct(lat, 50)), "p50-send-to-exec-ms")
	b.ReportMetric(cmdMs(cmdPct(lat, 99)), "p99-send-to-exec-ms")
	b.ReportMetric(cmdMs(cmdPct(pyStart, 50)), "p50-python-start-ms")
	if len(intake) > 0 {
		b.ReportMetric(cmdMs(cmdPct(intake, 50)), "p50-intake-to-start-ms")
		b.ReportMetric(cmdMs(cmdPct(intake, 99)), "p99-intake-to-start-ms")
	}
	b.ReportMetric(perCmd*1000, "agent-cpu-ms/cmd")
	b.ReportMetric(perCmdNet*1000, "agent-cpu-net-ms/cmd")
	b.Logf("%d commands in %s (%.1f/s); send-to-exec p50 %s p99 %s max %s; python start alone p50 %s p99 %s; "+
		"intake-to-start (log, %d of them) p50 %s p99 %s; agent CPU %d ticks (%d user, %d system; %d Hz) = %.2f ms/command, "+
		"%.2f ms/command less the idle rate (%.2f ticks/s); agent RSS %d kB",
		b.N, wall.Round(time.Millisecond), float64(b.N)/wall.Seconds(),
		cmdPct(lat, 50), cmdPct(lat, 99), cmdPct(lat, 100), cmdPct(pyStart, 50), cmdPct(pyStart, 99),
		len(intake), cmdPct(intake, 50), cmdPct(intake, 99),
		used, user, sys, hz, perCmd*1000, perCmdNet*1000, idleRate, rss(pid))
}

// cmdCopyResources copies testdata/resources to a new directory and adds
// files (path relative to the resources root -> content).
func cmdCopyResources(t testing.TB, files map[string]string) string {
	t.Helper()
	src := filepath.Join(repoRoot, "testdata/resources")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, content := range files {
		writeFile(t, filepath.Join(dst, rel), []byte(content))
	}
	return dst
}

// cmdPythonStart runs the stamp script n times from this process, with the
// agent's argv shape, and returns the time from just before the fork to
// its first line.
func cmdPythonStart(t testing.TB, py, script string, n int) []time.Duration {
	t.Helper()
	dir := t.TempDir()
	cmdFile := filepath.Join(dir, "command.json")
	writeFile(t, cmdFile, []byte("{}"))
	out := filepath.Join(dir, "structured-out.json")
	var d []time.Duration
	for i := 0; i < n; i++ {
		begin := time.Now()
		c := exec.Command(py, script, "STAMP", cmdFile, dir, out, "INFO", dir, "PROTOCOL_TLSv1_2", "")
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", script, err, b)
		}
		var so struct {
			StartNS int64 `json:"start_ns"`
		}
		readJSON(t, out, &so)
		d = append(d, time.Unix(0, so.StartNS).Sub(begin))
	}
	return d
}

// cmdPython is the interpreter python3 (or $PYTHON) resolves to, past any
// wrapper script.
func cmdPython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("PYTHON")
	if py == "" {
		py = "python3"
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	return strings.TrimSpace(string(out))
}

// cmdIntakeToStart pairs, per task, the agent log's intake line with its
// "Script started" line.
func cmdIntakeToStart(t testing.TB, a *Agent, ids []int64) []time.Duration {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want["taskId="+strconv.FormatInt(id, 10)] = true
	}
	intake := map[string]time.Time{}
	var out []time.Duration
	sc := bufio.NewScanner(strings.NewReader(a.Log()))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		l := sc.Text()
		task := ""
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "taskId=") && want[f] {
				task = f
			}
		}
		if task == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05,000", f[1]+" "+f[2], time.Local)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(l, "Adding EXECUTION_COMMAND to the queue"):
			intake[task] = at
		case strings.Contains(l, "Script started"):
			if in, ok := intake[task]; ok {
				out = append(out, at.Sub(in))
				delete(intake, task)
			}
		}
	}
	return out
}

// cmdTicks is a process's CPU time in clock ticks.
type cmdTicks struct{ user, sys int64 }

func (c cmdTicks) total() int64 { return c.user + c.sys }

// cmdCPUTicks reads utime and stime of a process.
func cmdCPUTicks(t testing.TB, pid int) cmdTicks {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command name start at 3 (state): utime is field
	// 14, stime 15.
	u, _ := strconv.ParseInt(f[14-3], 10, 64)
	st, _ := strconv.ParseInt(f[15-3], 10, 64)
	return cmdTicks{u, st}
}

// cmdClockTicks is the kernel's USER_HZ.
func cmdClockTicks(t testing.TB) int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// pct is the p-th percentile (nearest rank) of d; 100 is the maximum.
func cmdPct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))].Round(10 * time.Microsecond)
}

func cmdMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
