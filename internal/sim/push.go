package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Push is a raw server-to-agent message. The simulator applies it to its
// own model first (with the agent's merge rules), so the hash it carries and
// what later cache requests are answered with match what the agent holds.
//
//   - /events/topologies, /events/metadata: CREATE, UPDATE or DELETE
//     events, broadcast; the hash is replaced by the model's new one.
//   - /events/encryption_key: {"encryptionKey":...}, broadcast; it becomes
//     the configurations hash salt.
//   - /user/configs, /user/host_level_params: {"clusters":{...}} (configs
//     may give "timestamp"), a full replacement of each target host's
//     snapshot; hash (and timestamp) filled in per host.
//   - /user/alert_definitions: a CREATE, UPDATE or DELETE event applied to
//     each target host's definitions; hash and hostName filled in.
//   - /user/commands: a commands event, queued like SendCommandEvent.
//   - anything else: delivered as is (per host for /user/ topics).
type Push struct {
	Topic string `json:"topic"`
	// Host is a host name or glob for /user/ topics; "" or "*" means every
	// known host (disconnected hosts get the model change, not the
	// message). Ignored for broadcasts.
	Host string          `json:"host,omitempty"`
	Body json.RawMessage `json:"body"`
}

// Push applies and sends a raw push and returns how many sessions it was
// delivered to.
func (s *Server) Push(p Push) (int, error) {
	s.mu.Lock()
	n, err := s.push(p)
	s.mu.Unlock()
	s.notify()
	if err != nil {
		return n, fmt.Errorf("push to %s: %w", p.Topic, err)
	}
	s.log.Infof("pushed %s to %d session(s)", p.Topic, n)
	return n, nil
}

func (s *Server) push(p Push) (int, error) {
	if len(p.Body) == 0 || !json.Valid(p.Body) {
		return 0, errors.New("body is not JSON")
	}
	m := s.m
	switch p.Topic {
	case protocol.EventsTopologies:
		var ev protocol.TopologyEvent
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		s.flushJoins()
		if err := m.applyTopology(&ev); err != nil {
			return 0, err
		}
		return s.broadcastTopology(ev.EventType, ev.Clusters), nil
	case protocol.EventsMetadata:
		var ev protocol.MetadataEvent
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		if err := m.applyMetadata(&ev); err != nil {
			return 0, err
		}
		ev.Hash = m.metadata().hash
		return s.broadcast(protocol.EventsMetadata, mustJSON(ev)), nil
	case protocol.EventsEncryptionKey:
		var ev protocol.EncryptionKeyEvent
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		m.encryptionKey = ev.EncryptionKey
		m.touch()
		return s.broadcast(protocol.EventsEncryptionKey, p.Body), nil
	}
	if !strings.HasPrefix(p.Topic, "/user/") {
		return s.broadcast(p.Topic, p.Body), nil
	}
	hosts, err := s.targets(p.Host)
	if err != nil {
		return 0, err
	}
	switch p.Topic {
	case protocol.UserConfigs:
		var ev struct {
			Timestamp int64          `json:"timestamp"`
			Clusters  map[string]any `json:"clusters"`
		}
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		if ev.Clusters == nil {
			return 0, errors.New(`configs push needs "clusters"`)
		}
		n := 0
		for _, h := range hosts {
			h.override[dsConfigs] = newSnapshot(m.gen, m.salt(dsConfigs), ev.Clusters)
			if ev.Timestamp > 0 {
				h.configTS = ev.Timestamp
			} else {
				h.configTS = nextConfigTS(h.configTS)
			}
			n += s.sendHostData(h, dsConfigs, h.override[dsConfigs])
		}
		return n, nil
	case protocol.UserHostLevelParams:
		var ev struct {
			Clusters map[string]any `json:"clusters"`
		}
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		if ev.Clusters == nil {
			return 0, errors.New(`host-level params push needs "clusters"`)
		}
		n := 0
		for _, h := range hosts {
			h.override[dsHostLevelParams] = newSnapshot(m.gen, "", ev.Clusters)
			n += s.sendHostData(h, dsHostLevelParams, h.override[dsHostLevelParams])
		}
		return n, nil
	case protocol.UserAlertDefinitions:
		var ev struct {
			EventType string                    `json:"eventType"`
			Clusters  map[string]map[string]any `json:"clusters"`
		}
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		// Check every host first, so that a bad event changes nothing.
		next := make([]map[string]any, len(hosts))
		for i, h := range hosts {
			var cur map[string]any
			if err := json.Unmarshal(m.hostData(h, dsAlertDefinitions).clusters, &cur); err != nil {
				return 0, err
			}
			if next[i], err = applyAlertDefinitions(cur, ev.EventType, ev.Clusters); err != nil {
				return 0, fmt.Errorf("host %s: %w", h.name, err)
			}
		}
		n := 0
		for i, h := range hosts {
			snap := newSnapshot(m.gen, "", next[i])
			h.override[dsAlertDefinitions] = snap
			if h.session != nil && h.session.deliver(protocol.UserAlertDefinitions, mustJSON(struct {
				EventType string                    `json:"eventType"`
				HostName  string                    `json:"hostName"`
				Hash      string                    `json:"hash"`
				Clusters  map[string]map[string]any `json:"clusters"`
			}{ev.EventType, h.name, snap.hash, ev.Clusters})) {
				n++
			}
		}
		return n, nil
	case protocol.UserCommands:
		var ev protocol.CommandsEvent
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			return 0, err
		}
		for _, h := range hosts {
			s.queueCommandEvent(h, ev)
		}
		return len(hosts), nil
	}
	n := 0
	for _, h := range hosts {
		if h.session != nil && h.session.deliver(p.Topic, p.Body) {
			n++
		}
	}
	return n, nil
}

