package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/filecache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

func TestRunPassesExactArgvEnvironmentAndFiles(t *testing.T) {
	t.Setenv("TESTKIT_MARKER", "inherited")
	t.Setenv("PYTHONPATH", "/site/a:/opt/agent/lib")
	e := newEnv(t, func(c *Config) {
		c.LogOutFiles = true
		c.EncryptionKey = func() string { return "s3cret-key" }
		c.LogLevel = func() string { return "DEBUG" }
	})
	h := header(t, 42, "TESTKIT", "TESTKIT_DUMP", "START", testkitParams("dump_env.py", 60, nil), nil)
	req := e.request(h)
	res := e.orch.Run(context.Background(), req)
	if res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("exit %d, err %v, stderr %q", res.ExitCode, res.Err, res.Stderr)
	}
	dump := res.StructuredOut["dump"].(map[string]any)

	jsonPath := filepath.Join(e.data, "command-42.json")
	base := filepath.Join(e.cache, testkitPkg)
	wantArgv := []any{
		e.orch.cfg.Python, filepath.Join(base, "scripts/dump_env.py"), "START", jsonPath, base,
		filepath.Join(e.data, "structured-out-42.json"), "DEBUG", e.tmp, "PROTOCOL_TLSv1_2", "", "-o",
	}
	// sys.argv[0] is the script; the interpreter is argv of the process.
	if got := dump["argv"].([]any); !reflect.DeepEqual(got, wantArgv[1:]) {
		t.Errorf("argv =\n%v\nwant\n%v", got, wantArgv[1:])
	}
	if dump["executable"] != e.orch.cfg.Python {
		t.Errorf("interpreter = %v, want %s", dump["executable"], e.orch.cfg.Python)
	}
	envs := dump["env"].(map[string]any)
	if envs["PYTHONPATH"] != "/site/a:/opt/agent/lib" {
		// Already on the path: not added twice, order kept.
		t.Errorf("PYTHONPATH = %v", envs["PYTHONPATH"])
	}
	if envs["AGENT_ENCRYPTION_KEY"] != "s3cret-key" || envs["TESTKIT_MARKER"] != "inherited" {
		t.Errorf("environment = %v", envs)
	}
	if dump["cwd"] != e.root {
		t.Errorf("cwd = %v, want %s", dump["cwd"], e.root)
	}
	pid, _ := dump["pid"].(json.Number).Int64()
	pgid, _ := dump["pgid"].(json.Number).Int64()
	if pid != pgid {
		t.Errorf("script not in its own process group: pid %d pgid %d", pid, pgid)
	}
	fds := dump["fds"].(map[string]any)
	want := map[string]any{"0": "/dev/null", "1": req.OutFile, "2": req.ErrFile}
	for fd, target := range fds {
		if w, ok := want[fd]; ok {
			if target != w {
				t.Errorf("fd %s -> %v, want %v", fd, target, w)
			}
		} else if !strings.HasPrefix(target.(string), "/proc/") {
			t.Errorf("inherited extra fd %s -> %v", fd, target)
		}
	}
	if res.Stdout != "dumped" {
		t.Errorf("stdout = %q", res.Stdout)
	}

	// The command file: 0600, the caches' data with the header on top.
	st, err := os.Stat(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("command file mode %v", st.Mode().Perm())
	}
	cmd := readJSON(t, jsonPath)
	if got := child(child(cmd, "configurations"), "demo-env")["message"]; got != "hello from the cache" {
		t.Errorf("configurations not from the cache: %v", got)
	}
	chi := child(cmd, "clusterHostInfo")
	if !reflect.DeepEqual(chi["demo_server_hosts"], []any{"h1"}) || !reflect.DeepEqual(chi["all_hosts"], []any{"h1", "h2"}) ||
		!reflect.DeepEqual(chi["demo_client_hosts"], []any{"h1", "h2"}) || !reflect.DeepEqual(chi["all_racks"], []any{"/r1", "/r2"}) {
		t.Errorf("clusterHostInfo = %v", chi)
	}
	if !reflect.DeepEqual(cmd["localComponents"], []any{"DEMO_SERVER", "DEMO_CLIENT"}) {
		t.Errorf("localComponents = %v", cmd["localComponents"])
	}
	alp := child(cmd, "agentLevelParams")
	if alp["hostname"] != hostName || alp["agentCacheDir"] != e.cache {
		t.Errorf("agentLevelParams = %v", alp)
	}
	if cmd["clusterName"] != "c1" || child(cmd, "ambariLevelParams")["jdk_location"] != "http://127.0.0.1:1/resources" {
		t.Errorf("clusterName %v / ambariLevelParams %v", cmd["clusterName"], cmd["ambariLevelParams"])
	}
	if child(cmd, "commandParams")["script"] != "scripts/dump_env.py" || cmd["taskId"] != json.Number("42") {
		t.Errorf("header not merged: %v", cmd["commandParams"])
	}
	if v := child(child(cmd, "componentVersionMap"), "DEMO")["DEMO_SERVER"]; v != "1.0.3" {
		t.Errorf("componentVersionMap = %v", cmd["componentVersionMap"])
	}
	if strings.Contains(testutil.ReadFile(t, jsonPath), "\n    \"agentLevelParams\"") == false {
		t.Error("command file is not indented by 4")
	}
}

