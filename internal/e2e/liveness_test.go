package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// End-to-end tests of what systemd, monitoring and the operator see of the
// agent's liveness: the sd_notify protocol, /healthz, /metrics and
// `ambari-agent status`.

// fakeSystemd is a NOTIFY_SOCKET the test reads.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
	path string
	msgs chan string
}

func newFakeSystemd(t *testing.T) *fakeSystemd {
	t.Helper()
	// A short path: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	sd := &fakeSystemd{t: t, conn: c, path: path, msgs: make(chan string, 1024)}
	go func() {
		defer close(sd.msgs)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			sd.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { c.Close() })
	return sd
}

// env makes the agent believe systemd runs it with WatchdogSec=2s.
func (sd *fakeSystemd) env() []string {
	return []string{"NOTIFY_SOCKET=" + sd.path, "WATCHDOG_USEC=2000000"}
}

// next returns the next notification.
func (sd *fakeSystemd) next(ctx context.Context) string {
	sd.t.Helper()
	select {
	case m, ok := <-sd.msgs:
		if !ok {
			sd.t.Fatal("notify socket closed")
		}
		return m
	case <-ctx.Done():
		sd.t.Fatal("no notification in time")
	}
	return ""
}

// until reads notifications until one contains want; each one read is
// passed to seen first (nil: ignored).
func (sd *fakeSystemd) until(ctx context.Context, want string, seen func(string)) string {
	sd.t.Helper()
	for {
		m := sd.next(ctx)
		if seen != nil {
			seen(m)
		}
		if strings.Contains(m, want) {
			return m
		}
	}
}

// TestSystemdNotify: under a (fake) systemd the agent says READY=1 once it
// has registered, feeds the watchdog, stops feeding it while a status
// check is wedged past its bound (two status intervals plus the check's
// timeout: a script stuck as a package manager, which the agent does not
// kill), feeds it again once the check ends, and says STOPPING=1 on stop.
func TestSystemdNotify(t *testing.T) {
	sc := demoScenario(t)
	pids := t.TempDir()
	wedge := filepath.Join(t.TempDir(), "wedge")
	t.Cleanup(func() { statusKillPidFiles(pids) })
	// The check's timeout is short so the test is, but long enough for
	// the script to become "yum" first on a loaded machine; the bound is
	// 2×2 s + 5 s + 15 s for the kill.
	statusAddComponent(sc, sim.ComponentSpec{Name: "WEDGED", Category: "SLAVE", Script: "scripts/status_wedge.py", Timeout: 5,
		CommandParams: sim.StringMap{"pids_dir": pids, "wedge_file": wedge}})
	s := startSim(t, sc, nil)
	sd := newFakeSystemd(t)
	a := newAgent(t, s, "e2e-sdnotify", nil)
	a.Env = sd.env()
	a.Start()
	ctx := ctxFor(t, 150*time.Second)

	ready := sd.until(ctx, "READY=1", func(m string) {
		if strings.Contains(m, "WATCHDOG=1") {
			return
		}
		if strings.Contains(m, "READY=1") && !strings.Contains(a.Log(), "Registered with the Ambari server") {
			t.Errorf("READY=1 before the registration")
		}
	})
	if !strings.Contains(ready, "STATUS=registered with 127.0.0.1") {
		t.Errorf("READY=1 without the summary: %q", ready)
	}
	sd.until(ctx, "WATCHDOG=1", nil)

	// Wedge WEDGED's status check.
	if err := os.WriteFile(wedge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Other checks may stall the loop for a moment on a loaded machine (a
	// slow kill at their timeout); this waits for the wedged one.
	stalled := sd.until(ctx, "STALLED: status loop (STATUS of TESTKIT/WEDGED running for", nil)
	t.Logf("stalled: %q", stalled)
	if !cmdWaitLog(ctx, a, "systemd's watchdog is no longer fed", "STATUS of TESTKIT/WEDGED running for") {
		t.Fatal("the log does not say why the watchdog is no longer fed")
	}
	// While it stays wedged, the summary says so again at the next
	// heartbeat (10 s on), and no WATCHDOG=1 goes out meanwhile (it would
	// every second).
	for n := 0; n < 1; {
		m := sd.next(ctx)
		if strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("watchdog fed while the status loop is stalled: %q", m)
		}
		if strings.Contains(m, "STALLED: status loop (STATUS of TESTKIT/WEDGED") {
			n++
		}
	}
	// The wedged process ends: the check returns, the watchdog is fed.
	os.Remove(wedge)
	statusKillPidFiles(pids)
	sd.until(ctx, "WATCHDOG=1", nil)

	a.Stop()
	sd.until(ctx, "STOPPING=1", nil)
}

// scrape parses /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v", err)
	}
	return fams
}

