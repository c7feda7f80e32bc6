package orchestrator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
)

// residentEnv is newEnv whose scripts run forked from a resident runner.
func residentEnv(t testing.TB, mutate func(*Config)) (*env, *pyrunner.Runner) {
	t.Helper()
	e := newEnv(t, mutate)
	r := pyrunner.New(pyrunner.Config{
		Python:  e.orch.Python(),
		Environ: e.orch.ScriptEnviron(),
		LibDirs: []string{},
		Scripts: true,
		Log:     e.orch.log.WithField("component", "python_runner"),
	})
	t.Cleanup(func() { r.Close() })
	if err := r.Prestart(); err != nil {
		t.Fatal(err)
	}
	e.orch.SetResident(r)
	return e, r
}

func dumpOf(t testing.TB, res Result) map[string]any {
	t.Helper()
	if res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("exit %d, err %v, stderr %q", res.ExitCode, res.Err, res.Stderr)
	}
	return res.StructuredOut["dump"].(map[string]any)
}

func numOf(v any) int {
	n, _ := v.(json.Number).Int64()
	return int(n)
}

// A command run resident hands its script what a fresh interpreter gets:
// argv, environment, cwd, descriptors, the agent as its parent, its own
// process group in the agent's session.
func TestResidentRunMatchesFresh(t *testing.T) {
	t.Setenv("TESTKIT_MARKER", "inherited")
	key := func(c *Config) { c.EncryptionKey = func() string { return "k1" } }
	fe := newEnv(t, key)
	re, r := residentEnv(t, key)
	h := header(t, 42, "TESTKIT", "TESTKIT_DUMP", "START", testkitParams("dump_env.py", 60, nil), nil)
	fresh := dumpOf(t, fe.orch.Run(context.Background(), fe.request(h)))
	forked := dumpOf(t, re.orch.Run(context.Background(), re.request(h)))
	if !forkedDump(forked) {
		t.Fatal("the script ran in a fresh interpreter, not forked from the runner")
	}
	if forkedDump(fresh) {
		t.Fatal("the fresh run was forked from the runner")
	}
	if numOf(fresh["ppid"]) != os.Getpid() || numOf(forked["ppid"]) != os.Getpid() {
		t.Fatalf("parents: fresh %v, forked %v; want the agent, %d", fresh["ppid"], forked["ppid"], os.Getpid())
	}
	// The two test agents differ in their directories only, which the
	// recorded variables do not contain.
	if f, g := mustJSON(t, fresh["env"]), mustJSON(t, forked["env"]); f != g {
		t.Errorf("environment: fresh %s, forked %s", f, g)
	}
	if len(fresh["argv"].([]any)) != len(forked["argv"].([]any)) || forked["executable"] != fresh["executable"] {
		t.Errorf("argv %v / %v, executable %v / %v", fresh["argv"], forked["argv"], fresh["executable"], forked["executable"])
	}
	if forked["cwd"] != re.root {
		t.Errorf("cwd %v, want %s", forked["cwd"], re.root)
	}
	if numOf(forked["pgid"]) != numOf(forked["pid"]) {
		t.Error("the script is not in a process group of its own")
	}
	if numOf(forked["sid"]) != numOf(fresh["sid"]) {
		t.Errorf("session %v, fresh %v", forked["sid"], fresh["sid"])
	}
	if fds := forked["fds"].(map[string]any); len(fds) != len(fresh["fds"].(map[string]any)) {
		t.Errorf("descriptors %v, fresh %v", fds, fresh["fds"])
	}
	if r.Pid() == 0 {
		t.Error("no runner")
	}
}

// The timeout watchdog kills a forked script's whole tree and reports 999.
func TestResidentTimeoutKillsWholeTree(t *testing.T) {
	e, _ := residentEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	res, pids, _ := runTimingOut(t, e, 9, 3, map[string]any{"pids_file": pidsFile})
	if len(pids) != 3 {
		t.Fatalf("pids %v", pids)
	}
	if res.ExitCode != protocol.ExitCodeTimedOut || !res.TimedOut {
		t.Fatalf("exit %d timedOut %v", res.ExitCode, res.TimedOut)
	}
	waitDead(t, pids...)
}

// Cancel kills a forked command's tree; its exit is -15.
func TestResidentCancel(t *testing.T) {
	e, _ := residentEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	h := header(t, 100, "TESTKIT", "SLEEPER", "START", testkitParams("sleep_tree.py", 600, map[string]any{"pids_file": pidsFile}), nil)
	done := make(chan Result, 1)
	go func() { done <- e.orch.Run(context.Background(), e.request(h)) }()
	pids := parsePids(t, waitFile(t, pidsFile))
	if !e.orch.Cancel("100", "stop it") {
		t.Fatal("Cancel did not find the task")
	}
	res := <-done
	if res.ExitCode != -15 || !res.Canceled {
		t.Fatalf("exit %d canceled %v", res.ExitCode, res.Canceled)
	}
	waitDead(t, pids...)
}

func TestResidentSignalDeath(t *testing.T) {
	e, _ := residentEnv(t, nil)
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		h := header(t, 20+i, "TESTKIT", "X", "START", testkitParams("self_signal.py", 60, map[string]any{"signal": strconv.Itoa(int(sig))}), nil)
		if res := e.orch.Run(context.Background(), e.request(h)); res.ExitCode != -int(sig) {
			t.Errorf("signal %d: exit %d", sig, res.ExitCode)
		}
	}
}

// A status check still running when the agent stops is killed, forked or
// not.
func TestResidentStatusStoppedKillsTheCheck(t *testing.T) {
	e, _ := residentEnv(t, nil)
	stopCheckMidway(t, e)
}

// When the runner dies, scripts run in fresh interpreters at once, and
// forked again once it is back.
func TestResidentFallsBackWhenRunnerDies(t *testing.T) {
	e, r := residentEnv(t, nil)
	h := header(t, 7, "TESTKIT", "TESTKIT_DUMP", "START", testkitParams("dump_env.py", 60, nil), nil)
	run := func() bool { return forkedDump(dumpOf(t, e.orch.Run(context.Background(), e.request(h)))) }
	if !run() {
		t.Fatal("not forked from the runner")
	}
	old := r.Pid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for r.Pid() == old {
		time.Sleep(5 * time.Millisecond) // until the agent noticed the death
	}
	if run() {
		t.Fatal("with the runner dead the script was still forked")
	}
	deadline := time.Now().Add(60 * time.Second)
	for !run() {
		if time.Now().After(deadline) {
			t.Fatal("scripts never ran forked again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if np := r.Pid(); np == old || np == 0 {
		t.Fatalf("runner pid %d", np)
	}
}

// forkedDump tells a script forked from the runner by its command line
// (the runner's, which /proc shows for a forked child).
func forkedDump(dump map[string]any) bool {
	cmdline, _ := dump["cmdline"].([]any)
	for _, a := range cmdline {
		if s, _ := a.(string); strings.Contains(s, "ambari_agent_pyrunner_") {
			return true
		}
	}
	return false
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
