package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/procinfo"
)

// pidHelperEnv makes the test binary act as a tiny daemon: it writes the
// pid file named by the variable, re-executes itself as a self-restart
// does, writes the pid file again, says "ready" and waits for a signal.
const (
	pidHelperEnv      = "AGENT_TEST_PID_HELPER"
	pidHelperStageEnv = "AGENT_TEST_PID_HELPER_STAGE"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(pidHelperEnv); path != "" {
		os.Exit(pidHelper(path))
	}
	os.Exit(m.Run())
}

func pidHelper(path string) int {
	if err := WritePidFile(path); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if os.Getenv(pidHelperStageEnv) == "" {
		exe, _ := os.Executable()
		err := syscall.Exec(exe, os.Args, append(os.Environ(), pidHelperStageEnv+"=restarted"))
		fmt.Println("error: exec:", err)
		return 1
	}
	fmt.Println("ready")
	select {} // until SIGTERM
}

// pidConfig is a configuration whose pid file lies in a temp dir.
func pidConfig(t *testing.T) *config.Config {
	cfg := config.Defaults(t.TempDir())
	cfg.Agent.Prefix = filepath.Join(cfg.Home, "data")
	return cfg
}

// startSleeper runs a process that has nothing to do with the agent.
func startSleeper(t *testing.T) (*exec.Cmd, chan struct{}) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	return cmd, exited
}

// TestPidFileUnrelatedProcess: after an OOM kill and pid reuse the pid
// file names a live process that is not the agent. status says stale,
// stop sends it no signal, start goes ahead; for the older format (a bare
// pid) and for an identity that no longer matches.
func TestPidFileUnrelatedProcess(t *testing.T) {
	cmd, exited := startSleeper(t)
	pid := cmd.Process.Pid
	id, err := procinfo.Identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		identity *pidIdentity
	}{
		{"older format", nil},
		{"other start time", &pidIdentity{Identity: procinfo.Identity{PID: pid, StartTime: id.StartTime + 1, BootID: id.BootID}}},
		{"other executable", &pidIdentity{Identity: id, Exe: "/usr/sbin/ambari-agent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pidConfig(t)
			write := func() {
				os.MkdirAll(cfg.Agent.PidDir, 0o755)
				if err := os.WriteFile(cfg.PidFile(), []byte(strconv.Itoa(pid)), 0o644); err != nil {
					t.Fatal(err)
				}
				if tc.identity != nil {
					b, _ := json.Marshal(tc.identity)
					os.WriteFile(cfg.PidFile()+identitySuffix, b, 0o644)
				}
			}
			var out bytes.Buffer
			c := &Control{Config: cfg, Out: &out, Exe: "/bin/false"}

			write()
			if code := c.Status(); code != ExitStale || !strings.Contains(out.String(), "Stale PID File") {
				t.Errorf("status = %d:\n%s", code, out.String())
			}
			out.Reset()
			if code := c.Stop(); code != ExitOK || !strings.Contains(out.String(), "no signal sent") {
				t.Errorf("stop = %d:\n%s", code, out.String())
			}
			select {
			case <-exited:
				t.Fatal("stop signalled a process that is not the agent")
			default:
			}
			if _, err := os.Stat(cfg.PidFile()); !os.IsNotExist(err) {
				t.Error("stop left the stale pid file")
			}

			// start goes past the pid file (and then fails: its daemon
			// here is /bin/false).
			write()
			out.Reset()
			c.Start()
			if strings.Contains(out.String(), "already running") || !strings.Contains(out.String(), "found with no process") {
				t.Errorf("start over a stale pid file:\n%s", out.String())
			}
			select {
			case <-exited:
				t.Fatal("start signalled a process that is not the agent")
			default:
			}
			// A daemon starting now takes the pid file over.
			write()
			if err := WritePidFile(cfg.PidFile()); err != nil {
				t.Errorf("a stale pid file blocks the daemon: %v", err)
			}
		})
	}
}

// TestPidFileOwnProcessAfterRestart: an agent that restarted itself by
// exec keeps its pid and its start time, so its pid file stays valid:
// status says running, another daemon is refused, stop stops it.
func TestPidFileOwnProcessAfterRestart(t *testing.T) {
	cfg := pidConfig(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// "run", as the daemon is started: an older bare pid file is trusted
	// only for an agent daemon.
	cmd := exec.Command(exe, "run")
	cmd.Env = append(os.Environ(), pidHelperEnv+"="+cfg.PidFile())
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	if l := <-line; strings.TrimSpace(l) != "ready" {
		t.Fatalf("helper: %q", l)
	}
	if args := procinfo.Cmdline(cmd.Process.Pid); len(args) == 0 {
		t.Fatal("helper gone")
	}
	rec, err := ReadPidRecord(cfg.PidFile())
	if err != nil || rec.Pid != cmd.Process.Pid || rec.ID == nil {
		t.Fatalf("pid file after the restart: %+v, %v", rec, err)
	}

	var out bytes.Buffer
	c := &Control{Config: cfg, Out: &out}
	if code := c.Status(); code != ExitOK {
		t.Fatalf("status = %d:\n%s", code, out.String())
	}
	if err := WritePidFile(cfg.PidFile()); err == nil || !strings.Contains(err.Error(), "names running agent") {
		t.Fatalf("a second daemon took the pid file: %v", err)
	}
	// The older format, a bare pid, of a real agent process counts too.
	os.Remove(cfg.PidFile() + identitySuffix)
	out.Reset()
	if code := c.Status(); code != ExitOK {
		t.Fatalf("status with an older-format pid file = %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := c.Stop(); code != ExitOK {
		t.Fatalf("stop = %d:\n%s", code, out.String())
	}
	select {
	case <-exited:
	default:
		t.Fatalf("stop returned but the agent runs:\n%s", out.String())
	}
}

func TestPidFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "ambari-agent.pid")
	if err := WritePidFile(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file holds %q: the bare pid is what other tools read", b)
	}
	rec, err := ReadPidRecord(p)
	if err != nil || rec.Pid != os.Getpid() || rec.ID == nil {
		t.Fatalf("ReadPidRecord = %+v, %v", rec, err)
	}
	if ok, why := rec.Running(); !ok {
		t.Fatalf("own pid file not running: %s", why)
	}
	// Re-executed after a self-restart: same pid, accepted.
	if err := WritePidFile(p); err != nil {
		t.Fatal(err)
	}
	// A live process that is not an agent: stale, replaced.
	os.WriteFile(p, []byte(fmt.Sprint(os.Getppid())), 0o644)
	if err := WritePidFile(p); err != nil {
		t.Fatalf("a pid file naming a non-agent process blocked the daemon: %v", err)
	}
	// No such process: replaced.
	os.WriteFile(p, []byte("4194305"), 0o644)
	if err := WritePidFile(p); err != nil {
		t.Fatal(err)
	}
	RemovePidFile(p)
	for _, f := range []string{p, p + identitySuffix} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s not removed", f)
		}
	}
}
