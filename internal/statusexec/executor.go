package statusexec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Status command names and the live states they produce.
const (
	// CommandStatus is the status command the server asks for and the one
	// run after every execution command.
	CommandStatus = "STATUS"
	// CommandGetVersion asks a component script for its version.
	CommandGetVersion = "GET_VERSION"

	// LiveStatus and DeadStatus are the two results of a status check.
	LiveStatus = protocol.ComponentStarted
	DeadStatus = protocol.ComponentInstalled
)

// Defaults of Config.
const (
	DefaultInterval    = 20 * time.Second
	DefaultConcurrency = 4
	// minSlowCheckAfter keeps a tiny interval from declaring every check
	// slow.
	minSlowCheckAfter = time.Second
)

// StatusRunner runs one status check (or GET_VERSION) of a component on
// this host: the orchestrator's status path (docs/behaviour.md §7.2).
//
// err means there is no verdict at all: ctx ended (the agent is
// stopping), or the agent itself failed (it could not write the check's
// files: a full or read-only disk says nothing about the component). No
// status is reported then; the next cycle tries again. Any other script
// that could not be run is a verdict: like the Python agent, report it as
// a non-zero exit code with the reason in stderr. RunStatus must return
// promptly once ctx is done.
type StatusRunner interface {
	RunStatus(ctx context.Context, clusterID, serviceName, component, commandName string) (exitCode int, stderr string, structuredOut map[string]any, err error)
}

// Sender sends one report to the server and returns its reply. It fails at
// once while the agent is not registered (heartbeat.Link.Request).
type Sender interface {
	Request(ctx context.Context, destination string, body []byte) ([]byte, error)
}

// Recovery is told the live state of a component whenever a check result
// differs from the acknowledged one (docs/behaviour.md §8.4).
type Recovery interface {
	LiveStatus(clusterID, component, status string)
}

// Config holds the executor's settings and collaborators.
type Config struct {
	// HostName is this host's name as registered; the topology's hostName
	// that equals it gives the host id per cluster.
	HostName string
	// Caches supplies topology (which components run here) and metadata
	// (status_commands_to_run).
	Caches *cache.Store
	// Runner runs the checks.
	Runner StatusRunner
	// Sender reaches the server.
	Sender Sender
	// Recovery is told about status changes; nil = nobody.
	Recovery Recovery

	// Interval is [agent] status_commands_run_interval, the wait after each
	// cycle. 0 turns the periodic cycle off (post-command checks and the
	// forced resend still work); negative means DefaultInterval.
	Interval time.Duration
	// Jitter delays the first cycle by a phase in [0, Interval), so the
	// status checks of many agents started together do not run together;
	// nil: the first cycle runs at once.
	Jitter jitter.Source
	// Concurrency is [agent] status_commands_concurrency, the number of
	// status scripts a cycle runs at once; <= 0 means DefaultConcurrency.
	Concurrency int
	// SlowCheckAfter is how long a check may run before it stops counting
	// against Concurrency and stops holding its cycle's report; 0 means
	// Interval (at least one second).
	SlowCheckAfter time.Duration

	// Log is the component logger; nil discards.
	Log *logrus.Entry

	// Liveness records the loop's progress for the agent's health model
	// (*liveness.Part): a beat per cycle, each cycle a unit of work; nil =
	// none.
	Liveness Liveness
}

// Liveness is the status loop's view of the agent's health model.
type Liveness interface {
	Beat()
	Idle()
	Begin() (end func())
}

// compKey names a component of a cluster.
type compKey struct{ cluster, service, component string }

// commandKey names a component as commands address it: the Python agent
// counts commands per cluster and role, whatever the service.
type commandKey struct{ cluster, component string }

// checkKey is one status check: a component and a status command name.
type checkKey struct {
	compKey
	command string
}

// Flags of a check in flight.
const (
	inCycle uint8 = 1 << iota // a cycle's check is running
	inAfter                   // a post-command check is running
)