// targets resolves a host name or glob; "" and "*" are every host. mu held.
func (s *Server) targets(pattern string) ([]*host, error) {
	if pattern == "" {
		pattern = "*"
	}
	if h := s.m.hosts[pattern]; h != nil {
		return []*host{h}, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("bad host pattern %q", pattern)
	}
	var out []*host
	for _, name := range slices.Sorted(maps.Keys(s.m.hosts)) {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, s.m.hosts[name])
		}
	}
	if len(out) == 0 && !strings.ContainsAny(pattern, "*?[") {
		return nil, fmt.Errorf("%w %q", ErrUnknownHost, pattern)
	}
	return out, nil
}

func nextConfigTS(prev int64) int64 {
	return max(time.Now().UnixMilli(), prev+1)
}

// broadcast delivers body to every session subscribed to dest; mu held.
func (s *Server) broadcast(dest string, body []byte) int {
	n := 0
	for sess := range s.sessions {
		if sess.connected && sess.deliver(dest, body) {
			n++
		}
	}
	return n
}

// broadcastTopology sends a topology event carrying the model's current
// hash; mu held.
func (s *Server) broadcastTopology(eventType string, clusters map[string]*protocol.TopologyCluster) int {
	ev := protocol.TopologyEvent{EventType: eventType, Hash: s.m.topology().hash, Clusters: clusters}
	return s.broadcast(protocol.EventsTopologies, mustJSON(ev))
}

// sendHostData pushes a full snapshot of a per-host data set to the host's
// session, if any; mu held.
func (s *Server) sendHostData(h *host, ds dataSet, snap *snapshot) int {
	if h.session == nil {
		return 0
	}
	var dest string
	var body []byte
	switch ds {
	case dsConfigs:
		dest, body = protocol.UserConfigs, mustJSON(configsEvent{Timestamp: h.configTS, Hash: snap.hash, Clusters: snap.clusters})
	case dsHostLevelParams:
		dest, body = protocol.UserHostLevelParams, mustJSON(cacheEvent{Hash: snap.hash, Clusters: snap.clusters})
	default:
		dest, body = protocol.UserAlertDefinitions, mustJSON(cacheEvent{EventType: protocol.EventCreate, HostName: h.name, Hash: snap.hash, Clusters: snap.clusters})
	}
	if h.session.deliver(dest, body) {
		return 1
	}
	return 0
}

// hostsIn lists the known hosts of a cluster's topology; mu held.
func (m *model) hostsIn(cid string) []*host {
	var out []*host
	if tc := m.topo[cid]; tc != nil {
		for _, th := range tc.Hosts {
			if h := m.hostByID[th.HostID]; h != nil {
				out = append(out, h)
			}
		}
	}
	return out
}

// changeCluster applies a change to a cluster's per-host data, re-derives
// every member host's snapshot of ds (dropping raw-push overrides) and
// pushes the full new snapshot to each host whose content changed, as the
// server does. It returns the number of sessions reached; mu held.
func (s *Server) changeCluster(cm *clusterModel, ds dataSet, change func()) int {
	hosts := s.m.hostsIn(cm.id)
	old := make([]string, len(hosts))
	for i, h := range hosts {
		old[i] = s.m.hostData(h, ds).hash
	}
	change()
	s.m.touch()
	n := 0
	for i, h := range hosts {
		h.override[ds] = nil
		snap := s.m.hostData(h, ds)
		if snap.hash == old[i] {
			continue
		}
		if ds == dsConfigs {
			h.configTS = nextConfigTS(h.configTS)
		}
		n += s.sendHostData(h, ds, snap)
	}
	return n
}

// ConfigChange is a high-level configuration change of one config type.
type ConfigChange struct {
	// Cluster is a name or id; default the first cluster.
	Cluster string `json:"cluster,omitempty"`
	Type    string `json:"type"`
	// Properties are set (merged into the type, or replacing it with
	// Replace).
	Properties StringMap `json:"properties,omitempty"`
	Replace    bool      `json:"replace,omitempty"`
	// Delete lists keys to remove; RemoveType drops the whole type.
	Delete     []string `json:"delete,omitempty"`
	RemoveType bool     `json:"removeType,omitempty"`
}