// value sums the samples of a counter or gauge family whose labels include
// labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestHTTPMetricsHealthAndStatus: with http_port set, after INSTALL and
// START of a component, /metrics shows those commands and the status
// checks that ran, /healthz answers 200 with every part, pprof answers, and
// `ambari-agent status` prints the registration and heartbeat from the
// state file (and the parts with -v).
func TestHTTPMetricsHealthAndStatus(t *testing.T) {
	sc := demoScenario(t)
	s := startSim(t, sc, nil)
	port := freePort(t)
	a := newAgent(t, s, "e2e-metrics", Ini{"agent": {"http_port": strconv.Itoa(port)}})
	ctx, _ := a.StartReady(s, 120*time.Second)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	statusStartDemo(ctx, t, s, a)
	statusRunTask(ctx, t, s, a.Name, sim.CommandSpec{Component: "DEMO_SERVER", RoleCommand: "STOP"})
	since := s.LastSeq()
	statusWait(ctx, t, s, a.Name, since, "DEMO_SERVER", protocol.ComponentInstalled)

	var fams map[string]*dto.MetricFamily
	// The STOP's own post-command check may still be counted, and the
	// first status cycle starts at a random phase of its interval: wait for
	// the counters the sequence must have produced.
	ok := waitFor(ctx, func() bool {
		fams = scrape(t, base)
		return value(fams, "ambari_agent_commands_total", map[string]string{"command": "STOP", "status": "COMPLETED"}) >= 1 &&
			value(fams, "ambari_agent_status_checks_total", map[string]string{"command": "STATUS", "result": "dead"}) >= 1 &&
			value(fams, "ambari_agent_status_cycle_duration_seconds", nil) >= 1
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"ambari_agent_registered", nil, 1},
		{"ambari_agent_heartbeats_total", nil, 1},
		{"ambari_agent_commands_total", map[string]string{"command": "INSTALL", "status": "COMPLETED"}, 1},
		{"ambari_agent_commands_total", map[string]string{"command": "START", "status": "COMPLETED"}, 1},
		{"ambari_agent_commands_total", map[string]string{"command": "STOP", "status": "COMPLETED"}, 1},
		{"ambari_agent_command_duration_seconds", map[string]string{"status": "COMPLETED"}, 3},
		{"ambari_agent_status_checks_total", map[string]string{"command": "STATUS", "result": "live"}, 1},
		{"ambari_agent_status_checks_total", map[string]string{"command": "STATUS", "result": "dead"}, 1},
		{"ambari_agent_status_check_duration_seconds", nil, 2},
		{"ambari_agent_status_cycle_duration_seconds", nil, 1},
		{"ambari_agent_pending_reports", nil, 0},
		{"ambari_agent_cache_size_bytes", map[string]string{"cache": "topology"}, 1},
		{"ambari_agent_part_stalled", map[string]string{"part": "status loop"}, 0},
	} {
		if got := value(fams, c.name, c.labels); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	if !ok {
		t.Fatal("the STOP, its dead status or a whole status cycle never showed in /metrics")
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Healthy bool
		Parts   []struct {
			Name    string
			Stalled bool
		}
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	names := []string{}
	for _, p := range h.Parts {
		names = append(names, p.Name)
	}
	if resp.StatusCode != 200 || !h.Healthy || strings.Join(names, ",") != "server link,heartbeat sending,status loop,action queue intake,report journal,alert scheduler,python runner" {
		t.Errorf("/healthz: %d healthy=%v parts %v", resp.StatusCode, h.Healthy, names)
	}
	if code, _, err := cmdHTTPGet(base + "/debug/pprof/goroutine?debug=1"); err != nil || code != 200 {
		t.Errorf("pprof: %d %v", code, err)
	}

	out, code := runCLI(t, a, "status")
	if code != 0 || !strings.Contains(out, "Server: registered with 127.0.0.1") ||
		!strings.Contains(out, "Stalled parts: none") || !strings.Contains(out, "Last acknowledged heartbeat: ") {
		t.Errorf("status exited %d:\n%s", code, out)
	}
	out, _ = runCLI(t, a, "status", "-v")
	if !strings.Contains(out, "PART") || !strings.Contains(out, "heartbeat sending") {
		t.Errorf("status -v:\n%s", out)
	}
}

// runCLI runs an ambari-agent control command on the agent's home.
func runCLI(t *testing.T, a *Agent, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(a.bin, append(args, "--home", a.Home)...)
	b, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}

// TestJournalAndSIGHUP: with its stderr on the journal (JOURNAL_STREAM
// names it) the agent copies its log there with syslog priority prefixes
// and no timestamps; SIGHUP after logrotate moved the log file makes it
// write to a new file under the old name.
func TestJournalAndSIGHUP(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-journal", nil)
	out := a.Path("run.out")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil {
		t.Fatal(err)
	}
	a.Env = []string{fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)}
	ctx, _ := a.StartReady(s, 90*time.Second)
	journal := func() string { b, _ := os.ReadFile(out); return string(b) }
	if !waitFor(ctx, func() bool {
		return strings.Contains(journal(), "<6>link - Registered with the Ambari server 127.0.0.1\n")
	}) {
		t.Fatalf("no journal line for the registration:\n%s", journal())
	}
	// The log lines (not the "Using agent home" the command prints on
	// stdout) carry a priority and no timestamp: the journal keeps its own.
	for _, l := range strings.Split(strings.TrimSpace(journal()), "\n") {
		if regexp.MustCompile(`\d\d:\d\d:\d\d`).MatchString(l) || strings.Contains(l, " - ") && !regexp.MustCompile(`^<[0-7]>[a-z_]+ - `).MatchString(l) {
			t.Errorf("not a journal line: %q", l)
		}
	}

	logFile := a.Path("var/log/ambari-agent/ambari-agent.log")
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(a.Pid(), syscall.SIGHUP)
	if !waitFor(ctx, func() bool { return strings.Contains(a.Log(), "SIGHUP: log files reopened") }) {
		t.Fatal("no new log file after SIGHUP")
	}
	if moved, _ := os.ReadFile(logFile + ".1"); !strings.Contains(string(moved), "Registered with the Ambari server") {
		t.Errorf("the moved file lost its lines")
	}
}
