package orchestrator

import (
	"os/exec"

	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/sirupsen/logrus"
)

// ResidentRunner forks stack scripts from a warm interpreter
// (*pyrunner.Runner). Start fails, without starting anything, whenever the
// script cannot run there; the orchestrator then starts a fresh
// interpreter exactly as without it.
type ResidentRunner interface {
	Start(spec pyrunner.Spec) (*pyrunner.Process, error)
}

// scriptProcess is one running script as the orchestrator needs it: the
// pid for timeouts, cancel and tree kill, and the exit status.
type scriptProcess interface {
	Pid() int
	// Wait blocks until the script ends and returns its exit code, -N for
	// death by signal N.
	Wait() int
}

// freshProcess is a script in an interpreter of its own.
type freshProcess struct{ cmd *exec.Cmd }

func (p freshProcess) Pid() int { return p.cmd.Process.Pid }

func (p freshProcess) Wait() int {
	_ = p.cmd.Wait()
	return exitCode(p.cmd.ProcessState)
}

// residentProcess is a script forked from the resident runner.
type residentProcess struct {
	p   *pyrunner.Process
	log *logrus.Entry
}

func (p residentProcess) Pid() int { return p.p.Pid() }

func (p residentProcess) Wait() int {
	code, err := p.p.Wait()
	if err != nil {
		p.log.WithError(err).WithField("pid", p.p.Pid()).Warn("Script exit status unknown; reporting it as failed")
	}
	return code
}