// clock is the loop's time source: the wall clock, or a test's.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (wallClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Executor is the component status loop.
type Executor struct {
	cfg       Config
	log       *logrus.Entry
	slowAfter time.Duration
	// sem bounds the cycle's running scripts.
	sem chan struct{}
	// regCh carries registrations to Run without blocking the caller.
	regCh chan struct{}

	// sendMu makes "filter, send, record the acknowledgement" one step, so
	// a cycle report and a post-command report never interleave.
	sendMu sync.Mutex

	mu sync.Mutex
	// acked is the last status the server acknowledged per check; a
	// missing entry is Python's null.
	acked map[checkKey]string
	// running holds the flags of the checks in flight; the cycle skips
	// them.
	running map[checkKey]uint8
	// pending holds, per post-command check still running, the generation
	// at which another command for the component ended meanwhile: the
	// check runs once more, for that command.
	pending map[checkKey]uint64
	// commands counts, per cluster and component, the execution commands
	// whose scripts run (AttemptStarted to AttemptEnded): the one record
	// of work in flight per component. The cycle skips those components.
	commands map[commandKey]int
	// touched records, per component, the generation of the last event that
	// made older check results stale: a command starting or a post-command
	// report being sent. gen counts those events; a check remembers the
	// value at its start. Entries live as long as their component is on
	// this host, so the map is bounded by the local components.
	touched map[compKey]uint64
	gen     uint64
	// ctx and active let post-command checks run only while Run does; wg
	// counts every goroutine Run must wait for.
	ctx    context.Context
	active bool
	wg     sync.WaitGroup

	// Owned by the cycle goroutine: buffers reused from cycle to cycle.
	targets []checkKey
	results chan outcome
	batch   []outcome

	clock clock
	// onCycle and onAfter, if set before Run, are called after every
	// cycle and every post-command check (tests).
	onCycle, onAfter func()
}

// outcome is what a finished check hands over.
type outcome struct {
	key      checkKey
	startGen uint64
	// status is LiveStatus or DeadStatus; "" when there is no verdict.
	status string
	// slow: the check outlived SlowCheckAfter; its result comes later.
	slow bool
	// keepReset: a command started after this post-command check began;
	// the acknowledgement must not undo that command's reset.
	keepReset bool
}

// New builds an executor; Run runs it.
func New(cfg Config) (*Executor, error) {
	if cfg.Caches == nil {
		return nil, errors.New("statusexec: Caches is required")
	}
	if cfg.Runner == nil {
		return nil, errors.New("statusexec: Runner is required")
	}
	if cfg.Sender == nil {
		return nil, errors.New("statusexec: Sender is required")
	}
	if cfg.Interval < 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	slow := cfg.SlowCheckAfter
	if slow <= 0 {
		slow = max(cfg.Interval, minSlowCheckAfter)
	}
	return &Executor{
		cfg:       cfg,
		log:       logging.OrDiscard(cfg.Log),
		slowAfter: slow,
		sem:       make(chan struct{}, cfg.Concurrency),
		regCh:     make(chan struct{}, 1),
		acked:     make(map[checkKey]string),
		running:   make(map[checkKey]uint8),
		touched:   make(map[compKey]uint64),
		pending:   make(map[checkKey]uint64),
		clock:     wallClock{},
		commands:  make(map[commandKey]int),
	}, nil
}

// Run runs status cycles until ctx is done, and handles registrations and
// post-command checks meanwhile. It returns after every check it started
// has returned.
func (e *Executor) Run(ctx context.Context) error {
	e.mu.Lock()
	e.ctx, e.active = ctx, true
	e.mu.Unlock()

	var loops sync.WaitGroup
	loops.Add(1)
	go func() {
		defer loops.Done()
		e.registrations(ctx)
	}()

	if e.cfg.Interval == 0 {
		e.log.Warn("ComponentStatusExecutor is turned off. Some functionality might not work correctly.")
		if e.cfg.Liveness != nil {
			e.cfg.Liveness.Idle()
		}
		<-ctx.Done()
	} else {
		e.cycles(ctx)
	}

	loops.Wait()
	e.mu.Lock()
	e.active = false
	e.mu.Unlock()
	e.wg.Wait()
	e.log.Info("ComponentStatusExecutor has successfully finished")
	return nil
}

