package orchestrator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
)

// Fresh interpreters against the resident runner, on the same machine in
// one run, with stack scripts written against a stack library:
// testdata/stacklib (a stand-in with the real library's import cost) or,
// with BENCH_PYTHON_LIB=<dir>, the real one (Apache Ambari's
// ambari-common/src/main/python; it needs the distro module, which
// BENCH_PYTHON=<interpreter> may provide). bench/resident.sh runs it:
//
//	go test -run '^$' -bench BenchmarkResident -benchtime 1x ./internal/orchestrator/
//
// CPU counts everything the work costs: the agent process itself, its
// reaped children (the scripts: fresh interpreters, or forked from the
// runner, which makes them the agent's children), and the runner with any
// child of its own (its own and its children's CPU from /proc).
func BenchmarkResident(b *testing.B) {
	for _, mode := range []string{"fresh", "resident"} {
		b.Run("mode="+mode, func(b *testing.B) {
			be := newResidentBench(b, mode == "resident")
			b.Run("status", be.statusChecks)
			b.Run("cycle100", be.cycle)
			b.Run("command", be.command)
		})
	}
}

const benchComponents = 100

type residentBench struct {
	e      *env
	runner *pyrunner.Runner
}

func newResidentBench(b *testing.B, resident bool) *residentBench {
	lib := os.Getenv("BENCH_PYTHON_LIB")
	if lib == "" {
		l, err := filepath.Abs("../../testdata/stacklib")
		if err != nil {
			b.Fatal(err)
		}
		lib = l
	}
	e := newEnv(b, func(c *Config) {
		c.PythonPath = []string{lib}
		c.RetentionPolicy = RetentionRemove
		if py := os.Getenv("BENCH_PYTHON"); py != "" {
			c.Python = py
		}
	})
	src := "../../testdata/stacklib/scripts/"
	copyFile(b, src+"bench_component.py", filepath.Join(e.cache, testkitPkg, "scripts", "bench_component.py"))
	hookDir := filepath.Join(e.cache, "stack-hooks", "before-START", "scripts")
	if err := os.MkdirAll(hookDir, 0o755); err != nil {
		b.Fatal(err)
	}
	copyFile(b, src+"bench_hook.py", filepath.Join(hookDir, "hook.py"))
	pidFile := filepath.Join(e.tmp, "running.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		b.Fatal(err)
	}
	var comps []map[string]any
	for i := 0; i < benchComponents; i++ {
		comps = append(comps, map[string]any{"serviceName": "TESTKIT", "componentName": fmt.Sprintf("BENCH_%03d", i),
			"hostIds": []int{1}, "componentLevelParams": map[string]any{},
			"commandParams": map[string]any{"command_timeout": "600", "script": "scripts/bench_component.py",
				"script_type": "PYTHON", "service_package_folder": testkitPkg, "pid_file": pidFile}})
	}
	e.applyCaches(comps)
	be := &residentBench{e: e}
	if resident {
		be.runner = pyrunner.New(pyrunner.Config{Python: e.orch.Python(), Environ: e.orch.ScriptEnviron(),
			LibDirs: []string{}, Scripts: true, Preload: config.DefaultPreloadModules})
		b.Cleanup(func() { be.runner.Close() })
		if err := be.runner.Prestart(); err != nil {
			b.Fatal(err)
		}
		if st := be.runner.Status(); !st.Scripts {
			b.Fatalf("runner cannot run scripts: %s", st.PreloadError)
		}
		e.orch.SetResident(be.runner)
		b.Logf("runner pid %d preloaded %d modules (missing: %v)", be.runner.Pid(), be.runner.Status().Preloaded,
			be.runner.Status().PreloadMissing)
	}
	// One check to warm the page cache and the runner.
	be.check(b, 0)
	return be
}