func TestRunMergesHeaderAndExpandsCompressedClusterHostInfo(t *testing.T) {
	e := newEnv(t, nil)
	h := header(t, 7, "TESTKIT", "TESTKIT_DUMP", "START", testkitParams("dump_env.py", 60, nil), map[string]any{
		"configurations": map[string]any{"demo-env": map[string]any{"message": "from the header"}},
		"clusterHostInfo": map[string]any{
			"all_hosts": []any{"a", "b", "c"}, "datanode_hosts": []any{"0,2"}, "all_ping_ports": []any{"8670:0-2"},
			"all_racks": []any{"/r1:0-1", "/r2:2"}, "all_ipv4_ips": []any{"10.0.0.1:0", "10.0.0.2:1", "10.0.0.3:2"},
			"ambari_server_host": []any{"s"}, "ambari_server_port": []any{"8080"}, "ambari_server_use_ssl": []any{"false"},
		},
	})
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	cmd := readJSON(t, filepath.Join(e.data, "command-7.json"))
	env := child(child(cmd, "configurations"), "demo-env")
	if env["message"] != "from the header" || env["server_port"] != "0" {
		t.Errorf("demo-env = %v (header must win, cache keys stay)", env)
	}
	chi := child(cmd, "clusterHostInfo")
	want := map[string]any{
		"all_hosts": []any{"a", "b", "c"}, "datanode_hosts": []any{"a", "c"},
		"all_ping_ports": []any{"8670", "8670", "8670"}, "all_racks": []any{"/r1", "/r1", "/r2"},
		"all_ipv4_ips":       []any{"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		"ambari_server_host": []any{"s"}, "ambari_server_port": []any{"8080"}, "ambari_server_use_ssl": []any{"false"},
	}
	if !reflect.DeepEqual(chi, want) {
		t.Errorf("clusterHostInfo =\n%v\nwant\n%v", chi, want)
	}
}

func TestRunRefusesOldConfigs(t *testing.T) {
	e := newEnv(t, nil)
	h := header(t, 8, "TESTKIT", "X", "START", testkitParams("dump_env.py", 60, nil),
		map[string]any{"requiredConfigTimestamp": 1700000000001})
	res := e.orch.Run(context.Background(), e.request(h))
	want := "Command requires configs with timestamp=1700000000001 but configs on agent have timestamp=1700000000000"
	if res.ExitCode != 1 || !strings.Contains(res.Stdout, want) || res.Stdout != res.Stderr {
		t.Fatalf("exit %d, stdout %q", res.ExitCode, res.Stdout)
	}
	if !strings.HasPrefix(res.Stdout, "Caught an exception while executing custom service command: ") {
		t.Errorf("stdout = %q", res.Stdout)
	}
	if _, err := os.Stat(filepath.Join(e.data, "command-8.json")); !os.IsNotExist(err) {
		t.Error("command file written for a refused command")
	}
}

func TestRunTimeoutKillsWholeTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	res, pids, timeout := runTimingOut(t, e, 9, 3, map[string]any{"pids_file": pidsFile})
	if len(pids) != 3 {
		t.Fatalf("pids %v", pids)
	}
	if res.ExitCode != protocol.ExitCodeTimedOut || !res.TimedOut {
		t.Fatalf("exit %d timedOut %v", res.ExitCode, res.TimedOut)
	}
	if !strings.HasSuffix(res.Stderr, fmt.Sprintf("Python script has been killed due to timeout after waiting %d secs", timeout)) {
		t.Errorf("stderr = %q", res.Stderr)
	}
	if res.Stdout != "tree ready" {
		t.Errorf("stdout = %q", res.Stdout)
	}
	waitDead(t, pids...)
}

