package statusexec

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// flush sends the results that changed against the acknowledged statuses
// and tells the recovery manager about them. Results made stale by a
// command start or a post-command report after their check began are
// dropped. immediate marks a post-command result: when it is sent it makes
// older results for its component stale in turn.
func (e *Executor) flush(ctx context.Context, outs []outcome, immediate bool) {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	topo := e.cfg.Caches.Topology().Snapshot()
	var changed []outcome
	e.mu.Lock()
	for _, o := range outs {
		if o.status == "" || !isLocal(topo, e.cfg.HostName, o.key.compKey) {
			continue
		}
		// Deliberate difference: Python drops a cycle's results that match
		// a post-command report sent during the same cycle; here a cycle
		// result is stale when anything that outdates it happened after its
		// check began, whichever cycle that was in. A post-command result
		// is outdated by nothing but a later command's end (afterCommand);
		// a command start since then only keeps its reset.
		later := e.touched[o.key.compKey] > o.startGen
		if _, superseded := e.pending[o.key]; immediate && superseded {
			// Judged with the report about to go out, so that it never
			// follows the newer command's final report.
			e.log.WithFields(logrus.Fields{"componentName": o.key.component, "status": o.status}).
				Info("Discarding status checked after a command: the next command for the component has ended")
			continue
		}
		if later && !immediate {
			e.log.WithFields(logrus.Fields{"componentName": o.key.component, "status": o.status}).
				Info("Discarding outdated status before sending")
			continue
		}
		if cur, ok := e.acked[o.key]; ok && cur == o.status {
			continue
		}
		if immediate {
			o.keepReset = later
			e.gen++
			e.touched[o.key.compKey] = e.gen
		}
		changed = append(changed, o)
	}
	asOf := e.gen
	e.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	for _, o := range changed {
		e.log.WithField("cluster", o.key.cluster).Infof("Status for %s has changed to %s", o.key.component, o.status)
		if e.cfg.Recovery != nil {
			e.cfg.Recovery.LiveStatus(o.key.cluster, o.key.component, o.status)
		}
	}
	e.send(ctx, changed, asOf)
}

// forceSend resends every acknowledged status after a registration
// (docs/behaviour.md §7.4), once the bookkeeping of vanished clusters is dropped.
func (e *Executor) forceSend(ctx context.Context) {
	e.forget()
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	e.mu.Lock()
	// Deliberate difference: statuses reset by a command are absent here,
	// where Python sends them as null; the server skips null statuses
	// (HeartbeatProcessor.processStatusReports), so nothing is lost.
	outs := make([]outcome, 0, len(e.acked))
	for k, s := range e.acked {
		outs = append(outs, outcome{key: k, status: s})
	}
	asOf := e.gen
	e.mu.Unlock()
	if len(outs) == 0 {
		return
	}
	slices.SortFunc(outs, func(a, b outcome) int {
		return cmp.Or(cmp.Compare(a.key.cluster, b.key.cluster), cmp.Compare(a.key.service, b.key.service),
			cmp.Compare(a.key.component, b.key.component), cmp.Compare(a.key.command, b.key.command))
	})
	e.send(ctx, outs, asOf)
}

// send sends one /reports/component_status message and, once the server
// acknowledges it with {"status":"OK"}, records every status in it as
// acknowledged. Anything else leaves the table alone, so the next cycle
// sends the change again. asOf is the generation at which outs were judged
// current. sendMu must be held.
func (e *Executor) send(ctx context.Context, outs []outcome, asOf uint64) {
	report := protocol.ComponentStatusReport{Clusters: make(map[string][]protocol.ComponentStatus, 1)}
	for i := range outs {
		o := &outs[i]
		report.Clusters[o.key.cluster] = append(report.Clusters[o.key.cluster], protocol.ComponentStatus{
			ServiceName: o.key.service, ComponentName: o.key.component, Command: o.key.command,
			Status: &o.status, ClusterID: o.key.cluster,
		})
	}
	body, err := json.Marshal(report)
	if err != nil {
		e.log.WithError(err).Error("Cannot encode component status report")
		return
	}
	reply, err := e.cfg.Sender.Request(ctx, protocol.ReportsComponentStatus, body)
	if err != nil {
		// Usually "not registered"; the statuses stay unacknowledged and
		// go out again on the next cycle.
		e.log.WithError(err).Debug("Component status report not sent")
		return
	}
	if !protocol.IsOK(reply) {
		e.log.Warnf("Component status report not acknowledged: %.200s", reply)
		return
	}
	e.mu.Lock()
	for _, o := range outs {
		// Deliberate difference: Python records the acknowledgement even
		// when a command started for the component while the report was
		// on its way, undoing the command's reset, so the status after the
		// command is not reported if it did not change.
		if e.touched[o.key.compKey] <= asOf && !o.keepReset {
			e.acked[o.key] = o.status
		}
	}
	e.mu.Unlock()
}

// forget drops the acknowledged statuses and stale markers of components
// the topology no longer places on this host (whole clusters included).
//
// Deliberate difference: the Python agent forgets only whole clusters and
// keeps resending statuses of components moved off the host.
func (e *Executor) forget() {
	topo := e.cfg.Caches.Topology().Snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.acked {
		if !isLocal(topo, e.cfg.HostName, k.compKey) {
			delete(e.acked, k)
		}
	}
	for c := range e.touched {
		if !isLocal(topo, e.cfg.HostName, c) {
			delete(e.touched, c)
		}
	}
}
