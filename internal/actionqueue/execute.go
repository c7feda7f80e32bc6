package actionqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// Texts the agent adds to command output (docs/behaviour.md §5.3).
const (
	retryingSuffix  = "\n\nCommand failed. Retrying command execution ...\n\n"
	completedSuffix = "\n\nCommand completed successfully!\n"
	failedSuffixFmt = "\n\nCommand failed after %d tries\n"
	// noneText replaces an empty stdout or stderr in final reports.
	noneText = "None"
)

// cancelRetryInterval paces the repeated kill of a cancelled command whose
// script the orchestrator has not registered yet.
const cancelRetryInterval = 20 * time.Millisecond

func strconvTask(id int64) string { return strconv.FormatInt(id, 10) }

// execution is one run of a foreground command, from leaving the queue to
// its final report.
type execution struct {
	cmd *command

	mu       sync.Mutex
	canceled bool
	reason   string
	// wake is closed by the first cancel: it ends a retry wait. Python
	// shares one event between all commands, so any cancel shortens every
	// retry wait; only the target's wait ends here.
	wake chan struct{}
	// inAttempt is set while the orchestrator runs an attempt.
	inAttempt bool
}

func newExecution(c *command) *execution {
	return &execution{cmd: c, wake: make(chan struct{})}
}

// cancel marks the execution cancelled, ends its retry wait and kills its
// script. The orchestrator knows the task only once its Run has begun; a
// cancel landing in the instant before that is repeated until the
// orchestrator takes it or the attempt is over, so it is never lost.
func (e *execution) cancel(r Runner, reason string) {
	e.mu.Lock()
	if !e.canceled {
		e.canceled, e.reason = true, reason
		close(e.wake)
	}
	inAttempt := e.inAttempt
	e.mu.Unlock()
	if r.Cancel(e.cmd.taskKey, reason) || !inAttempt {
		return
	}
	go func() {
		t := time.NewTicker(cancelRetryInterval)
		defer t.Stop()
		for range t.C {
			e.mu.Lock()
			still := e.inAttempt
			e.mu.Unlock()
			if !still || r.Cancel(e.cmd.taskKey, reason) {
				return
			}
		}
	}()
}

// beginAttempt marks an attempt as started unless the command was
// cancelled.
func (e *execution) beginAttempt() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.canceled {
		return false
	}
	e.inAttempt = true
	return true
}

func (e *execution) endAttempt() {
	e.mu.Lock()
	e.inAttempt = false
	e.mu.Unlock()
}

func (e *execution) cancelState() (bool, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.canceled, e.reason
}

// retryParams are the retry settings of a command (docs/behaviour.md §5.3 step 4).
type retryParams struct {
	maxDuration int64 // seconds
	retryable   bool
}

func (q *Queue) retryParamsOf(c *command) retryParams {
	var p retryParams
	if hasCommandParam(c.raw, "max_duration_for_retries") {
		p.maxDuration, _ = pyvalue.Integral(commandParams(c.raw)["max_duration_for_retries"])
		// Python's int() would raise and the command would never report;
		// an unreadable budget means one attempt.
	}
	p.retryable = c.typ != protocol.AutoExecutionCommand && commandParam(c.raw, "command_retry_enabled") == "true"
	return p
}

func commandParams(raw map[string]any) map[string]any {
	p, _ := raw["commandParams"].(map[string]any)
	return p
}