func TestRunTreeKillSparesPackageManager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	res, pids, _ := runTimingOut(t, e, 10, 2, map[string]any{"pids_file": pidsFile, "spare_yum": "true"})
	killLater(t, pids...)
	if res.ExitCode != protocol.ExitCodeTimedOut {
		t.Fatalf("exit %d", res.ExitCode)
	}
	waitDead(t, pids[0], pids[1])
	if comm := strings.TrimSpace(testutil.ReadFile(t, "/proc/"+strconv.Itoa(pids[2])+"/comm")); comm != "yum" {
		t.Fatalf("grandchild comm %q", comm)
	}
	if !processAlive(pids[2]) {
		t.Fatal("the yum process was killed")
	}
}

func TestRunTimeoutEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.orch.killer.grace = 300 * time.Millisecond
	pidsFile := filepath.Join(e.tmp, "pids")
	res, pids, _ := runTimingOut(t, e, 11, 2, map[string]any{"pids_file": pidsFile, "ignore_term": "true"})
	if res.ExitCode != protocol.ExitCodeTimedOut {
		t.Fatalf("exit %d", res.ExitCode)
	}
	waitDead(t, pids...)
	if !e.logged("did not respond to SIGTERM") {
		t.Error("survivors of SIGTERM were not logged")
	}
}

func TestRunReportsSignalDeathAsNegativeCode(t *testing.T) {
	e := newEnv(t, nil)
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		h := header(t, 20+i, "TESTKIT", "X", "START", testkitParams("self_signal.py", 60, map[string]any{"signal": strconv.Itoa(int(sig))}), nil)
		res := e.orch.Run(context.Background(), e.request(h))
		if res.ExitCode != -int(sig) {
			t.Errorf("signal %d: exit %d", sig, res.ExitCode)
		}
	}
}

func TestRunBacksUpOutputOfEarlierAttempts(t *testing.T) {
	e := newEnv(t, nil)
	state := filepath.Join(e.tmp, "flaky")
	h := header(t, 13, "TESTKIT", "X", "START", testkitParams("flaky.py", 60, map[string]any{"state_file": state, "fail_times": "5"}), nil)
	req := e.request(h)
	for i := 0; i < 3; i++ {
		e.orch.Run(context.Background(), req)
	}
	// A retry appends to the current files.
	req.Overwrite = false
	res := e.orch.Run(context.Background(), req)
	if res.ExitCode != 1 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	out := filepath.Join(e.data, "output-13.txt")
	for name, want := range map[string]string{
		out + ".0": "attempt 1 fails\n", out + ".1": "attempt 2 fails\n", out: "attempt 3 fails\nattempt 4 fails\n",
		filepath.Join(e.data, "errors-13.txt.1"): "attempt 2: failing on purpose\n",
	} {
		if got := testutil.ReadFile(t, name); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(name), got, want)
		}
	}
	if res.Stdout != "attempt 3 fails\nattempt 4 fails" {
		t.Errorf("result stdout %q", res.Stdout)
	}
	if _, err := os.Stat(out + ".2"); !os.IsNotExist(err) {
		t.Error("a retry made a backup")
	}
}

