package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// maxTimeout keeps absurd command_timeout values from overflowing.
const maxTimeout = 100 * 365 * 24 * time.Hour

// Run runs one execution command: builds its JSON, runs pre hooks, the
// script and post hooks, each with the full command_timeout, and returns
// the result. A BACKGROUND_EXECUTION_COMMAND returns protocol.ExitCodeInProgress as soon
// as its script started; its final result goes to req.OnBackgroundDone.
//
// ctx is the agent's lifetime, not the command's: when it ends, Run stops
// waiting and returns a result with Err == ErrStopped, leaving the script
// (and whatever it started) running. Use Cancel to kill a command.
func (o *Orchestrator) Run(ctx context.Context, req Request) Result {
	taskID := pyvalue.Str(req.Command["taskId"])
	t := o.register(taskID)
	t.onStarted = req.OnProcessStarted
	log := o.log.WithField("taskId", taskID)
	s := &runSpec{
		header: req.Command, out: req.OutFile, err: req.ErrFile, structured: req.StructuredOutFile,
		forced: req.CommandName, overwrite: req.Overwrite, prepared: req.OnPrepared,
	}
	res, background := o.execute(ctx, log, t, s, req.OnBackgroundDone)
	o.noteWriteError(res.Err)
	if !background {
		o.unregister(t)
	}
	return res
}

// StatusRequest is one status check (STATUS) or version query
// (GET_VERSION) of a component on this host.
type StatusRequest struct {
	ClusterID     string
	ServiceName   string
	ComponentName string
	// CommandName is CommandStatus (the default) or CommandGetVersion.
	CommandName string
}

// Status runs a component's status or version script (docs/behaviour.md §7.2) with
// the timeout of the component's commandParams.command_timeout, no hooks
// for STATUS, and files of its own that are deleted afterwards. Exit code 0
// means running. When ctx ends first, the check is killed (with its
// process tree) and ErrStopped returned: unlike a command, nothing it does
// is worth finishing once nobody waits for the answer.
func (o *Orchestrator) Status(ctx context.Context, r StatusRequest) Result {
	name := r.CommandName
	if name == "" {
		name = CommandStatus
	}
	commandType := protocol.StatusCommand
	if name != CommandStatus {
		commandType = name
	}
	s := &runSpec{
		header: map[string]any{
			"serviceName": r.ServiceName, "role": r.ComponentName,
			"clusterId": r.ClusterID, "commandType": commandType,
		},
		out:        filepath.Join(o.cfg.Prefix, "status_command_stdout_"+newUUID()+".txt"),
		err:        filepath.Join(o.cfg.Prefix, "status_command_stderr_"+newUUID()+".txt"),
		structured: filepath.Join(o.cfg.Prefix, "status_structured-out-"+newUUID()+".json"),
		forced:     name,
		overwrite:  true,
		status:     true,
	}
	log := o.log.WithFields(logrus.Fields{"componentName": r.ComponentName, "command": name})
	res, _ := o.execute(ctx, log, nil, s, nil)
	// A stopped check has been killed (runScript), so its files go too.
	for _, f := range []string{s.out, s.err, s.structured} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.WithError(err).Warn("Failed to remove status command file")
		}
	}
	return res
}

// RunStatus is Status in the shape the status loop asks for: err is set
// only when there is no verdict, because the agent is stopping or could
// not write its files (ErrAgentWrite); any other script that could not be
// run is a non-zero exit code with the reason in stderr.
func (o *Orchestrator) RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (exitCode int, stderr string, structuredOut map[string]any, err error) {
	res := o.Status(ctx, StatusRequest{ClusterID: clusterID, ServiceName: serviceName, ComponentName: component, CommandName: commandName})
	if errors.Is(res.Err, ErrStopped) {
		return 0, "", nil, res.Err
	}
	if err := o.statusNoVerdict(res); err != nil {
		return 0, "", nil, err
	}
	return res.ExitCode, res.Stderr, res.StructuredOut, nil
}

