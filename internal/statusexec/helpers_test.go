package statusexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
	cacheDir string
	pkgDir   string
	store    *cache.Store
}

func newStack(t testing.TB) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, cacheDir: dir, pkgDir: filepath.Join(dir, pkgFolder), store: cache.Open("", nil)}
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
	return s
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

// metadata applies a metadata CREATE giving each cluster STATUS checks.
func (s *stack) metadata(ids ...string) {
	s.t.Helper()
	cs := map[string]any{"-1": map[string]any{"clusterLevelParams": map[string]any{"jdk_location": "http://srv:8080/resources"}}}
	for _, id := range ids {
		cs[id] = map[string]any{
			"status_commands_to_run": []string{CommandStatus},
			"clusterLevelParams":     map[string]any{"stack_name": "TEST", "stack_version": "1.0", "cluster_name": "c" + id},
			"serviceLevelParams":     map[string]any{service: map[string]any{"version": "1.0", "service_package_folder": pkgFolder}},
		}
	}
	s.apply(cache.Metadata, map[string]any{"eventType": "CREATE", "hash": "m", "clusters": cs})
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

// scriptRunner runs the component's stack script the way the orchestrator
// runs a status command: a command JSON file, the script from the
// topology's commandParams and the eight positional arguments. It stands in
// for the orchestrator in these tests.
type scriptRunner struct {
	store    *cache.Store
	cacheDir string
	tmp      string
	running  atomic.Int32
	peak     atomic.Int32
}

func (r *scriptRunner) RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (int, string, map[string]any, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for p := r.peak.Load(); n > p && !r.peak.CompareAndSwap(p, n); p = r.peak.Load() {
	}

	tc := r.store.Topology().Snapshot().Cluster(clusterID)
	if tc == nil {
		return 1, "no topology for cluster " + clusterID, nil, nil
	}
	c := tc.Component(serviceName, component)
	if c == nil {
		return 1, "no component " + component, nil, nil
	}
	cp := c.CommandParams
	base := filepath.Join(r.cacheDir, cp["service_package_folder"])
	f, err := os.CreateTemp(r.tmp, "status_command_*.json")
	if err != nil {
		return 1, err.Error(), nil, nil
	}
	defer os.Remove(f.Name())
	cmd := map[string]any{
		"role": component, "serviceName": serviceName, "clusterId": clusterID,
		"commandType": "STATUS_COMMAND", "commandParams": cp,
	}
	if err := json.NewEncoder(f).Encode(cmd); err != nil {
		f.Close()
		return 1, err.Error(), nil, nil
	}
	f.Close()
	structured := f.Name() + ".out"
	defer os.Remove(structured)

	var stderr bytes.Buffer
	p := exec.CommandContext(ctx, "python3", filepath.Join(base, cp["script"]), commandName, f.Name(), base,
		structured, "INFO", r.tmp, "PROTOCOL_TLSv1_2", "")
	p.Stderr = &stderr
	err = p.Run()
	if ctx.Err() != nil {
		return 0, "", nil, ctx.Err()
	}
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return 1, err.Error(), nil, nil
	}
	out := map[string]any{}
	if b, err := os.ReadFile(structured); err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return code, stderr.String(), out, nil
}

var errNotConnected = errors.New("not connected to the Ambari server")

// sender records every report and answers like the server: {"status":"OK"}
// while acking, an error reply otherwise, and fails at once while
// disconnected.
type sender struct {
	mu        sync.Mutex
	connected bool
	ack       bool
	reports   chan sent
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
	connected, ack := s.connected, s.ack
	s.mu.Unlock()
	if !connected {
		return nil, errNotConnected
	}
	s.reports <- sent{dest, slices.Clone(body)}
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

// tracker is the orchestrator's "command running for component" counter.
type tracker struct {
	mu      sync.Mutex
	running map[string]bool
}

func (tr *tracker) set(clusterID, component string, running bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.running == nil {
		tr.running = map[string]bool{}
	}
	tr.running[clusterID+"/"+component] = running
}

func (tr *tracker) CommandsRunningForComponent(clusterID, component string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.running[clusterID+"/"+component]
}

// harness runs an executor against a stack.
type harness struct {
	*stack
	exec    *Executor
	runner  *scriptRunner
	sender  *sender
	rec     *recovery
	tracker *tracker
	logs    *test.Hook
	cycles  chan struct{}
	afters  chan struct{}
}

func startExecutor(t *testing.T, st *stack, tune func(*Config)) *harness {
	t.Helper()
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	h := &harness{
		stack:   st,
		runner:  &scriptRunner{store: st.store, cacheDir: st.cacheDir, tmp: t.TempDir()},
		sender:  newSender(),
		rec:     &recovery{},
		tracker: &tracker{},
		logs:    hook,
		cycles:  make(chan struct{}, 1024),
		afters:  make(chan struct{}, 1024),
	}
	cfg := Config{
		HostName: testHost, Caches: st.store, Runner: h.runner, Commands: h.tracker,
		Sender: h.sender, Recovery: h.rec, Interval: 50 * time.Millisecond,
		Log: logrus.NewEntry(l).WithField("component", "statusexec"),
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

// logged reports whether a log line contains text.
func (h *harness) logged(text string) bool {
	for _, e := range h.logs.AllEntries() {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}