// hookScript records its own name (the base dir argv[3]) in a log.
const hookScript = `import sys, os
args = [a for a in sys.argv[1:] if a != "-o"]
with open(os.path.join(args[5], "order.log"), "a") as f:
    f.write(os.path.basename(args[2]) + " " + args[0] + "\n")
sys.exit(int(os.environ.get("FAIL_HOOK_" + os.path.basename(args[2]).replace("-", "_"), "0")))
`

func TestRunHooksInOrderAroundTheScript(t *testing.T) {
	e := newEnv(t, nil)
	hooks := filepath.Join(e.cache, "stack-hooks")
	for _, name := range []string{"before-START", "before-START-TESTKIT", "before-START-TESTKIT-ORDER",
		"after-START-TESTKIT-ORDER", "after-START-TESTKIT", "after-START", "before-START-OTHER", "after-STOP"} {
		os.MkdirAll(filepath.Join(hooks, name, "scripts"), 0o755)
		os.WriteFile(filepath.Join(hooks, name, "scripts", "hook.py"), []byte(hookScript), 0o644)
	}
	// A hook directory without hook.py is not a hook.
	os.MkdirAll(filepath.Join(hooks, "before-START-TESTKIT-ORDER-X", "scripts"), 0o755)
	script := filepath.Join(e.cache, testkitPkg, "scripts", "order.py")
	os.WriteFile(script, []byte(strings.ReplaceAll(hookScript, "os.path.basename(args[2])", `"script"`)), 0o644)

	h := header(t, 30, "TESTKIT", "ORDER", "START", testkitParams("order.py", 60, nil), nil)
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want := "before-START START\nbefore-START-TESTKIT START\nbefore-START-TESTKIT-ORDER START\nscript START\n" +
		"after-START-TESTKIT-ORDER START\nafter-START-TESTKIT START\nafter-START START\n"
	if got := testutil.ReadFile(t, filepath.Join(e.tmp, "order.log")); got != want {
		t.Fatalf("order:\n%s\nwant:\n%s", got, want)
	}

	// A failing pre hook stops the chain: neither the script nor post hooks run.
	os.Remove(filepath.Join(e.tmp, "order.log"))
	t.Setenv("FAIL_HOOK_before_START_TESTKIT", "3")
	e2 := newEnv(t, nil)
	testutil.CopyTree(t, hooks, filepath.Join(e2.cache, "stack-hooks"))
	os.WriteFile(filepath.Join(e2.cache, testkitPkg, "scripts", "order.py"), mustReadBytes(t, script), 0o644)
	res = e2.orch.Run(context.Background(), e2.request(h))
	if res.ExitCode != 3 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	if got := testutil.ReadFile(t, filepath.Join(e2.tmp, "order.log")); got != "before-START START\nbefore-START-TESTKIT START\n" {
		t.Fatalf("order after a failing hook:\n%s", got)
	}
}