// execute is execute_command (docs/behaviour.md §5.3) for a foreground command.
func (q *Queue) execute(ctx context.Context, e *execution) {
	c := e.cmd
	log := q.log.WithFields(logrus.Fields{"taskId": c.taskID, "role": c.role, "clusterId": c.clusterID})
	log.Infof("Executing command %v", c.actionID)
	files := q.runner.TaskFiles(c.typ, c.taskKey)
	q.store.put(c, files, formA(c, files))

	rp := q.retryParamsOf(c)
	log.Infof("Command execution metadata: retry enabled = %t, max retry duration (sec) = %d", rp.retryable, rp.maxDuration)

	var (
		res      orchestrator.Result
		status   = protocol.StatusFailed
		attempts int
		canceled bool
		delay    int64 = 1
	)
	for remaining := rp.maxDuration; remaining >= 0; {
		if !e.beginAttempt() {
			log.Info("Command canceled")
			canceled = true
			break
		}
		attempts++
		start := q.cfg.clock.Now().Unix()
		res = q.runner.Run(ctx, orchestrator.Request{
			Command:          c.raw,
			OutFile:          files.Out,
			ErrFile:          files.Err,
			Overwrite:        attempts == 1,
			OnProcessStarted: func(pid int) { q.store.processStarted(c, pid) },
		})
		e.endAttempt()
		if errors.Is(res.Err, orchestrator.ErrStopped) {
			// The agent is stopping; the journal keeps the IN_PROGRESS
			// entry and the next start reports the command.
			log.Info("Agent stopping, command left running")
			return
		}
		// Only the wall time of retryable attempts counts (whole epoch
		// seconds, possibly 0); anything else spends the budget at once.
		elapsed := int64(1)
		if rp.retryable {
			elapsed = q.cfg.clock.Now().Unix() - start
		}
		remaining -= elapsed

		if res.ExitCode == 0 {
			status = protocol.StatusCompleted
		} else {
			status = protocol.StatusFailed
			if res.Canceled || res.ExitCode == -int(syscall.SIGTERM) || res.ExitCode == -int(syscall.SIGKILL) {
				log.Info("Command was canceled")
				canceled = true
				break
			}
		}
		if status == protocol.StatusCompleted || !rp.retryable || remaining <= 0 {
			log.Infof("Quit retrying: status %s, remaining retry duration %d s, last delay %d s", status, remaining, delay)
			break
		}
		delay *= 2
		if delay > remaining {
			delay = remaining
		}
		remaining -= delay
		res.Stderr += retryingSuffix
		markRetried(c.raw)
		log.Infof("Retrying command after a wait of %d s", delay)
		q.cfg.clock.Sleep(ctx, time.Duration(delay)*time.Second, e.wake)
		if ctx.Err() != nil {
			return
		}
	}

	if canceled && q.rescheduled(e) {
		log.Info("Command was rescheduled by the server; no report for the canceled run")
		return
	}

	if isCanceled, reason := e.cancelState(); isCanceled && canceled && !res.Canceled {
		// Cancelled while no script ran (during a retry wait): the
		// orchestrator added no abort text. Python reports no reason
		// then; the reason is worth showing.
		suffix := abortSuffix(reason)
		res.Stdout += suffix
		res.Stderr += suffix
	}
	if status == protocol.StatusCompleted {
		res.Stdout += completedSuffix
		log.Info("Command completed successfully")
	} else {
		res.Stdout += fmt.Sprintf(failedSuffixFmt, attempts)
		log.Infof("Command failed after %d tries", attempts)
	}
	q.safely("command output log", func() { q.runner.LogCommandOutput(c.raw, res.Stdout, res.Stderr) })

	report := formC(c, res, status)
	if q.cfg.Recovery != nil {
		q.safely("recovery observer", func() { q.cfg.Recovery.ObserveCommandResult(c.raw, status) })
	}
	q.store.put(c, files, report)

	if q.cfg.StatusCheck != nil && c.clusterID != "-1" && c.clusterID != nullValue && c.serviceName != nullValue {
		q.safely("status check", func() { q.cfg.StatusCheck(c.clusterID, c.serviceName, c.role) })
	}
}

