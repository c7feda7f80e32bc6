package alerts

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// benchEnv is a Manager without test logging (logging would dominate).
func benchEnv(b *testing.B, mutate func(*Config)) *testEnv {
	b.Helper()
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	l.SetOutput(nopWriter{})
	e := &testEnv{defs: &fakeDefs{}, cfgs: &fakeConfigs{}, link: newFakeLink()}
	cfg := Config{Definitions: e.defs, Configurations: e.cfgs, Link: e.link, Log: logrus.NewEntry(l),
		SendChangesOnly: true, UseSystemProxy: true, AgentTmpDir: b.TempDir()}
	cfg.PythonConfig.LibDirs = []string{}
	if mutate != nil {
		mutate(&cfg)
	}
	e.m = New(cfg)
	b.Cleanup(func() { e.m.ownPython.Close() })
	return e
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func compileFor(b *testing.B, e *testEnv, host string, d map[string]any) *alert {
	b.Helper()
	cd := cluster(b, "2", host, nil, d)
	a, err := e.m.compileAlert(clusterInfo{id: "2", host: host}, cd.Definitions[0])
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// cpuTime is this process's user+system CPU time (the Python helper's
// work is not in it).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runAlertBench evaluates a once per iteration and reports the agent's CPU
// time per run next to the wall time.
func runAlertBench(b *testing.B, e *testEnv, a *alert, wantState string) {
	b.Helper()
	ctx := context.Background()
	if r := e.m.evaluate(ctx, a); r.State != wantState {
		b.Fatalf("warm-up: %+v", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if r := e.m.evaluate(ctx, a); r.State != wantState {
			b.Fatalf("%+v", r)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "agent-cpu-ns/op")
}

func BenchmarkPortAlert(b *testing.B) {
	e := benchEnv(b, nil)
	ln := listenBench(b)
	a := compileFor(b, e, "127.0.0.1", def(1, "port", 1, map[string]any{"type": "PORT", "uri": ln}))
	runAlertBench(b, e, a, StateOK)
}

func listenBench(b *testing.B) string {
	srv := httptest.NewServer(http.NotFoundHandler()) // any accepting socket will do
	b.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func BenchmarkWebAlert(b *testing.B) {
	e := benchEnv(b, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	b.Cleanup(srv.Close)
	a := compileFor(b, e, "127.0.0.1", webDef(map[string]any{"http": srv.URL}, nil))
	runAlertBench(b, e, a, StateOK)
}

func benchJMX(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"beans":[{"name":%q,"CapacityUsed":25,"CapacityRemaining":75,"Other":"x"}]}`, fsBean)
	}))
	b.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func BenchmarkMetricAlert(b *testing.B) {
	e := benchEnv(b, nil)
	a := compileFor(b, e, "127.0.0.1", metricDef(benchJMX(b), "", map[string]any{
		"ok": map[string]any{"text": "{0}"}, "warning": map[string]any{"value": 75}, "critical": map[string]any{"value": 80}}))
	runAlertBench(b, e, a, StateOK)
}

func BenchmarkMetricAlertWithExpression(b *testing.B) {
	e := benchEnv(b, nil)
	a := compileFor(b, e, "127.0.0.1", metricDef(benchJMX(b), "{0}/({0} + {1}) * 100.0", capacityReporting))
	runAlertBench(b, e, a, StateOK)
}

// benchConfig is a cluster configuration of roughly the given size.
func benchConfig(size int) map[string]map[string]any {
	types := map[string]map[string]any{"test-site": {"port": "8020"}}
	n := 0
	for t := 0; n < size; t++ {
		kv := map[string]any{}
		for k := 0; k < 50 && n < size; k++ {
			v := strings.Repeat("v", 40)
			kv[fmt.Sprintf("property.number.%d", k)] = v
			n += 70
		}
		types[fmt.Sprintf("type-%d-site", t)] = kv
	}
	return types
}

func benchScript(b *testing.B, configBytes int) {
	e := benchEnv(b, func(c *Config) { c.CacheDir = testdataDir(b, "cache") })
	e.cfgs.setTypes("2", benchConfig(configBytes))
	a := compileFor(b, e, "h1", scriptDef(1, "s", "alert_check.py", nil))
	runAlertBench(b, e, a, StateOK)
	b.ReportMetric(helperRSSKiB(b, e), "helper-RSS-KiB")
}

func BenchmarkScriptAlertSmallConfig(b *testing.B) { benchScript(b, 10<<10) }
func BenchmarkScriptAlertLargeConfig(b *testing.B) { benchScript(b, 500<<10) }

// helperRSSKiB reads the resident helper's VmRSS.
func helperRSSKiB(b *testing.B, e *testEnv) float64 {
	b.Helper()
	pid := e.m.ownPython.Pid()
	if pid == 0 {
		b.Fatal("no helper running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(n)
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func BenchmarkFormatText(b *testing.B) {
	args := []any{0.00123, int64(2181)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := pyvalue.Format("TCP OK - {0:.3f}s response on port {1}", args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStaleAlerts(b *testing.B) {
	e := benchEnv(b, nil)
	var defs []map[string]any
	for i := 0; i < 200; i++ {
		defs = append(defs, recoveryDef(i+1, fmt.Sprintf("a%d", i), 1))
	}
	e.m.defs.Store(newDefSnapshot([]ClusterDefinitions{cluster(b, "2", "h1", map[string]any{"staleIntervalMultiplier": 2}, defs...)}))
	e.m.StaleAlerts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s := e.m.StaleAlerts(); s != nil {
			b.Fatal(s)
		}
	}
}
