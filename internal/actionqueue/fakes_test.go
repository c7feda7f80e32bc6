package actionqueue

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// virtualClock is the retry loop's clock in tests: time passes only when
// the loop sleeps (or a fake attempt advances it), so the attempt count
// does not depend on how long real scripts take. A non-zero unit makes
// each virtual second last unit of real time, so gaps stay observable.
type virtualClock struct {
	unit time.Duration
	base time.Time

	mu     sync.Mutex
	now    time.Duration
	sleeps []time.Duration
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.now)
}

func (c *virtualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	c.mu.Unlock()
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	if c.unit > 0 {
		wallClock{}.Sleep(ctx, time.Duration(int64(d)*int64(c.unit)/int64(time.Second)), wake)
	}
	c.advance(d)
}

func (c *virtualClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// fakeRunner stands in for the orchestrator where only the queue's own
// logic is under test: each attempt takes attemptTime of virtual time and
// exits with exitCode.
type fakeRunner struct {
	clock       *virtualClock
	attemptTime time.Duration
	exitCode    int
	// onRun, when set, runs inside each attempt.
	onRun func(req orchestrator.Request)

	mu sync.Mutex
	n  int
}

func (f *fakeRunner) Run(ctx context.Context, req orchestrator.Request) orchestrator.Result {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	if f.onRun != nil {
		f.onRun(req)
	}
	if f.clock != nil {
		f.clock.advance(f.attemptTime)
	}
	return orchestrator.Result{ExitCode: f.exitCode, Stdout: "out", StructuredOut: map[string]any{}}
}

func (f *fakeRunner) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fakeRunner) Cancel(taskID, reason string) bool { return false }

func (f *fakeRunner) TaskFiles(commandType, taskID string) orchestrator.TaskFiles {
	p := "/nonexistent/"
	return orchestrator.TaskFiles{Out: p + "output-" + taskID + ".txt", Err: p + "errors-" + taskID + ".txt",
		StructuredOut: p + "structured-out-" + taskID + ".json", ReportedStructuredOut: p + "structured-out-" + taskID + ".json"}
}

func (f *fakeRunner) LogCommandOutput(map[string]any, string, string) {}

// runQueue runs q until the returned stop is called.
func runQueue(t testing.TB, q *Queue) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx)
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Errorf("queue did not stop")
		}
	}
}

// fakeRecovery records what the queue tells the recovery manager and hands
// out commands it was offered.
type fakeRecovery struct {
	q *Queue

	mu       sync.Mutex
	offered  []map[string]any
	busyAsk  bool
	started  []string
	finished []string
}

func (r *fakeRecovery) offer(c map[string]any) {
	r.mu.Lock()
	r.offered = append(r.offered, c)
	r.mu.Unlock()
}

func (r *fakeRecovery) Commands() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.offered) > 0 && r.q != nil && r.q.ExecutionCommandActive() {
		r.busyAsk = true
	}
	out := r.offered
	r.offered = nil
	return out
}

func (r *fakeRecovery) ObserveExecutionCommand(c map[string]any) {
	r.mu.Lock()
	r.started = append(r.started, taskText(c))
	r.mu.Unlock()
}

func (r *fakeRecovery) ObserveCommandResult(c map[string]any, status string) {
	r.mu.Lock()
	r.finished = append(r.finished, taskText(c)+":"+status)
	r.mu.Unlock()
}

func (r *fakeRecovery) askedWhileBusy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.busyAsk
}

func (r *fakeRecovery) observed() (started, finished []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.started...), append([]string(nil), r.finished...)
}

func taskText(c map[string]any) string {
	id, _ := pyvalue.Integral(c["taskId"])
	return strconv.FormatInt(id, 10)
}
