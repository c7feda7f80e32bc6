package orchestrator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

func TestStatusOfARealDaemon(t *testing.T) {
	e := newEnv(t, nil)
	run := func(task int, command string) Result {
		params := map[string]any{"script": "scripts/demo_server.py", "script_type": "PYTHON", "command_timeout": "60",
			"service_package_folder": demoPkg}
		return e.orch.Run(context.Background(), e.request(header(t, task, "DEMO", "DEMO_SERVER", command, params, nil)))
	}
	status := func(name string) Result {
		return e.orch.Status(context.Background(), StatusRequest{ClusterID: clusterID, ServiceName: "DEMO",
			ComponentName: "DEMO_SERVER", CommandName: name})
	}
	home := filepath.Join(e.tmp, "demo-install", "demo_server")
	t.Cleanup(func() { run(299, "STOP") })

	if res := status(""); res.ExitCode != 1 || !strings.Contains(res.Stderr, "ComponentIsNotRunning") {
		t.Fatalf("status before install: %d %q", res.ExitCode, res.Stderr)
	}
	for i, c := range []string{"INSTALL", "START"} {
		if res := run(200+i, c); res.ExitCode != 0 {
			t.Fatalf("%s: exit %d %q %q", c, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	// The daemon outlived its START script and serves the configured message.
	port := strings.TrimSpace(testutil.ReadFile(t, filepath.Join(home, "demo_server.port")))
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from the cache\n" {
		t.Errorf("daemon says %q", body)
	}
	if res := status(CommandStatus); res.ExitCode != 0 {
		t.Fatalf("status of a running server: %d %q", res.ExitCode, res.Stderr)
	}
	if res := status(CommandGetVersion); res.ExitCode != 0 || res.StructuredOut["version"] != "1.0.3" {
		t.Errorf("version: %d %v (the version comes from the topology's commandParams)", res.ExitCode, res.StructuredOut)
	}
	params := map[string]any{"script": "scripts/service_check.py", "script_type": "PYTHON", "command_timeout": "60",
		"service_package_folder": demoPkg}
	if res := e.orch.Run(context.Background(), e.request(header(t, 202, "DEMO", "DEMO_SERVICE_CHECK", "SERVICE_CHECK", params, nil))); res.ExitCode != 0 ||
		!strings.Contains(res.Stdout, "answered: hello from the cache") {
		t.Errorf("service check: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if res := run(203, "STOP"); res.ExitCode != 0 {
		t.Fatalf("STOP: %d %q", res.ExitCode, res.Stderr)
	}
	if res := status(""); res.ExitCode != 1 || !strings.Contains(res.Stderr, "ComponentIsNotRunning") {
		t.Fatalf("status after stop: %d %q", res.ExitCode, res.Stderr)
	}
	// Every status run removed its files.
	ents, _ := os.ReadDir(e.data)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), "status_") {
			t.Errorf("status file %s left behind", ent.Name())
		}
	}
}

func TestStatusOfAClient(t *testing.T) {
	e := newEnv(t, nil)
	res := e.orch.Status(context.Background(), StatusRequest{ClusterID: clusterID, ServiceName: "DEMO", ComponentName: "DEMO_CLIENT"})
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "ClientComponentHasNoStatus") {
		t.Fatalf("client status: %d %q", res.ExitCode, res.Stderr)
	}
	if e.logged("ps faux") {
		t.Error("a failing STATUS dumped the process list")
	}
}

func TestStatusUsesTopologyTimeoutAndNoHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	// The timeout leaves a loaded machine time to start Python and write
	// the pids file before the kill, which the test then checks.
	e.applyCaches([]map[string]any{{"serviceName": "TESTKIT", "componentName": "SLOW", "hostIds": []int{1},
		"componentLevelParams": map[string]any{},
		"commandParams": map[string]any{"command_timeout": "5", "script": "scripts/sleep_tree.py", "script_type": "PYTHON",
			"service_package_folder": testkitPkg, "pids_file": pidsFile}}})
	// A before-STATUS hook would break the status run if it were used.
	hook := filepath.Join(e.cache, "stack-hooks", "before-STATUS", "scripts")
	os.MkdirAll(hook, 0o755)
	os.WriteFile(filepath.Join(hook, "hook.py"), []byte("import sys; sys.exit(5)"), 0o644)

	res := e.orch.Status(context.Background(), StatusRequest{ClusterID: clusterID, ServiceName: "TESTKIT", ComponentName: "SLOW"})
	if res.ExitCode != protocol.ExitCodeTimedOut {
		t.Fatalf("exit %d %q", res.ExitCode, res.Stderr)
	}
	waitDead(t, parsePids(t, waitFile(t, pidsFile))...)
}

// A check still running when its caller stops waiting (the agent stops,
// or a newer registration replaces a version report) is killed with its
// whole tree, and its files go: nothing outlives the agent.
func TestStatusStoppedKillsTheCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	stopCheckMidway(t, e)
	ents, _ := os.ReadDir(e.data)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), "status_") {
			t.Errorf("status file %s left behind", ent.Name())
		}
	}
}

func TestRunStatusAdapter(t *testing.T) {
	e := newEnv(t, nil)
	code, stderr, out, err := e.orch.RunStatus(context.Background(), clusterID, "DEMO", "DEMO_CLIENT", CommandGetVersion)
	if err != nil || code != 0 || out["version"] != "1.0.0" || stderr != "" {
		t.Errorf("GET_VERSION: %d %q %v %v", code, stderr, out, err)
	}
	// An agent-side failure is a verdict (non-zero, reason in stderr), not an error.
	code, stderr, _, err = e.orch.RunStatus(context.Background(), clusterID, "DEMO", "NO_SUCH_COMPONENT", "")
	if err != nil || code != 1 || !strings.Contains(stderr, "commandParams") {
		t.Errorf("unknown component: %d %q %v", code, stderr, err)
	}
	// A stopping agent gives no verdict.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := e.orch.RunStatus(ctx, clusterID, "DEMO", "DEMO_CLIENT", ""); !errors.Is(err, ErrStopped) {
		t.Errorf("stopped: %v", err)
	}
}

// stopCheckMidway starts the status check of a component whose script
// builds a process tree and sleeps, stops waiting once the tree runs, and
// checks that RunStatus says ErrStopped with the whole tree killed.
func stopCheckMidway(t *testing.T, e *env) {
	t.Helper()
	pidsFile := filepath.Join(e.tmp, "pids")
	e.applyCaches([]map[string]any{{"serviceName": "TESTKIT", "componentName": "SLOW", "hostIds": []int{1},
		"componentLevelParams": map[string]any{},
		"commandParams": map[string]any{"command_timeout": "600", "script": "scripts/sleep_tree.py", "script_type": "PYTHON",
			"service_package_folder": testkitPkg, "pids_file": pidsFile}}})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, _, _, err := e.orch.RunStatus(ctx, clusterID, "TESTKIT", "SLOW", "")
		got <- err
	}()
	pids := parsePids(t, waitFile(t, pidsFile))
	killLater(t, pids...)
	cancel()
	if err := <-got; !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped check: %v, want ErrStopped", err)
	}
	// Killed before RunStatus returned, not merely abandoned.
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("process %d of the stopped check still runs", pid)
		}
	}
}