func mustReadBytes(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunDemoInstallWithStackHooksAndCustomCommand(t *testing.T) {
	e := newEnv(t, nil)
	params := map[string]any{"script": "scripts/demo_client.py", "script_type": "python", "command_timeout": "60",
		"service_package_folder": demoPkg}
	res := e.orch.Run(context.Background(), e.request(header(t, 31, "DEMO", "DEMO_CLIENT", "INSTALL", params, nil)))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if got := testutil.ReadFile(t, filepath.Join(e.tmp, "demo-hooks.log")); got != "before-INSTALL DEMO_CLIENT 31\nafter-INSTALL DEMO_CLIENT 31\n" {
		t.Errorf("hooks log %q", got)
	}
	// Hooks and the script accumulate into one structured output.
	if !reflect.DeepEqual(res.StructuredOut["hooks"], []any{"before-INSTALL", "after-INSTALL"}) || res.StructuredOut["version"] != "1.0.0" {
		t.Errorf("structured out %v", res.StructuredOut)
	}
	if got := testutil.ReadFile(t, filepath.Join(e.tmp, "demo-install", "demo_client", "client.conf")); got != "message=hello from the cache\n" {
		t.Errorf("client.conf %q", got)
	}
	// CUSTOM_COMMAND runs the named method, with hooks of that name only.
	params["custom_command"] = "CONFIGURE"
	res = e.orch.Run(context.Background(), e.request(header(t, 32, "DEMO", "DEMO_CLIENT", "CUSTOM_COMMAND", params, nil)))
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "Configured DEMO_CLIENT") {
		t.Fatalf("custom command: exit %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

func TestRunCustomAction(t *testing.T) {
	e := newEnv(t, nil)
	h := decode(t, map[string]any{
		"commandType": protocol.ExecutionCommand, "clusterId": "-1", "taskId": 33, "serviceName": "null", "role": "demo_action",
		"roleCommand":   "ACTIONEXECUTE",
		"commandParams": map[string]any{"script": "demo_action.py", "script_type": "PYTHON", "command_timeout": "60", "message": "hi"},
	})
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s / %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	if res.Stdout != "ACTIONEXECUTE on None: hi" || res.StructuredOut["message"] != "hi" {
		t.Errorf("stdout %q structured %v", res.Stdout, res.StructuredOut)
	}
	cmd := readJSON(t, filepath.Join(e.data, "command-33.json"))
	if _, ok := cmd["clusterHostInfo"]; ok {
		t.Error("a command without cluster got cluster data")
	}
	if child(cmd, "agentLevelParams")["agentCacheDir"] != e.cache || child(cmd, "ambariLevelParams")["java_home"] == nil {
		t.Errorf("agent/ambari level params missing: %v", cmd)
	}
	// A missing action script is left to the interpreter, as in the Python agent.
	h["commandParams"].(map[string]any)["script"] = "no_such_action.py"
	h["taskId"] = json.Number("34")
	res = e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 2 || res.Err != nil {
		t.Errorf("missing action: exit %d err %v", res.ExitCode, res.Err)
	}
}

func TestRunRefusesPathsOutsideTheCache(t *testing.T) {
	e := newEnv(t, nil)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "evil.py"), []byte("open('"+filepath.Join(outside, "ran")+"','w')"), 0o644)
	os.Symlink(outside, filepath.Join(e.cache, "stacks", "linked"))
	cases := map[string]map[string]any{
		"script dot-dot":  testkitParams(strings.Repeat("../", 12)+outside+"/evil.py", 60, nil),
		"absolute folder": {"script": "evil.py", "script_type": "PYTHON", "command_timeout": "60", "service_package_folder": outside},
		"folder dot-dot":  {"script": "evil.py", "script_type": "PYTHON", "command_timeout": "60", "service_package_folder": "../" + filepath.Base(outside)},
		"symlink folder":  {"script": "evil.py", "script_type": "PYTHON", "command_timeout": "60", "service_package_folder": "stacks/linked"},
	}
	i := 40
	for name, params := range cases {
		i++
		res := e.orch.Run(context.Background(), e.request(header(t, i, "TESTKIT", "X", "START", params, nil)))
		if res.ExitCode != 1 || !errors.Is(res.Err, filecache.ErrUnsafePath) || !strings.Contains(res.Stdout, "Refusing") {
			t.Errorf("%s: exit %d err %v stdout %q", name, res.ExitCode, res.Err, res.Stdout)
		}
	}
	// A role that would make a hook path escape is refused too.
	res := e.orch.Run(context.Background(), e.request(header(t, 49, "TESTKIT", "../../../../x", "START", testkitParams("dump_env.py", 60, nil), nil)))
	if !errors.Is(res.Err, filecache.ErrUnsafePath) {
		t.Errorf("hook escape: exit %d err %v", res.ExitCode, res.Err)
	}
	if _, err := os.Stat(filepath.Join(outside, "ran")); err == nil {
		t.Fatal("a script outside the cache ran")
	}
}

func TestRunFailsBeforeRunningAnything(t *testing.T) {
	e := newEnv(t, nil)
	missing := filepath.Join(e.cache, testkitPkg, "scripts/nope.py")
	cases := []struct {
		params map[string]any
		text   string
	}{
		{testkitParams("nope.py", 60, nil),
			"Caught an exception while executing custom service command: <class 'AgentException'>: Script " + missing + " does not exist; Script " + missing + " does not exist"},
		{map[string]any{"script": "scripts/dump_env.py", "script_type": "SHELL", "command_timeout": "60", "service_package_folder": testkitPkg},
			"Caught an exception while executing custom service command: <class 'AgentException'>: Unknown script type SHELL; Unknown script type SHELL"},
	}
	for i, c := range cases {
		res := e.orch.Run(context.Background(), e.request(header(t, 50+i, "TESTKIT", "X", "START", c.params, nil)))
		if res.ExitCode != 1 || res.Stdout != c.text || res.Stderr != c.text || len(res.StructuredOut) != 0 || res.Err == nil {
			t.Errorf("case %d: exit %d stdout %q", i, res.ExitCode, res.Stdout)
		}
	}
}

func TestRunStructuredOutput(t *testing.T) {
	e := newEnv(t, nil)
	for i, c := range []struct {
		mode string
		want map[string]any
	}{
		{"none", map[string]any{}},
		{"invalid", map[string]any{"msg": "Unable to read structured output from " + filepath.Join(e.data, "structured-out-61.json")}},
		{"valid", map[string]any{"answer": json.Number("42")}},
	} {
		h := header(t, 60+i, "TESTKIT", "X", "START", testkitParams("structured.py", 60, map[string]any{"mode": c.mode}), nil)
		res := e.orch.Run(context.Background(), e.request(h))
		if res.ExitCode != 0 || !reflect.DeepEqual(res.StructuredOut, c.want) {
			t.Errorf("%s: exit %d structured %v, want %v", c.mode, res.ExitCode, res.StructuredOut, c.want)
		}
	}
}

func TestRunCutsOutputToLogMaxSymbols(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LogMaxSymbols = 1000 })
	h := header(t, 70, "TESTKIT", "X", "START", testkitParams("chatty.py", 60, map[string]any{"lines": "200000"}), nil)
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	if len(res.Stdout) > 1000 || !strings.HasSuffix(res.Stdout, "line 199999 of chatty output") || !strings.HasPrefix(res.Stdout, "line ") {
		t.Errorf("stdout cut wrong: %d chars, %q...", len(res.Stdout), res.Stdout[:40])
	}
	if !strings.HasSuffix(res.Stderr, "err 199990") {
		t.Errorf("stderr tail %q", res.Stderr[len(res.Stderr)-20:])
	}
	f := e.orch.TaskFiles(protocol.ExecutionCommand, "70")
	if got := TailOutputFile(f.Out, 100); got != "line 199997 of chatty output\nline 199998 of chatty output\nline 199999 of chatty output" {
		t.Errorf("in-progress tail %q", got)
	}
	tail := TailOutputFile(f.Out, 0)
	if n := strings.Count(tail, "\n"); n != 9 || !strings.HasPrefix(tail, "line 199990 ") {
		t.Errorf("in-progress tail without limit: %d lines, %q", n+1, tail)
	}
	if got := TailOutputFile(filepath.Join(e.data, "missing.txt"), 100); got != "..." {
		t.Errorf("missing file tail %q", got)
	}
}

