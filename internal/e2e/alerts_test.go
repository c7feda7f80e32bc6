package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// The agents of these tests count alert intervals in seconds instead of
// minutes (AMBARI_AGENT_ALERT_MINUTE), so a definition with interval 1 runs
// every second, a script alert times out after a second and a silent
// definition goes stale after staleIntervalMultiplier (5 in the demo
// scenario) seconds.
const alertMinute = time.Second

// demoClusterID is the demo scenario's cluster id as the wire carries it.
const demoClusterID = "2"

// testkitAlerts is where the TESTKIT service's alert scripts are, relative
// to the stacks directory of the agent's cache (as stack definitions name
// them).
const testkitAlerts = "DEMO/1.0/services/TESTKIT/package/alerts/"

// alertScenario is the demo scenario with its alert definitions replaced
// by defs and an e2e-alerts configuration type holding conf (for the
// {{e2e-alerts/...}} placeholders of the definitions).
func alertScenario(t testing.TB, conf sim.StringMap, defs ...sim.AlertDefinitionSpec) *sim.Scenario {
	t.Helper()
	sc := demoScenario(t)
	c := &sc.Clusters[0]
	c.AlertDefinitions = defs
	c.Configurations["e2e-alerts"] = conf
	return sc
}

// startAlertAgent starts an agent whose alert minute is minute.
func startAlertAgent(t testing.TB, s *sim.Server, name string, minute time.Duration, edits Ini) *Agent {
	t.Helper()
	a := newAlertAgent(t, s, name, minute, edits)
	a.Start()
	return a
}

// newAlertAgent is newAgent for an agent whose alert minute is minute; it
// dumps the agent's alerts log (a file of its own, as in the Python agent)
// when the test fails.
func newAlertAgent(t testing.TB, s *sim.Server, name string, minute time.Duration, edits Ini) *Agent {
	t.Helper()
	t.Setenv(agent.AlertMinuteEnv, minute.String())
	a := newAgent(t, s, name, edits)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(a.alertsLogPath())
			if len(b) > 30000 {
				b = b[len(b)-30000:]
			}
			t.Logf("agent %s alerts log:\n%s", a.Name, b)
		}
	})
	return a
}

func (a *Agent) alertsLogPath() string { return a.Path("var/log/ambari-agent/ambari-alerts.log") }

// alertDef is a definition for every host of the cluster with a fixed uuid
// (so raw pushes can address it) and the given source.
func alertDef(id int64, name string, interval int, source string) sim.AlertDefinitionSpec {
	return sim.AlertDefinitionSpec{
		DefinitionID: id,
		Name:         name,
		Interval:     interval,
		UUID:         fmt.Sprintf("e2e00000-0000-4000-8000-%012d", id),
		Source:       json.RawMessage(source),
	}
}

// waitAlert waits until the server's latest result of alert name on host
// satisfies cond, and returns it.
func waitAlert(ctx context.Context, t testing.TB, s *sim.Server, host, name, what string, cond func(sim.AlertState) bool) sim.AlertState {
	t.Helper()
	var last sim.AlertState
	var seen bool
	_, err := s.WaitHost(ctx, host, func(h sim.HostState) bool {
		a, ok := h.Alerts[name]
		if ok {
			last, seen = a, true
		}
		return ok && cond(a)
	})
	if err != nil {
		if !seen {
			t.Fatalf("alert %s: no result reached the server (waiting for %s): %v", name, what, err)
		}
		t.Fatalf("alert %s never became %s; last result %s %q: %v", name, what, last.State, last.Text, err)
	}
	return last
}

// is matches a state whose text contains every fragment.
func is(state string, fragments ...string) func(sim.AlertState) bool {
	return func(a sim.AlertState) bool {
		if a.State != state {
			return false
		}
		for _, f := range fragments {
			if !strings.Contains(a.Text, f) {
				return false
			}
		}
		return true
	}
}

// tcpTarget is a loopback TCP listener a PORT alert watches. It counts the
// connections it accepts and can be closed and reopened on its port.
type tcpTarget struct {
	t     testing.TB
	port  int
	conns atomic.Int64

	mu   sync.Mutex
	l    net.Listener
	done chan struct{}
}

func newTCPTarget(t testing.TB) *tcpTarget {
	p := &tcpTarget{t: t}
	p.open()
	t.Cleanup(p.close)
	return p
}

