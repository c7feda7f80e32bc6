package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
)

var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ambari-agent-cli")
	if err != nil {
		panic(err)
	}
	agentBin = filepath.Join(dir, "ambari-agent")
	if out, err := exec.Command("go", "build", "-o", agentBin, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newHome writes a stock ini into home/etc/ambari-agent/conf that points at
// a server that does not exist.
func newHome(t *testing.T, pingPort int) string {
	t.Helper()
	home := t.TempDir()
	src, err := os.ReadFile("../../configs/ambari-agent.ini")
	if err != nil {
		t.Fatal(err)
	}
	ini := strings.Replace(string(src), "ping_port=8670", fmt.Sprintf("ping_port=%d", pingPort), 1)
	ini = strings.Replace(ini, "hostname=localhost", "hostname=127.0.0.1", 1)
	ini = strings.Replace(ini, "url_port=8440", fmt.Sprintf("url_port=%d", freePort(t)), 1)
	ini = strings.Replace(ini, "secured_url_port=8441", fmt.Sprintf("secured_url_port=%d", freePort(t)), 1)
	conf := filepath.Join(home, "etc/ambari-agent/conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "ambari-agent.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command(agentBin, "stop", "--home", home).Run() })
	return home
}

func agentCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(agentBin, args...)
	cmd.Env = os.Environ()
	return combinedOutput(t, cmd)
}

// combinedOutput runs cmd and returns its output and exit code.
func combinedOutput(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return string(out), code
}

func expectCode(t *testing.T, want int, args ...string) string {
	t.Helper()
	out, code := agentCmd(t, args...)
	if code != want {
		t.Fatalf("ambari-agent %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

func TestStartStopStatusResetWithTwoHomes(t *testing.T) {
	h1 := newHome(t, freePort(t))
	h2 := newHome(t, freePort(t))
	pid1 := filepath.Join(h1, "var/run/ambari-agent/ambari-agent.pid")

	expectCode(t, 0, "start", "--home", h1)
	if _, err := os.Stat(pid1); err != nil {
		t.Fatalf("no pid file in H1's piddir: %v", err)
	}
	expectCode(t, 0, "status", "--home", h1)
	// --home is accepted in any position.
	expectCode(t, 0, "--home", h1, "status")
	out := expectCode(t, 255, "start", "--home", h1)
	if !strings.Contains(out, "already running") {
		t.Errorf("second start: %s", out)
	}
	expectCode(t, 0, "start", "--home", h2)
	out = expectCode(t, 1, "reset", "newhost.example.com", "--home", h1)
	if !strings.Contains(out, "must stop it") {
		t.Errorf("reset while running: %s", out)
	}

	begin := time.Now()
	expectCode(t, 0, "stop", "--home", h1)
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("stop took %s", d)
	}
	expectCode(t, 3, "status", "--home", h1)
	expectCode(t, 0, "status", "--home", h2)

	ini := filepath.Join(h1, "etc/ambari-agent/conf/ambari-agent.ini")
	before, _ := os.ReadFile(ini)
	keys := filepath.Join(h1, "var/lib/ambari-agent/keys")
	os.MkdirAll(keys, 0o700)
	os.WriteFile(filepath.Join(keys, "ca.crt"), []byte("x"), 0o600)
	expectCode(t, 0, "reset", "NEWHOST", "--home", h1)
	after, _ := os.ReadFile(ini)
	if strings.Count(string(before), "\n") != strings.Count(string(after), "\n") {
		t.Errorf("reset changed the line count")
	}
	if !strings.Contains(string(after), "\nhostname=NEWHOST\n") {
		t.Errorf("reset did not set hostname=NEWHOST")
	}
	if entries, _ := os.ReadDir(keys); len(entries) != 0 {
		t.Errorf("keys dir not emptied: %v", entries)
	}
	expectCode(t, 0, "stop", "--home", h2)
	expectCode(t, 3, "status", "--home", h2)
}

func TestStalePidFile(t *testing.T) {
	h := newHome(t, freePort(t))
	pid := filepath.Join(h, "var/run/ambari-agent/ambari-agent.pid")
	os.MkdirAll(filepath.Dir(pid), 0o755)
	// A pid that cannot exist.
	os.WriteFile(pid, []byte("4194305"), 0o644)
	expectCode(t, 2, "status", "--home", h)
	out := expectCode(t, 0, "start", "--home", h)
	if !strings.Contains(out, "found with no process") {
		t.Errorf("start over a stale pid file: %s", out)
	}
	expectCode(t, 0, "status", "--home", h)
}

func TestPingPortIsTheLock(t *testing.T) {
	port := freePort(t)
	h1 := newHome(t, port)
	h2 := newHome(t, port)
	expectCode(t, 0, "start", "--home", h1)
	out := expectCode(t, 255, "start", "--home", h2)
	if !strings.Contains(out, fmt.Sprintf("Could not open port %d", port)) {
		t.Errorf("second agent on the same ping port: %s", out)
	}
	// The running agent answers OK on its ping port, more than once.
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(buf)
		c.Close()
		if string(buf[:n]) != "OK" {
			t.Fatalf("ping %d answered %q", i, buf[:n])
		}
	}
}

func TestMalformedIniRefused(t *testing.T) {
	cases := map[string]struct{ edit, want string }{
		"bad integer":      {"status_commands_run_interval=20", "status_commands_run_interval=twenty"},
		"unparseable line": {"[logging]", "[logging]\nthis is not a setting"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHome(t, freePort(t))
			ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
			b, _ := os.ReadFile(ini)
			os.WriteFile(ini, []byte(strings.Replace(string(b), tc.edit, tc.want, 1)), 0o644)
			out, code := agentCmd(t, "start", "--home", h)
			if code == 0 {
				t.Fatalf("started with a malformed ini:\n%s", out)
			}
			if !strings.Contains(out, ini+":") {
				t.Errorf("message does not name file:line: %s", out)
			}
			if name == "bad integer" && !strings.Contains(out, "status_commands_run_interval") {
				t.Errorf("message does not name the key: %s", out)
			}
		})
	}
}

