package actionqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// ErrQueueFull is returned by Intake when the message's commands would
// exceed Config.MaxQueued. Nothing of the message was applied; the server
// sends it again.
var ErrQueueFull = errors.New("command queue is full")

// Queue is the agent's action queue: it takes commands, runs them through
// the Runner and reports on them.
type Queue struct {
	cfg    Config
	log    *logrus.Entry
	runner Runner
	store  *statusStore

	mu sync.Mutex
	// main is the FIFO of commands waiting to run.
	main []*command
	// background holds BACKGROUND_EXECUTION_COMMANDs waiting to start.
	background []*command
	// running holds the foreground commands from the moment they leave the
	// queue until their report is stored, by task id: cancel looks here.
	running map[int64]*execution
	// active counts running foreground commands (recovery waits for 0).
	active int
	// parallelActive counts the commands running on their own goroutine in
	// parallel mode.
	parallelActive int

	// wake nudges the dispatcher (new command, a parallel slot freed);
	// wakeBackground the background starter. Both hold at most one token,
	// so sends never block.
	wake           chan struct{}
	wakeBackground chan struct{}
}

// New builds a queue and loads the report journal from <Prefix>/reports:
// reports not yet acknowledged are sent again after registration, and a
// command that was running when the agent stopped gets a FAILED report.
func New(cfg Config) (*Queue, error) {
	if cfg.Runner == nil {
		return nil, errors.New("actionqueue: Runner is required")
	}
	cfg.setDefaults()
	q := &Queue{
		cfg:            cfg,
		log:            cfg.Log,
		runner:         cfg.Runner,
		running:        make(map[int64]*execution),
		wake:           make(chan struct{}, 1),
		wakeBackground: make(chan struct{}, 1),
	}
	sc := storeConfig{
		prefix:        cfg.Prefix,
		maxEntries:    cfg.MaxStoredReports,
		logMaxSymbols: cfg.LogMaxSymbols,
		interval:      cfg.ReportInterval,
		sender:        cfg.Sender,
		log:           cfg.Log,
		onWriteError:  cfg.OnWriteError,
		liveness:      cfg.JournalLiveness,
		journalRetry:  cfg.journalRetry,
		journalGiveUp: cfg.journalGiveUp,
	}
	if r, ok := cfg.Runner.(OrphanReaper); ok {
		sc.reap = r.ReapOrphan
	}
	st, err := newStatusStore(sc)
	if err != nil {
		return nil, err
	}
	q.store = st
	return q, nil
}

// Run executes commands and sends reports until ctx ends. Scripts still
// running then are left running (their reports stay journaled as
// IN_PROGRESS); Run returns once its goroutines are done.
func (q *Queue) Run(ctx context.Context) error {
	if q.cfg.ParallelExecution {
		q.log.Infof("Parallel execution is enabled, will execute agent commands in parallel (at most %d at once)", q.cfg.ParallelLimit)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); q.store.run(ctx) }()
	go func() { defer wg.Done(); q.runBackground(ctx) }()
	go func() { defer wg.Done(); q.dispatch(ctx) }()
	wg.Wait()
	return nil
}

// Intake takes the body of a /user/commands push (docs/protocol.md §5.1); see
// IntakeMessage.
func (q *Queue) Intake(body []byte) error { return q.IntakeMessage("", body) }

// IntakeMessage takes the body of the /user/commands push messageID. It
// applies all cancels of the message, then queues all its valid commands,
// under one lock, and returns; nothing runs on the caller's goroutine. An
// entry that cannot run gets a FAILED report when it names its task, and a
// log line with the message id otherwise; the message is still accepted,
// so that the server does not send again a message whose valid part
// already runs. An error (a body that is not a commands message, a full
// queue) leaves the queue untouched and is acknowledged as ERROR so that
// the server sends the message again.
func (q *Queue) IntakeMessage(messageID string, body []byte) error {
	if q.cfg.IntakeLiveness != nil {
		defer q.cfg.IntakeLiveness.Begin()()
	}
	ev, err := decodeCommandsEvent(body)
	if err != nil {
		return err
	}
	cmds := make([]*command, 0, len(ev.commands))
	for _, raw := range ev.commands {
		c, err := newCommand(raw)
		if err != nil {
			// checkEntry let it through, so this cannot happen; the
			// entry is still not lost silently.
			ev.rejected = append(ev.rejected, rejectedEntry{err: err})
			continue
		}
		cmds = append(cmds, c)
	}

	q.mu.Lock()
	if len(q.main)+len(q.background)+len(cmds) > q.cfg.MaxQueued {
		n := len(q.main) + len(q.background)
		q.mu.Unlock()
		return fmt.Errorf("%w: %d waiting, %d more refused", ErrQueueFull, n, len(cmds))
	}
	for _, cc := range ev.cancels {
		q.cancelLocked(cc.TargetTaskID, cc.Reason)
	}
	// On disk before the dispatcher can see them and before the server
	// gets the acknowledgement.
	q.store.queued(cmds)
	q.putLocked(cmds)
	q.mu.Unlock()
	q.nudge()
	for _, r := range ev.rejected {
		q.reject(messageID, r)
	}
	return nil
}

