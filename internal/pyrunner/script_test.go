package pyrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testPython is a real interpreter binary (not a wrapper script that
// changes the environment on its way to one).
func testPython(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("no python3")
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scriptEnv is the environment scripts get in these tests.
func scriptEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8", "PROBE=1"}
	return append(env, extra...)
}

type scriptRunner struct {
	t  testing.TB
	r  *Runner
	py string
}

func newScriptRunner(t testing.TB, cfg Config) *scriptRunner {
	t.Helper()
	py := testPython(t)
	if cfg.Python == "" {
		cfg.Python = py
	}
	cfg.Scripts = true
	if cfg.LibDirs == nil {
		cfg.LibDirs = []string{}
	}
	r := New(cfg)
	t.Cleanup(func() { r.Close() })
	return &scriptRunner{t: t, r: r, py: cfg.Python}
}

// ready starts the runner and waits until it runs scripts.
func (s *scriptRunner) ready(env []string) {
	s.t.Helper()
	s.r.mu.Lock()
	s.r.env = env
	s.r.mu.Unlock()
	if _, err := s.r.ensure(); err != nil {
		s.t.Fatal(err)
	}
	if st := s.r.Status(); !st.Scripts {
		s.t.Fatalf("runner cannot run scripts: %+v", st)
	}
}

type run struct {
	code           int
	stdout, stderr string
}

func outputs(t testing.TB, dir string) (*os.File, *os.File, string, string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "err.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return out, errf, out.Name(), errf.Name()
}

func readRun(t testing.TB, code int, outPath, errPath string) run {
	t.Helper()
	o, _ := os.ReadFile(outPath)
	e, _ := os.ReadFile(errPath)
	return run{code: code, stdout: string(o), stderr: string(e)}
}

// fresh runs the script as the orchestrator does without the runner.
func (s *scriptRunner) fresh(dir string, env []string, cwd string, args ...string) run {
	s.t.Helper()
	out, errf, op, ep := outputs(s.t, dir)
	cmd := &exec.Cmd{Path: s.py, Args: append([]string{s.py}, args...), Env: env, Dir: cwd,
		Stdout: out, Stderr: errf, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	err := cmd.Start()
	out.Close()
	errf.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = -int(ws.Signal())
	}
	return readRun(s.t, code, op, ep)
}

// resident runs the script forked from the runner; it fails the test when
// the runner does not take it.
func (s *scriptRunner) resident(dir string, env []string, cwd string, args ...string) run {
	s.t.Helper()
	out, errf, op, ep := outputs(s.t, dir)
	p, err := s.r.Start(Spec{Args: append([]string{s.py}, args...), Env: env, Dir: cwd, Stdout: out, Stderr: errf})
	out.Close()
	errf.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil {
		s.t.Fatal(err)
	}
	return readRun(s.t, code, op, ep)
}

func probePath(t testing.TB) string {
	p, err := filepath.Abs("testdata/probe.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// preloadSet is what a fresh interpreter holds after importing mods: the
// modules the probe leaves out of its comparison.
func preloadSet(t testing.TB, py string, env []string, mods []string) string {
	t.Helper()
	code := "import sys\nb = set(sys.modules)\n"
	for _, m := range mods {
		code += "try:\n    import " + m + "\nexcept ImportError:\n    pass\n"
	}
	code += "print(','.join(sorted(set(sys.modules) - b)))\n"
	out, err := (&exec.Cmd{Path: py, Args: []string{py, "-c", code}, Env: env}).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func decodeDump(t testing.TB, r run) map[string]any {
	t.Helper()
	line, _, _ := strings.Cut(r.stdout, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("probe output %q (stderr %q): %v", r.stdout, r.stderr, err)
	}
	return m
}

func compareDumps(t *testing.T, fresh, forked map[string]any) {
	t.Helper()
	var keys []string
	for k := range fresh {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(fresh[k], forked[k]) {
			t.Errorf("%s differs:\nfresh:  %v\nforked: %v", k, fresh[k], forked[k])
		}
	}
	if len(forked) != len(fresh) {
		t.Errorf("forked dump has %d keys, fresh %d", len(forked), len(fresh))
	}
}

var stackPreload = []string{"resource_management", "resource_management.libraries.script.script",
	"resource_management.core.environment", "logging", "json", "subprocess"}

func stackLib(t testing.TB) string {
	p, err := filepath.Abs("../alerts/testdata/pylib")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// probeRunner is a ready runner with the stack library preloaded and the
// environment the probe script needs: the library on PYTHONPATH and the
// preloaded module set, which the probe leaves out of its dump.
func probeRunner(t *testing.T) (*scriptRunner, []string) {
	t.Helper()
	env0 := scriptEnv("PYTHONPATH=" + stackLib(t))
	s := newScriptRunner(t, Config{Preload: stackPreload})
	set := preloadSet(t, s.py, env0, append(append([]string(nil), stackPreload...), AlertModules...))
	env := append(env0[:len(env0):len(env0)], "PROBE_PRELOAD_SET="+set)
	s.ready(env)
	return s, env
}

// The same probe, run fresh and forked, sees the same process and the same
// interpreter.
func TestFidelity(t *testing.T) {
	s, env := probeRunner(t)
	cwd := t.TempDir()
	dir := t.TempDir()
	probe := probePath(t)
	for i, args := range [][]string{{probe}, {probe, "exit", "0"}} {
		fresh := s.fresh(filepath.Join(dir, fmt.Sprint("fresh", i)), env, cwd, args...)
		forked := s.resident(filepath.Join(dir, fmt.Sprint("forked", i)), env, cwd, args...)
		if fresh.code != 0 || forked.code != 0 {
			t.Fatalf("exit codes fresh %d forked %d; stderr:\n%s\n%s", fresh.code, forked.code, fresh.stderr, forked.stderr)
		}
		compareDumps(t, decodeDump(t, fresh), decodeDump(t, forked))
		if fresh.stderr != forked.stderr {
			t.Errorf("stderr differs:\nfresh:  %q\nforked: %q", fresh.stderr, forked.stderr)
		}
	}
}

// Exit statuses and what the interpreter prints on the way out are the
// interpreter's own.
func TestExitStatuses(t *testing.T) {
	env := scriptEnv("PYTHONPATH=" + stackLib(t))
	s := newScriptRunner(t, Config{Preload: stackPreload})
	s.ready(env)
	probe := probePath(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"end", nil, 0, ""},
		{"sys.exit(3)", []string{"exit", "3"}, 3, ""},
		{"sys.exit(300)", []string{"exit", "300"}, 44, ""},
		{"sys.exit(text)", []string{"exit_text"}, 1, "going away"},
		{"uncaught exception", []string{"raise"}, 1, "KeyError: 'probe'"},
		{"KeyboardInterrupt", []string{"interrupt"}, -int(syscall.SIGINT), "KeyboardInterrupt"},
		{"os._exit(7)", []string{"os_exit", "7"}, 7, ""},
		{"SIGTERM", []string{"signal", "15"}, -15, ""},
		{"SIGKILL", []string{"signal", "9"}, -9, ""},
		{"atexit and flush", []string{"atexit"}, 0, "buffered, not flushedatexit ran"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{probe}, c.args...)
			fresh := s.fresh(filepath.Join(dir, c.name, "fresh"), env, dir, args...)
			forked := s.resident(filepath.Join(dir, c.name, "forked"), env, dir, args...)
			if fresh.code != c.code {
				t.Errorf("fresh exit %d, want %d", fresh.code, c.code)
			}
			if forked.code != c.code {
				t.Errorf("forked exit %d, want %d; stderr %s", forked.code, c.code, forked.stderr)
			}
			if !strings.Contains(forked.stdout+forked.stderr, c.want) {
				t.Errorf("forked output lacks %q:\n%s\n%s", c.want, forked.stdout, forked.stderr)
			}
			if fresh.stderr != forked.stderr {
				t.Errorf("stderr differs:\nfresh:  %q\nforked: %q", fresh.stderr, forked.stderr)
			}
			_, fo, _ := strings.Cut(fresh.stdout, "\n")
			_, ko, _ := strings.Cut(forked.stdout, "\n")
			if fo != ko {
				t.Errorf("stdout after the dump differs:\nfresh:  %q\nforked: %q", fo, ko)
			}
		})
	}
}

// A file a script leaves open is flushed at exit, as the interpreter
// flushes it when it frees the file object.
func TestUnflushedFileIsWritten(t *testing.T) {
	env := scriptEnv()
	s := newScriptRunner(t, Config{})
	s.ready(env)
	dir := t.TempDir()
	path := filepath.Join(dir, "left-open.txt")
	if r := s.resident(filepath.Join(dir, "run"), env, dir, probePath(t), "unflushed", path); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "written, never flushed or closed" {
		t.Fatalf("file holds %q", b)
	}
}

// waitFile waits for a file a script creates.
func waitFile(t testing.TB, path string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A script's exit status reaches the agent although the runner that forked
// it was killed meanwhile; the runner comes back for the next script.
func TestRunnerKilledMidRun(t *testing.T) {
	env := scriptEnv()
	s := newScriptRunner(t, Config{})
	s.ready(env)
	dir := t.TempDir()
	mark := filepath.Join(dir, "running")
	out, errf, _, _ := outputs(t, dir)
	p, err := s.r.Start(Spec{Args: []string{s.py, probePath(t), "hang", mark}, Env: env, Stdout: out, Stderr: errf})
	out.Close()
	errf.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, mark)
	old := s.r.Pid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), 0); err != nil {
		t.Fatalf("the script died with the runner: %v", err)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil || code != -int(syscall.SIGTERM) {
		t.Fatalf("exit %d, %v; want -15", code, err)
	}
	// Until the runner is back scripts are refused (the caller runs them
	// fresh); then they run resident again.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errf, _, _ := outputs(t, filepath.Join(dir, "again"))
		p, err := s.r.Start(Spec{Args: []string{s.py, probePath(t)}, Env: env, Stdout: out, Stderr: errf})
		out.Close()
		errf.Close()
		if err == nil {
			if code, err := p.Wait(); err != nil || code != 0 {
				t.Fatalf("after restart: exit %d, %v", code, err)
			}
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner never came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if np := s.r.Pid(); np == old || np == 0 {
		t.Fatalf("runner pid %d after killing %d", np, old)
	}
}

// TestMain keeps descriptors this test process inherited (from a shell or
// a CI runner) out of its children, so that a fresh interpreter starts
// with 0, 1 and 2 only, as under the agent's init system.
func TestMain(m *testing.M) {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	os.Exit(m.Run())
}

// startEventually starts a script, retrying while the runner is being
// (re)started; it returns the runner pid that ran it.
func (s *scriptRunner) startEventually(env []string, dir string) int {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errf, _, _ := outputs(s.t, dir)
		p, err := s.r.Start(Spec{Args: []string{s.py, probePath(s.t)}, Env: env, Stdout: out, Stderr: errf})
		out.Close()
		errf.Close()
		if err == nil {
			pid := s.r.Pid()
			if code, err := p.Wait(); err != nil || code != 0 {
				s.t.Fatalf("exit %d, %v", code, err)
			}
			return pid
		}
		if !errors.Is(err, ErrUnavailable) {
			s.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("scripts never ran resident: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A preloaded module changed on disk (a library upgrade): the runner is
// replaced before scripts run resident again.
func TestPreloadedFileChangeReplacesRunner(t *testing.T) {
	lib := t.TempDir()
	mod := filepath.Join(lib, "upgradable.py")
	if err := os.WriteFile(mod, []byte("VERSION = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := scriptEnv("PYTHONPATH=" + lib)
	s := newScriptRunner(t, Config{Preload: []string{"upgradable"}})
	s.ready(env)
	dir := t.TempDir()
	old := s.startEventually(env, dir)
	if err := os.WriteFile(mod, []byte("VERSION = 2 # upgraded\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.r.proc.stamps.mu.Lock()
	s.r.proc.stamps.checked = time.Time{} // check now, not within the second
	s.r.proc.stamps.mu.Unlock()
	out, errf, _, _ := outputs(t, dir)
	_, err := s.r.Start(Spec{Args: []string{s.py, probePath(t)}, Env: env, Stdout: out, Stderr: errf})
	out.Close()
	errf.Close()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a stale runner took a script: %v", err)
	}
	if pid := s.startEventually(env, dir); pid == old {
		t.Fatalf("still the runner %d", old)
	}
}

// A preload import that raises leaves scripts to fresh interpreters; alert
// calls still work.
func TestPreloadFailureFallsBack(t *testing.T) {
	lib := t.TempDir()
	if err := os.WriteFile(filepath.Join(lib, "broken.py"), []byte("raise RuntimeError('half-installed')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := scriptEnv("PYTHONPATH=" + lib)
	s := newScriptRunner(t, Config{Preload: []string{"broken"}})
	s.r.mu.Lock()
	s.r.env = env
	s.r.mu.Unlock()
	if err := s.r.Prestart(); err != nil {
		t.Fatal(err)
	}
	if st := s.r.Status(); st.Scripts || !strings.Contains(st.PreloadError, "half-installed") {
		t.Fatalf("status %+v", st)
	}
	out, errf, _, _ := outputs(t, t.TempDir())
	_, err := s.r.Start(Spec{Args: []string{s.py, probePath(t)}, Env: env, Stdout: out, Stderr: errf})
	out.Close()
	errf.Close()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start after a failed preload: %v", err)
	}
	res, err := s.r.Call(context.Background(), "eval", map[string]any{"expression": "{0} * 2", "values": []int{21}}, 10*time.Second)
	if err != nil || strings.TrimSpace(string(res)) != "42" {
		t.Fatalf("alert call: %s %v", res, err)
	}
}

// A script that damages its own interpreter and signals its own process
// group harms no later run.
func TestDamagingScriptHarmsNoLaterRun(t *testing.T) {
	s, env := probeRunner(t)
	dir := t.TempDir()
	damage := filepath.Join(dir, "damage.py")
	if err := os.WriteFile(damage, []byte(`
import os, sys, signal, logging, json
import resource_management.libraries.script.script as script
script.Script.config = {"poisoned": True}
logging.getLogger().addHandler(logging.StreamHandler())
logging.getLogger().setLevel(logging.DEBUG)
json.dumps = None
os.environ["POISON"] = "1"
sys.path.insert(0, "/poison")
os.chdir("/")
signal.signal(signal.SIGTERM, signal.SIG_IGN)
import params_of_a_service  # noqa: the service's own module
os.killpg(0, signal.SIGKILL)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "params_of_a_service.py"), []byte("X = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.resident(filepath.Join(dir, "damage"), env, dir, damage); r.code != -9 {
		t.Fatalf("damaging script: exit %d, %s", r.code, r.stderr)
	}
	probe := probePath(t)
	fresh := s.fresh(filepath.Join(dir, "fresh"), env, dir, probe)
	forked := s.resident(filepath.Join(dir, "forked"), env, dir, probe)
	compareDumps(t, decodeDump(t, fresh), decodeDump(t, forked))
	check := filepath.Join(dir, "check.py")
	if err := os.WriteFile(check, []byte(`
import logging, sys
import resource_management.libraries.script.script as script
assert script.Script.config is None, script.Script.config
assert not logging.getLogger().handlers and logging.getLogger().level == logging.WARNING
assert "params_of_a_service" not in sys.modules
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.resident(filepath.Join(dir, "check"), env, dir, check); r.code != 0 {
		t.Fatalf("state leaked into a later run: %s", r.stderr)
	}
}

// A runner that stops answering is killed and replaced; the script it was
// asked to run never starts (the caller runs it fresh instead).
func TestWedgedRunnerDoesNotRunTheScript(t *testing.T) {
	env := scriptEnv()
	s := newScriptRunner(t, Config{NoAnswer: 500 * time.Millisecond})
	s.ready(env)
	old := s.r.Pid()
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	out, errf, _, _ := outputs(t, dir)
	_, err := s.r.Start(Spec{Args: []string{s.py, probePath(t), "hang", mark}, Env: env, Stdout: out, Stderr: errf})
	out.Close()
	errf.Close()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start on a stopped runner: %v", err)
	}
	if pid := s.startEventually(env, filepath.Join(dir, "next")); pid == old {
		t.Fatal("the wedged runner is still in use")
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("the script of the unanswered request ran")
	}
}
