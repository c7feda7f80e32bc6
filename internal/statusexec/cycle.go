package statusexec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// runCycle checks every local component once (docs/behaviour.md §7.1) and sends the
// changes in one report. Checks that turn slow are not waited for.
func (e *Executor) runCycle(ctx context.Context) {
	e.forget()
	e.targets = e.appendTargets(e.targets[:0])
	if cap(e.results) < len(e.targets) {
		e.results = make(chan outcome, len(e.targets))
	}
	// Every dispatched check hands over exactly one outcome (its result or
	// "slow"), so the buffer never fills and the channel is empty again
	// when the cycle ends.
	results := e.results
	dispatched := 0
	for _, k := range e.targets {
		if ctx.Err() != nil {
			break
		}
		if e.commandRunning(k.cluster, k.component) {
			e.log.Infof("Skipping status command for %s. Since command for it is running", k.component)
			continue
		}
		start, ok := e.begin(k)
		if !ok {
			continue
		}
		if !e.acquire(ctx) {
			e.finish(k, inCycle)
			break
		}
		dispatched++
		e.wg.Add(1)
		go e.cycleCheck(ctx, k, start, results)
	}

	batch := e.batch[:0]
	for range dispatched {
		if o := <-results; !o.slow && o.status != "" {
			batch = append(batch, o)
		}
	}
	e.batch = batch
	if ctx.Err() == nil {
		e.flush(ctx, batch, false)
	}
}

// appendTargets lists the checks of a cycle: per cluster of the topology,
// per component placed on this host (topology order), per command of the
// cluster's status_commands_to_run. Clusters without metadata, without
// status commands or without this host are skipped.
func (e *Executor) appendTargets(dst []checkKey) []checkKey {
	topo := e.cfg.Caches.Topology().Snapshot()
	meta := e.cfg.Caches.Metadata().Snapshot()
	for _, id := range topo.ClusterIDs() {
		tc, mc := topo.Cluster(id), meta.Cluster(id)
		if tc == nil || mc == nil || len(mc.StatusCommandsToRun) == 0 {
			continue
		}
		hostID, ok := tc.HostID(e.cfg.HostName)
		if !ok {
			continue
		}
		for _, c := range tc.ComponentsOnHost(hostID) {
			for _, cmd := range mc.StatusCommandsToRun {
				dst = append(dst, checkKey{compKey{id, c.ServiceName, c.ComponentName}, cmd})
			}
		}
	}
	return dst
}

// isLocal reports whether the topology still places the component on host.
func isLocal(topo *cache.TopologySnapshot, host string, c compKey) bool {
	tc := topo.Cluster(c.cluster)
	if tc == nil {
		return false
	}
	hostID, ok := tc.HostID(host)
	if !ok {
		return false
	}
	comp := tc.Component(c.service, c.component)
	return comp != nil && slices.Contains(comp.HostIDs, hostID)
}

// begin marks a cycle check as running. It refuses a component that left
// this host since the cycle began (the Python agent's "cluster was already
// removed") and one whose previous check is still running: a slow script
// is not started twice, and the cycle does not wait for it.
func (e *Executor) begin(k checkKey) (start uint64, ok bool) {
	topo := e.cfg.Caches.Topology().Snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !isLocal(topo, e.cfg.HostName, k.compKey) {
		return 0, false
	}
	if e.running[k] != 0 {
		e.log.WithFields(logrus.Fields{"componentName": k.component, "command": k.command}).
			Debug("Previous status check still running; skipped in this cycle")
		return 0, false
	}
	e.running[k] = inCycle
	return e.gen, true
}

// finish clears a flag of a check in flight.
func (e *Executor) finish(k checkKey, flag uint8) {
	e.mu.Lock()
	if f := e.running[k] &^ flag; f == 0 {
		delete(e.running, k)
	} else {
		e.running[k] = f
	}
	e.mu.Unlock()
}