// cycles runs a cycle at once and then one Interval after the previous one
// ended, as the Python agent does: cycles never overlap, and a long cycle
// stretches the period instead of piling up work. A cycle's length is
// bounded: it waits for no check longer than SlowCheckAfter. The first
// cycle waits for the jitter phase.
func (e *Executor) cycles(ctx context.Context) {
	wait := jitter.Phase(e.cfg.Jitter, e.cfg.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(wait):
		}
		var end func()
		if e.cfg.Liveness != nil {
			end = e.cfg.Liveness.Begin()
		}
		e.safely("status cycle", func() { e.runCycle(ctx) })
		if end != nil {
			end()
			e.cfg.Liveness.Beat()
		}
		if e.onCycle != nil {
			e.onCycle()
		}
		wait = e.cfg.Interval
	}
}

func (e *Executor) registrations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.regCh:
			e.safely("forced status resend", func() { e.forceSend(ctx) })
		}
	}
}

// safely runs f and turns a panic into a logged error, so one bad cycle
// does not end the loop.
func (e *Executor) safely(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			e.log.WithField("panic", fmt.Sprint(r)).Errorf("Exception in ComponentStatusExecutor (%s). Re-running it", what)
		}
	}()
	f()
}

// Registered is called after every registration (the heartbeat's
// OnRegistered). It forgets clusters that are gone and resends every
// acknowledged status, on Run's goroutine; it never blocks.
func (e *Executor) Registered() {
	select {
	case e.regCh <- struct{}{}:
	default: // one resend already pending covers this one
	}
}

// The executor is an actionqueue.Observer: the action queue tells it of
// every command's attempts and end (docs/behaviour.md §7.3).

// CommandStarted completes actionqueue.Observer; the status loop acts on
// attempts, not on the command leaving the queue.
func (e *Executor) CommandStarted(protocol.CommandHeader) {}

// AttemptStarted is told that a command's scripts are about to run. For a
// cluster command the component counts as busy until AttemptEnded, its
// acknowledged STATUS is forgotten so that the status after the command is
// reported even if it equals the one before, and results of checks
// already running for it become stale.
func (e *Executor) AttemptStarted(h protocol.CommandHeader) {
	if !h.ForCluster() {
		return
	}
	c := compKey{h.ClusterID, h.ServiceName, h.Role}
	e.mu.Lock()
	e.commands[commandKey{h.ClusterID, h.Role}]++
	delete(e.acked, checkKey{c, CommandStatus})
	e.gen++
	e.touched[c] = e.gen
	e.mu.Unlock()
}

// AttemptEnded is told that the scripts of an attempt are over.
func (e *Executor) AttemptEnded(h protocol.CommandHeader) {
	if !h.ForCluster() {
		return
	}
	k := commandKey{h.ClusterID, h.Role}
	e.mu.Lock()
	if e.commands[k] <= 1 {
		delete(e.commands, k)
	} else {
		e.commands[k]--
	}
	e.mu.Unlock()
}

// commandRunning reports whether a command's scripts run for the
// component; its status is not checked then.
func (e *Executor) commandRunning(clusterID, component string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.commands[commandKey{clusterID, component}] > 0
}

// CommandFinished is told a command's final status, after its final
// report: for a foreground command of a cluster component the STATUS is
// checked at once and a change is sent immediately. It returns at once;
// the check runs on its own goroutine (the Python agent runs it on the
// action queue's thread).
//
// Whether the check is owed is decided here, before the queue can start
// the next command: a command for the component that starts later does not
// cancel the check nor discard its result (docs/behaviour.md §7.3).
func (e *Executor) CommandFinished(h protocol.CommandHeader, _ string) {
	if h.IsBackground() || !h.ForCluster() || h.ServiceName == protocol.NullValue {
		return
	}
	k := checkKey{compKey{h.ClusterID, h.ServiceName, h.Role}, CommandStatus}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.commands[commandKey{h.ClusterID, h.Role}] > 0 {
		// Another command for the component runs (parallel execution);
		// its end triggers the check.
		return
	}
	if !e.active {
		e.log.WithField("componentName", h.Role).Debug("Status loop not running; no check after the command")
		return
	}
	f := e.running[k]
	if f&inAfter != 0 {
		// The running check may predate this command's end.
		e.pending[k] = e.gen
		return
	}
	e.running[k] = f | inAfter
	e.wg.Add(1)
	go e.afterCommand(e.ctx, k, e.gen)
}