// PendingReports counts the reports the server has not acknowledged yet
// (journaled when the journal is on).
func (q *Queue) PendingReports() int {
	q.store.mu.Lock()
	defer q.store.mu.Unlock()
	return q.store.dirty
}

// rejectedExitCode is the exit code of the FAILED report of a command the
// agent refused to run.
const rejectedExitCode = 1

// reject reports an entry of a commands message that cannot run: FAILED
// with the reason when it has a task id, so the server's task does not
// wait for its timeout; a log line with the message id otherwise.
func (q *Queue) reject(messageID string, r rejectedEntry) {
	log := q.log.WithFields(logrus.Fields{"messageId": messageID, "clusterId": r.clusterID})
	var c *command
	if r.raw != nil {
		c, _ = newCommand(r.raw)
	}
	if c == nil {
		if t, ok := r.raw["commandType"].(string); ok {
			log = log.WithField("commandType", t)
		}
		log.WithError(r.err).Errorf("Dropping an entry of commands message %q that has no task id to report on", messageID)
		return
	}
	if c.ClusterID == nullValue && r.clusterID != "" {
		c.ClusterID = r.clusterID
	}
	log = log.WithField("taskId", c.TaskID).WithError(r.err)
	q.mu.Lock()
	busy := q.running[c.TaskID] != nil || q.queuedLocked(c.TaskID)
	q.mu.Unlock()
	if busy {
		// A FAILED report would stand for the valid command of the task.
		log.Error("Dropping an entry that cannot be run and names a task that is queued or running")
		return
	}
	log.Error("Refusing a command that cannot be run; reporting it FAILED")
	report := template(c)
	report.Status = protocol.StatusFailed
	report.ExitCode = ptr(rejectedExitCode)
	// Both texts carry the reason, as for the orchestrator's own refusals.
	msg := "The agent refused the command: " + r.err.Error()
	report.Stdout, report.Stderr = ptr(msg), ptr(msg)
	report.StructuredOut = ptr("{}")
	report.CustomCommand = c.CustomCommand
	q.store.put(c, orchestrator.TaskFiles{}, report)
}

// Registered is called after every registration: the reports waiting for
// the link go out at once, in the order they were produced.
func (q *Queue) Registered() { q.store.registered() }

// idle reports whether no foreground command waits in the queue or runs;
// only then may the recovery manager add its commands.
func (q *Queue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.main) == 0 && q.active == 0
}

// putLocked queues commands by type; others are dropped (docs/behaviour.md §5.1).
func (q *Queue) putLocked(cmds []*command) {
	for _, c := range cmds {
		log := q.log.WithFields(logrus.Fields{"taskId": c.TaskID, "role": c.Role, "serviceName": c.ServiceName, "clusterId": c.ClusterID})
		switch c.CommandType {
		case protocol.BackgroundExecutionCommand:
			log.Infof("Adding %s to the background queue", c.CommandType)
			q.background = append(q.background, c)
		case protocol.ExecutionCommand, protocol.AutoExecutionCommand:
			log.Infof("Adding %s to the queue", c.CommandType)
			q.main = append(q.main, c)
		default:
			// checkEntry refused the type already.
			log.Errorf("Unrecognized command type %q, dropped", c.CommandType)
		}
	}
}

func (q *Queue) nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case q.wakeBackground <- struct{}{}:
	default:
	}
}

// cancelLocked applies one cancel (docs/behaviour.md §5.8): queued copies of the
// task are dropped without a report, a running one is killed. A cancel for
// a task that is neither queued nor running is forgotten: the server sends
// a rescheduled command again.
func (q *Queue) cancelLocked(taskID int64, reason string) {
	log := q.log.WithFields(logrus.Fields{"taskId": taskID, "reason": reason})
	log.Info("Canceling command")
	removed := 0
	q.main, removed = removeTask(q.main, taskID, removed)
	// Python leaves queued background commands in place; they are dropped
	// like foreground ones here.
	q.background, removed = removeTask(q.background, taskID, removed)
	if removed > 0 {
		log.Infof("Removed %d queued command(s) of the task", removed)
		q.store.unqueued(taskID)
	}
	if e := q.running[taskID]; e != nil {
		e.cancel(q.runner, reason)
		return
	}
	// A started background command is the orchestrator's alone.
	if !q.runner.Cancel(strconvTask(taskID), reason) && removed == 0 {
		log.Warn("Cancel for a task that is neither queued nor running")
	}
}