func TestRunRetentionPolicy(t *testing.T) {
	for _, c := range []struct {
		policy         string
		keptOK, keptKO bool
	}{
		{"keep", true, true}, {"REMOVE", false, false}, {"remove_on_success", false, true}, {"bogus", true, true},
	} {
		e := newEnv(t, func(cfg *Config) { cfg.RetentionPolicy = c.policy })
		for i, code := range []string{"0", "4"} {
			task := 80 + i
			h := header(t, task, "TESTKIT", "X", "START", testkitParams("structured.py", 60, map[string]any{"exit_code": code}), nil)
			e.orch.Run(context.Background(), e.request(h))
			_, err := os.Stat(filepath.Join(e.data, "command-"+strconv.Itoa(task)+".json"))
			kept := err == nil
			if want := []bool{c.keptOK, c.keptKO}[i]; kept != want {
				t.Errorf("policy %s exit %s: kept %v, want %v", c.policy, code, kept, want)
			}
		}
	}
}

func TestRunAutoExecutionFileNames(t *testing.T) {
	e := newEnv(t, nil)
	h := header(t, 90, "TESTKIT", "X", "START", testkitParams("structured.py", 60, nil), map[string]any{"commandType": protocol.AutoExecutionCommand})
	f := e.orch.TaskFiles(protocol.AutoExecutionCommand, "90")
	if f.Out != filepath.Join(e.data, "auto_output-90.txt") || f.ReportedStructuredOut != filepath.Join(e.data, "auto_structured-out-90.json") ||
		f.StructuredOut != filepath.Join(e.data, "structured-out-90.json") {
		t.Fatalf("files %+v", f)
	}
	res := e.orch.Run(context.Background(), Request{Command: h, OutFile: f.Out, ErrFile: f.Err, Overwrite: true})
	if res.ExitCode != 0 || res.StructuredOut["answer"] == nil {
		t.Fatalf("exit %d, structured %v", res.ExitCode, res.StructuredOut)
	}
	if _, err := os.Stat(filepath.Join(e.data, "auto_command-90.json")); err != nil {
		t.Error(err)
	}
}