func (e *Executor) acquire(ctx context.Context) bool {
	select {
	case e.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// cycleCheck runs one check of a cycle. If it is still running after
// slowAfter, it gives its slot back and tells the cycle not to wait; its
// result is then sent on its own when it arrives.
func (e *Executor) cycleCheck(ctx context.Context, k checkKey, start uint64, results chan<- outcome) {
	defer e.wg.Done()
	// handed: the cycle has been given this check's one outcome.
	var handed, released atomic.Bool
	release := func() {
		if released.CompareAndSwap(false, true) {
			<-e.sem
		}
	}
	stopSlow := e.clock.AfterFunc(e.slowAfter, func() {
		release()
		if handed.CompareAndSwap(false, true) {
			e.log.WithFields(logrus.Fields{"componentName": k.component, "command": k.command}).
				Warnf("Status command still running after %s; the status cycle goes on without it", e.slowAfter)
			results <- outcome{key: k, slow: true}
		}
	})
	status := e.check(ctx, k)
	stopSlow()
	release()
	o := outcome{key: k, startGen: start, status: status}
	if handed.CompareAndSwap(false, true) {
		e.finish(k, inCycle)
		results <- o
		return
	}
	// Still marked running while it is sent, so that no newer check of the
	// component can be sent before this older one.
	if status != "" && ctx.Err() == nil {
		e.flush(ctx, []outcome{o}, false)
	}
	e.finish(k, inCycle)
}

// afterCommand is the immediate check after an execution command
// (docs/behaviour.md §7.3, report=true): a changed STATUS is sent at once and makes any cycle
// result for the component computed before it stale. start is the
// generation at which the command ended.
//
// The result stands even if the next command for the component has
// started meanwhile: the Python agent checks before it lets the next
// command start, so the server always hears the status after each command.
// It is dropped only when that next command has ended too, so that it
// never follows the newer command's final report; the check then runs
// again for the newer command.
func (e *Executor) afterCommand(ctx context.Context, k checkKey, start uint64) {
	defer e.wg.Done()
	for {
		if status := e.check(ctx, k); status != "" && ctx.Err() == nil {
			e.flush(ctx, []outcome{{key: k, startGen: start, status: status}}, true)
		}
		e.mu.Lock()
		next, again := e.pending[k]
		delete(e.pending, k)
		if again && ctx.Err() == nil {
			start = next
			e.mu.Unlock()
			continue
		}
		if f := e.running[k] &^ inAfter; f == 0 {
			delete(e.running, k)
		} else {
			e.running[k] = f
		}
		e.mu.Unlock()
		if e.onAfter != nil {
			e.onAfter()
		}
		return
	}
}

// check runs one status check and turns it into a live state; "" when
// there is no verdict (the runner failed or the agent is stopping).
func (e *Executor) check(ctx context.Context, k checkKey) (status string) {
	// Built only when something is logged: checks run by the hundred.
	log := func() *logrus.Entry {
		return e.log.WithFields(logrus.Fields{"cluster": k.cluster, "componentName": k.component, "command": k.command})
	}
	defer func() {
		if r := recover(); r != nil {
			log().WithField("panic", fmt.Sprint(r)).Error("Status check panicked")
			status = ""
		}
	}()
	code, stderr, _, err := e.cfg.Runner.RunStatus(ctx, k.cluster, k.service, k.component, k.command)
	if err != nil {
		if ctx.Err() == nil {
			log().WithError(err).Warn("Status check gave no result")
		}
		return ""
	}
	if code == 0 {
		return LiveStatus
	}
	// These two markers are how stack scripts say "stopped" and "a client,
	// nothing to run": expected, not worth a log line.
	if !strings.Contains(stderr, "ComponentIsNotRunning") && !strings.Contains(stderr, "ClientComponentHasNoStatus") {
		log().WithField("exitCode", code).Infof("Status command for %s failed:\n%s", k.component, stderr)
	}
	return DeadStatus
}
