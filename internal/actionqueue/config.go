package actionqueue

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/procinfo"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Defaults of the Config fields left zero.
const (
	DefaultParallelLimit    = 5
	DefaultMaxQueued        = 10000
	DefaultMaxStoredReports = 1000
	// DefaultRecoveryInterval is how often an idle queue asks the recovery
	// manager for commands: the Python agent's 2 s queue wait.
	DefaultRecoveryInterval = 2 * time.Second
	// MaxReportSize bounds the JSON text of one commands_status message
	// (the {clusterId: [...]} map), below the server's 2 MB limit.
	MaxReportSize = 1950000
)

// Runner runs commands as processes (*orchestrator.Orchestrator).
type Runner interface {
	// Run runs one command and returns its result. A background command
	// returns at once with ExitCode 777 and reports through
	// req.OnBackgroundDone. When ctx ends while a script runs, the result's
	// Err is orchestrator.ErrStopped and the script is left running.
	Run(ctx context.Context, req orchestrator.Request) orchestrator.Result
	// Cancel kills the running command with the task id; false when none
	// runs.
	Cancel(taskID, reason string) bool
	// TaskFiles names a command's output files.
	TaskFiles(commandType, taskID string) orchestrator.TaskFiles
	// LogCommandOutput copies a final output into the agent log when
	// [logging] log_command_executes asks for it.
	LogCommandOutput(command map[string]any, stdout, stderr string)
}

// Sender sends a request to the server and returns its reply
// (heartbeat.Link). It fails fast while the agent is not registered.
type Sender interface {
	Request(ctx context.Context, destination string, body []byte) ([]byte, error)
}

// Recovery is where the queue gets the recovery manager's commands
// (docs/behaviour.md §8.5; *recovery.Manager).
type Recovery interface {
	// Commands returns the AUTO_EXECUTION_COMMANDs to run now. It is called
	// only while the main queue is empty and no foreground command runs.
	// The queue owns the returned maps.
	Commands() []map[string]any
}

// Observer hears of the life of every command the queue runs: the status
// loop (the components with work in flight, the check right after a
// command; docs/behaviour.md §7.3) and the recovery manager (desired and
// current states; §8.4). The queue is the one place that announces it;
// the methods are called on the command's goroutine, in this order for
// each command, and must return promptly. A header must not be modified.
type Observer interface {
	// CommandStarted: a command of an execution type leaves the queue to
	// run (a background one: is being started). Once per command, before
	// anything of it runs.
	CommandStarted(h protocol.CommandHeader)
	// AttemptStarted: one attempt is prepared (its command file written,
	// its cache directories current) and its scripts are about to run.
	// Not called for an attempt whose preparation failed.
	AttemptStarted(h protocol.CommandHeader)
	// AttemptEnded follows every AttemptStarted: the attempt's scripts are
	// over (a background command: its script has been started).
	AttemptEnded(h protocol.CommandHeader)
	// CommandFinished: the command's final status (COMPLETED or FAILED),
	// after its final report was stored. A background command's comes when
	// its script ends, which may be before its AttemptEnded.
	CommandFinished(h protocol.CommandHeader, status string)
}

// Liveness is a part of the agent's health model.
type Liveness interface {
	Idle()
	Begin() (end func())
}

// Config wires a Queue.
type Config struct {
	// Runner runs the commands. Required.
	Runner Runner
	// Sender carries reports to the server. nil: reports are journaled and
	// kept but never sent.
	Sender Sender
	// Prefix is [agent] prefix, the data dir; the report journal lives in
	// <Prefix>/reports. "": no journal (reports live in memory only).
	Prefix string
	// ParallelExecution is [agent] parallel_execution=1: retry-enabled
	// commands run concurrently.
	ParallelExecution bool
	// ParallelLimit bounds those concurrent commands; 0 =
	// DefaultParallelLimit. The Python agent has no bound.
	ParallelLimit int
	// ReportInterval is [agent] command_reports_interval; 0 turns the
	// periodic report cycle off (immediate sends still happen).
	ReportInterval time.Duration
	// LogMaxSymbols is [heartbeat] log_max_symbols_size: the cap of the
	// output tails in periodic reports; 0 = no cap.
	LogMaxSymbols int
	// MaxQueued bounds the commands waiting to run; a message that would
	// exceed it is refused (the server sends it again). 0 =
	// DefaultMaxQueued.
	MaxQueued int
	// MaxStoredReports bounds the tasks whose reports are kept (and
	// journaled) until acknowledged; beyond it the oldest is dropped with a
	// warning. 0 = DefaultMaxStoredReports.
	MaxStoredReports int
	// Recovery is the recovery manager; nil = none.
	Recovery Recovery
	// RecoveryInterval is how often an idle queue asks Recovery for
	// commands; 0 = DefaultRecoveryInterval.
	RecoveryInterval time.Duration
	// Observers hear of every command's life, in this order: the recovery
	// manager before the status loop, so that a command's outcome reaches
	// the manager before the live state its post-command check reports.
	Observers []Observer
	// OnWriteError hears of every failed write of the report journal in
	// the data dir (the agent marks itself degraded). May be nil.
	OnWriteError func(error)
	// Log is the component logger; nil discards.
	Log *logrus.Entry
	// IntakeLiveness and JournalLiveness record the progress of command
	// intake and of the report journal's sender for the agent's health
	// model (*liveness.Part): each intake and each send is a unit of work;
	// nil = none.
	IntakeLiveness, JournalLiveness Liveness

	// clock replaces the wall clock in tests of the retry arithmetic.
	clock clock
	// journalRetry and journalGiveUp replace journalRetryInterval and
	// journalRetryFor in tests.
	journalRetry, journalGiveUp time.Duration
}

// OrphanReaper is implemented by a Runner that can stop a command an
// earlier agent process started and left running
// (*orchestrator.Orchestrator). The queue uses it at start, before it
// reports such a command FAILED.
type OrphanReaper interface {
	// ReapOrphan kills the command's process tree if the process id names
	// still runs, and reports whether it did.
	ReapOrphan(id procinfo.Identity) bool
}

func (c *Config) setDefaults() {
	if c.ParallelLimit <= 0 {
		c.ParallelLimit = DefaultParallelLimit
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.MaxStoredReports <= 0 {
		c.MaxStoredReports = DefaultMaxStoredReports
	}
	if c.RecoveryInterval <= 0 {
		c.RecoveryInterval = DefaultRecoveryInterval
	}
	if c.ReportInterval < 0 {
		c.ReportInterval = 0
	}
	c.Log = logging.OrDiscard(c.Log)
	if c.clock == nil {
		c.clock = wallClock{}
	}
}

// clock is the time source of the retry loop.
type clock interface {
	Now() time.Time
	// Sleep waits d; it returns early when wake is closed or ctx ends.
	Sleep(ctx context.Context, d time.Duration, wake <-chan struct{})
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}