func TestCancelKillsRunningCommand(t *testing.T) {
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	h := header(t, 100, "TESTKIT", "SLEEPER", "START", testkitParams("sleep_tree.py", 600, map[string]any{"pids_file": pidsFile}), nil)
	req := e.request(h)
	// OnPrepared is called once, before any script runs.
	var prepared atomic.Int32
	req.OnPrepared = func() {
		if _, err := os.Stat(pidsFile); err == nil {
			t.Error("OnPrepared called after the script started")
		}
		prepared.Add(1)
	}
	done := make(chan Result, 1)
	go func() { done <- e.orch.Run(context.Background(), req) }()
	pids := parsePids(t, waitFile(t, pidsFile))
	if n := prepared.Load(); n != 1 {
		t.Errorf("OnPrepared called %d times while the command runs, want 1", n)
	}
	if !e.orch.Cancel("100", "stop it") {
		t.Fatal("Cancel did not find the task")
	}
	res := <-done
	if res.ExitCode != -15 || !res.Canceled || res.CancelReason != "stop it" {
		t.Fatalf("exit %d canceled %v reason %q", res.ExitCode, res.Canceled, res.CancelReason)
	}
	suffix := "\nCommand aborted. Reason: 'stop it'"
	if !strings.HasSuffix(res.Stdout, suffix) || !strings.HasSuffix(res.Stderr, suffix) {
		t.Errorf("result lacks the abort suffix: %q / %q", res.Stdout, res.Stderr)
	}
	if !strings.HasSuffix(testutil.ReadFile(t, req.OutFile), suffix) || !strings.HasSuffix(testutil.ReadFile(t, req.ErrFile), suffix) {
		t.Error("output files lack the abort suffix")
	}
	waitDead(t, pids...)
	if e.orch.Cancel("100", "again") {
		t.Error("Cancel found a finished task")
	}
}