// execute prepares and runs a command or status check. background reports
// that a background script was started and still owns the task.
func (o *Orchestrator) execute(ctx context.Context, log *logrus.Entry, t *task, s *runSpec, onDone func(Result)) (res Result, background bool) {
	if ctx.Err() != nil {
		return stopped(), false
	}
	p, err := o.prepare(ctx, s)
	if err != nil && ctx.Err() != nil {
		// Not a verdict on the command: the agent is stopping (a download
		// was cut short, say).
		o.dropCommandFile(p.jsonPath, s.status, 1)
		return stopped(), false
	}
	if err != nil {
		log.WithError(err).Error("Caught an exception while executing custom service command")
		res = failure(err)
		if p.background && onDone != nil {
			// The background contract: the final result always arrives
			// through the callback.
			go onDone(res)
		}
		o.dropCommandFile(p.jsonPath, s.status, res.ExitCode)
		return res, false
	}
	if s.prepared != nil {
		s.prepared()
	}
	if p.background {
		return o.startBackground(log, t, s, p, onDone)
	}
	res = o.runChain(ctx, log, t, s, p)
	if !errors.Is(res.Err, ErrStopped) || s.status {
		o.dropCommandFile(p.jsonPath, s.status, res.ExitCode)
	}
	return res, false
}

func stopped() Result {
	return Result{ExitCode: protocol.ExitCodeInProgress, StructuredOut: map[string]any{}, Err: ErrStopped}
}

// runChain runs the scripts in order and stops at the first non-zero exit
// or at a cancel.
func (o *Orchestrator) runChain(ctx context.Context, log *logrus.Entry, t *task, s *runSpec, p *plan) Result {
	overwrite := s.overwrite
	var res Result
	ran := false
	cut := false
	for _, item := range p.chain {
		if t != nil {
			if canceled, _ := t.cancelState(); canceled {
				// Cancelled between scripts: nothing more starts, and the
				// command must not look completed.
				cut = true
				break
			}
		}
		r, err := o.runScript(ctx, log, t, s, p, item, overwrite)
		if err != nil {
			if errors.Is(err, ErrStopped) {
				return stopped()
			}
			log.WithError(err).Error("Caught an exception while executing custom service command")
			return failure(err)
		}
		res, ran = r, true
		overwrite = false
		if r.ExitCode != 0 {
			break
		}
	}
	if t == nil {
		return res
	}
	canceled, reason := t.cancelState()
	if !canceled {
		return res
	}
	if !ran {
		res = Result{StructuredOut: map[string]any{}}
	}
	if cut || !ran {
		res.ExitCode = -int(syscall.SIGTERM)
	}
	suffix := abortSuffix(reason)
	res.Canceled, res.CancelReason = true, reason
	res.Stdout += suffix
	res.Stderr += suffix
	for _, f := range []string{s.out, s.err} {
		if err := appendText(f, suffix); err != nil {
			log.WithError(err).Warn("Failed to append the abort reason to an output file")
		}
	}
	return res
}

func appendText(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, dataFileMode)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// argv is the exact command line of one script (docs/behaviour.md §5.4.6).
func (o *Orchestrator) argv(p *plan, item chainItem) []string {
	level := "INFO"
	if o.cfg.LogLevel != nil {
		if l := o.cfg.LogLevel(); l != "" {
			level = l
		}
	}
	args := make([]string, 0, 11)
	args = append(args, o.cfg.Python, item.script, p.commandName, p.jsonPath, item.baseDir, p.structured,
		level, o.cfg.TmpDir, o.cfg.ForceHTTPSProtocol, o.cfg.CACertPath)
	if o.cfg.LogOutFiles {
		args = append(args, "-o")
	}
	return args
}