func copyFile(b testing.TB, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

func (be *residentBench) check(b *testing.B, i int) {
	res := be.e.orch.Status(context.Background(), StatusRequest{ClusterID: clusterID, ServiceName: "TESTKIT",
		ComponentName: fmt.Sprintf("BENCH_%03d", i%benchComponents)})
	if res.ExitCode != 0 {
		b.Fatalf("status exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// cpu is all CPU time spent so far on the work: this process, its reaped
// children and the runner with its reaped children.
func (be *residentBench) cpu(b *testing.B) time.Duration {
	c := be.cpuParts(b)
	return c.agent + c.scripts + c.runner
}

type cpuParts struct{ agent, scripts, runner time.Duration }

func (be *residentBench) cpuParts(b *testing.B) cpuParts {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	c := cpuParts{agent: tv(self.Utime) + tv(self.Stime), scripts: tv(children.Utime) + tv(children.Stime)}
	if be.runner != nil {
		own, children := procCPU(b, be.runner.Pid())
		c.runner = own + children
	}
	return c
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// procCPU is utime+stime and cutime+cstime of pid.
func procCPU(b *testing.B, pid int) (self, children time.Duration) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks [4]int64
	for j, i := range []int{11, 12, 13, 14} {
		ticks[j], _ = strconv.ParseInt(f[i], 10, 64)
	}
	return time.Duration(ticks[0]+ticks[1]) * 10 * time.Millisecond, time.Duration(ticks[2]+ticks[3]) * 10 * time.Millisecond
}

// statusChecks: CPU per status check, one after the other.
func (be *residentBench) statusChecks(b *testing.B) {
	const n = 100
	c0 := be.cpuParts(b)
	b.ResetTimer()
	for range b.N {
		for i := range n {
			be.check(b, i)
		}
	}
	b.StopTimer()
	c1 := be.cpuParts(b)
	per := func(d time.Duration) float64 { return d.Seconds() / float64(n*b.N) }
	b.ReportMetric(per(c1.agent+c1.scripts+c1.runner-c0.agent-c0.scripts-c0.runner), "cpu-s/check")
	b.ReportMetric(per(c1.agent-c0.agent), "agent-cpu-s/check")
	b.ReportMetric(per(c1.scripts-c0.scripts), "script-cpu-s/check")
	if be.runner != nil {
		b.ReportMetric(per(c1.runner-c0.runner), "runner-cpu-s/check")
	}
}

// cycle: the status loop's cycle of 100 components, 4 at a time.
func (be *residentBench) cycle(b *testing.B) {
	c0 := be.cpu(b)
	var wall time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		next := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					be.check(b, i)
				}
			}()
		}
		for i := range benchComponents {
			next <- i
		}
		close(next)
		wg.Wait()
		wall += time.Since(t0)
	}
	b.StopTimer()
	cpu := be.cpu(b) - c0
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/cycle")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/cycle")
	b.ReportMetric(100*cpu.Seconds()/float64(b.N)/20, "%core@20s")
}

// command: a START with a before-START hook, from Run to the hook's first
// line, the script's first line and the script doing its work (medians).
func (be *residentBench) command(b *testing.B) {
	const n = 20
	var hook, first, work []time.Duration
	b.ResetTimer()
	for range b.N {
		for i := range n {
			task := 1000 + i
			h := header(b, task, "TESTKIT", "BENCH_000", "START", map[string]any{"script": "scripts/bench_component.py",
				"script_type": "PYTHON", "command_timeout": "600", "service_package_folder": testkitPkg}, nil)
			req := be.e.request(h)
			req.Overwrite = false
			t0 := time.Now()
			res := be.e.orch.Run(context.Background(), req)
			if res.ExitCode != 0 {
				b.Fatalf("START exit %d: %s", res.ExitCode, res.Stderr)
			}
			jsonPath := filepath.Join(be.e.data, fmt.Sprintf("command-%d.json", task))
			firsts := stamps(b, jsonPath+".first")
			works := stamps(b, jsonPath+".work")
			if len(firsts) != 2 || len(works) != 1 {
				b.Fatalf("marks %v %v", firsts, works)
			}
			hook = append(hook, firsts[0].Sub(t0))
			first = append(first, firsts[1].Sub(t0))
			work = append(work, works[0].Sub(t0))
			os.Remove(jsonPath + ".first")
			os.Remove(jsonPath + ".work")
		}
	}
	b.StopTimer()
	b.ReportMetric(median(hook).Seconds()*1000, "ms-to-hook-first-line")
	b.ReportMetric(median(first).Seconds()*1000, "ms-to-script-first-line")
	b.ReportMetric(median(work).Seconds()*1000, "ms-to-script-work")
}

func stamps(b *testing.B, path string) []time.Time {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var out []time.Time
	for _, l := range strings.Fields(string(data)) {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Unix(0, int64(f*1e9)))
	}
	return out
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