// UpdateConfigs changes a cluster's configurations and pushes the new full
// snapshot (with a new timestamp) to every host of the cluster whose
// snapshot changed. It returns the number of sessions reached.
func (s *Server) UpdateConfigs(ch ConfigChange) (int, error) {
	if ch.Type == "" {
		return 0, errors.New("config change: no type")
	}
	s.mu.Lock()
	cm, err := s.cluster(ch.Cluster)
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("config change: %w", err)
	}
	n := s.changeCluster(cm, dsConfigs, func() {
		confs := cm.configs.Configurations
		if ch.RemoveType {
			delete(confs, ch.Type)
			delete(cm.configs.ConfigurationAttributes, ch.Type)
			return
		}
		props := maps.Clone(confs[ch.Type])
		if props == nil || ch.Replace {
			props = map[string]string{}
		}
		maps.Copy(props, ch.Properties)
		for _, k := range ch.Delete {
			delete(props, k)
		}
		// Copy on write: unchanged snapshots of other hosts may share the
		// old maps.
		next := maps.Clone(confs)
		next[ch.Type] = props
		cm.configs.Configurations = next
	})
	s.mu.Unlock()
	s.notify()
	s.log.Infof("configuration %s of cluster %s changed; pushed to %d session(s)", ch.Type, cm.name, n)
	return n, nil
}

// cluster resolves a cluster name or id ("" = the first); mu held.
func (s *Server) cluster(nameOrID string) (*clusterModel, error) {
	if nameOrID == "" {
		if len(s.m.clusters) == 0 {
			return nil, errors.New("the scenario has no cluster")
		}
		return s.m.clusters[0], nil
	}
	if cm := s.m.clusterByName[nameOrID]; cm != nil {
		return cm, nil
	}
	if cm := s.m.clusterByID[nameOrID]; cm != nil {
		return cm, nil
	}
	return nil, fmt.Errorf("unknown cluster %q", nameOrID)
}

// SetEncryptionKey broadcasts a new encryption key (which also salts the
// configurations hashes from now on).
func (s *Server) SetEncryptionKey(key string) (int, error) {
	return s.Push(Push{Topic: protocol.EventsEncryptionKey, Body: mustJSON(protocol.EncryptionKeyEvent{EncryptionKey: key})})
}

// UpsertAlertDefinition adds or replaces (by definitionId) an alert
// definition of a cluster and pushes the new definitions to the hosts it
// concerns. It returns the definition id.
func (s *Server) UpsertAlertDefinition(cluster string, def AlertDefinitionSpec) (int64, error) {
	if def.Name == "" || len(def.Source) == 0 || !json.Valid(def.Source) {
		return 0, errors.New("alert definition needs a name and a JSON source")
	}
	s.mu.Lock()
	defer s.notify()
	defer s.mu.Unlock()
	cm, err := s.cluster(cluster)
	if err != nil {
		return 0, fmt.Errorf("alert definition: %w", err)
	}
	if def.ComponentName != "" && def.ComponentName != agentComponent && cm.compService[def.ComponentName] == "" {
		return 0, fmt.Errorf("alert definition: cluster %s has no component %s", cm.name, def.ComponentName)
	}
	id := def.DefinitionID
	if id == 0 {
		id = s.m.freeDefinitionID()
	}
	d := cm.alertDefinition(def, id)
	s.changeCluster(cm, dsAlertDefinitions, func() {
		next := slices.Clone(cm.alerts)
		if i := slices.IndexFunc(next, func(x protocol.AlertDefinition) bool { return x.DefinitionID == id }); i >= 0 {
			next[i] = d
		} else {
			next = append(next, d)
		}
		cm.alerts = next
	})
	return id, nil
}

// DeleteAlertDefinition removes an alert definition and pushes the new
// definitions to the hosts that had it.
func (s *Server) DeleteAlertDefinition(cluster string, id int64) error {
	s.mu.Lock()
	defer s.notify()
	defer s.mu.Unlock()
	cm, err := s.cluster(cluster)
	if err != nil {
		return fmt.Errorf("alert definition: %w", err)
	}
	i := slices.IndexFunc(cm.alerts, func(x protocol.AlertDefinition) bool { return x.DefinitionID == id })
	if i < 0 {
		return fmt.Errorf("cluster %s has no alert definition %d", cm.name, id)
	}
	s.changeCluster(cm, dsAlertDefinitions, func() {
		cm.alerts = slices.Delete(slices.Clone(cm.alerts), i, i+1)
	})
	return nil
}

func (m *model) freeDefinitionID() int64 {
	var top int64
	for _, cm := range m.clusters {
		for _, d := range cm.alerts {
			top = max(top, d.DefinitionID)
		}
	}
	return top + 1
}
