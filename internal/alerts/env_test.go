package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// fakeDefs is an in-memory alert-definitions cache.
type fakeDefs struct {
	mu       sync.Mutex
	clusters []ClusterDefinitions
	ev       string
	subs     []chan struct{}
}

func (f *fakeDefs) AlertDefinitions() ([]ClusterDefinitions, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clusters, f.ev
}

func (f *fakeDefs) Subscribe() (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{}, 1)
	f.subs = append(f.subs, ch)
	return ch, func() {}
}

func (f *fakeDefs) set(ev string, clusters ...ClusterDefinitions) {
	f.mu.Lock()
	f.clusters, f.ev = clusters, ev
	subs := f.subs
	f.mu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// fakeConfigs holds one command-style dictionary per cluster.
type fakeConfigs struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

func (f *fakeConfigs) ClusterConfiguration(id string) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return nil, fmt.Errorf("'%s'", id)
	}
	return c, nil
}

// setTypes sets /configurations/<type>/<key> values of a cluster.
func (f *fakeConfigs) setTypes(id string, types map[string]map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]map[string]any{}
	}
	conf := map[string]any{}
	for t, kv := range types {
		conf[t] = kv
	}
	f.m[id] = map[string]any{"configurations": conf, "clusterLevelParams": map[string]any{"cluster_name": "c1"}}
}

// fakeLink records reports and answers with reply (or err).
type fakeLink struct {
	mu         sync.Mutex
	registered bool
	reply      []byte
	err        error
	sent       [][]Result
	sentCh     chan []Result
}

func newFakeLink() *fakeLink {
	return &fakeLink{registered: true, reply: []byte(`{"status":"OK"}`), sentCh: make(chan []Result, 100)}
}

func (l *fakeLink) Registered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.registered
}

func (l *fakeLink) Request(_ context.Context, dest string, body []byte) ([]byte, error) {
	if dest != AlertsStatusDestination {
		return nil, fmt.Errorf("unexpected destination %s", dest)
	}
	var rs []Result
	if err := json.Unmarshal(body, &rs); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.sent = append(l.sent, rs)
	reply, err := l.reply, l.err
	l.mu.Unlock()
	select {
	case l.sentCh <- rs:
	default:
	}
	return reply, err
}

// testLogger logs to the test output at debug level.
func testLogger(t testing.TB) *logrus.Entry {
	l := logrus.New()
	l.SetLevel(logrus.DebugLevel)
	l.SetOutput(testWriter{t})
	return logrus.NewEntry(l).WithField("component", "alerts")
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// testEnv is a Manager with fakes around it.
type testEnv struct {
	t       *testing.T
	m       *Manager
	defs    *fakeDefs
	cfgs    *fakeConfigs
	link    *fakeLink
	results chan Result
	cancel  context.CancelFunc
	done    chan error
}

func newEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, defs: &fakeDefs{}, cfgs: &fakeConfigs{}, link: newFakeLink(), results: make(chan Result, 1000)}
	cfg := Config{
		Definitions:     e.defs,
		Configurations:  e.cfgs,
		Link:            e.link,
		Log:             testLogger(t),
		ReportInterval:  time.Hour, // tests call reportCycle themselves unless they change it
		SendChangesOnly: true,
		UseSystemProxy:  true,
		Minute:          time.Minute,
		AgentTmpDir:     t.TempDir(),
	}
	cfg.PythonConfig.LibDirs = []string{}
	if mutate != nil {
		mutate(&cfg)
	}
	e.m = New(cfg)
	e.m.onResult = func(r Result) {
		select {
		case e.results <- r:
		default:
		}
	}
	t.Cleanup(func() {
		e.stop()
		if e.m.ownPython != nil {
			e.m.ownPython.Close()
		}
	})
	return e
}

func (e *testEnv) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.m.Run(ctx) }()
}

func (e *testEnv) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Error("Run did not return after cancel")
	}
	e.cancel = nil
}

// waitResult waits for the next result of the named alert.
func (e *testEnv) waitResult(name string, timeout time.Duration) Result {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case r := <-e.results:
			if r.Name == name {
				return r
			}
		case <-deadline:
			e.t.Fatalf("no result for %s within %s", name, timeout)
			return Result{}
		}
	}
}

// waitUUID waits for the next result of the job with this uuid.
func (e *testEnv) waitUUID(uuid string, timeout time.Duration) Result {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case r := <-e.results:
			if r.uuid == uuid {
				return r
			}
		case <-deadline:
			e.t.Fatalf("no result for job %s within %s", uuid, timeout)
			return Result{}
		}
	}
}

// noResult asserts the named alert produces no result for d.
func (e *testEnv) noResult(name string, d time.Duration) {
	e.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case r := <-e.results:
			if r.Name == name {
				e.t.Fatalf("unexpected result for %s: %+v", name, r)
			}
		case <-deadline:
			return
		}
	}
}

// def builds a definition object as the server sends it.
func def(id int, name string, interval int, source map[string]any) map[string]any {
	return map[string]any{
		"clusterId": 2, "definitionId": id, "name": name, "label": name, "serviceName": "TEST",
		"componentName": "TEST_COMPONENT", "scope": "ANY", "interval": interval, "enabled": true,
		"uuid": fmt.Sprintf("uuid-%d-%s", id, name), "repeat_tolerance": 1, "repeat_tolerance_enabled": false,
		"source": source,
	}
}

// cluster builds a decoded cluster object.
func cluster(t testing.TB, id, host string, extra map[string]any, defs ...map[string]any) ClusterDefinitions {
	t.Helper()
	list := make([]any, len(defs))
	for i, d := range defs {
		list[i] = d
	}
	obj := map[string]any{"hostName": host, "alertDefinitions": list}
	for k, v := range extra {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := decodeCluster(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return cd
}

// evalDef compiles and evaluates one definition directly.
func (e *testEnv) evalDef(host string, d map[string]any) Result {
	e.t.Helper()
	cd := cluster(e.t, "2", host, nil, d)
	a, err := e.m.compileAlert(clusterInfo{id: "2", host: host}, cd.Definitions[0])
	if err != nil {
		e.t.Fatalf("compile %s: %v", cd.Definitions[0].Name, err)
	}
	return e.m.evaluate(context.Background(), a)
}
