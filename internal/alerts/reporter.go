package alerts

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// AlertsStatusDestination is where alert results are sent.
const AlertsStatusDestination = "/reports/alerts_status"

// reporter is AlertStatusReporter's bookkeeping: what the server last
// acknowledged per alert, and how often.
type reporter struct {
	mu       sync.Mutex
	lastSent map[resultKey][2]string // [text, state]
	repeats  map[resultKey]int
	// warned holds clusters whose alerts_repeat_tolerance was unusable and
	// already logged. Own lock: it is updated while mu is held.
	warnMu sync.Mutex
	warned map[string]bool
}

func newReporter() *reporter {
	return &reporter{lastSent: map[resultKey][2]string{}, repeats: map[resultKey]int{}, warned: map[string]bool{}}
}

// clear forgets what was sent (definitions UPDATE/DELETE), so every alert
// is sent again at its next result.
func (p *reporter) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.lastSent)
	clear(p.repeats)
}

// forget drops bookkeeping of alerts no longer defined (a cluster gone
// after an ambari-server reset, a deleted definition), so the tables stay
// as small as the definitions.
func (p *reporter) forget(snap *defSnapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.lastSent {
		if snap.byName[k] == nil {
			delete(p.lastSent, k)
			delete(p.repeats, k)
		}
	}
}

// selectChanged is the changes-only rule: an alert goes out when its
// [text, state] differs from the last acknowledged pair (its repeat count
// restarts), or when it is not OK and has been acknowledged fewer times
// than its repeat tolerance. Results without a definition are not sent.
func (p *reporter) selectChanged(results []Result, snap *defSnapshot, tolerance func(clusterID string) int, log *logrus.Entry) []Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := results[:0:0]
	for _, r := range results {
		d := snap.byName[resultKey{r.ClusterID, r.Name}]
		if d == nil {
			log.WithField("alert", r.Name).Warnf("Cannot find alert definition for alert='%s', alert_state='%s'.", r.Name, r.State)
			continue
		}
		k := resultKey{r.ClusterID, r.Name}
		if last, ok := p.lastSent[k]; !ok || last != [2]string{r.Text, r.State} {
			out = append(out, r)
			p.repeats[k] = 0
			continue
		}
		if r.State == StateOK {
			continue
		}
		tol := d.RepeatTolerance
		if !d.RepeatToleranceEnabled {
			tol = tolerance(r.ClusterID)
		}
		if p.repeats[k] < tol {
			out = append(out, r)
		}
	}
	return out
}

// acknowledged records results the server accepted.
func (p *reporter) acknowledged(sent []Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range sent {
		k := resultKey{r.ClusterID, r.Name}
		p.lastSent[k] = [2]string{r.Text, r.State}
		p.repeats[k]++
	}
}

// runReporter sends results every ReportInterval while registered.
func (m *Manager) runReporter(ctx context.Context) {
	if m.cfg.ReportInterval == 0 {
		m.log.Warn("AlertStatusReporter is turned off. Some functionality might not work correctly.")
		return
	}
	t := time.NewTicker(m.cfg.ReportInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.reportCycle(ctx)
		}
	}
}

// reportCycle is one AlertStatusReporter iteration.
func (m *Manager) reportCycle(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Errorf("Exception in AlertStatusReporter: %v", p)
		}
	}()
	link := m.cfg.Link
	if link == nil || !link.Registered() {
		return
	}
	snap := m.defs.Load()
	m.rep.forget(snap)
	results := m.collector.drain()
	if len(results) == 0 {
		return
	}
	toSend := results
	if m.cfg.SendChangesOnly {
		tolerances := map[string]int{}
		toSend = m.rep.selectChanged(results, snap, func(cluster string) int {
			t, ok := tolerances[cluster]
			if !ok {
				t = m.clusterTolerance(cluster)
				tolerances[cluster] = t
			}
			return t
		}, m.log)
	}
	if len(toSend) == 0 {
		return
	}
	body, err := json.Marshal(toSend)
	if err != nil {
		m.log.WithError(err).Error("Cannot encode alert results")
		return
	}
	rctx, cancel := context.WithTimeout(ctx, reportTimeout)
	reply, err := link.Request(rctx, AlertsStatusDestination, body)
	cancel()
	if err != nil || !replyOK(reply) {
		// Keep them for the next cycle (Python drops them and relies on the
		// next results differing from what was acknowledged).
		m.collector.restore(toSend)
		m.log.WithError(err).WithField("alerts", len(toSend)).Debug("Alert results not acknowledged; kept for the next cycle")
		return
	}
	m.rep.acknowledged(toSend)
	m.log.WithField("alerts", len(toSend)).Debug("Alert results sent")
}

func replyOK(b []byte) bool {
	var r struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(b, &r) == nil && r.Status == "OK"
}

// clusterTolerance is cluster-env/alerts_repeat_tolerance. Deliberate
// difference: Python's report cycle fails entirely (nothing is sent) when
// the key is missing or not a number; here the tolerance is 1 and the
// problem is logged once per cluster.
func (m *Manager) clusterTolerance(cluster string) int {
	if m.cfg.Configurations != nil {
		if cfg, err := m.cfg.Configurations.ClusterConfiguration(cluster); err == nil {
			if v, ok := lookupPath(cfg, "cluster-env/alerts_repeat_tolerance"); ok {
				if n, ok := pyvalue.Int(v); ok {
					return int(n)
				}
			}
		}
	}
	m.rep.warnMu.Lock()
	warned := m.rep.warned[cluster]
	m.rep.warned[cluster] = true
	m.rep.warnMu.Unlock()
	if !warned {
		m.log.WithField("cluster", cluster).Warn("cluster-env/alerts_repeat_tolerance is missing or not a number; using 1")
	}
	return 1
}
