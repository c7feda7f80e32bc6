package actionqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

const (
	hostName  = "h1"
	clusterID = "2"
	pkgFolder = "stacks/QTEST/1.0/services/QTEST/package"
	// waitTimeout bounds every wait for an event in tests.
	waitTimeout = 30 * time.Second
)

var errDown = errors.New("not connected to the Ambari server")

// sent is one request the recording sender received.
type sent struct {
	at      time.Time
	body    []byte
	reports []map[string]any // in message order, per cluster in key order
	acked   bool
}

// recSender records report requests like a server would receive them. It
// can act disconnected (fails fast, as the link does) and can withhold its
// acknowledgement (replies with an ERROR status).
type recSender struct {
	mu       sync.Mutex
	down     bool
	withhold bool
	msgs     []*sent
	changed  chan struct{}
}

func newRecSender() *recSender { return &recSender{changed: make(chan struct{}, 1)} }

func (s *recSender) Request(ctx context.Context, dest string, body []byte) ([]byte, error) {
	if dest != protocol.ReportsCommandsStatus {
		return nil, fmt.Errorf("unexpected destination %s", dest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errDown
	}
	m := &sent{at: time.Now(), body: append([]byte(nil), body...), reports: decodeMessage(body), acked: !s.withhold}
	s.msgs = append(s.msgs, m)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	if s.withhold {
		return []byte(`{"status":"ERROR"}`), nil
	}
	return []byte(`{"status":"OK"}`), nil
}

func (s *recSender) setDown(v bool) {
	s.mu.Lock()
	s.down = v
	s.mu.Unlock()
}

func (s *recSender) setWithhold(v bool) {
	s.mu.Lock()
	s.withhold = v
	s.mu.Unlock()
}

// all returns every report sent so far, in order.
func (s *recSender) all() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, m := range s.msgs {
		out = append(out, m.reports...)
	}
	return out
}

func (s *recSender) messages() []*sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sent(nil), s.msgs...)
}

// waitFor waits until pred holds for the reports sent so far and returns
// them.
func (s *recSender) waitFor(t *testing.T, what string, pred func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		all := s.all()
		if pred(all) {
			return all
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; reports sent: %s", what, summarize(all))
		}
	}
}