// start launches one script with its output going straight to the files:
// forked from the resident runner when there is one that can take it, else
// in a fresh interpreter.
func (o *Orchestrator) start(p *plan, item chainItem, out, errPath string, overwrite, backup bool) (scriptProcess, error) {
	stdout, stderr, err := openOutputs(out, errPath, overwrite, backup)
	if err != nil {
		return nil, err
	}
	// The child has its own copies once started.
	defer stdout.Close()
	defer stderr.Close()
	key := ""
	if o.cfg.EncryptionKey != nil {
		key = o.cfg.EncryptionKey()
	}
	args := o.argv(p, item)
	env := o.env.get(key)
	if o.cfg.Resident != nil {
		proc, err := o.cfg.Resident.Start(pyrunner.Spec{Args: args, Env: env, Dir: o.cfg.WorkDir, Stdout: stdout, Stderr: stderr})
		if err == nil {
			return residentProcess{p: proc, log: o.log}, nil
		}
		// The runner says why once; a fresh interpreter runs this one.
	}
	cmd := &exec.Cmd{
		Path:   o.cfg.Python,
		Args:   args,
		Env:    env,
		Dir:    o.cfg.WorkDir,
		Stdout: stdout,
		Stderr: stderr,
		// A process group of its own, so that signals aimed at the agent's
		// group (a terminal's Ctrl-C, the init system) do not reach it.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", item.script, err)
	}
	return freshProcess{cmd}, nil
}

// runScript runs one element of the chain under the timeout watchdog.
func (o *Orchestrator) runScript(ctx context.Context, log *logrus.Entry, t *task, s *runSpec, p *plan, item chainItem, overwrite bool) (Result, error) {
	backup := p.commandName != CommandStatus
	proc, err := o.start(p, item, s.out, s.err, overwrite, backup)
	if err != nil {
		return Result{}, err
	}
	pid := proc.Pid()
	log.WithFields(logrus.Fields{"pid": pid, "script": item.script}).Debug("Script started")
	var kill <-chan struct{}
	if t != nil {
		t.setPID(pid)
		kill = t.kill
	}
	done := make(chan struct{})
	code := 0
	go func() {
		code = proc.Wait()
		close(done)
	}()
	timeout := time.Duration(p.timeoutSecs) * time.Second
	if p.timeoutSecs > int64(maxTimeout/time.Second) {
		timeout = maxTimeout
	}
	// Like the Python agent, a timeout of 0 or less expires at once.
	watchdog := time.NewTimer(timeout)
	defer watchdog.Stop()
	timedOut := false
wait:
	for {
		select {
		case <-done:
			break wait
		case <-watchdog.C:
			select {
			case <-done:
				break wait
			default:
			}
			log.Errorf("Executed command with pid %d timed out and will be killed", pid)
			o.killer.kill(pid)
			timedOut = true
		case <-kill:
			kill = nil
			logProcessInformation(log)
			o.killer.kill(pid)
		case <-ctx.Done():
			if s.status {
				// A status or version check is the agent's own read-only
				// probe, worthless once nobody waits for it; the Python
				// agent runs these inside its own process, so they end
				// with it. Killed rather than left to write into the
				// agent's directories after it has gone.
				o.killer.kill(pid)
				<-done
			}
			return Result{}, ErrStopped
		}
	}
	stderrSuffix := ""
	if timedOut {
		stderrSuffix = fmt.Sprintf("\nPython script has been killed due to timeout after waiting %d secs", p.timeoutSecs)
		code = protocol.ExitCodeTimedOut
	}
	res := o.collect(s, p, code, stderrSuffix)
	res.TimedOut = timedOut
	// The process list explains failed work. Python also dumps it for a
	// failed GET_VERSION, which every component without a version script
	// does after every registration; that is noise, not diagnostics.
	if code != 0 && p.commandName != CommandStatus && p.commandName != CommandGetVersion {
		log.Infof("Command %q failed with exitcode=%d", o.argv(p, item), code)
		logProcessInformation(log)
	}
	return res, nil
}

