package statusexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// These tests drive the loop with a fake StatusRunner and a clock that
// only the test moves: every interval, timeout and slow script is a step
// the test takes, so nothing depends on how loaded the machine is. The
// real scripts, run by the real agent, are the end-to-end suite's
// (internal/e2e/status_test.go).

const (
	testHost  = "h1.example.com"
	otherHost = "h2.example.com"
	service   = "TESTSVC"
	// interval and slowAfter are the loop's settings in these tests; only
	// the fake clock ever reaches them.
	interval  = 20 * time.Second
	slowAfter = 20 * time.Second
	// wait bounds every wait for an event: generous, so a loaded CI
	// machine does not fail these tests.
	wait = testutil.Wait
)

// Live states a fake component can be in: what its status script answers.
const (
	running = "running" // exit 0
	stopped = "stopped" // exit 3, ComponentIsNotRunning
	client  = "client"  // exit 1, ClientComponentHasNoStatus
	broken  = "broken"  // exit 1 with a traceback
	noDisk  = "noDisk"  // the agent cannot run the check at all
)

// stack holds the cluster caches that place components on this host and
// the fake runner that answers their checks.
type stack struct {
	t      testing.TB
	store  *cache.Store
	runner *runner
}

func newStack(t testing.TB) *stack {
	return &stack{t: t, store: cache.Open("", nil), runner: newRunner(t)}
}

// setState sets what the component's checks answer from now on.
func (s *stack) setState(component, state string) { s.runner.setState(component, state) }

// calls returns the command names the component's checks ran with.
func (s *stack) calls(component string) []string { return s.runner.callsOf(component) }

// cluster describes one cluster of the topology: components placed on this
// host and components placed only on another host.
type cluster struct {
	id            string
	local, remote []string
}

func componentJSON(name string, hostIDs ...int) map[string]any {
	return map[string]any{
		"serviceName": service, "componentName": name, "hostIds": hostIDs,
		"componentLevelParams": map[string]any{},
		"commandParams":        map[string]any{"command_timeout": "900", "script": "scripts/component.py", "script_type": "PYTHON"},
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

// metadata gives each cluster metadata with STATUS checks.
func (s *stack) metadata(ids ...string) { s.clusterData([]string{CommandStatus}, ids...) }

// clusterData is metadata with the given status_commands_to_run (nil: the
// key is absent).
func (s *stack) clusterData(statusCommands []string, ids ...string) {
	s.t.Helper()
	meta := map[string]any{}
	for _, id := range ids {
		m := map[string]any{
			"clusterLevelParams": map[string]any{"stack_name": "TEST", "stack_version": "1.0", "cluster_name": "c" + id},
		}
		if statusCommands != nil {
			m["status_commands_to_run"] = statusCommands
		}
		meta[id] = m
	}
	s.apply(cache.Metadata, map[string]any{"eventType": "CREATE", "hash": "m", "clusters": meta})
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

// runner is a fake StatusRunner. Each component answers from its state
// (set with setState) as it is when its check starts; a check can be held
// (hold) to play a slow script. It records the command names each
// component ran with and the peak number of checks at once.
type runner struct {
	t  testing.TB
	mu sync.Mutex
	// state and version per component name.
	state   map[string]string
	version map[string]any
	// holds: gates for the next checks of a component, taken in order.
	holds map[string][]chan struct{}
	calls map[string][]string
	// changed is closed (and replaced) at every call, so waitCalls waits
	// without polling.
	changed       chan struct{}
	running, peak int
}

func newRunner(t testing.TB) *runner {
	return &runner{t: t, state: map[string]string{}, version: map[string]any{}, holds: map[string][]chan struct{}{},
		calls: map[string][]string{}, changed: make(chan struct{})}
}

func (r *runner) setState(component, state string) {
	r.mu.Lock()
	r.state[component] = state
	r.mu.Unlock()
}

func (r *runner) setVersion(component string, version any) {
	r.mu.Lock()
	r.version[component] = version
	r.mu.Unlock()
}

// hold makes the component's next check wait, once it has read the state,
// until release is called (or the check's context ends).
func (r *runner) hold(component string) (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	r.holds[component] = append(r.holds[component], gate)
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

func (r *runner) RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (int, string, map[string]any, error) {
	r.mu.Lock()
	state, version := r.state[component], r.version[component]
	var gate chan struct{}
	if hs := r.holds[component]; len(hs) > 0 {
		gate, r.holds[component] = hs[0], hs[1:]
	}
	r.calls[component] = append(r.calls[component], commandName)
	r.running++
	r.peak = max(r.peak, r.running)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if serviceName != service {
		r.t.Errorf("check of %s/%s names service %q", clusterID, component, serviceName)
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, "", nil, ctx.Err()
		}
	}
	var out map[string]any
	if version != nil {
		out = map[string]any{"version": version}
	}
	switch state {
	case running:
		return 0, "", out, nil
	case stopped:
		return 3, "resource_management.core.exceptions.ComponentIsNotRunning", out, nil
	case client:
		return 1, "resource_management.libraries.script.script.ClientComponentHasNoStatus", out, nil
	case noDisk:
		return 0, "", nil, errors.New("write status command file: no space left on device")
	default:
		return 1, "Traceback (most recent call last):\nValueError: broken", out, nil
	}
}

// callsOf returns the command names the component's checks ran with.
func (r *runner) callsOf(component string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[component])
}

func (r *runner) runningChecks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

func (r *runner) peakChecks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// waitCalls waits until the component's checks have started n times.
func (r *runner) waitCalls(component string, n int) {
	r.t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, changed := len(r.calls[component]), r.changed
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			r.t.Fatalf("%s: checked %d times, want %d", component, got, n)
		}
	}
}

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
	// refused gets a value for every report refused while disconnected.
	refused chan struct{}
}

