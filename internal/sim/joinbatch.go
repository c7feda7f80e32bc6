package sim

import (
	"slices"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// joinBatch gathers the topology UPDATEs of hosts that joined a cluster
// within Config.JoinBroadcastDelay into one push to every agent. Without
// it, n hosts joining one after the other cost n² pushes (each join goes to
// every registered agent), which is what holds a simulator with thousands
// of hosts back; a server adding many hosts at once also sends them in one
// update. Guarded by Server.mu.
type joinBatch struct {
	pending map[string]*protocol.TopologyCluster
	timer   *time.Timer
}

// queueJoin broadcasts a join's topology update now, or with a delay
// configured, merges it into the next batched push; mu held.
func (s *Server) queueJoin(clusterID string, upd *protocol.TopologyCluster) {
	if s.cfg.JoinBroadcastDelay <= 0 {
		s.broadcastTopology(protocol.EventUpdate, map[string]*protocol.TopologyCluster{clusterID: upd})
		return
	}
	b := &s.joins
	if b.pending == nil {
		b.pending = map[string]*protocol.TopologyCluster{}
	}
	mergeTopologyUpdate(b.pending, clusterID, upd)
	if b.timer == nil {
		b.timer = time.AfterFunc(s.cfg.JoinBroadcastDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.flushJoins()
		})
	}
}

// flushJoins pushes the batched join updates now, so that what follows
// (a command, another topology push) reaches agents after them; mu held.
func (s *Server) flushJoins() {
	b := &s.joins
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.pending) == 0 {
		return
	}
	pending := b.pending
	b.pending = nil
	s.broadcastTopology(protocol.EventUpdate, pending)
}

// mergeTopologyUpdate adds upd's hosts and component placements to the
// cluster's pending update.
func mergeTopologyUpdate(pending map[string]*protocol.TopologyCluster, clusterID string, upd *protocol.TopologyCluster) {
	p := pending[clusterID]
	if p == nil {
		c := *upd
		c.Hosts = slices.Clone(upd.Hosts)
		c.Components = nil
		for _, comp := range upd.Components {
			comp.HostIDs = slices.Clone(comp.HostIDs)
			c.Components = append(c.Components, comp)
		}
		pending[clusterID] = &c
		return
	}
	for _, h := range upd.Hosts {
		if i := slices.IndexFunc(p.Hosts, func(x protocol.TopologyHost) bool { return x.HostID == h.HostID }); i >= 0 {
			p.Hosts[i] = h
		} else {
			p.Hosts = append(p.Hosts, h)
		}
	}
	for _, comp := range upd.Components {
		i := slices.IndexFunc(p.Components, func(x protocol.TopologyComponent) bool {
			return x.ComponentName == comp.ComponentName && x.ServiceName == comp.ServiceName
		})
		if i < 0 {
			comp.HostIDs = slices.Clone(comp.HostIDs)
			p.Components = append(p.Components, comp)
			continue
		}
		for _, id := range comp.HostIDs {
			if !slices.Contains(p.Components[i].HostIDs, id) {
				p.Components[i].HostIDs = append(p.Components[i].HostIDs, id)
			}
		}
	}
}