func TestRunFailsWhenDaemonCannotStart(t *testing.T) {
	h := newHome(t, freePort(t))
	ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
	b, _ := os.ReadFile(ini)
	// The log dir cannot be created where a file is.
	blocker := filepath.Join(h, "blocker")
	os.WriteFile(blocker, nil, 0o644)
	os.WriteFile(ini, []byte(strings.Replace(string(b), "logdir=/var/log/ambari-agent", "logdir="+blocker+"/log", 1)), 0o644)
	out, code := agentCmd(t, "start", "--home", h)
	if code != 255 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	expectCode(t, 0, "--version")
	out := expectCode(t, 2, "bogus")
	if !strings.Contains(out, "Usage: ambari-agent") || !strings.HasSuffix(out, "ambari-agent: unknown command \"bogus\"\n") {
		t.Errorf("usage: %s", out)
	}
	expectCode(t, 1, "reset", "--home", t.TempDir())
	out = expectCode(t, 2, "status", "now", "please")
	if !strings.HasSuffix(out, "ambari-agent: status does not take the argument(s) now please\n") {
		t.Errorf("extra arguments: %s", out)
	}
	out = expectCode(t, 2, "reset", "a.example.com", "b.example.com")
	if !strings.HasSuffix(out, "ambari-agent: reset does not take the argument(s) b.example.com\n") {
		t.Errorf("extra reset argument: %s", out)
	}
	out = expectCode(t, 2, "--bogus")
	if !strings.HasSuffix(out, "ambari-agent: unknown option --bogus\n") {
		t.Errorf("unknown option: %s", out)
	}
}

// TestCommandHelpDoesNothingElse: `CMD --help` prints that command's help
// and leaves a running agent alone (it used to stop it).
func TestCommandHelpDoesNothingElse(t *testing.T) {
	home := newHome(t, freePort(t))
	expectCode(t, 0, "start", "--home", home) // no server, but the daemon runs
	expectCode(t, 0, "status", "--home", home)
	for _, help := range []string{"-h", "--help"} {
		out := expectCode(t, 0, "stop", help, "--home", home)
		if !strings.HasPrefix(out, "Usage: ambari-agent stop") || strings.Contains(out, "Stopping") {
			t.Errorf("stop %s:\n%s", help, out)
		}
	}
	expectCode(t, 0, "status", "--home", home)
	out := expectCode(t, 0, "--home", home, "status", "--help")
	if !strings.HasPrefix(out, "Usage: ambari-agent status") {
		t.Errorf("status --help:\n%s", out)
	}
}