func removeTask(list []*command, taskID int64, removed int) ([]*command, int) {
	out := list[:0]
	for _, c := range list {
		if c.TaskID == taskID {
			removed++
			continue
		}
		out = append(out, c)
	}
	for i := len(out); i < len(list); i++ {
		list[i] = nil
	}
	return out, removed
}

// queuedLocked reports whether a command of the task waits in the main
// queue.
func (q *Queue) queuedLocked(taskID int64) bool {
	for _, c := range q.main {
		if c.TaskID == taskID {
			return true
		}
	}
	return false
}

// dispatch is the ActionQueue thread (docs/behaviour.md §5.2): it takes commands
// off the main queue and runs them, and asks the recovery manager for work
// while idle.
func (q *Queue) dispatch(ctx context.Context) {
	var parallel sync.WaitGroup
	defer parallel.Wait()
	var tick <-chan time.Time
	if q.cfg.Recovery != nil {
		t := time.NewTicker(q.cfg.RecoveryInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		if ctx.Err() != nil {
			return
		}
		q.injectRecovery()
		for ctx.Err() == nil && q.startNext(ctx, &parallel) {
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-tick:
		}
	}
}

// injectRecovery queues the recovery manager's commands when the queue is
// idle (docs/behaviour.md §5.2).
func (q *Queue) injectRecovery() {
	if q.cfg.Recovery == nil {
		return
	}
	if !q.idle() {
		return
	}
	var raws []map[string]any
	q.safely("recovery commands", func() { raws = q.cfg.Recovery.Commands() })
	if len(raws) == 0 {
		return
	}
	cmds := make([]*command, 0, len(raws))
	for _, raw := range raws {
		c, err := newCommand(raw)
		if err != nil {
			q.log.WithError(err).Error("Dropping a recovery command")
			continue
		}
		cmds = append(cmds, c)
	}
	q.mu.Lock()
	if len(q.main)+len(q.background)+len(cmds) > q.cfg.MaxQueued {
		q.mu.Unlock()
		q.log.Warn("Command queue is full, recovery commands dropped")
		return
	}
	q.putLocked(cmds)
	q.mu.Unlock()
}

// startNext starts the command at the head of the main queue and reports
// whether it did. In parallel mode a retry-enabled command gets its own
// goroutine (when a slot is free; otherwise it waits at the head, where a
// cancel still finds it); every other command runs on the caller's
// goroutine, as in the Python agent.
func (q *Queue) startNext(ctx context.Context, parallel *sync.WaitGroup) bool {
	q.mu.Lock()
	if len(q.main) == 0 {
		q.mu.Unlock()
		return false
	}
	c := q.main[0]
	own := q.cfg.ParallelExecution && c.RetryEnabled
	if own && q.parallelActive >= q.cfg.ParallelLimit {
		q.mu.Unlock()
		return false
	}
	copy(q.main, q.main[1:])
	q.main[len(q.main)-1] = nil
	q.main = q.main[:len(q.main)-1]
	e := newExecution(c)
	// Registered under the same lock that took it off the queue, so a
	// cancel always finds the command in one place or the other.
	q.running[c.TaskID] = e
	q.active++
	if own {
		q.parallelActive++
	}
	q.mu.Unlock()

	if !own {
		q.process(ctx, e)
		return true
	}
	q.log.WithField("taskId", c.TaskID).Info("Kicking off a goroutine for the retry-enabled command")
	parallel.Add(1)
	go func() {
		defer parallel.Done()
		defer func() {
			q.mu.Lock()
			q.parallelActive--
			q.mu.Unlock()
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}()
		q.process(ctx, e)
	}()
	return true
}

// process runs one foreground command with the bookkeeping around it.
func (q *Queue) process(ctx context.Context, e *execution) {
	defer func() {
		q.mu.Lock()
		if q.running[e.cmd.TaskID] == e {
			delete(q.running, e.cmd.TaskID)
		}
		q.active--
		q.mu.Unlock()
	}()
	q.announce(func(o Observer) { o.CommandStarted(e.cmd.CommandHeader) })
	q.safely("command "+e.cmd.taskKey, func() { q.execute(ctx, e) })
}

// announce tells every observer of a command's progress, in order; a
// panic in one is logged and does not keep the others from hearing.
func (q *Queue) announce(f func(Observer)) {
	for _, o := range q.cfg.Observers {
		q.safely("command observer", func() { f(o) })
	}
}

// safely runs f, turning a panic into a logged error: one bad command or
// collaborator must not stop the queue.
func (q *Queue) safely(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			q.log.Errorf("panic in %s: %v\n%s", what, r, debug.Stack())
		}
	}()
	f()
}