// rescheduled applies the rescheduled-cancel rule (docs/behaviour.md §5.3 step 6):
// a cancelled command whose task waits in the queue again, or already runs
// again, sends no final report. Its stored status goes unless the new run
// has replaced it.
func (q *Queue) rescheduled(e *execution) bool {
	q.mu.Lock()
	queued := q.queuedLocked(e.cmd.taskID)
	replaced := q.running[e.cmd.taskID] != e
	q.mu.Unlock()
	if replaced {
		return true
	}
	if queued {
		q.store.drop(e.cmd.taskID)
		return true
	}
	return false
}

// markRetried sets agentLevelParams.commandBeingRetried, which the
// orchestrator reads (it skips regenerating credential stores).
func markRetried(raw map[string]any) {
	alp, ok := raw["agentLevelParams"].(map[string]any)
	if !ok {
		alp = map[string]any{}
		raw["agentLevelParams"] = alp
	}
	alp["commandBeingRetried"] = "true"
}

// abortSuffix is the text the orchestrator appends to a cancelled
// command's output.
func abortSuffix(reason string) string {
	if reason == "" {
		return "\nCommand aborted."
	}
	return fmt.Sprintf("\nCommand aborted. Reason: '%s'", reason)
}

// runBackground starts BACKGROUND_EXECUTION_COMMANDs (docs/behaviour.md §5.7).
// Python starts them between two foreground commands from the ActionQueue
// thread, so a long foreground command delays them; here they start at
// once.
func (q *Queue) runBackground(ctx context.Context) {
	for {
		q.mu.Lock()
		var c *command
		if len(q.background) > 0 {
			c = q.background[0]
			copy(q.background, q.background[1:])
			q.background[len(q.background)-1] = nil
			q.background = q.background[:len(q.background)-1]
		}
		q.mu.Unlock()
		if c != nil {
			q.safely("background command "+c.taskKey, func() { q.startBackground(ctx, c) })
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wakeBackground:
		}
	}
}

// startBackground reports IN_PROGRESS and launches the script; the final
// report comes from the orchestrator's callback when the script ends.
func (q *Queue) startBackground(ctx context.Context, c *command) {
	if ctx.Err() != nil {
		return
	}
	log := q.log.WithFields(logrus.Fields{"taskId": c.taskID, "role": c.role})
	if q.cfg.Recovery != nil {
		q.safely("recovery observer", func() { q.cfg.Recovery.ObserveExecutionCommand(c.raw) })
	}
	files := q.runner.TaskFiles(c.typ, c.taskKey)
	q.store.put(c, files, formA(c, files))
	var once sync.Once
	finish := func(res orchestrator.Result) {
		once.Do(func() {
			q.safely("background result", func() { q.backgroundDone(c, files, res) })
		})
	}
	res := q.runner.Run(ctx, orchestrator.Request{
		Command:          c.raw,
		OutFile:          files.Out,
		ErrFile:          files.Err,
		Overwrite:        true,
		OnBackgroundDone: finish,
		OnProcessStarted: func(pid int) { q.store.processStarted(c, pid) },
	})
	if errors.Is(res.Err, orchestrator.ErrStopped) {
		return
	}
	if res.ExitCode != orchestrator.ExitInProgress || res.Err != nil {
		// The script never started. Python returns here without a final
		// report and keeps reporting the task IN_PROGRESS forever.
		log.WithError(res.Err).Error("Background command failed to start")
		finish(res)
		return
	}
	log.Info("Background command started")
}

// backgroundDone stores the final report of a background command. Unlike
// foreground commands there is no "completed" suffix, no recovery update
// and no status check.
func (q *Queue) backgroundDone(c *command, files orchestrator.TaskFiles, res orchestrator.Result) {
	status := protocol.StatusCompleted
	if res.ExitCode != 0 || res.Canceled {
		status = protocol.StatusFailed
	}
	q.log.WithFields(logrus.Fields{"taskId": c.taskID, "exitCode": res.ExitCode}).Infof("Background command ended: %s", status)
	q.store.put(c, files, formC(c, res, status))
}
