package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

// BenchmarkAlertRun measures what one alert run costs the real agent end to
// end: the scheduler, the check against a loopback target, the result's
// collection and its share of the /reports/alerts_status sends. One op is
// one run (counted at the target). Each sub-benchmark starts a simulator and
// a non-race agent with benchDefinitions definitions of one type that run
// every benchMinute, so use a fixed count:
//
//	go test -run '^$' -bench BenchmarkAlertRun -benchtime 3000x -timeout 30m ./internal/e2e/
//
// Metrics: agent-µs/run is the agent's CPU time (utime+stime of
// /proc/<pid>/stat) per run with its idle rate (idle-ms/s, measured after
// the definitions are deleted) taken out; gross-µs/run leaves it in;
// helper-µs/run is the Python helper's CPU with its forked children's; the
// RSS figures are VmRSS at the end. ns/op and runs/s only reflect the
// schedule (runs/s drops below benchDefinitions per benchMinute when the
// helper cannot keep up). The machine's other load adds noise: compare
// figures of one run, and with internal/alerts' micro-benchmarks
// (BenchmarkPortAlert, ...).
func BenchmarkAlertRun(b *testing.B) {
	for _, typ := range []string{"PORT", "WEB", "METRIC", "METRIC_EXPR", "SCRIPT"} {
		b.Run(typ, func(b *testing.B) { benchAlertRun(b, typ) })
	}
}

const (
	benchDefinitions = 20
	benchMinute      = 250 * time.Millisecond
	// benchIdle is how long the agent's idle CPU is measured: a heartbeat
	// period and then some.
	benchIdle = 12 * time.Second
	// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on
	// every Linux architecture the agent ships for).
	clockTicks = 100
)

func benchAlertRun(b *testing.B, typ string) {
	b.StopTimer()
	dir := b.TempDir()
	countFile := filepath.Join(dir, "count")
	var source string
	var runs func() int64
	switch typ {
	case "PORT":
		p := newTCPTarget(b)
		runs = p.conns.Load
		source = fmt.Sprintf(`{"type": "PORT", "uri": "127.0.0.1:%d"}`, p.port)
	case "WEB":
		w := newHTTPTarget(b, func(http.ResponseWriter, *http.Request) {})
		runs = w.requests.Load
		source = fmt.Sprintf(`{"type": "WEB", "uri": {"http": "127.0.0.1:%d", "connection_timeout": 5.0}}`, w.port)
	case "METRIC", "METRIC_EXPR":
		j := newJMXTarget(b)
		j.used.Store(42)
		runs = j.requests.Load
		jmx := `"jmx": {"property_list": ["` + jmxBean + `/Used"]}`
		if typ == "METRIC_EXPR" {
			jmx = `"jmx": {"property_list": ["` + jmxBean + `/Used", "` + jmxBean + `/Capacity"], "value": "{0}/{1} * 100.0"}`
		}
		source = fmt.Sprintf(`{"type": "METRIC", "uri": {"http": "127.0.0.1:%d", "connection_timeout": 5.0}, %s,
			"reporting": {"ok": {"text": "{0}"}, "warning": {"text": "{0}", "value": 80}, "critical": {"text": "{0}", "value": 90}}}`, j.port, jmx)
	case "SCRIPT":
		runs = func() int64 {
			fi, err := os.Stat(countFile)
			if err != nil {
				return 0
			}
			return fi.Size()
		}
		source = `{"type": "SCRIPT", "path": "` + testkitAlerts + `alert_e2e_count.py",
			"parameters": [{"name": "count_file", "value": "` + countFile + `"}]}`
	}

	sc := alertScenario(b, sim.StringMap{})
	sc.Clusters[0].StatusCommandsToRun = []string{}
	s := startSim(b, sc, nil)
	// Production-like: INFO logging, the default report interval, no
	// status checks competing for the CPU.
	a := newAlertAgent(b, s, "e2e-alert-bench", benchMinute, Ini{"agent": {
		"loglevel": "INFO", "alert_reports_interval": "5", "status_commands_run_interval": "0"}})
	a.bin = plainBin
	ctx, _ := a.StartReady(s, 10*time.Minute)
	if typ == "SCRIPT" {
		// The script comes with the TESTKIT package.
		sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "FLAKY", RoleCommand: "INSTALL",
			CommandParams: sim.StringMap{"state_file": filepath.Join(dir, "flaky"), "fail_times": "0"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.WaitTaskDone(ctx, sent.TaskIDs[0]); err != nil {
			b.Fatal(err)
		}
	}
	pid := a.Pid()
	// The agent's own CPU; the helper's includes its forked children,
	// which run the requests.
	cpu := func(pid int) int64 {
		st, _ := procStat(pid)
		return st.utime + st.stime
	}
	helperCPUNow := func(pid int) int64 {
		st, _ := procStat(pid)
		return st.utime + st.stime + st.cutime + st.cstime
	}

	defs := make([]any, benchDefinitions)
	for i := range defs {
		d := alertDef(int64(400+i), "bench_"+strconv.Itoa(i), 1, source)
		defs[i] = wireDef(d, 1, true, d.UUID)
	}
	pushDefinitions(b, s, a.Name, "UPDATE", defs...)
	// Warm up: every definition has run twice, the helper is up.
	if !waitFor(ctx, func() bool { return runs() >= 2*benchDefinitions }) {
		b.Fatalf("%d runs after the definitions arrived", runs())
	}
	helper := helperPid(pid)

	runs0, agent0, start := runs(), cpu(pid), time.Now()
	helper0 := helperCPUNow(helper)
	b.StartTimer()
	if !waitFor(ctx, func() bool { return runs() >= runs0+int64(b.N) }) {
		b.Fatalf("only %d of %d runs", runs()-runs0, b.N)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	n := float64(runs() - runs0)
	gross := float64(cpu(pid) - agent0)
	helperCPU := float64(helperCPUNow(helper) - helper0)
	agentRSS, helperRSS := rss(pid), rss(helper)

	// The agent's idle rate (heartbeats, host status, the report ticker),
	// once the definitions are gone and the start-up work is long over.
	ids := make([]any, benchDefinitions)
	for i := range ids {
		ids[i] = map[string]any{"definitionId": 400 + i}
	}
	before := a.reschedules()
	pushDefinitions(b, s, a.Name, "DELETE", ids...)
	waitReschedule(ctx, b, a, before)
	time.Sleep(time.Second) // runs under way finish
	idleStart, idle0 := time.Now(), cpu(pid)
	time.Sleep(benchIdle)
	idleRate := float64(cpu(pid)-idle0) / time.Since(idleStart).Seconds()

	tick := float64(time.Second/clockTicks) / float64(time.Microsecond)
	b.ReportMetric(gross*tick/n, "gross-µs/run")
	b.ReportMetric((gross-idleRate*elapsed.Seconds())*tick/n, "agent-µs/run")
	b.ReportMetric(idleRate*tick/1000, "idle-ms/s")
	b.ReportMetric(n/elapsed.Seconds(), "runs/s")
	b.ReportMetric(float64(agentRSS), "agent-rss-kB")
	if helper != 0 {
		b.ReportMetric(helperCPU*tick/n, "helper-µs/run")
		b.ReportMetric(float64(helperRSS), "helper-rss-kB")
	}
}
