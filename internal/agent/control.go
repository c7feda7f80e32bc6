package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
)

// Exit codes of the control commands, as the Python control script returns
// them.
const (
	ExitOK         = 0
	ExitFailure    = 1
	ExitStale      = 2   // status: pid file without a process
	ExitNotRunning = 3   // status: no pid file
	ExitStartFail  = 255 // start: the script's `exit -1`
)

// Environment passed from `start` to the daemon it launches.
const (
	readyFDEnv = "AMBARI_AGENT_READY_FD"
	outFileEnv = "AMBARI_AGENT_OUT_FILE"
)

const (
	// startWait bounds how long `start` waits for the daemon to report that
	// it holds its ping port and pid file.
	startWait = 30 * time.Second
	// stopGrace is how long `stop` waits after SIGTERM before SIGKILL, and
	// stopKillWait how long after SIGKILL; together well under the 15 s an
	// operator (or the server's bootstrap) is promised.
	stopGrace    = 10 * time.Second
	stopKillWait = 3 * time.Second
	// outTailLines of ambari-agent.out are shown when the daemon fails to
	// start.
	outTailLines = 10
)

// Control implements the operator commands start, stop, status, restart
// and reset on one agent home (Python: the ambari-agent control script and
// main.py stop/reset).
type Control struct {
	Config *config.Config
	// Out receives the messages an operator reads.
	Out io.Writer
	// Exe is the agent binary `start` launches; DaemonArgs are passed to
	// its `run` command (--home, -v, --expected-hostname).
	Exe        string
	DaemonArgs []string
}

func (c *Control) printf(format string, args ...any) { fmt.Fprintf(c.Out, format+"\n", args...) }

func (c *Control) locations() {
	c.printf("Agent PID at: %s", c.Config.PidFile())
	c.printf("Agent out at: %s", c.Config.OutFile())
	c.printf("Agent log at: %s", c.Config.LogFile())
}

// Status prints whether the agent runs: 0 running, 2 stale pid file (no
// process, or a process that is not the agent), 3 not running.
func (c *Control) Status() int {
	pidFile := c.Config.PidFile()
	rec, err := ReadPidRecord(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		c.printf("ambari-agent currently not running")
		return ExitNotRunning
	}
	if err != nil {
		c.printf("ambari-agent not running. Stale PID File at: %s (%v)", pidFile, err)
		return ExitStale
	}
	c.printf("Found ambari-agent PID: %d", rec.Pid)
	if ok, why := rec.Running(); !ok {
		c.printf("ambari-agent not running. Stale PID File at: %s (%s)", pidFile, why)
		return ExitStale
	}
	c.printf("ambari-agent running.")
	c.locations()
	return ExitOK
}

// Start launches the daemon in its own session, detached from the
// terminal, with stdout and stderr in ambari-agent.out, and returns once
// the daemon reports that it holds its ping port and wrote its pid file.
// When the daemon dies first, the end of ambari-agent.out is shown.
func (c *Control) Start() int {
	cfg := c.Config
	if err := cfg.Validate(); err != nil {
		c.printf("ERROR: %v", err)
		return ExitStartFail
	}
	c.printf("Checking for previously running Ambari Agent...")
	pidFile := cfg.PidFile()
	if rec, err := ReadPidRecord(pidFile); err == nil {
		ok, why := rec.Running()
		if ok {
			c.printf("ERROR: ambari-agent already running")
			c.printf("Check %s for PID.", pidFile)
			return ExitStartFail
		}
		c.printf("%s found with no process of the agent (%s). Removing %d...", pidFile, why, rec.Pid)
		removeStalePidFile(pidFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		c.printf("%v; removing it", err)
		removeStalePidFile(pidFile)
	}
	for _, dir := range []string{cfg.Agent.PidDir, cfg.Agent.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			c.printf("ERROR: cannot create %s: %v", dir, err)
			return ExitStartFail
		}
	}
	// Truncated on every start, as the control script's redirect does.
	// O_APPEND lets the daemon truncate it later without leaving holes.
	out, err := os.OpenFile(cfg.OutFile(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		c.printf("ERROR: cannot open %s: %v", cfg.OutFile(), err)
		return ExitStartFail
	}
	defer out.Close()
	readR, readW, err := os.Pipe()
	if err != nil {
		c.printf("ERROR: %v", err)
		return ExitStartFail
	}
	defer readR.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		c.printf("ERROR: %v", err)
		return ExitStartFail
	}
	defer devnull.Close()

	c.printf("Starting ambari-agent")
	cmd := exec.Command(c.Exe, append([]string{"run"}, c.DaemonArgs...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.ExtraFiles = []*os.File{readW} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3", outFileEnv+"="+cfg.OutFile())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		readW.Close()
		c.printf("ERROR: ambari-agent start failed: %v", err)
		return ExitStartFail
	}
	readW.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	c.printf("Verifying ambari-agent process status...")
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(readR).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	var ok bool
	select {
	case ok = <-ready:
	case <-time.After(startWait):
		c.printf("ERROR: ambari-agent did not come up within %s; stopping it", startWait)
		cmd.Process.Kill()
	}
	if !ok {
		<-exited
		c.startFailed()
		return ExitStartFail
	}
	c.printWarnings()
	c.printf("Ambari Agent successfully started")
	c.locations()
	return ExitOK
}

func (c *Control) startFailed() {
	tail := lastLines(c.Config.OutFile(), outTailLines)
	if tail == "" {
		c.printf("ERROR: ambari-agent start failed")
	} else {
		c.printf("ERROR: ambari-agent start failed. For more details, see %s:", c.Config.OutFile())
		c.printf("====================")
		fmt.Fprint(c.Out, tail)
		c.printf("====================")
	}
	c.printf("Agent out at: %s", c.Config.OutFile())
	c.printf("Agent log at: %s", c.Config.LogFile())
}

// printWarnings shows the daemon's "WARNING: " lines from its out file, as
// the control script does.
func (c *Control) printWarnings() {
	b, err := os.ReadFile(c.Config.OutFile())
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if _, w, ok := strings.Cut(l, "WARNING: "); ok {
			c.printf("%s", w)
		}
	}
}

