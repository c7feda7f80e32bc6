package statusexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

const (
	testHost  = "h1.example.com"
	otherHost = "h2.example.com"
	pkgFolder = "stacks/TEST/1.0/services/TESTSVC/package"
	service   = "TESTSVC"
	// wait bounds every wait for an event in these tests; generous so a
	// loaded CI machine does not fail them.
	wait = 20 * time.Second
)

// stack is a cache directory holding the test stack's package, its state
// files and the cluster caches that place components on this host.
type stack struct {
	t        testing.TB
	root     string // holds the cache dir and the agents' data dirs
	cacheDir string
	pkgDir   string
	store    *cache.Store
}

func newStack(t testing.TB) *stack {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	s := &stack{t: t, root: root, cacheDir: dir, pkgDir: filepath.Join(dir, pkgFolder), store: cache.Open("", nil)}
	script, err := os.ReadFile("testdata/stack/services/TESTSVC/package/scripts/component.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"scripts", "state"} {
		if err := os.MkdirAll(filepath.Join(s.pkgDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.pkgDir, "scripts", "component.py"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	// Runs after the executor stopped and before the directory is removed:
	// the orchestrator leaves scripts running when the agent stops.
	t.Cleanup(s.waitScriptsGone)
	return s
}

// waitScriptsGone waits until no process runs a script of this stack.
func (s *stack) waitScriptsGone() {
	deadline := time.Now().Add(wait)
	for {
		found := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s.cacheDir) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		if time.Now().After(deadline) {
			s.t.Error("stack scripts still running")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// orchestrator returns a real orchestrator running this stack's scripts,
// wrapped to count the checks running at once.
func (s *stack) orchestrator() *countingRunner {
	s.t.Helper()
	// Under the stack's root, so it outlives the scripts (see newStack).
	root, err := os.MkdirTemp(s.root, "agent")
	if err != nil {
		s.t.Fatal(err)
	}
	for _, d := range []string{"data", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			s.t.Fatal(err)
		}
	}
	o, err := orchestrator.New(orchestrator.Config{
		Prefix:   filepath.Join(root, "data"),
		CacheDir: s.cacheDir,
		TmpDir:   filepath.Join(root, "tmp"),
		WorkDir:  root,
		Python:   "python3",
		Caches:   orchestrator.NewCacheSource(s.store, testHost),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return &countingRunner{StatusRunner: o}
}

// countingRunner passes checks to the orchestrator and records the peak
// number running at once.
type countingRunner struct {
	StatusRunner
	running, peak atomic.Int32
}

func (r *countingRunner) RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (int, string, map[string]any, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for p := r.peak.Load(); n > p && !r.peak.CompareAndSwap(p, n); p = r.peak.Load() {
	}
	return r.StatusRunner.RunStatus(ctx, clusterID, serviceName, component, commandName)
}

// cluster describes one cluster of the topology: components placed on this
// host and components placed only on another host.
type cluster struct {
	id            string
	local, remote []string
}

// setState sets what the component's script answers, atomically.
func (s *stack) setState(role, line string) {
	s.t.Helper()
	p := filepath.Join(s.pkgDir, "state", role)
	if err := os.WriteFile(p+".tmp", []byte(line), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		s.t.Fatal(err)
	}
}

// calls returns the command names the component's script has run with.
func (s *stack) calls(role string) []string {
	b, err := os.ReadFile(filepath.Join(s.pkgDir, "state", role+".calls"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// waitCalls waits until the component's script has run n times.
func (s *stack) waitCalls(role string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for len(s.calls(role)) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: script ran %d times, want %d", role, len(s.calls(role)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func componentJSON(name string, hostIDs ...int) map[string]any {
	return map[string]any{
		"serviceName": service, "componentName": name, "hostIds": hostIDs,
		"componentLevelParams": map[string]any{},
		"commandParams": map[string]any{
			"command_timeout": "900", "script": "scripts/component.py", "script_type": "PYTHON",
			"service_package_folder": pkgFolder,
		},
	}
}

// topology applies a topology event with the given clusters.
func (s *stack) topology(eventType string, clusters ...cluster) {
	s.t.Helper()
	cs := map[string]any{}
	for _, c := range clusters {
		comps := []any{}
		for _, n := range c.local {
			comps = append(comps, componentJSON(n, 1))
		}
		for _, n := range c.remote {
			comps = append(comps, componentJSON(n, 2))
		}
		cs[c.id] = map[string]any{
			"hosts": []any{
				map[string]any{"hostId": 1, "hostName": testHost, "rackName": "/default-rack", "ipv4": "10.0.0.1"},
				map[string]any{"hostId": 2, "hostName": otherHost, "rackName": "/default-rack", "ipv4": "10.0.0.2"},
			},
			"components": comps,
		}
	}
	s.apply(cache.Topology, map[string]any{"eventType": eventType, "hash": fmt.Sprint(time.Now().UnixNano()), "clusters": cs})
}

// metadata gives each cluster metadata with STATUS checks, host-level
// params and configurations (the orchestrator needs all three).
func (s *stack) metadata(ids ...string) { s.clusterData([]string{CommandStatus}, ids...) }

// clusterData is metadata with the given status_commands_to_run (nil: the
// key is absent).
func (s *stack) clusterData(statusCommands []string, ids ...string) {
	s.t.Helper()
	meta := map[string]any{"-1": map[string]any{"clusterLevelParams": map[string]any{"jdk_location": "http://127.0.0.1:1/resources"}}}
	hlp, configs := map[string]any{}, map[string]any{}
	for _, id := range ids {
		m := map[string]any{
			"clusterLevelParams": map[string]any{"stack_name": "TEST", "stack_version": "1.0", "cluster_name": "c" + id},
			"serviceLevelParams": map[string]any{service: map[string]any{"version": "1.0", "service_package_folder": pkgFolder}},
		}
		if statusCommands != nil {
			m["status_commands_to_run"] = statusCommands
		}
		meta[id] = m
		hlp[id] = map[string]any{}
		configs[id] = map[string]any{"configurations": map[string]any{}, "configurationAttributes": map[string]any{}}
	}
	s.apply(cache.Metadata, map[string]any{"eventType": "CREATE", "hash": "m", "clusters": meta})
	s.apply(cache.HostLevelParams, map[string]any{"hash": "p", "clusters": hlp})
	s.apply(cache.Configurations, map[string]any{"timestamp": 1, "hash": "c", "clusters": configs})
}

func (s *stack) apply(n cache.Name, event map[string]any) {
	s.t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.store.Apply(n, b); err != nil {
		s.t.Fatalf("apply %s: %v", n, err)
	}
}

var errNotConnected = errors.New("not connected to the Ambari server")

// sender records every report and answers like the server: {"status":"OK"}
// while acking, an error reply otherwise, and fails at once while
// disconnected.
type sender struct {
	mu        sync.Mutex
	connected bool
	ack       bool
	// hold, when set, delays the reply to the next report until it is
	// closed: a report "on its way".
	hold    chan struct{}
	reports chan sent
}

type sent struct {
	dest string
	body []byte
}

func newSender() *sender {
	return &sender{connected: true, ack: true, reports: make(chan sent, 1024)}
}

func (s *sender) set(connected, ack bool) {
	s.mu.Lock()
	s.connected, s.ack = connected, ack
	s.mu.Unlock()
}

func (s *sender) Request(ctx context.Context, dest string, body []byte) ([]byte, error) {
	s.mu.Lock()
	connected, ack, hold := s.connected, s.ack, s.hold
	s.hold = nil
	s.mu.Unlock()
	if !connected {
		return nil, errNotConnected
	}
	s.reports <- sent{dest, slices.Clone(body)}
	if hold != nil {
		<-hold
	}
	if ack {
		return []byte(`{"status":"OK"}`), nil
	}
	return []byte(`{"status":"ERROR","reason":"queue full"}`), nil
}

// next returns the next component status report as sorted
// "cluster/COMPONENT/command=status" lines.
func (s *sender) next(t *testing.T) []string {
	t.Helper()
	select {
	case r := <-s.reports:
		return statusLines(t, r)
	case <-time.After(wait):
		t.Fatal("no component status report")
		return nil
	}
}

// none fails if a report has been sent and not yet taken.
func (s *sender) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.reports:
		t.Fatalf("unexpected report to %s: %s", r.dest, r.body)
	default:
	}
}

func statusLines(t testing.TB, r sent) []string {
	t.Helper()
	if r.dest != protocol.ReportsComponentStatus {
		t.Fatalf("report sent to %s, want %s", r.dest, protocol.ReportsComponentStatus)
	}
	var rep protocol.ComponentStatusReport
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatalf("report %s: %v", r.body, err)
	}
	var lines []string
	for cid, list := range rep.Clusters {
		for _, c := range list {
			if c.ClusterID != cid || c.ServiceName != service {
				t.Errorf("report entry %+v under cluster %s", c, cid)
			}
			st := "null"
			if c.Status != nil {
				st = *c.Status
			}
			lines = append(lines, fmt.Sprintf("%s/%s/%s=%s", cid, c.ComponentName, c.Command, st))
		}
	}
	slices.Sort(lines)
	return lines
}

func want(t *testing.T, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("report\n got: %v\nwant: %v", got, want)
	}
}

// recovery records what the recovery manager is told.
type recovery struct {
	mu   sync.Mutex
	seen []string
}

func (r *recovery) LiveStatus(clusterID, component, status string) {
	r.mu.Lock()
	r.seen = append(r.seen, clusterID+"/"+component+"="+status)
	r.mu.Unlock()
}

func (r *recovery) told() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// header is the header of an execution command for a component of the
// test service.
func header(clusterID, component string) protocol.CommandHeader {
	return protocol.CommandHeader{CommandType: protocol.ExecutionCommand, ClusterID: clusterID,
		ServiceName: service, Role: component, RoleCommand: "START"}
}

// commandRan tells the executor, as the action queue does, that a
// command's scripts ran for the component.
func (h *harness) commandRan(clusterID, component string) {
	h.exec.AttemptStarted(header(clusterID, component))
	h.exec.AttemptEnded(header(clusterID, component))
}

// commandFinished tells the executor that a command for the component
// ended, after its final report.
func (h *harness) commandFinished(clusterID, component string) {
	h.exec.CommandFinished(header(clusterID, component), protocol.StatusCompleted)
}

// harness runs an executor against a stack.
type harness struct {
	*stack
	exec   *Executor
	runner *countingRunner
	sender *sender
	rec    *recovery
	logs   *test.Hook
	cycles chan struct{}
	afters chan struct{}
}

func startExecutor(t *testing.T, st *stack, tune func(*Config)) *harness {
	t.Helper()
	return startExecutorWith(t, st, tune, nil)
}

// startExecutorWith is startExecutor with before called on the executor
// before it runs.
func startExecutorWith(t *testing.T, st *stack, tune func(*Config), before func(*Executor)) *harness {
	t.Helper()
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	h := &harness{
		stack:  st,
		runner: st.orchestrator(),
		sender: newSender(),
		rec:    &recovery{},
		logs:   hook,
		cycles: make(chan struct{}, 1024),
		afters: make(chan struct{}, 1024),
	}
	cfg := Config{
		HostName: testHost, Caches: st.store, Runner: h.runner,
		Sender: h.sender, Recovery: h.rec, Interval: 50 * time.Millisecond,
		Log: logrus.NewEntry(l).WithField("component", "statusexec"),
		// A Python check can take over a second on a loaded machine under
		// -race; only the tests of slow checks want them declared slow.
		SlowCheckAfter: time.Minute,
	}
	if tune != nil {
		tune(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.onCycle = func() { h.cycles <- struct{}{} }
	e.onAfter = func() { h.afters <- struct{}{} }
	h.exec = e
	if before != nil {
		before(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	// Post-command checks are taken only once Run is running.
	for deadline := time.Now().Add(wait); ; time.Sleep(time.Millisecond) {
		e.mu.Lock()
		active := e.active
		e.mu.Unlock()
		if active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return after its context ended")
		}
	})
	return h
}

// waitCycles waits for n more cycles to finish. A cycle sends its report
// before it counts as finished, so a report it sent is already recorded.
func (h *harness) waitCycles(n int) {
	h.t.Helper()
	for range n {
		select {
		case <-h.cycles:
		case <-time.After(wait):
			h.t.Fatal("status cycle did not finish")
		}
	}
}

// drainCycles forgets cycles that already finished.
func (h *harness) drainCycles() {
	for {
		select {
		case <-h.cycles:
		default:
			return
		}
	}
}

func (h *harness) waitAfter() {
	h.t.Helper()
	select {
	case <-h.afters:
	case <-time.After(wait):
		h.t.Fatal("post-command check did not finish")
	}
}

// waitLogged waits for a log line containing text: what a slow check
// leads to may come after the cycle that started it has finished.
func (h *harness) waitLogged(text string) bool {
	deadline := time.Now().Add(wait)
	for !h.logged(text) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// logged reports whether a log line contains text.
func (h *harness) logged(text string) bool {
	for _, e := range h.logs.AllEntries() {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}
