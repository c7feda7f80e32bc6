package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// Measurements of the status loop with the real agent binary (never built
// with the race detector here) and real Python scripts. Each iteration is
// one status cycle or one death, seconds long: run them with a fixed count,
//
//	go test -run '^$' -bench BenchmarkStatus -benchtime 10x ./internal/e2e/

// BenchmarkStatusCycleAgentCPU is the agent process's own CPU time per
// status cycle with 100 components on the host whose status script
// (status_ok.py) exits 0 at once: utime+stime from /proc/<pid>/stat over N
// cycles, divided by N, nothing subtracted. Included is everything the
// agent process does meanwhile: per check the command JSON and its files,
// its share of forking and executing a Python interpreter, waiting for it
// and reading its output; per cycle the comparison with the acknowledged
// statuses; and whatever else the agent does in the same time (heartbeats,
// report loops, host status, garbage collection). Not included: the
// scripts' own CPU (children are counted in cutime/cstime, which are
// ignored). The "idle" run is the same agent with status checks off, for
// the share of the rest. Interval 2 s, 4 checks at once, log level INFO.
func BenchmarkStatusCycleAgentCPU(b *testing.B) {
	b.Run("checks=100", func(b *testing.B) { statusCycleCPU(b, "2") })
	b.Run("idle", func(b *testing.B) { statusCycleCPU(b, "0") })
}

func statusCycleCPU(b *testing.B, interval string) {
	const n = 100
	runs := filepath.Join(b.TempDir(), "runs")
	sc := demoScenario(b)
	comps := make([]sim.ComponentSpec, n)
	names := make([]string, n)
	for i := range comps {
		names[i] = fmt.Sprintf("BULK_%03d", i)
		comps[i] = sim.ComponentSpec{Name: names[i], Category: "SLAVE", Script: "scripts/status_ok.py", Timeout: 600,
			CommandParams: sim.StringMap{"runs_file": runs}}
	}
	sc.Clusters[0].Services = append(sc.Clusters[0].Services, sim.ServiceSpec{
		Name: "BULK", Version: "1.0.0", PackageFolder: "stacks/DEMO/1.0/services/TESTKIT/package", Components: comps})
	sc.Options.JoinTemplate.Components = names // nothing else on the host
	s := startSim(b, sc, func(c *sim.Config) { c.HeartbeatLogEvery = 1000 })
	a := newAgent(b, s, "e2e-status-cpu", statusBenchIni(interval))
	a.bin = plainBin
	ctx, _ := a.StartReady(s, 10*time.Minute)
	statusRuns := func() int {
		data, _ := os.ReadFile(runs)
		return bytes.Count(data, []byte("STATUS\n"))
	}
	// Between the cycle that ran check k·n and the next: the last script
	// of a cycle has just written its line.
	waitRuns := func(want int) {
		for statusRuns() < want {
			if ctx.Err() != nil {
				b.Fatalf("%d status runs, want %d", statusRuns(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	if interval == "0" {
		// The same agent with nothing to check: CPU per 2.5 s, about the
		// length of one cycle above.
		time.Sleep(3 * time.Second)
		cpu0, t0 := statusCPU(b, a.Pid()), time.Now()
		b.ResetTimer()
		for b.Loop() {
			time.Sleep(2500 * time.Millisecond)
		}
		b.StopTimer()
		cpu, wall := statusCPU(b, a.Pid())-cpu0, time.Since(t0)
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "agent-cpu-ms/2.5s")
		b.ReportMetric(float64(cpu.Microseconds())/1000/wall.Seconds(), "agent-cpu-ms/s")
		if statusRuns() != 0 {
			b.Fatal("status checks ran although they are off")
		}
		return
	}

	waitRuns(n)
	cpu0, t0 := statusCPU(b, a.Pid()), time.Now()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		waitRuns(n + i*n)
	}
	b.StopTimer()
	cpu, wall := statusCPU(b, a.Pid())-cpu0, time.Since(t0)
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(i), "agent-cpu-ms/cycle")
	b.ReportMetric(float64(cpu.Microseconds())/float64(i*n), "agent-cpu-µs/check")
	b.ReportMetric(wall.Seconds()*1000/float64(i), "wall-ms/cycle")
	b.ReportMetric(float64(rss(a.Pid())), "agent-rss-kB")
	if st, _ := s.HostState(a.Name); len(st.ComponentStatus) != n {
		b.Fatalf("%d components reported, want %d", len(st.ComponentStatus), n)
	}
}

// statusBenchIni sets the status interval and the stock log level, and
// runs scripts with the system's interpreter where there is one (as on a
// production host) rather than whatever python3 is first on PATH, which on
// a developer's machine may be a slow wrapper script.
func statusBenchIni(interval string) Ini {
	ini := Ini{"agent": {"status_commands_run_interval": interval, "loglevel": "INFO"}}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		ini["python"] = map[string]string{"executable": "/usr/bin/python3"}
	}
	return ini
}

// statusCPU is a process's own user+system CPU time (children excluded).
func statusCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields 14 and 15 of stat(5), counted after "pid (comm)": utime and
	// stime in clock ticks (USER_HZ, 100 on Linux).
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("stat: %q", s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// BenchmarkStatusDeathToReport is the time from DEMO_SERVER's daemon being
// killed to the INSTALLED report reaching the server, end to end, with the
// default status_commands_run_interval of 20 s and the demo's host (DEMO_SERVER
// and DEMO_CLIENT). Each death comes at a random moment of the cycle, so
// the mean is about interval/2 plus the checks' time and the worst about
// the interval plus twice that. The 2 s run uses the tests' interval.
func BenchmarkStatusDeathToReport(b *testing.B) {
	for _, iv := range []int{20, 2} {
		b.Run(fmt.Sprintf("interval=%ds", iv), func(b *testing.B) { statusDeathToReport(b, iv) })
	}
}

func statusDeathToReport(b *testing.B, interval int) {
	sc := demoScenario(b)
	sc.Options.JoinTemplate.Components = []string{"DEMO_SERVER", "DEMO_CLIENT"}
	s := startSim(b, sc, func(c *sim.Config) { c.HeartbeatLogEvery = 1000 })
	a := newAgent(b, s, "e2e-status-death", statusBenchIni(strconv.Itoa(interval)))
	a.bin = plainBin
	ctx, _ := a.StartReady(s, 30*time.Minute)
	send := func(rc string) {
		sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: rc})
		if err != nil {
			b.Fatal(err)
		}
		if ts, err := s.WaitTaskDone(ctx, sent.TaskIDs[0]); err != nil || ts.Status != protocol.StatusCompleted {
			b.Fatalf("%s: %s %v", rc, ts.Status, err)
		}
	}
	send("INSTALL")

	var total, worst time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		b.StopTimer()
		since := s.LastSeq()
		send("START") // its post-command check reports STARTED at once
		statusWait(ctx, b, s, a.Name, since, "DEMO_SERVER", protocol.ComponentStarted)
		time.Sleep(rand.N(time.Duration(interval) * time.Second))
		since = s.LastSeq()
		b.StartTimer()
		died := statusKillDemo(b, a)
		rec := statusWait(ctx, b, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)
		lat := rec.Time.Sub(died)
		total += lat
		worst = max(worst, lat)
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(i), "mean-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}