// waitReport waits for a report of the task with the given status and
// returns the first one.
func (s *recSender) waitReport(t *testing.T, taskID int, status string) map[string]any {
	t.Helper()
	var found map[string]any
	s.waitFor(t, fmt.Sprintf("task %d %s", taskID, status), func(all []map[string]any) bool {
		for _, r := range all {
			if taskOf(r) == taskID && r["status"] == status {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func decodeMessage(body []byte) []map[string]any {
	var msg struct {
		Clusters map[string][]map[string]any `json:"clusters"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		panic(fmt.Sprintf("agent sent invalid JSON: %v", err))
	}
	var out []map[string]any
	// Within a message the reports are ordered by task here; tests that
	// care about order look across messages or at one cluster.
	keys := make([]string, 0, len(msg.Clusters))
	for k := range msg.Clusters {
		keys = append(keys, k)
	}
	for _, k := range keys {
		for _, r := range msg.Clusters[k] {
			if r["clusterId"] != k {
				panic(fmt.Sprintf("report of cluster %v filed under %s", r["clusterId"], k))
			}
			out = append(out, r)
		}
	}
	return out
}

func taskOf(r map[string]any) int {
	n, _ := r["taskId"].(json.Number).Int64()
	return int(n)
}

func summarize(all []map[string]any) string {
	var b strings.Builder
	for _, r := range all {
		fmt.Fprintf(&b, "[%d %v]", taskOf(r), r["status"])
	}
	return b.String()
}

// reportsOf returns the reports of one task.
func reportsOf(all []map[string]any, taskID int) []map[string]any {
	var out []map[string]any
	for _, r := range all {
		if taskOf(r) == taskID {
			out = append(out, r)
		}
	}
	return out
}

// env is one agent's command pipeline: real caches, a real orchestrator
// running the test script, and a queue with a recording sender.
type env struct {
	t      testing.TB
	root   string
	data   string
	cache  string
	orch   *orchestrator.Orchestrator
	sender *recSender
	cfg    Config
	q      *Queue
	stop   context.CancelFunc
	done   chan struct{}
	hook   *test.Hook
}

// newEnv builds the pipeline over root (a fresh temp dir when ""); mutate
// adjusts the queue's Config. The queue is not started.
func newEnv(t testing.TB, root string, mutate func(*Config)) *env {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	e := &env{t: t, root: root, data: filepath.Join(root, "data"), cache: filepath.Join(root, "cache")}
	if _, err := os.Stat(e.cache); err != nil {
		testutil.CopyTree(t, "testdata/resources", e.cache)
	}
	for _, d := range []string{e.data, filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	store := cache.Open("", nil)
	applyCaches(t, store)
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	e.hook = hook
	orch, err := orchestrator.New(orchestrator.Config{
		Prefix:   e.data,
		CacheDir: e.cache,
		TmpDir:   filepath.Join(root, "tmp"),
		WorkDir:  root,
		Python:   testutil.Python(t),
		Caches:   orchestrator.NewCacheSource(store, hostName),
		Log:      logrus.NewEntry(logger).WithField("component", "orchestrator"),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.orch = orch
	e.sender = newRecSender()
	e.cfg = Config{
		Runner:         orch,
		Sender:         e.sender,
		Prefix:         e.data,
		ReportInterval: time.Hour, // tests that want the cycle set it
		LogMaxSymbols:  900000,
		Log:            logrus.NewEntry(logger).WithField("component", "actionqueue"),
	}
	if mutate != nil {
		mutate(&e.cfg)
	}
	q, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.q = q
	return e
}

// start runs the queue until the test ends (or e.halt).
func (e *env) start() *env {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.q.Run(ctx)
	}()
	e.t.Cleanup(e.halt)
	return e
}

// halt stops the queue, as the agent does when it stops.
func (e *env) halt() {
	if e.stop == nil {
		return
	}
	e.stop()
	select {
	case <-e.done:
	case <-time.After(waitTimeout):
		e.t.Errorf("queue did not stop")
	}
	e.stop = nil
}

func (e *env) intake(body []byte) {
	e.t.Helper()
	if err := e.q.Intake(body); err != nil {
		e.t.Fatalf("intake: %v", err)
	}
}

func (e *env) path(name string) string { return filepath.Join(e.root, name) }

// touch creates a file (releases a script waiting for it).
func (e *env) touch(name string) {
	e.t.Helper()
	if err := os.WriteFile(e.path(name), nil, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// waitFile waits until a file has content containing text ("": any). A
// script creates a file before it writes to it, and the agent creates a
// command's output files before the script has printed anything.
func (e *env) waitFile(name, text string) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if b, err := os.ReadFile(e.path(name)); err == nil && len(b) > 0 && strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s never appeared with %q in it", name, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events reads the script's record file: "start|end task attempt ns".
type event struct {
	what    string
	task    int
	attempt string
	at      int64
}

func (e *env) events(name string) []event {
	e.t.Helper()
	data, err := os.ReadFile(e.path(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.t.Fatal(err)
	}
	var out []event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		task, _ := strconv.Atoi(f[1])
		at, _ := strconv.ParseInt(f[3], 10, 64)
		out = append(out, event{f[0], task, f[2], at})
	}
	return out
}

// applyCaches gives cluster 2 a topology with this host running
// QTEST_SERVER, whose topology commandParams make recovery commands
// runnable.
func applyCaches(t testing.TB, store *cache.Store) {
	t.Helper()
	topo := map[string]any{"eventType": "CREATE", "hash": "t1", "clusters": map[string]any{
		clusterID: map[string]any{
			"hosts": []any{map[string]any{"hostId": 1, "hostName": hostName, "rackName": "/r1", "ipv4": "10.0.0.1"}},
			"components": []any{map[string]any{
				"serviceName": "QTEST", "componentName": "QTEST_SERVER", "hostIds": []int{1},
				"componentLevelParams": map[string]any{},
				"commandParams": map[string]any{"command_timeout": "60", "script": "scripts/qtest.py",
					"script_type": "PYTHON", "service_package_folder": pkgFolder},
			}},
		}}}
	meta := map[string]any{"eventType": "CREATE", "hash": "m1", "clusters": map[string]any{
		"-1": map[string]any{"clusterLevelParams": map[string]any{"jdk_location": "http://127.0.0.1:1/resources"}},
		clusterID: map[string]any{
			"clusterLevelParams": map[string]any{"cluster_name": "c1", "stack_name": "QTEST", "stack_version": "1.0"},
			"serviceLevelParams": map[string]any{
				"QTEST": map[string]any{"version": "1.0", "credentialStoreEnabled": false, "service_package_folder": pkgFolder},
			},
		}}}
	configs := map[string]any{"timestamp": 1700000000000, "hash": "c1", "clusters": map[string]any{
		clusterID: map[string]any{"configurations": map[string]any{"cluster-env": map[string]any{}}, "configurationAttributes": map[string]any{}},
	}}
	hlp := map[string]any{"hash": "p1", "clusters": map[string]any{clusterID: map[string]any{}}}
	for name, body := range map[cache.Name]any{cache.Topology: topo, cache.Metadata: meta, cache.Configurations: configs, cache.HostLevelParams: hlp} {
		b, _ := json.Marshal(body)
		if err := store.Apply(name, b); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
	}
}

// cmd is an execution command for the test script. params become its
// commandParams (on top of the script settings); cluster "-1" commands
// carry no serviceName, as the server's host-level commands.
func cmd(taskID int, cluster string, params map[string]string) map[string]any {
	cp := map[string]any{"script": "scripts/qtest.py", "script_type": "PYTHON", "command_timeout": "60",
		"service_package_folder": pkgFolder}
	for k, v := range params {
		cp[k] = v
	}
	c := map[string]any{
		"commandType": protocol.ExecutionCommand, "taskId": taskID, "commandId": fmt.Sprintf("7-%d", taskID),
		"requestId": 7, "clusterId": cluster, "role": "QTEST_SERVER", "roleCommand": "INSTALL",
		"commandParams": cp,
	}
	if cluster != "-1" {
		c["serviceName"] = "QTEST"
	}
	return c
}

// clusterMsg is one cluster's part of a commands message.
type clusterMsg struct {
	id       string
	commands []map[string]any
	cancels  []map[string]any
}

// message renders a /user/commands body with the clusters in the given
// order.
func message(parts ...clusterMsg) []byte {
	var b strings.Builder
	b.WriteString(`{"requiredConfigTimestamp":1700000000000,"clusters":{`)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		body := map[string]any{}
		if len(p.commands) > 0 {
			body["commands"] = p.commands
		}
		if len(p.cancels) > 0 {
			body["cancelCommands"] = p.cancels
		}
		js, _ := json.Marshal(body)
		fmt.Fprintf(&b, "%q:%s", p.id, js)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

func cancelOf(taskID int, reason string) map[string]any {
	return map[string]any{"commandType": "CANCEL_COMMAND", "target_task_id": taskID, "reason": reason}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