// TestVersionNamesRegisteredVersionAndBuild: --version prints the version
// the agent registers with (<prefix>/version) and the build.
func TestVersionNamesRegisteredVersionAndBuild(t *testing.T) {
	home := newHome(t, freePort(t))
	cfg, err := config.Load(config.Locate(home), home)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(cfg.VersionFile()), 0o755)
	if err := os.WriteFile(cfg.VersionFile(), []byte("2.7.8.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := expectCode(t, 0, "--version", "--home", home)
	if !strings.HasPrefix(out, "2.7.8.0\nambari-agent-go ") {
		t.Errorf("--version:\n%s", out)
	}
}

func TestExpectedHostnameMismatchRefused(t *testing.T) {
	h := newHome(t, freePort(t))
	ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
	script := filepath.Join(h, "hostname.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho agent-7.example.com\n"), 0o755)
	b, _ := os.ReadFile(ini)
	os.WriteFile(ini, []byte(strings.Replace(string(b), "[agent]\n", "[agent]\nhostname_script="+script+"\n", 1)), 0o644)

	out := expectCode(t, 255, "start", "--home", h, "--expected-hostname=other.example.com")
	if !strings.Contains(out, "other.example.com") || !strings.Contains(out, "agent-7.example.com") {
		t.Errorf("mismatch message does not name both host names:\n%s", out)
	}
	expectCode(t, 0, "start", "--home", h, "-e", "agent-7.example.com")
	expectCode(t, 0, "status", "--home", h)
}

func TestUSR1DumpsGoroutinesToTheLog(t *testing.T) {
	h := newHome(t, freePort(t))
	expectCode(t, 0, "start", "--home", h)
	pidFile := filepath.Join(h, "var/run/ambari-agent/ambari-agent.pid")
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(b))
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(h, "var/log/ambari-agent/ambari-agent.log")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b), "goroutine dump follows") && strings.Contains(string(b), "goroutine 1 [") {
			expectCode(t, 0, "status", "--home", h) // and it keeps running
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no goroutine dump in the log after SIGUSR1")
}

// A caller that is neither root nor allowed to sudo gets the control
// script's message and changes nothing.
func TestNonSudoerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the agent as another user")
	}
	h := newHome(t, freePort(t))
	// The unprivileged user must be able to reach the binary and the home.
	os.Chmod(filepath.Dir(agentBin), 0o755)
	os.Chmod(h, 0o755)
	cmd := exec.Command(agentBin, "start", "--home", h)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started as nobody:\n%s", out)
	}
	if !strings.Contains(string(out), "non-sudoer") {
		t.Errorf("message: %s", out)
	}
	if _, err := os.Stat(filepath.Join(h, "var/run/ambari-agent/ambari-agent.pid")); err == nil {
		t.Error("a pid file was written")
	}
}

// The init.d script passes its arguments through to the binary as
// run_as_user (root in the stock ini) and returns its exit code.
func TestInitScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the stock run_as_user is root")
	}
	h := newHome(t, freePort(t))
	run := func(args ...string) int {
		cmd := exec.Command("bash", append([]string{"../../init/ambari-agent"}, args...)...)
		cmd.Env = append(os.Environ(), "AMBARI_AGENT_BIN="+agentBin, "AMBARI_AGENT_CONF_DIR="+filepath.Join(h, "etc/ambari-agent/conf"))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return 0
	}
	if code := run("status", "--home", h); code != 3 {
		t.Fatalf("status through init.d: %d, want 3", code)
	}
	if code := run("start", "--home", h); code != 0 {
		t.Fatalf("start through init.d: %d", code)
	}
	if code := run("status", "--home", h); code != 0 {
		t.Fatalf("status through init.d after start: %d", code)
	}
}

// A daemon that cannot build its components (here: no such Python) makes
// `start` fail and show why.
func TestStartFailsWhenTheDaemonCannotRun(t *testing.T) {
	h := newHome(t, freePort(t))
	ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
	b, _ := os.ReadFile(ini)
	os.WriteFile(ini, append(b, []byte("\n[python]\nexecutable=/nonexistent/python9\n")...), 0o644)
	out := expectCode(t, 255, "start", "--home", h)
	if !strings.Contains(out, "/nonexistent/python9") || !strings.Contains(out, "ambari-agent.out") {
		t.Errorf("start failure does not show the reason from the .out file:\n%s", out)
	}
	expectCode(t, 3, "status", "--home", h)
}
