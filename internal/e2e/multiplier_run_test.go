package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

// hookBin is the agent built with -tags e2ehooks: `multiplier run` then
// makes one host panic on request (AMBARI_AGENT_TEST_PANIC). Release
// builds have no such hook.
var (
	hookBin      string
	hookOnce     sync.Once
	hookBuildErr error
)

func buildHookAgent(t testing.TB) string {
	t.Helper()
	hookOnce.Do(func() {
		hookBin = filepath.Join(filepath.Dir(plainBin), "ambari-agent-hooks")
		cmd := exec.Command("go", "build", "-tags", "e2ehooks", "-o", hookBin, "./cmd/ambari-agent")
		cmd.Dir = repoRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			hookBuildErr = fmt.Errorf("go build -tags e2ehooks: %v\n%s", err, b)
		}
	})
	if hookBuildErr != nil {
		t.Fatal(hookBuildErr)
	}
	return hookBin
}

// freePingPorts picks a multiplier start index whose n ping ports
// (5000+start ...) are free now.
func freePingPorts(t testing.TB, n int) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		start := 10000 + rand.N(30000)
		ok := true
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(5000+start+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return start
		}
	}
	t.Fatalf("no %d free ping ports in a row", n)
	return 0
}

// TestMultiplierRunFiftyHosts: `multiplier run` runs 50 hosts as agents of
// one process. Every host registers with its own name, runs a command and
// reports its components' status; one host panics and is started again
// while the others carry on; commands that finish while the server is
// down are all reported once it is back; SIGTERM stops everything.
func TestMultiplierRunFiftyHosts(t *testing.T) {
	const n = 50
	bin := buildHookAgent(t)
	sc, err := sim.LoadScenario(filepath.Join(repoRoot, "configs/sim/scale-status.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, sc, func(c *sim.Config) {
		c.HeartbeatLogEvery = 1000
		// As ambari-sim does by default: one topology push for the hosts
		// that join together, not one per join to every host.
		c.JoinBroadcastDelay = 200 * time.Millisecond
	})

	work := t.TempDir()
	tpl, root := filepath.Join(work, "template"), filepath.Join(work, "homes")
	conf := filepath.Join(tpl, "etc/ambari-agent/conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	stock, err := os.ReadFile(filepath.Join(repoRoot, "configs/ambari-agent.ini"))
	if err != nil {
		t.Fatal(err)
	}
	ini := editIni(string(stock), Ini{
		"server": serverIni(s),
		"agent": {
			"command_reports_interval":     "1",
			"status_commands_run_interval": "10",
			"loglevel":                     "INFO",
		},
		"python": {"resident_runner": residentRunner(), "executable": suitePython(t)},
	})
	if err := os.WriteFile(filepath.Join(conf, "ambari-agent.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	start := freePingPorts(t, n)
	multConf := fmt.Sprintf("start=%d\nnum=%d\nprefix=e2e-multi\n", start, n)
	if err := os.WriteFile(filepath.Join(conf, "agent-multiplier.conf"), []byte(multConf), 0o644); err != nil {
		t.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("e2e-multi-%04d", start+i)
	}
	victim := names[n/2]
	trigger := filepath.Join(work, "panic-now")

	cmd := exec.Command(bin, "multiplier", "run", "--home", tpl, "--home-root", root, "--no-etc-hosts")
	out, err := os.Create(filepath.Join(work, "run.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "AMBARI_PASSPHRASE=e2e", "AMBARI_AGENT_TEST_PANIC="+victim+":"+trigger)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	multLog := func() string {
		b, _ := os.ReadFile(filepath.Join(root, "ambari-agent-multiplier.log"))
		return string(b)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			ro, _ := os.ReadFile(filepath.Join(work, "run.out"))
			if len(ro) > 64000 {
				ro = ro[len(ro)-64000:]
			}
			l := multLog()
			if len(l) > 16000 {
				l = "..." + l[len(l)-16000:]
			}
			t.Logf("multiplier log:\n%s\nrun.out:\n%s", l, ro)
			for _, name := range names {
				if h, _ := s.HostState(name); !h.Ready {
					b, _ := os.ReadFile(filepath.Join(root, name, "var/log/ambari-agent/ambari-agent.log"))
					if len(b) > 16000 {
						b = b[len(b)-16000:]
					}
					t.Logf("%s (%s) log:\n%s", name, h.Status, b)
					break
				}
			}
		}
	})

	// Well under a minute on an idle machine; the bound is for a loaded
	// one.
	ctx := ctxFor(t, 3*time.Minute)
	begin := time.Now()
	for _, name := range names {
		if _, err := s.WaitReady(ctx, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	t.Logf("%d hosts registered in %s", n, time.Since(begin).Round(time.Millisecond))
	// One log per home, as with one process per host.
	for _, name := range []string{names[0], names[n-1]} {
		b, err := os.ReadFile(filepath.Join(root, name, "var/log/ambari-agent/ambari-agent.log"))
		if err != nil || !strings.Contains(string(b), "registers as "+name) {
			t.Errorf("%s's own log does not show it registering (%v)", name, err)
		}
	}

	// Every host runs a command and reports its three components.
	var tasks []int64
	for _, name := range names {
		sent, err := s.SendCommand(name, sim.CommandSpec{Component: "SCALE_A", RoleCommand: "INSTALL"})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, sent.TaskIDs...)
	}
	for _, id := range tasks {
		if ts, err := s.WaitTaskDone(ctx, id); err != nil || ts.Status != "COMPLETED" {
			t.Fatalf("task %d: %s, %v", id, ts.Status, err)
		}
	}
	for _, name := range names {
		if _, err := s.WaitHost(ctx, name, func(h sim.HostState) bool {
			started := 0
			for _, c := range h.ComponentStatus {
				if c.Status == "STARTED" {
					started++
				}
			}
			return started == 3
		}); err != nil {
			t.Fatalf("%s did not report its 3 components running: %v", name, err)
		}
	}

	// One host panics; it alone is started again.
	beats := map[string]uint64{}
	for _, name := range names {
		h, _ := s.HostState(name)
		if h.Registrations != 1 {
			t.Fatalf("%s registered %d times before the panic", name, h.Registrations)
		}
		beats[name] = h.Heartbeats
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitHost(ctx, victim, func(h sim.HostState) bool { return h.Registrations >= 2 && h.Ready }); err != nil {
		t.Fatalf("%s was not started again after its panic: %v", victim, err)
	}
	if l := multLog(); !strings.Contains(l, "test panic in host "+victim) {
		t.Errorf("the multiplier's log does not show %s's panic", victim)
	}
	for _, name := range names {
		if name == victim {
			continue
		}
		h, err := s.WaitHost(ctx, name, func(h sim.HostState) bool { return h.Heartbeats > beats[name] })
		if err != nil {
			t.Fatalf("%s stopped heartbeating after %s panicked: %v", name, victim, err)
		}
		if h.Registrations != 1 {
			t.Errorf("%s registered %d times: another host's panic disturbed it", name, h.Registrations)
		}
	}

	// Commands that end while the server is down are reported once it is
	// back: none is lost.
	cmdDir := filepath.Join(work, "cmds")
	os.MkdirAll(cmdDir, 0o755)
	goFile := filepath.Join(cmdDir, "go")
	tasks = tasks[:0]
	for _, name := range names {
		sent, err := s.SendCommand(name, sim.CommandSpec{Component: "SCALE_B", RoleCommand: "INSTALL",
			Script: "scripts/wait_file.py", Timeout: 120, CommandParams: sim.StringMap{
				"started_file": filepath.Join(cmdDir, name+".started"),
				"done_file":    filepath.Join(cmdDir, name+".done"),
				"go_file":      goFile,
			}})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, sent.TaskIDs...)
	}
	waitFiles := func(suffix string) {
		t.Helper()
		for _, name := range names {
			p := filepath.Join(cmdDir, name+suffix)
			for {
				if _, err := os.Stat(p); err == nil {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("%s: no %s", name, p)
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	waitFiles(".started")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFiles(".done")
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	for _, id := range tasks {
		ts, err := s.WaitTaskDone(ctx, id)
		if err != nil || ts.Status != "COMPLETED" {
			t.Fatalf("task %d on %s: %s, %v", id, ts.Host, ts.Status, err)
		}
	}

	// SIGTERM stops every agent. The process stops them within 10 s; the
	// wait allows for an exit held up by a slow fsync on a loaded machine.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		// Its goroutines' stacks go to run.out, shown below.
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		t.Fatal("multiplier run did not exit within 30 s of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("multiplier run exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(root, "ambari-agent-multiplier.pid")); !os.IsNotExist(err) {
		t.Errorf("the pid file is left behind (%v)", err)
	}
}