func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Stop asks the daemon to stop (SIGTERM), kills it (SIGKILL) if it has not
// exited after stopGrace, and removes the pid file. It never waits on the
// network and always returns within stopGrace+stopKillWait.
func (c *Control) Stop() int {
	pidFile := c.Config.PidFile()
	rec, err := ReadPidRecord(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		c.printf("ambari-agent is not running. No PID found at %s", pidFile)
		return ExitOK
	}
	if err != nil {
		c.printf("ERROR: %v", err)
	} else {
		c.printf("Found ambari-agent PID: %d", rec.Pid)
		if ok, why := rec.Running(); !ok {
			c.printf("ERROR: ambari-agent not running. Stale PID File at: %s (%s); no signal sent", pidFile, why)
		} else {
			c.printf("Stopping ambari-agent")
			if err := stopProcess(rec); err != nil {
				c.printf("ERROR: could not stop ambari-agent (pid %d): %v", rec.Pid, err)
				return ExitFailure
			}
		}
	}
	c.printf("Removing PID file at %s", pidFile)
	removeStalePidFile(pidFile)
	c.printf("ambari-agent successfully stopped")
	return ExitOK
}

// stopProcess stops the agent rec names; it is checked again before the
// SIGKILL, so a pid reused meanwhile is never signalled.
func stopProcess(rec PidRecord) error {
	pid := rec.Pid
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(pid, stopGrace) {
		return nil
	}
	if ok, _ := rec.Running(); !ok {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(pid, stopKillWait) {
		return nil
	}
	return fmt.Errorf("process %d is still alive after SIGKILL", pid)
}

// Reset points the agent at another server: it changes only the hostname=
// line of [server] and empties the keys dir, so the agent requests a fresh
// certificate. It refuses while the agent runs.
func (c *Control) Reset(server string) int {
	cfg := c.Config
	if rec, err := ReadPidRecord(cfg.PidFile()); err == nil && running(rec) {
		c.printf("ambari-agent is running. You must stop it before using reset.")
		return ExitFailure
	}
	c.printf("Resetting ambari-agent")
	old, err := config.SetServerHostname(cfg.File, server)
	if err != nil {
		c.printf("ERROR: %v", err)
		c.printf("ambari-agent could not be reset.")
		return ExitFailure
	}
	if old != server {
		c.printf("Updating server host from %s to %s", old, server)
	}
	if err := emptyDir(cfg.Security.KeysDir); err != nil {
		c.printf("ERROR: %v", err)
		c.printf("ambari-agent could not be reset.")
		return ExitFailure
	}
	c.printf("ambari-agent has been reset successfully. Changed Ambari Server hostname to %s and certificates were cleared.", server)
	return ExitOK
}

func running(rec PidRecord) bool {
	ok, _ := rec.Running()
	return ok
}

// emptyDir removes everything inside dir, keeping dir itself.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