type sent struct {
	dest string
	body []byte
}

var errNotConnected = errors.New("not connected to the Ambari server")

func newSender() *sender {
	return &sender{connected: true, ack: true, reports: make(chan sent, 1024), refused: make(chan struct{}, 1024)}
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
		select {
		case s.refused <- struct{}{}:
		default:
		}
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

// wantTold compares what the recovery manager was told, in order.
func wantTold(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("recovery manager told\n got: %v\nwant: %v", got, want)
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

// A command's life as the executor hears of it from the action queue: its
// scripts start (commandStarts) and end (commandEnds), then, after its final
// report, it is finished (commandFinished).

func (h *harness) commandStarts(clusterID, component string) {
	h.exec.AttemptStarted(header(clusterID, component))
}

func (h *harness) commandEnds(clusterID, component string) {
	h.exec.AttemptEnded(header(clusterID, component))
}

func (h *harness) commandFinished(clusterID, component string) {
	h.exec.CommandFinished(header(clusterID, component), protocol.StatusCompleted)
}

// commandRan: a command's scripts started and ended.
func (h *harness) commandRan(clusterID, component string) {
	h.commandStarts(clusterID, component)
	h.commandEnds(clusterID, component)
}

// harness runs an executor against a stack, a fake runner and a fake
// clock.
type harness struct {
	*stack
	t      *testing.T
	exec   *Executor
	cfg    Config
	clock  *testutil.Clock
	runner *runner
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
		t:      t,
		clock:  testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		runner: st.runner,
		sender: newSender(),
		rec:    &recovery{},
		logs:   hook,
		cycles: make(chan struct{}, 1024),
		afters: make(chan struct{}, 1024),
	}
	cfg := Config{
		HostName: testHost, Caches: st.store, Runner: h.runner,
		Sender: h.sender, Recovery: h.rec, Interval: interval, SlowCheckAfter: slowAfter,
		Log: logrus.NewEntry(l).WithField("component", "statusexec"),
	}
	if tune != nil {
		tune(&cfg)
	}
	h.cfg = cfg
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.clock = h.clock
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
	testutil.WaitFor(t, "Run to start", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.active
	})
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

// tick lets the interval pass once the loop waits for it and waits for the
// cycle it starts to finish. A cycle sends its report before it counts as
// finished, so a report it sent is already recorded.
func (h *harness) tick() {
	h.t.Helper()
	h.clock.WaitTimers(h.t, 1, 0)
	h.clock.Add(h.cfg.Interval)
	h.waitCycles(1)
}

// ticks runs n more cycles.
func (h *harness) ticks(n int) {
	h.t.Helper()
	for range n {
		h.tick()
	}
}

// waitCycles waits for n more cycles to finish.
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
