package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

var (
	repoRoot string
	// agentBin is built with -race when the tests run with it; plainBin
	// never is (for the many-agent test, where the race runtime's memory
	// would dominate).
	agentBin, plainBin string
	buildOnce          sync.Once
	buildErr           error
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	dir, err := os.MkdirTemp("", "ambari-e2e-bin")
	if err != nil {
		panic(err)
	}
	agentBin = filepath.Join(dir, "ambari-agent")
	plainBin = filepath.Join(dir, "ambari-agent-plain")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildAgent(t testing.TB) {
	t.Helper()
	buildOnce.Do(func() {
		build := func(out string, race bool) error {
			args := []string{"build", "-o", out}
			if race {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, "./cmd/ambari-agent")...)
			cmd.Dir = repoRoot
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build: %v\n%s", err, b)
			}
			return nil
		}
		if buildErr = build(plainBin, false); buildErr != nil {
			return
		}
		if raceEnabled {
			buildErr = build(agentBin, true)
		} else {
			buildErr = os.Link(plainBin, agentBin)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// ctxFor returns a context bounded by d and the test's end.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// demoScenario is configs/sim/demo.json without its timeline (tests send
// their own commands), with the demo daemon on a free port and a TESTKIT
// service whose components run the test scripts.
func demoScenario(t testing.TB) *sim.Scenario {
	t.Helper()
	sc, err := sim.LoadScenario(filepath.Join(repoRoot, "configs/sim/demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc.Timeline = nil
	c := &sc.Clusters[0]
	c.Configurations["demo-env"]["server_port"] = strconv.Itoa(freePort(t))
	c.Services = append(c.Services, sim.ServiceSpec{
		Name:          "TESTKIT",
		Version:       "1.0.0",
		PackageFolder: "stacks/DEMO/1.0/services/TESTKIT/package",
		Components: []sim.ComponentSpec{
			{Name: "SLEEPER", Category: "SLAVE", Script: "scripts/sleep_tree.py", Timeout: 600},
			{Name: "FLAKY", Category: "SLAVE", Script: "scripts/flaky.py", Timeout: 600},
			{Name: "CHATTY", Category: "SLAVE", Script: "scripts/chatty.py", Timeout: 600},
		},
	})
	tpl := sc.Options.JoinTemplate
	if tpl == nil {
		tpl = &sim.JoinTemplate{}
		sc.Options.JoinTemplate = tpl
	}
	tpl.Components = append(tpl.Components, "SLEEPER", "FLAKY", "CHATTY")
	sc.Options.JoinUnknownHosts = true
	return sc
}

// startSim runs a simulator for the test's duration.
func startSim(t testing.TB, sc *sim.Scenario, mod func(*sim.Config)) *sim.Server {
	t.Helper()
	cfg := sim.Config{
		Scenario:     sc,
		ResourcesDir: filepath.Join(repoRoot, "testdata/resources"),
		Log:          testLog(t, "sim"),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Agent is one real agent process in its own --home.
type Agent struct {
	t    testing.TB
	Name string
	Home string
	bin  string
	// Env is added to the environment of Start.
	Env []string
	// NoPassphrase starts the agent with no AMBARI_PASSPHRASE in its
	// environment, as a service manager starts it; otherwise it is "e2e".
	NoPassphrase bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// ResidentRunnerEnv selects [python] resident_runner for every agent of
// the suite: unset or "true" forks stack scripts from the resident runner
// (the default), "false" runs each in a fresh interpreter, so the suite
// can run both ways (AMBARI_E2E_RESIDENT_RUNNER=false go test ./internal/e2e/).
const ResidentRunnerEnv = "AMBARI_E2E_RESIDENT_RUNNER"

// suitePython is the interpreter every agent of the suite runs scripts
// with: python3 (or $PYTHON) resolved once past any wrapper. A version
// manager's shim is a shell script that costs a second or more per start on
// a loaded machine, which would eat the few seconds' timeouts the tests give
// their commands.
func suitePython(t testing.TB) string {
	suitePythonOnce.Do(func() { suitePythonPath = cmdPython(t) })
	return suitePythonPath
}

var (
	suitePythonOnce sync.Once
	suitePythonPath string
)

func residentRunner() string {
	if v := os.Getenv(ResidentRunnerEnv); v != "" {
		return v
	}
	return "true"
}

// Ini edits one agent's ambari-agent.ini before it starts: section ->
// key -> value (added or replaced).
type Ini map[string]map[string]string

// newAgent writes a home whose ini points at the simulator: short
// intervals, a small reconnect cap, ephemeral ping port, and a host name
// script so the agent registers under name.
func newAgent(t testing.TB, s *sim.Server, name string, edits Ini) *Agent {
	t.Helper()
	buildAgent(t)
	home := t.TempDir()
	conf := filepath.Join(home, "etc/ambari-agent/conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(home, "hostname.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho "+name+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := Ini{
		"server": serverIni(s),
		"agent": {
			"ping_port":                    "0",
			"hostname_script":              script,
			"public_hostname_script":       "echo " + name,
			"command_reports_interval":     "1",
			"status_commands_run_interval": "2",
			"alert_reports_interval":       "1",
			"loglevel":                     "DEBUG",
		},
		"heartbeat": {"state_interval_seconds": "5"},
		"python": {
			"executable":      suitePython(t),
			"lib_dirs":        filepath.Join(home, "usr/lib/ambari-agent/lib"),
			"resident_runner": residentRunner(),
		},
	}
	for sec, kv := range edits {
		if base[sec] == nil {
			base[sec] = map[string]string{}
		}
		for k, v := range kv {
			base[sec][k] = v
		}
	}
	stock, err := os.ReadFile(filepath.Join(repoRoot, "configs/ambari-agent.ini"))
	if err != nil {
		t.Fatal(err)
	}
	ini := editIni(string(stock), base)
	if err := os.WriteFile(filepath.Join(conf, "ambari-agent.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &Agent{t: t, Name: name, Home: home, bin: agentBin}
	t.Cleanup(a.cleanup)
	return a
}

// StartReady starts the agent and waits, for at most d, until s has it
// registered with its caches in sync; the returned context ends with that
// deadline, for the rest of the test.
func (a *Agent) StartReady(s *sim.Server, d time.Duration) (context.Context, sim.HostState) {
	a.t.Helper()
	a.Start()
	ctx := ctxFor(a.t, d)
	h, err := s.WaitReady(ctx, a.Name)
	if err != nil {
		a.t.Fatalf("agent %s never became ready: %v", a.Name, err)
	}
	return ctx, h
}

// serverIni is the [server] section that points an agent at s, with short
// reconnect delays.
func serverIni(s *sim.Server) map[string]string {
	return map[string]string{
		"hostname":                  "127.0.0.1",
		"url_port":                  strconv.Itoa(s.URLPort()),
		"secured_url_port":          strconv.Itoa(s.SecuredURLPort()),
		"connect_retry_delay":       "1",
		"max_reconnect_retry_delay": "2",
	}
}

// editIni replaces key=value lines in their sections, or appends them.
func editIni(text string, edits Ini) string {
	lines := strings.Split(text, "\n")
	done := map[string]bool{}
	section := ""
	var out []string
	flush := func(sec string) {
		for k, v := range edits[sec] {
			if !done[sec+"/"+k] {
				out = append(out, k+"="+v)
				done[sec+"/"+k] = true
			}
		}
	}
	for _, l := range lines {
		tr := strings.TrimSpace(l)
		if strings.HasPrefix(tr, "[") && strings.HasSuffix(tr, "]") {
			flush(section)
			section = tr[1 : len(tr)-1]
			out = append(out, l)
			continue
		}
		if i := strings.Index(tr, "="); i > 0 && tr[0] != '#' && tr[0] != ';' {
			k := strings.ToLower(strings.TrimSpace(tr[:i]))
			if v, ok := edits[section][k]; ok {
				out = append(out, k+"="+v)
				done[section+"/"+k] = true
				continue
			}
		}
		out = append(out, l)
	}
	flush(section)
	for sec, kv := range edits {
		missing := false
		for k := range kv {
			if !done[sec+"/"+k] {
				missing = true
			}
		}
		if missing {
			out = append(out, "["+sec+"]")
			flush(sec)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// Path is a path inside the agent's home.
func (a *Agent) Path(rel string) string { return filepath.Join(a.Home, rel) }

// DataDir is the agent's [agent] prefix.
func (a *Agent) DataDir() string { return a.Path("var/lib/ambari-agent/data") }

// Start runs `ambari-agent run --home` as a child process.
func (a *Agent) Start() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	out, err := os.OpenFile(a.Path("run.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd := exec.Command(a.bin, "run", "--home", a.Home)
	cmd.Stdout, cmd.Stderr = out, out
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AMBARI_PASSPHRASE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if !a.NoPassphrase {
		cmd.Env = append(cmd.Env, "AMBARI_PASSPHRASE=e2e")
	}
	cmd.Env = append(cmd.Env, a.Env...)
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(done) }()
	a.cmd, a.done = cmd, done
}

// Stop sends SIGTERM and waits for the agent to exit.
func (a *Agent) Stop() { a.signal(syscall.SIGTERM, 20*time.Second) }

// Kill sends SIGKILL, as a crash or an OOM kill would. A killed process
// can take a while to go when it was inside a slow fsync on a loaded
// machine, hence the generous wait.
func (a *Agent) Kill() { a.signal(syscall.SIGKILL, 60*time.Second) }

func (a *Agent) signal(sig syscall.Signal, wait time.Duration) {
	a.t.Helper()
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-done
		a.t.Errorf("agent %s did not exit within %s of %s", a.Name, wait, sig)
	}
	a.mu.Lock()
	a.cmd = nil
	a.mu.Unlock()
}

// Pid is the agent process's pid (0 when not running).
func (a *Agent) Pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// Exited is closed when the running agent exits.
func (a *Agent) Exited() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done
}

// Log returns the agent's log so far.
func (a *Agent) Log() string {
	b, _ := os.ReadFile(a.Path("var/log/ambari-agent/ambari-agent.log"))
	return string(b)
}

func (a *Agent) cleanup() {
	a.Kill()
	// Daemons the demo scripts started outlive the agent by design; a
	// test cleans up after itself.
	filepath.Walk(a.Home, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".pid") && strings.Contains(p, "demo-stack") {
			if b, err := os.ReadFile(p); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		return nil
	})
	if !a.t.Failed() {
		return
	}
	// A few logs explain a failure; a hundred would bury its message.
	n, _ := logDumps.LoadOrStore(a.t, new(atomic.Int32))
	switch n.(*atomic.Int32).Add(1) {
	case 1, 2, 3:
		log := a.Log()
		if len(log) > 16000 {
			log = "..." + log[len(log)-16000:]
		}
		out, _ := os.ReadFile(a.Path("run.out"))
		a.t.Logf("agent %s log:\n%s\nrun.out:\n%s", a.Name, log, out)
	case 4:
		a.t.Logf("logs of the test's other agents left out")
	}
}

// logDumps counts the agent logs shown per failed test.
var logDumps sync.Map // testing.TB -> *atomic.Int32

// waitLog waits for a line of the agent's log containing s.
func (a *Agent) waitLog(ctx context.Context, s string) bool {
	for {
		if strings.Contains(a.Log(), s) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rss returns a process's resident set size in kB.
func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return 0
}

// readJSON decodes a JSON file.
func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// alive reports whether pid runs. A zombie counts as gone: it has exited,
// only its parent (init, for orphans) has not reaped it yet.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}