// collect reads a finished script's outputs into a result.
func (o *Orchestrator) collect(s *runSpec, p *plan, code int, stderrSuffix string) Result {
	res := Result{
		ExitCode:      code,
		Stdout:        readOutput(s.out, o.cfg.LogMaxSymbols, ""),
		Stderr:        readOutput(s.err, o.cfg.LogMaxSymbols, stderrSuffix),
		StructuredOut: readStructuredOut(p.structured),
	}
	o.checkOutputWritten(s, &res)
	return res
}

// exitCode is the process's exit status, or -N when signal N killed it
// (the Python convention the action queue relies on to spot cancels).
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return -int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return ps.ExitCode()
}

// startBackground launches a background command's only script and returns
// at once. A goroutine waits for it without a timeout, then hands the final
// result to onDone.
func (o *Orchestrator) startBackground(log *logrus.Entry, t *task, s *runSpec, p *plan, onDone func(Result)) (Result, bool) {
	if canceled, reason := t.cancelState(); canceled {
		// Cancelled while being prepared: the script never starts.
		suffix := abortSuffix(reason)
		res := Result{ExitCode: -int(syscall.SIGTERM), Stdout: suffix, Stderr: suffix,
			StructuredOut: map[string]any{}, Canceled: true, CancelReason: reason}
		o.dropCommandFile(p.jsonPath, false, res.ExitCode)
		if onDone != nil {
			go onDone(res)
		}
		return res, false
	}
	proc, err := o.start(p, p.chain[0], s.out, s.err, true, true)
	if err != nil {
		log.WithError(err).Error("Caught an exception while executing custom service command")
		res := failure(err)
		o.dropCommandFile(p.jsonPath, false, res.ExitCode)
		if onDone != nil {
			go onDone(res)
		}
		return res, false
	}
	pid := proc.Pid()
	t.setPID(pid)
	log.WithField("pid", pid).Info("Background command started")
	done := make(chan struct{})
	code := 0
	go func() {
		code = proc.Wait()
		close(done)
	}()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Errorf("Background command callback panicked: %v", r)
			}
		}()
		select {
		case <-done:
		case <-t.kill:
			logProcessInformation(log)
			o.killer.kill(pid)
			<-done
		}
		res := o.collect(s, p, code, "")
		if canceled, reason := t.cancelState(); canceled {
			suffix := abortSuffix(reason)
			res.Canceled, res.CancelReason = true, reason
			res.Stdout += suffix
			res.Stderr += suffix
		}
		// Deliberate difference: the retention policy is applied when the
		// script ends, not when it starts, so "remove" cannot pull the
		// command file from under a running script.
		o.dropCommandFile(p.jsonPath, false, res.ExitCode)
		o.unregister(t)
		if onDone != nil {
			onDone(res)
		}
	}()
	return Result{ExitCode: protocol.ExitCodeInProgress, StructuredOut: map[string]any{}}, true
}

// openOutputs opens the stdout and stderr files: truncated for a first run
// (after renaming an existing file to <file>.<n> when backup is on),
// appended to otherwise.
func openOutputs(out, errPath string, overwrite, backup bool) (*os.File, *os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if backup {
			for _, f := range []string{out, errPath} {
				if err := backupFile(f); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	stdout, err := os.OpenFile(out, flags, dataFileMode)
	if err != nil {
		return nil, nil, fmt.Errorf("open output file: %w", err)
	}
	stderr, err := os.OpenFile(errPath, flags, dataFileMode)
	if err != nil {
		stdout.Close()
		return nil, nil, fmt.Errorf("open errors file: %w", err)
	}
	return stdout, stderr, nil
}

// backupFile renames an existing regular file to the first free
// <path>.<n>, n = 0, 1, ...
func backupFile(path string) error {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	for n := 0; ; n++ {
		name := path + "." + strconv.Itoa(n)
		if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
			continue
		}
		if err := os.Rename(path, name); err != nil {
			return fmt.Errorf("back up %s: %w", path, err)
		}
		return nil
	}
}