func (p *tcpTarget) open() {
	p.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.port))
	if err != nil {
		p.t.Fatalf("listen on port %d: %v", p.port, err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	p.mu.Lock()
	p.l, p.done = l, done
	p.mu.Unlock()
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			c.Close()
		}
	}()
}

func (p *tcpTarget) close() {
	p.mu.Lock()
	l, done := p.l, p.done
	p.l = nil
	p.mu.Unlock()
	if l != nil {
		l.Close()
		<-done
	}
}

// httpTarget is a loopback HTTP server that counts its requests.
type httpTarget struct {
	port     int
	requests atomic.Int64
	srv      *http.Server
}

func newHTTPTarget(t testing.TB, h http.HandlerFunc) *httpTarget {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ht := &httpTarget{port: l.Addr().(*net.TCPAddr).Port}
	ht.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ht.requests.Add(1)
		h(w, r)
	})}
	go ht.srv.Serve(l)
	t.Cleanup(func() { ht.srv.Close() })
	return ht
}

// jmxTarget serves one JMX-like bean, Hadoop:service=E2E,name=Storage with
// Used (settable) and Capacity 100, at /jmx?qry=<bean>, as Hadoop daemons
// do.
type jmxTarget struct {
	*httpTarget
	used atomic.Int64
	mu   sync.Mutex
	qrys map[string]int
}

const jmxBean = "Hadoop:service=E2E,name=Storage"