func TestAgentStopLeavesScriptRunning(t *testing.T) {
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	h := header(t, 101, "TESTKIT", "X", "START", testkitParams("sleep_tree.py", 600, map[string]any{"pids_file": pidsFile}), nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() { done <- e.orch.Run(ctx, e.request(h)) }()
	pids := parsePids(t, waitFile(t, pidsFile))
	killLater(t, pids...)
	stop()
	res := <-done
	if !errors.Is(res.Err, ErrStopped) || res.ExitCode != protocol.ExitCodeInProgress {
		t.Fatalf("exit %d err %v", res.ExitCode, res.Err)
	}
	time.Sleep(200 * time.Millisecond)
	for _, p := range pids {
		if !processAlive(p) {
			t.Fatalf("process %d died when the agent stopped", p)
		}
	}
	if _, err := os.Stat(filepath.Join(e.data, "command-101.json")); err != nil {
		t.Error("command file removed under a running script")
	}
}

func TestBackgroundCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	results := make(chan Result, 1)
	h := header(t, 110, "TESTKIT", "X", "START", testkitParams("structured.py", 1, nil), map[string]any{"commandType": protocol.BackgroundExecutionCommand})
	req := e.request(h)
	req.OnBackgroundDone = func(r Result) { results <- r }
	// An old output file is backed up: background runs always start fresh.
	os.WriteFile(req.OutFile, []byte("old"), 0o644)
	res := e.orch.Run(context.Background(), req)
	if res.ExitCode != protocol.ExitCodeInProgress || res.Err != nil {
		t.Fatalf("start: exit %d err %v", res.ExitCode, res.Err)
	}
	final := <-results
	if final.ExitCode != 0 || final.StructuredOut["answer"] == nil || final.Stdout != "structured output mode valid" {
		t.Fatalf("final %+v", final)
	}
	if testutil.ReadFile(t, req.OutFile+".0") != "old" {
		t.Error("old output not backed up")
	}

	// Cancel reaches a background script through its recorded pid.
	pidsFile := filepath.Join(e.tmp, "bgpids")
	h = header(t, 111, "TESTKIT", "X", "START", testkitParams("sleep_tree.py", 1, map[string]any{"pids_file": pidsFile}),
		map[string]any{"commandType": protocol.BackgroundExecutionCommand})
	req = e.request(h)
	req.OnBackgroundDone = func(r Result) { results <- r }
	if res := e.orch.Run(context.Background(), req); res.ExitCode != protocol.ExitCodeInProgress {
		t.Fatalf("start: exit %d %s", res.ExitCode, res.Stdout)
	}
	// No timeout for background commands: the 1 s command_timeout passes.
	pids := parsePids(t, waitFile(t, pidsFile))
	time.Sleep(1500 * time.Millisecond)
	if !processAlive(pids[0]) {
		t.Fatal("background script killed by a timeout")
	}
	e.orch.Cancel("111", "")
	final = <-results
	if final.ExitCode != -15 || !final.Canceled || !strings.HasSuffix(final.Stdout, "\nCommand aborted.") {
		t.Fatalf("canceled background: %+v", final)
	}
	waitDead(t, pids...)

	// Background commands may not have hooks.
	hooks := filepath.Join(e.cache, "stack-hooks", "before-START", "scripts")
	os.MkdirAll(hooks, 0o755)
	os.WriteFile(filepath.Join(hooks, "hook.py"), []byte(""), 0o644)
	h = header(t, 112, "TESTKIT", "X", "START", testkitParams("structured.py", 1, nil), map[string]any{"commandType": protocol.BackgroundExecutionCommand})
	req = e.request(h)
	req.OnBackgroundDone = func(r Result) { results <- r }
	res = e.orch.Run(context.Background(), req)
	final = <-results
	if res.ExitCode != 1 || !strings.Contains(final.Stdout, "Background commands are supported without hooks only") {
		t.Fatalf("background with hooks: %d %q", res.ExitCode, final.Stdout)
	}
}

func TestFailureLogsProcessInformation(t *testing.T) {
	e := newEnv(t, nil)
	h := header(t, 120, "TESTKIT", "X", "START", testkitParams("structured.py", 60, map[string]any{"exit_code": "3"}), nil)
	if res := e.orch.Run(context.Background(), e.request(h)); res.ExitCode != 3 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	if !e.logged("failed with exitcode=3") || !e.logged("Command 'export COLUMNS=9999 ; ps faux' returned 0.") {
		t.Error("failure did not log argv and the process list")
	}
}
