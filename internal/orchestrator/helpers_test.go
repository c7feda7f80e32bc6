package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

const (
	hostName   = "h1"
	clusterID  = "2"
	demoPkg    = "stacks/DEMO/1.0/services/DEMO/package"
	testkitPkg = "stacks/DEMO/1.0/services/TESTKIT/package"
)

// env is one test's agent: a copy of the demo resources as cache_dir, a data
// dir, a tmp dir, real cluster caches and an orchestrator.
type env struct {
	t       testing.TB
	root    string
	cache   string
	data    string
	tmp     string
	store   *cache.Store
	orch    *Orchestrator
	logHook *test.Hook
}

// newEnv builds the environment; mutate adjusts the Config before New.
func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { killProcessesOf(root) })
	e := &env{t: t, root: root, cache: filepath.Join(root, "cache"), data: filepath.Join(root, "data"), tmp: filepath.Join(root, "tmp")}
	testutil.CopyTree(t, "../../testdata/resources", e.cache)
	for _, d := range []string{e.data, e.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.store = cache.Open("", nil)
	e.applyCaches(nil)
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	e.logHook = hook
	cfg := Config{
		Prefix:     e.data,
		CacheDir:   e.cache,
		TmpDir:     e.tmp,
		WorkDir:    root,
		Python:     testutil.Python(t),
		PythonPath: []string{"/opt/agent/lib"},
		Caches:     NewCacheSource(e.store, hostName),
		Log:        logrus.NewEntry(logger).WithField("component", "orchestrator"),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.orch = o
	return e
}

// applyCaches loads the cluster caches; extraComponents are added to the
// topology of cluster 2.
func (e *env) applyCaches(extraComponents []map[string]any) {
	e.t.Helper()
	components := []map[string]any{
		{"serviceName": "DEMO", "componentName": "DEMO_SERVER", "hostIds": []int{1},
			"componentLevelParams": map[string]any{"unlimited_key_jce_required": "false"},
			"commandParams": map[string]any{"command_timeout": "60", "script": "scripts/demo_server.py",
				"script_type": "PYTHON", "service_package_folder": demoPkg, "version": "1.0.3"}},
		{"serviceName": "DEMO", "componentName": "DEMO_CLIENT", "hostIds": []int{1, 2},
			"componentLevelParams": map[string]any{},
			"commandParams": map[string]any{"command_timeout": "60", "script": "scripts/demo_client.py",
				"script_type": "PYTHON", "service_package_folder": demoPkg}},
		{"serviceName": "TESTKIT", "componentName": "TESTKIT_REMOTE", "hostIds": []int{2},
			"componentLevelParams": map[string]any{},
			"commandParams": map[string]any{"command_timeout": "60", "script": "scripts/dump_env.py",
				"script_type": "PYTHON", "service_package_folder": testkitPkg}},
	}
	components = append(components, extraComponents...)
	topo := map[string]any{"eventType": "CREATE", "hash": "t1", "clusters": map[string]any{
		clusterID: map[string]any{
			"hosts": []any{
				map[string]any{"hostId": 1, "hostName": hostName, "rackName": "/r1", "ipv4": "10.0.0.1"},
				map[string]any{"hostId": 2, "hostName": "h2", "rackName": "/r2", "ipv4": "10.0.0.2"},
			},
			"components": components,
		}}}
	meta := map[string]any{"eventType": "CREATE", "hash": "m1", "clusters": map[string]any{
		"-1": map[string]any{"clusterLevelParams": map[string]any{
			"jdk_location": "http://127.0.0.1:1/resources", "java_home": filepath.Join(e.root, "jdk"),
			"ambari_db_rca_password": nil}},
		clusterID: map[string]any{
			"status_commands_to_run": []string{"STATUS"},
			"clusterLevelParams": map[string]any{"cluster_name": "c1", "hooks_folder": "stack-hooks",
				"stack_name": "DEMO", "stack_version": "1.0"},
			"serviceLevelParams": map[string]any{
				"DEMO":    map[string]any{"version": "1.0", "credentialStoreEnabled": false, "service_package_folder": demoPkg},
				"TESTKIT": map[string]any{"version": "1.0", "credentialStoreEnabled": false, "service_package_folder": testkitPkg},
			},
		}}}
	configs := map[string]any{"timestamp": 1700000000000, "hash": "c1", "clusters": map[string]any{
		clusterID: map[string]any{
			"configurations": map[string]any{
				"demo-env":    map[string]any{"server_port": "0", "message": "hello from the cache", "install_dir": filepath.Join(e.tmp, "demo-install")},
				"cluster-env": map[string]any{"recovery_enabled": "false"},
			},
			"configurationAttributes": map[string]any{"demo-env": map[string]any{"final": map[string]any{"server_port": "true"}}},
		}}}
	hlp := map[string]any{"hash": "p1", "clusters": map[string]any{clusterID: map[string]any{
		"recoveryConfig": map[string]any{"components": []any{}}}}}
	for name, body := range map[cache.Name]any{cache.Topology: topo, cache.Metadata: meta, cache.Configurations: configs, cache.HostLevelParams: hlp} {
		b, _ := json.Marshal(body)
		if err := e.store.Apply(name, b); err != nil {
			e.t.Fatalf("apply %s: %v", name, err)
		}
	}
}

// header is an execution command as the server sends it, decoded the way
// the agent decodes it.
func header(t testing.TB, taskID int, service, role, roleCommand string, commandParams map[string]any, extra map[string]any) map[string]any {
	t.Helper()
	h := map[string]any{
		"commandType": protocol.ExecutionCommand, "clusterId": clusterID, "taskId": taskID, "commandId": "5-0",
		"requestId": 5, "serviceName": service, "role": role, "roleCommand": roleCommand,
		"commandParams": commandParams, "roleParams": map[string]any{"component_category": "MASTER"},
		"requiredConfigTimestamp": 1700000000000,
	}
	for k, v := range extra {
		h[k] = v
	}
	return decode(t, h)
}

// decode round-trips v through JSON with UseNumber, giving what a decoder
// of server messages produces.
func decode(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func testkitParams(script string, timeout int, more map[string]any) map[string]any {
	p := map[string]any{"script": "scripts/" + script, "script_type": "PYTHON", "command_timeout": strconv.Itoa(timeout),
		"service_package_folder": testkitPkg}
	for k, v := range more {
		p[k] = v
	}
	return p
}

// request builds a Request with the standard task files.
func (e *env) request(h map[string]any) Request {
	f := e.orch.TaskFiles(protocol.ExecutionCommand, pyvalue.Str(h["taskId"]))
	return Request{Command: h, OutFile: f.Out, ErrFile: f.Err, Overwrite: true}
}

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// waitFile waits for a file to appear (scripts write pid files).
func waitFile(t testing.TB, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runTimingOut runs sleep_tree.py as command taskID with the given timeout
// (seconds), for a test of what the timeout does to the tree, and returns
// the result, the tree's pids and the timeout used. The timeout must strike
// once the whole tree is up: on a machine too loaded to start it in time,
// the run is repeated with twice the timeout, up to a minute. The test
// needs the tree up, not a particular speed.
func runTimingOut(t testing.TB, e *env, taskID int, timeout int, params map[string]any) (Result, []int, int) {
	t.Helper()
	pidsFile := params["pids_file"].(string)
	for {
		h := header(t, taskID, "TESTKIT", "X", "START", testkitParams("sleep_tree.py", timeout, params), nil)
		res := e.orch.Run(context.Background(), e.request(h))
		if b, err := os.ReadFile(pidsFile); err == nil && len(b) > 0 {
			return res, parsePids(t, string(b)), timeout
		}
		if timeout *= 2; timeout > 60 {
			t.Fatalf("the process tree never came up before its timeout (exit %d)", res.ExitCode)
		}
		t.Logf("the process tree did not come up in time; again with a timeout of %d s", timeout)
	}
}

func parsePids(t testing.TB, s string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(s) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid %q", f)
		}
		pids = append(pids, p)
	}
	return pids
}

// processAlive reports whether pid runs (zombies count as dead).
func processAlive(pid int) bool {
	k := &treeKiller{procRoot: "/proc"}
	return k.alive(pid)
}

// waitDead waits until none of pids runs; orphans are reaped by init at
// its own pace.
func waitDead(t testing.TB, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var alive []int
		for _, p := range pids {
			if processAlive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running: %v", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func killLater(t testing.TB, pids ...int) {
	t.Cleanup(func() {
		for _, p := range pids {
			if processAlive(p) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
}

func (e *env) logged(substr string) bool {
	for _, entry := range e.logHook.AllEntries() {
		if strings.Contains(entry.Message, substr) {
			return true
		}
	}
	return false
}

// killProcessesOf kills every process whose command line names dir: a
// daemon a failed test could not stop would otherwise outlive it.
func killProcessesOf(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