func newJMXTarget(t testing.TB) *jmxTarget {
	j := &jmxTarget{qrys: map[string]int{}}
	j.httpTarget = newHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		qry := r.URL.Query().Get("qry")
		j.mu.Lock()
		j.qrys[r.URL.Path+"?"+qry]++
		j.mu.Unlock()
		if r.URL.Path != "/jmx" || qry != jmxBean {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"beans":[]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"beans":[{"name":%q,"modelerType":"E2E","Used":%d,"Capacity":100}]}`, jmxBean, j.used.Load())
	})
	return j
}

func (j *jmxTarget) queries() map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]int{}
	for k, v := range j.qrys {
		out[k] = v
	}
	return out
}

// TestAlertChecksFollowTheirTargets: PORT, WEB and METRIC alerts of the
// real agent watch loopback servers the test controls, and every change of
// a server shows up at the simulator as the state and text the definition
// prescribes.
func TestAlertChecksFollowTheirTargets(t *testing.T) {
	port := newTCPTarget(t)
	// web answers with the status code in webStatus; 0 means it never
	// answers (until the client gives up).
	var webStatus atomic.Int32
	webStatus.Store(200)
	web := newHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		code := int(webStatus.Load())
		if code == 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		w.WriteHeader(code)
	})
	jmx := newJMXTarget(t)
	jmx.used.Store(10)

	storageText := `"reporting": {"ok": {"text": "{2:.1f}% used ({0} of {1})"},
		"warning": {"text": "{2:.1f}% used ({0} of {1})", "value": 50},
		"critical": {"text": "{2:.1f}% used ({0} of {1})", "value": 80}}`
	sc := alertScenario(t, sim.StringMap{
		"port":     strconv.Itoa(port.port),
		"web_port": strconv.Itoa(web.port),
		"jmx_port": strconv.Itoa(jmx.port),
	},
		// Default texts and thresholds (docs/behaviour.md §9.4).
		alertDef(101, "e2e_port", 1, `{"type": "PORT", "uri": "127.0.0.1:{{e2e-alerts/port}}", "default_port": 1}`),
		alertDef(102, "e2e_web", 1, `{"type": "WEB",
			"uri": {"http": "127.0.0.1:{{e2e-alerts/web_port}}/health", "connection_timeout": 1.0},
			"reporting": {"critical": {"text": "Connection failed to {1}: {3}"}}}`),
		// A value expression: evaluated by the Python helper.
		alertDef(103, "e2e_metric", 1, `{"type": "METRIC",
			"uri": {"http": "127.0.0.1:{{e2e-alerts/jmx_port}}", "connection_timeout": 2.0},
			"jmx": {"property_list": ["`+jmxBean+`/Used", "`+jmxBean+`/Capacity"], "value": "{0}/{1} * 100.0"},
			`+storageText+`}`),
		// No expression: the first value is compared, in Go only.
		alertDef(104, "e2e_metric_raw", 1, `{"type": "METRIC",
			"uri": {"http": "127.0.0.1:{{e2e-alerts/jmx_port}}", "connection_timeout": 2.0},
			"jmx": {"property_list": ["`+jmxBean+`/Used"]},
			"reporting": {"ok": {"text": "used {0}"}, "warning": {"text": "used {0}", "value": 50},
				"critical": {"text": "used {0}", "value": 80}}}`),
	)
	s := startSim(t, sc, nil)
	a := startAlertAgent(t, s, "e2e-alert-checks", alertMinute, nil)
	ctx := ctxFor(t, 90*time.Second)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	webURL := fmt.Sprintf("http://127.0.0.1:%d/health", web.port)
	portText := fmt.Sprintf("response on port %d", port.port)
	refused := fmt.Sprintf("Connection failed: [Errno 111] Connection refused to 127.0.0.1:%d", port.port)

	// Everything up.
	first := waitAlert(ctx, t, s, a.Name, "e2e_port", "OK", is("OK", "TCP OK - ", portText))
	waitAlert(ctx, t, s, a.Name, "e2e_web", "OK", is("OK", "HTTP 200 response in "))
	waitAlert(ctx, t, s, a.Name, "e2e_metric", "OK", is("OK", "10.0% used (10 of 100)"))
	waitAlert(ctx, t, s, a.Name, "e2e_metric_raw", "OK", is("OK", "used 10"))
	if first.DefinitionID != 101 || first.ClusterID != demoClusterID || first.Timestamp == 0 {
		t.Errorf("PORT result: definitionId %d, clusterId %q, timestamp %d", first.DefinitionID, first.ClusterID, first.Timestamp)
	}

	// The port closes, the web page fails, storage fills up.
	port.close()
	webStatus.Store(500)
	jmx.used.Store(60)
	down := waitAlert(ctx, t, s, a.Name, "e2e_port", "CRITICAL", is("CRITICAL", refused))
	waitAlert(ctx, t, s, a.Name, "e2e_web", "WARNING", is("WARNING", "HTTP 500 response in "))
	waitAlert(ctx, t, s, a.Name, "e2e_metric", "WARNING", is("WARNING", "60.0% used (60 of 100)"))
	waitAlert(ctx, t, s, a.Name, "e2e_metric_raw", "WARNING", is("WARNING", "used 60"))
	if down.Timestamp <= first.Timestamp {
		t.Errorf("CRITICAL result timestamp %d not after the OK one %d", down.Timestamp, first.Timestamp)
	}

	// The port is back; the web server stops answering within the
	// connection timeout; storage is nearly full.
	port.open()
	webStatus.Store(0)
	jmx.used.Store(90)
	waitAlert(ctx, t, s, a.Name, "e2e_port", "OK again", is("OK", "TCP OK - ", portText))
	waitAlert(ctx, t, s, a.Name, "e2e_web", "CRITICAL (timeout)", is("CRITICAL", "Connection failed to "+webURL+": timed out"))
	waitAlert(ctx, t, s, a.Name, "e2e_metric", "CRITICAL", is("CRITICAL", "90.0% used (90 of 100)"))
	waitAlert(ctx, t, s, a.Name, "e2e_metric_raw", "CRITICAL", is("CRITICAL", "used 90"))

	// Recovery, then the web and JMX servers go away entirely.
	webStatus.Store(200)
	jmx.used.Store(25)
	waitAlert(ctx, t, s, a.Name, "e2e_web", "OK again", is("OK", "HTTP 200 response in "))
	waitAlert(ctx, t, s, a.Name, "e2e_metric", "OK again", is("OK", "25.0% used (25 of 100)"))
	web.srv.Close()
	jmx.srv.Close()
	waitAlert(ctx, t, s, a.Name, "e2e_web", "CRITICAL (refused)",
		is("CRITICAL", "Connection failed to "+webURL+": <urlopen error [Errno 111] Connection refused>"))
	// A METRIC alert whose endpoint is down is UNKNOWN (Kerberos off).
	waitAlert(ctx, t, s, a.Name, "e2e_metric", "UNKNOWN", is("UNKNOWN", "Unable to extract JSON from JMX response"))

	// Every JMX request asked for the bean, as /jmx?qry=<bean name>.
	for q := range jmx.queries() {
		if q != "/jmx?"+jmxBean {
			t.Errorf("unexpected JMX request %q", q)
		}
	}
	t.Logf("PORT target accepted %d connections, WEB target served %d requests, JMX target %d",
		port.conns.Load(), web.requests.Load(), jmx.requests.Load())
}

// helperPid finds the agent's resident Python helper: its child whose
// command line runs ambari_agent_pyrunner_*.py (status commands and stack
// scripts are children too). 0 when there is none.
func helperPid(agentPid int) int {
	for _, pid := range childPids(agentPid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "ambari_agent_pyrunner_") {
			return pid
		}
	}
	return 0
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(child); ok && st.ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procStatus is what /proc/<pid>/stat says about CPU use, in clock ticks.
type procStatus struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func procStat(pid int) (procStatus, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStatus{}, false
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStatus{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStatus{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procStatus{ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, true
}

// waitFor polls cond (the agent's processes and files have no events to
// wait on) until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestScriptAlertsInTheHelper: SCRIPT alerts shipped in a service package
// run in the agent's resident Python helper with the tokens and parameters
// of their definition; a script that never returns is stopped at its
// timeout and reported UNKNOWN while the other alerts keep running; a
// killed helper is replaced and alerts go on.
func TestScriptAlertsInTheHelper(t *testing.T) {
	port := newTCPTarget(t)
	dir := t.TempDir()
	stateFile, pidFile := filepath.Join(dir, "state"), filepath.Join(dir, "hang.pids")
	setState := func(s string) {
		t.Helper()
		if err := os.WriteFile(stateFile, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc := alertScenario(t, sim.StringMap{"port": strconv.Itoa(port.port), "label": "from the e2e-alerts config"},
		alertDef(201, "e2e_port", 1, `{"type": "PORT", "uri": "127.0.0.1:{{e2e-alerts/port}}"}`))
	s := startSim(t, sc, nil)
	a := startAlertAgent(t, s, "e2e-alert-script", alertMinute, nil)
	ctx := ctxFor(t, 120*time.Second)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	// A TESTKIT command brings the service package, alert scripts
	// included, into the agent's cache, as on a real host.
	sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "FLAKY", RoleCommand: "INSTALL",
		CommandParams: sim.StringMap{"state_file": filepath.Join(dir, "flaky"), "fail_times": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if task, err := s.WaitTaskDone(ctx, sent.TaskIDs[0]); err != nil || task.Status != protocol.StatusCompleted {
		t.Fatalf("FLAKY INSTALL: %+v %v", task, err)
	}

	setState("WARNING")
	if _, err := s.UpsertAlertDefinition("demo", alertDef(202, "e2e_script", 1, `{"type": "SCRIPT",
		"path": "`+testkitAlerts+`alert_e2e_state.py",
		"parameters": [{"name": "state_file", "value": "`+stateFile+`"}]}`)); err != nil {
		t.Fatal(err)
	}
	got := waitAlert(ctx, t, s, a.Name, "e2e_script", "WARNING", is("WARNING",
		"state file says WARNING; label=from the e2e-alerts config; host="+a.Name+"; kinit=14400000"))
	if got.DefinitionID != 202 {
		t.Errorf("script result of definition %d, want 202", got.DefinitionID)
	}
	setState("CRITICAL")
	waitAlert(ctx, t, s, a.Name, "e2e_script", "CRITICAL", is("CRITICAL", "state file says CRITICAL"))
	// An exception in the script: UNKNOWN with its text.
	setState("RAISE")
	waitAlert(ctx, t, s, a.Name, "e2e_script", "UNKNOWN (exception)", is("UNKNOWN", "asked to fail by "+stateFile))
	setState("OK")
	waitAlert(ctx, t, s, a.Name, "e2e_script", "OK", is("OK", "state file says OK"))

	helper := helperPid(a.Pid())
	if helper == 0 {
		t.Fatal("no Python helper among the agent's children")
	}
	t.Logf("Python helper pid %d, VmRSS %d kB", helper, rss(helper))

	// A script that never returns. Its runs time out after its interval
	// (one alert minute) and are UNKNOWN; each hung run's process is killed.
	if _, err := s.UpsertAlertDefinition("demo", alertDef(203, "e2e_hang", 1, `{"type": "SCRIPT",
		"path": "`+testkitAlerts+`alert_e2e_hang.py",
		"parameters": [{"name": "pid_file", "value": "`+pidFile+`"}]}`)); err != nil {
		t.Fatal(err)
	}
	waitAlert(ctx, t, s, a.Name, "e2e_hang", "UNKNOWN (timeout)", is("UNKNOWN", "alert_e2e_hang.py did not finish in time and was stopped"))
	hangPids := func() []int {
		b, _ := os.ReadFile(pidFile)
		var out []int
		for _, l := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(l); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	// While three more hung runs come and go, the PORT alert keeps its
	// schedule and the other script alert still answers.
	conns0, hung0 := port.conns.Load(), len(hangPids())
	setState("WARNING")
	waitAlert(ctx, t, s, a.Name, "e2e_script", "WARNING during the hang", is("WARNING", "state file says WARNING"))
	if !waitFor(ctx, func() bool { return len(hangPids()) >= hung0+3 }) {
		t.Fatalf("the hanging script ran %d times, want %d", len(hangPids()), hung0+3)
	}
	if n := port.conns.Load() - conns0; n < 2 {
		t.Errorf("PORT alert ran %d times while the script hung three times; its schedule was held up", n)
	} else {
		t.Logf("PORT alert ran %d times during three hung script runs", n)
	}
	pids := hangPids()
	for _, pid := range pids[:len(pids)-1] {
		if !waitFor(ctxFor(t, 10*time.Second), func() bool { return !alive(pid) }) {
			t.Errorf("hung script run %d is still alive after its timeout", pid)
		}
	}
	if n := len(childPids(helper)); n > 4 {
		t.Errorf("the helper has %d children; hung runs pile up", n)
	}

	// The helper dies (OOM killer, operator): a new one takes over, and no
	// alert stops.
	if err := syscall.Kill(helper, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The run under way dies with it.
	for _, pid := range hangPids() {
		if !waitFor(ctxFor(t, 10*time.Second), func() bool { return !alive(pid) }) {
			t.Errorf("hung script run %d outlived the killed helper", pid)
		}
	}
	conns1 := port.conns.Load()
	setState("CRITICAL")
	waitAlert(ctx, t, s, a.Name, "e2e_script", "CRITICAL after the helper was killed", is("CRITICAL", "state file says CRITICAL"))
	var next int
	if !waitFor(ctx, func() bool { next = helperPid(a.Pid()); return next != 0 && next != helper }) {
		t.Fatal("no new helper after the old one was killed")
	}
	hung1 := len(hangPids())
	if !waitFor(ctx, func() bool { return len(hangPids()) >= hung1+1 && port.conns.Load() >= conns1+2 }) {
		t.Fatalf("after the helper was killed: %d more PORT runs, %d more hung script runs",
			port.conns.Load()-conns1, len(hangPids())-hung1)
	}
	waitAlert(ctx, t, s, a.Name, "e2e_hang", "UNKNOWN (timeout) in the new helper", is("UNKNOWN", "did not finish in time"))
	select {
	case <-a.Exited():
		t.Fatal("the agent exited")
	default:
	}
	t.Logf("new Python helper pid %d, VmRSS %d kB", next, rss(next))

	// An agent killed outright (OOM killer, kill -9) leaves no helper and
	// no hung script behind.
	a.Kill()
	for _, pid := range append(hangPids(), next) {
		if !waitFor(ctxFor(t, 10*time.Second), func() bool { return !alive(pid) }) {
			t.Errorf("process %d outlived the killed agent", pid)
		}
	}
}

// wireDef is spec as the server sends it (what the simulator derives from a
// scenario definition, with the fields raw pushes must carry).
func wireDef(spec sim.AlertDefinitionSpec, interval int, enabled bool, uuid string) protocol.AlertDefinition {
	return protocol.AlertDefinition{
		ClusterID: 2, DefinitionID: spec.DefinitionID, Name: spec.Name, Label: spec.Name, Scope: "ANY",
		Interval: interval, Enabled: enabled, UUID: uuid, RepeatTolerance: 1, Source: spec.Source,
	}
}

// pushDefinitions sends a raw /user/alert_definitions event, as the server
// does for definition changes.
func pushDefinitions(t testing.TB, s *sim.Server, host, eventType string, defs ...any) {
	t.Helper()
	body := mustJSON(map[string]any{"eventType": eventType, "clusters": map[string]any{demoClusterID: map[string]any{"alertDefinitions": defs}}})
	if n, err := s.Push(sim.Push{Topic: protocol.UserAlertDefinitions, Host: host, Body: json.RawMessage(body)}); err != nil || n != 1 {
		t.Fatalf("push %s: delivered to %d sessions: %v", eventType, n, err)
	}
}

// reschedules counts the alert scheduler's reschedules in the alerts log.
func (a *Agent) reschedules() int {
	b, _ := os.ReadFile(a.alertsLogPath())
	return strings.Count(string(b), "[AlertScheduler] Reschedule Summary")
}

// waitReschedule waits for the scheduler to apply a definitions change
// made after it had rescheduled `before` times.
func waitReschedule(ctx context.Context, t testing.TB, a *Agent, before int) {
	t.Helper()
	if !waitFor(ctx, func() bool { return a.reschedules() > before }) {
		t.Fatal("the alert scheduler never applied the definitions change")
	}
}

func staleHas(list []protocol.StaleAlert, id int64) (protocol.StaleAlert, bool) {
	for _, s := range list {
		if s.ID == id {
			return s, true
		}
	}
	return protocol.StaleAlert{}, false
}

// TestAlertDefinitionChangesWithoutRestart: interval changes, disabling,
// re-enabling and deleting definitions take effect in the running agent;
// a definition that stops producing results is reported in the heartbeat's
// staleAlerts and leaves the list when it runs again.
func TestAlertDefinitionChangesWithoutRestart(t *testing.T) {
	ta, tb := newTCPTarget(t), newTCPTarget(t)
	defA := alertDef(301, "e2e_port_a", 1, `{"type": "PORT", "uri": "127.0.0.1:{{e2e-alerts/port_a}}"}`)
	// B starts with an interval of an hour of alert minutes: it does not
	// run during the test unless its interval changes.
	defB := alertDef(302, "e2e_port_b", 3600, `{"type": "PORT", "uri": "127.0.0.1:{{e2e-alerts/port_b}}"}`)
	sc := alertScenario(t, sim.StringMap{"port_a": strconv.Itoa(ta.port), "port_b": strconv.Itoa(tb.port)}, defA, defB)
	if sc.Clusters[0].StaleIntervalMultiplier != 5 {
		t.Fatalf("the demo scenario's staleIntervalMultiplier is %d; this test assumes 5", sc.Clusters[0].StaleIntervalMultiplier)
	}
	s := startSim(t, sc, nil)
	a := startAlertAgent(t, s, "e2e-alert-defs", alertMinute, nil)
	ctx := ctxFor(t, 120*time.Second)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	waitAlert(ctx, t, s, a.Name, "e2e_port_a", "OK", is("OK"))
	if n := tb.conns.Load(); n != 0 {
		t.Fatalf("B (interval 3600) ran %d times", n)
	}

	// A new interval through the simulator's high-level API (a CREATE of
	// every definition): B runs every alert minute from now on.
	before := a.reschedules()
	defB.Interval = 1
	if _, err := s.UpsertAlertDefinition("demo", defB); err != nil {
		t.Fatal(err)
	}
	waitReschedule(ctx, t, a, before)
	waitAlert(ctx, t, s, a.Name, "e2e_port_b", "OK after its interval changed", is("OK"))

	// A is disabled by an UPDATE with the same uuid, as a raw push.
	lastA := waitAlert(ctx, t, s, a.Name, "e2e_port_a", "OK", is("OK"))
	before = a.reschedules()
	pushDefinitions(t, s, a.Name, "UPDATE", wireDef(defA, 1, false, defA.UUID))
	waitReschedule(ctx, t, a, before)
	disabledAt := time.Now()
	connsA, connsB := ta.conns.Load(), tb.conns.Load()

	// Silent for interval × staleIntervalMultiplier (5 alert minutes), A is
	// listed in a heartbeat's staleAlerts with the time of its last run.
	var stale protocol.StaleAlert
	h, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool {
		var ok bool
		stale, ok = staleHas(h.StaleAlerts, 301)
		return ok
	})
	if err != nil {
		t.Fatalf("the disabled definition never appeared in staleAlerts: %v", err)
	}
	staleFor := time.Since(disabledAt)
	if stale.Timestamp < lastA.Timestamp || stale.Timestamp > disabledAt.UnixMilli() {
		t.Errorf("stale timestamp %d: not between A's last reported result %d and its disabling %d",
			stale.Timestamp, lastA.Timestamp, disabledAt.UnixMilli())
	}
	if _, ok := staleHas(h.StaleAlerts, 302); ok {
		t.Errorf("B, which runs, is listed as stale: %+v", h.StaleAlerts)
	}
	if n := ta.conns.Load() - connsA; n > 1 { // one run may have been under way
		t.Errorf("A ran %d times after it was disabled", n)
	}
	if n := tb.conns.Load() - connsB; n < 3 {
		t.Errorf("B ran only %d times in the %s A was disabled", n, staleFor.Round(time.Millisecond))
	}
	t.Logf("A listed as stale %s after it was disabled (5 alert minutes + up to one heartbeat)", staleFor.Round(time.Millisecond))

	// Enabled again with a new uuid and interval 2, as the server sends a
	// changed definition: A runs again and leaves the stale list.
	pushDefinitions(t, s, a.Name, "UPDATE", wireDef(defA, 2, true, "e2e00000-0000-4000-8000-0000000003a1"))
	connsA = ta.conns.Load()
	if !waitFor(ctx, func() bool { return ta.conns.Load() >= connsA+2 }) {
		t.Fatal("A did not run again after it was enabled")
	}
	again := waitAlert(ctx, t, s, a.Name, "e2e_port_a", "a new result", func(st sim.AlertState) bool {
		return st.Timestamp > disabledAt.UnixMilli()
	})
	if again.State != "OK" {
		t.Errorf("A after re-enabling: %s %q", again.State, again.Text)
	}
	hb := h.Heartbeats
	if _, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool {
		_, ok := staleHas(h.StaleAlerts, 301)
		return h.Heartbeats > hb && !ok
	}); err != nil {
		t.Fatalf("A stayed in staleAlerts after it ran again: %v", err)
	}

	// B is deleted: it stops while A goes on.
	before = a.reschedules()
	pushDefinitions(t, s, a.Name, "DELETE", map[string]any{"definitionId": 302})
	waitReschedule(ctx, t, a, before)
	connsA, connsB = ta.conns.Load(), tb.conns.Load()
	if !waitFor(ctx, func() bool { return ta.conns.Load() >= connsA+3 }) {
		t.Fatal("A stopped running after B was deleted")
	}
	if n := tb.conns.Load() - connsB; n > 1 {
		t.Errorf("B ran %d times after it was deleted", n)
	}
	var defs map[string]any
	readJSON(t, a.Path("var/lib/ambari-agent/cache/cluster_cache/alert_definitions.json"), &defs)
	if cache := mustJSON(defs); strings.Contains(cache, "e2e_port_b") || !strings.Contains(cache, `"interval":2`) {
		t.Errorf("alert definitions cache after the changes: %s", cache)
	}
	select {
	case <-a.Exited():
		t.Fatal("the agent exited")
	default:
	}
	if st, _ := s.HostState(a.Name); st.Registrations != 1 {
		t.Errorf("the agent registered %d times; definition changes must not restart it", st.Registrations)
	}
}

// TestNoStaleAlertsAfterServerOutage: alerts keep running while the server
// is unreachable, so the heartbeats after the agent is back must not list
// them as stale, however long the outage.
func TestNoStaleAlertsAfterServerOutage(t *testing.T) {
	port := newTCPTarget(t)
	sc := alertScenario(t, sim.StringMap{"port": strconv.Itoa(port.port)},
		alertDef(601, "e2e_port", 1, `{"type": "PORT", "uri": "127.0.0.1:{{e2e-alerts/port}}"}`))
	s := startSim(t, sc, nil)
	a := startAlertAgent(t, s, "e2e-alert-outage", alertMinute, nil)
	ctx := ctxFor(t, 90*time.Second)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	waitAlert(ctx, t, s, a.Name, "e2e_port", "OK", is("OK"))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// Longer than interval × staleIntervalMultiplier (5 alert minutes).
	conns := port.conns.Load()
	time.Sleep(8 * alertMinute)
	if n := port.conns.Load() - conns; n < 4 {
		t.Errorf("the alert ran %d times during an outage of 8 alert minutes", n)
	}
	since := s.LastSeq()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		r, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.Heartbeat, Since: since}, nil)
		if err != nil {
			t.Fatalf("no heartbeat after the outage: %v", err)
		}
		var hb protocol.HeartbeatRequest
		if err := r.Decode(&hb); err != nil {
			t.Fatal(err)
		}
		if len(hb.StaleAlerts) != 0 {
			t.Errorf("heartbeat %d after the outage lists stale alerts %+v; the alert ran throughout", hb.ID, hb.StaleAlerts)
		}
		since = r.Seq
	}
}
