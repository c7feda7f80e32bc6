package sim

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// model is the server's view of the clusters: what it serves on the five
// cache requests and what it changes when it pushes. It is guarded by
// Server.mu.
//
// Topology and metadata are the same for every agent. Configurations,
// host-level params and alert definitions are per host: derived from the
// cluster model (and rebuilt lazily when the model changes), unless a raw
// push replaced that host's snapshot, in which case the host keeps the
// pushed content until a high-level change of that data set re-derives it.
// Either way the snapshot served is exactly what an agent holds after
// applying the pushes it got, so hashes keep matching.
type model struct {
	sc *Scenario

	clusters      []*clusterModel // scenario order
	clusterByID   map[string]*clusterModel
	clusterByName map[string]*clusterModel

	// topo is the topology by cluster id, the source of truth for which
	// host is in which cluster and has which components.
	topo map[string]*protocol.TopologyCluster
	// meta is the metadata "clusters" object, generic because pushes
	// deep-merge arbitrary keys into it.
	meta map[string]map[string]any
	// autoAmbariParams are the ambari-level keys the scenario left to the
	// simulator (jdk_location, ...), filled in when the listeners are up.
	autoAmbariParams []string

	hosts      map[string]*host
	hostByID   map[int64]*host
	nextHostID int64
	nextDefID  int64

	encryptionKey string
	// initialTS is the configurations timestamp of hosts that never got a
	// configurations push.
	initialTS int64

	// gen counts model changes; cached snapshots remember the gen they were
	// built at.
	gen      uint64
	topoSnap *snapshot
	metaSnap *snapshot
}

// clusterModel is the per-cluster data behind configurations, host-level
// params and alert definitions.
type clusterModel struct {
	id    string
	idNum int64
	name  string
	spec  *ClusterSpec

	compService map[string]string // component -> service
	compSpec    map[string]*ComponentSpec
	services    map[string]*ServiceSpec

	configs protocol.ClusterConfigs
	// recovery is the recoverable components with their desired state,
	// in scenario order.
	recovery []protocol.RecoveryComponent
	bps      map[string]string

	staleMultiplier int
	alerts          []protocol.AlertDefinition
}

// Data sets served per host.
type dataSet int

const (
	dsConfigs dataSet = iota
	dsHostLevelParams
	dsAlertDefinitions
	numHostDataSets
)

// snapshot is one served data set: the JSON of its "clusters" object and
// the content hash of it.
type snapshot struct {
	gen      uint64
	salt     string
	hash     string
	clusters json.RawMessage
}

func newModel(sc *Scenario) (*model, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	m := &model{
		sc:            sc,
		clusterByID:   map[string]*clusterModel{},
		clusterByName: map[string]*clusterModel{},
		topo:          map[string]*protocol.TopologyCluster{},
		hosts:         map[string]*host{},
		hostByID:      map[int64]*host{},
		nextHostID:    1,
		nextDefID:     1,
		encryptionKey: sc.Options.EncryptionKey,
		initialTS:     time.Now().UnixMilli(),
	}
	usedHostIDs := map[int64]bool{}
	usedDefIDs := map[int64]bool{}
	for _, c := range sc.Clusters {
		for _, h := range c.Hosts {
			usedHostIDs[h.ID] = true
		}
		for _, d := range c.AlertDefinitions {
			usedDefIDs[d.DefinitionID] = true
		}
	}
	for i := range sc.Clusters {
		cm := newClusterModel(&sc.Clusters[i], i, usedDefIDs, &m.nextDefID)
		m.clusters = append(m.clusters, cm)
		m.clusterByID[cm.id] = cm
		m.clusterByName[cm.name] = cm
		tc := wholeCluster(nil)
		for _, s := range cm.spec.Services {
			for j := range s.Components {
				tc.Components = append(tc.Components, topologyComponent(&s, &s.Components[j]))
			}
		}
		m.topo[cm.id] = tc
		for _, hs := range cm.spec.Hosts {
			id := hs.ID
			if id == 0 {
				for usedHostIDs[m.nextHostID] {
					m.nextHostID++
				}
				id = m.nextHostID
				usedHostIDs[id] = true
			}
			h := m.addHost(hs.Name, id)
			h.rack, h.ipv4 = hs.Rack, hs.IPv4
			h.fixedIPv4 = hs.IPv4 != ""
			m.placeHost(cm, h, hs.Components)
		}
	}
	m.meta = m.initialMetadata()
	return m, nil
}

func newClusterModel(c *ClusterSpec, index int, usedDefIDs map[int64]bool, nextDefID *int64) *clusterModel {
	cm := &clusterModel{
		idNum:       clusterID(c, index),
		name:        c.Name,
		spec:        c,
		compService: map[string]string{},
		compSpec:    map[string]*ComponentSpec{},
		services:    map[string]*ServiceSpec{},
		bps:         map[string]string{},
	}
	cm.id = strconv.FormatInt(cm.idNum, 10)
	for i := range c.Services {
		s := &c.Services[i]
		cm.services[s.Name] = s
		for j := range s.Components {
			cm.compService[s.Components[j].Name] = s.Name
			cm.compSpec[s.Components[j].Name] = &s.Components[j]
		}
	}
	cm.configs = protocol.ClusterConfigs{
		Configurations:          map[string]map[string]string{},
		ConfigurationAttributes: map[string]map[string]map[string]string{},
	}
	for t, props := range c.Configurations {
		cm.configs.Configurations[t] = maps.Clone(map[string]string(props))
		if cm.configs.Configurations[t] == nil {
			cm.configs.Configurations[t] = map[string]string{}
		}
	}
	for t, attrs := range c.ConfigurationAttributes {
		a := map[string]map[string]string{}
		for name, kv := range attrs {
			a[name] = maps.Clone(map[string]string(kv))
		}
		cm.configs.ConfigurationAttributes[t] = a
	}
	for _, r := range c.Recovery {
		cm.recovery = append(cm.recovery, protocol.RecoveryComponent{
			ServiceName:   cm.compService[r.Component],
			ComponentName: r.Component,
			DesiredState:  cmp.Or(r.DesiredState, protocol.ComponentStarted),
		})
	}
	maps.Copy(cm.bps, c.BlueprintProvisioningState)
	cm.staleMultiplier = c.StaleIntervalMultiplier
	for _, d := range c.AlertDefinitions {
		id := d.DefinitionID
		if id == 0 {
			for usedDefIDs[*nextDefID] {
				*nextDefID++
			}
			id = *nextDefID
			usedDefIDs[id] = true
		}
		cm.alerts = append(cm.alerts, cm.alertDefinition(d, id))
	}
	return cm
}

// alertDefinition fills in the defaults of a scenario definition.
func (cm *clusterModel) alertDefinition(d AlertDefinitionSpec, id int64) protocol.AlertDefinition {
	enabled := true
	if d.Enabled != nil {
		enabled = *d.Enabled
	}
	service := d.ServiceName
	if service == "" {
		if d.ComponentName == agentComponent {
			service = "AMBARI"
		} else {
			service = cm.compService[d.ComponentName]
		}
	}
	uuid := d.UUID
	if uuid == "" {
		uuid = stableUUID(cm.name, d.Name, strconv.FormatInt(id, 10))
	}
	return protocol.AlertDefinition{
		ClusterID:              cm.idNum,
		DefinitionID:           id,
		Name:                   d.Name,
		Label:                  cmp.Or(d.Label, d.Name),
		Description:            d.Description,
		ServiceName:            service,
		ComponentName:          d.ComponentName,
		Scope:                  cmp.Or(d.Scope, "ANY"),
		Interval:               cmp.Or(d.Interval, 1),
		Enabled:                enabled,
		UUID:                   uuid,
		IgnoreHost:             d.IgnoreHost,
		HelpURL:                d.HelpURL,
		RepeatTolerance:        cmp.Or(d.RepeatTolerance, 1),
		RepeatToleranceEnabled: d.RepeatToleranceEnabled,
		Source:                 d.Source,
	}
}

// stableUUID derives a UUID-shaped id from parts, so that definitions keep
// their uuid across simulator restarts (the agent reschedules a definition
// whose uuid changed).
func stableUUID(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func topologyComponent(s *ServiceSpec, c *ComponentSpec) protocol.TopologyComponent {
	params := map[string]string{
		"script":                 cmp.Or(c.Script, "scripts/"+strings.ToLower(c.Name)+".py"),
		"script_type":            cmp.Or(c.ScriptType, "PYTHON"),
		"command_timeout":        strconv.Itoa(cmp.Or(c.Timeout, defaultCommandTimeout)),
		"service_package_folder": s.PackageFolder,
	}
	if c.Version != "" {
		params["version"] = c.Version
	}
	maps.Copy(params, c.CommandParams)
	clp := map[string]string{
		"clientsToUpdateConfigs":     `["*"]`,
		"unlimited_key_jce_required": "false",
	}
	maps.Copy(clp, c.ComponentLevelParams)
	return protocol.TopologyComponent{
		ServiceName: s.Name, ComponentName: c.Name, DisplayName: c.DisplayName, Version: c.Version,
		HostIDs: []int64{}, ComponentLevelParams: clp, CommandParams: params,
	}
}

// Server defaults for command timeouts (agent.task.timeout and
// agent.package.install.task.timeout).
const (
	defaultCommandTimeout = 900
	minInstallTimeout     = 1800
)

func (m *model) initialMetadata() map[string]map[string]any {
	ambari := map[string]any{
		"db_name":                             "ambari",
		"host_sys_prepped":                    "false",
		"agent_stack_retry_on_unavailability": "false",
		"agent_stack_retry_count":             "5",
		"gpl_license_accepted":                "false",
	}
	for _, k := range []string{"jdk_location", "ambari_server_host", "ambari_server_port", "ambari_server_use_ssl"} {
		if _, set := m.sc.AmbariLevelParams[k]; !set {
			m.autoAmbariParams = append(m.autoAmbariParams, k)
			ambari[k] = ""
		}
	}
	for k, v := range m.sc.AmbariLevelParams {
		ambari[k] = v
	}
	agentConfig := map[string]any{
		"agent.auto.cache.update":    "true",
		"agent.check.remote.mounts":  "false",
		"agent.check.mounts.timeout": "0",
	}
	for k, v := range m.sc.AgentConfig {
		agentConfig[k] = v
	}
	meta := map[string]map[string]any{
		protocol.NoCluster: {
			"fullServiceLevelMetadata": false,
			"clusterLevelParams":       ambari,
			"agentConfigs":             map[string]any{"agentConfig": agentConfig},
		},
	}
	for _, cm := range m.clusters {
		c := cm.spec
		clp := map[string]any{
			"cluster_name":               c.Name,
			"user_list":                  "[]",
			"group_list":                 "[]",
			"user_groups":                "{}",
			"not_managed_hdfs_path_list": "[]",
		}
		if c.StackName != "" {
			clp["stack_name"] = c.StackName
		}
		if c.StackVersion != "" {
			clp["stack_version"] = c.StackVersion
		}
		if c.HooksFolder != "" {
			clp["hooks_folder"] = c.HooksFolder
		}
		for k, v := range c.ClusterLevelParams {
			clp[k] = v
		}
		slp := map[string]any{}
		for _, s := range c.Services {
			var timeout any
			if s.StatusCommandsTimeout > 0 {
				timeout = s.StatusCommandsTimeout
			}
			creds := map[string]any{}
			for t, kv := range s.ConfigurationCredentials {
				creds[t] = anyMap(kv)
			}
			p := map[string]any{
				"version":                   s.Version,
				"credentialStoreEnabled":    s.CredentialStoreEnabled,
				"configuration_credentials": creds,
				"status_commands_timeout":   timeout,
				"service_package_folder":    s.PackageFolder,
			}
			maps.Copy(p, s.ServiceLevelParams)
			slp[s.Name] = p
		}
		status := c.StatusCommandsToRun
		if status == nil {
			status = []string{"STATUS"}
		}
		statusAny := make([]any, len(status))
		for i, s := range status {
			statusAny[i] = s
		}
		meta[cm.id] = map[string]any{
			"fullServiceLevelMetadata": true,
			"clusterLevelParams":       clp,
			"serviceLevelParams":       slp,
			"status_commands_to_run":   statusAny,
		}
	}
	return meta
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// setServerAddress fills in the ambari-level params the scenario left to
// the simulator; apiHost:apiPort is the control API, which also serves
// /resources.
func (m *model) setServerAddress(apiHost string, apiPort int) {
	values := map[string]string{
		"jdk_location":          fmt.Sprintf("http://%s/resources", hostPort(apiHost, apiPort)),
		"ambari_server_host":    apiHost,
		"ambari_server_port":    strconv.Itoa(apiPort),
		"ambari_server_use_ssl": "false",
	}
	ambari, _ := m.meta[protocol.NoCluster]["clusterLevelParams"].(map[string]any)
	if ambari == nil {
		return
	}
	changed := false
	for _, k := range m.autoAmbariParams {
		if ambari[k] != values[k] {
			ambari[k] = values[k]
			changed = true
		}
	}
	if changed {
		m.touch()
	}
}

// ambariParam reads an ambari-level param (for clusterHostInfo).
func (m *model) ambariParam(key string) string {
	ambari, _ := m.meta[protocol.NoCluster]["clusterLevelParams"].(map[string]any)
	s, _ := ambari[key].(string)
	return s
}

func (m *model) touch() { m.gen++ }

// addHost creates the host record (not yet placed in any cluster).
func (m *model) addHost(name string, id int64) *host {
	h := &host{name: name, id: id, configTS: m.initialTS}
	m.hosts[name] = h
	m.hostByID[id] = h
	if id >= m.nextHostID {
		m.nextHostID = id + 1
	}
	m.touch()
	return h
}

// placeHost adds h to cluster cm's topology with the given components and
// returns the topology update that tells other agents.
func (m *model) placeHost(cm *clusterModel, h *host, components []string) *protocol.TopologyCluster {
	tc := m.topo[cm.id]
	th := h.topologyHost()
	upd := &protocol.TopologyCluster{Hosts: []protocol.TopologyHost{th}}
	if i := slices.IndexFunc(tc.Hosts, func(x protocol.TopologyHost) bool { return x.HostID == h.id }); i >= 0 {
		tc.Hosts[i] = th
	} else {
		tc.Hosts = append(tc.Hosts, th)
	}
	for _, name := range components {
		for i := range tc.Components {
			c := &tc.Components[i]
			if c.ComponentName != name {
				continue
			}
			if !slices.Contains(c.HostIDs, h.id) {
				c.HostIDs = append(c.HostIDs, h.id)
			}
			u := *c
			u.HostIDs = []int64{h.id}
			upd.Components = append(upd.Components, u)
		}
	}
	m.touch()
	return upd
}

// hostIDFor returns the id a registering host gets: its own, one a pushed
// topology gave its name, or the next free one.
func (m *model) hostIDFor(name string) int64 {
	for _, cid := range m.clusterIDs() {
		for _, th := range m.topo[cid].Hosts {
			if th.HostName == name {
				return th.HostID
			}
		}
	}
	for m.hostByID[m.nextHostID] != nil {
		m.nextHostID++
	}
	return m.nextHostID
}

// clusterIDs are the topology's cluster ids in a stable order.
func (m *model) clusterIDs() []string {
	ids := slices.Collect(maps.Keys(m.topo))
	slices.SortFunc(ids, compareIDs)
	return ids
}

// compareIDs orders decimal ids numerically.
func compareIDs(a, b string) int {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(ai, bi)
	}
	return strings.Compare(a, b)
}

// memberships are the clusters whose topology lists host id.
func (m *model) memberships(id int64) []string {
	var out []string
	for _, cid := range m.clusterIDs() {
		if slices.ContainsFunc(m.topo[cid].Hosts, func(th protocol.TopologyHost) bool { return th.HostID == id }) {
			out = append(out, cid)
		}
	}
	return out
}

// componentsOn lists the components of cluster cid placed on host id.
func (m *model) componentsOn(cid string, id int64) []protocol.TopologyComponent {
	var out []protocol.TopologyComponent
	if tc := m.topo[cid]; tc != nil {
		for _, c := range tc.Components {
			if slices.Contains(c.HostIDs, id) {
				out = append(out, c)
			}
		}
	}
	return out
}

// findComponent looks a component up in a cluster's topology.
func (m *model) findComponent(cid, name string) *protocol.TopologyComponent {
	tc := m.topo[cid]
	if tc == nil {
		return nil
	}
	for i := range tc.Components {
		if tc.Components[i].ComponentName == name {
			return &tc.Components[i]
		}
	}
	return nil
}

// --- snapshots ---------------------------------------------------------

// contentHash is the server's hash: SHA-512 over salt and the JSON of the
// snapshot, as 128 lower-case hex digits. Go's JSON encoding sorts map keys
// and keeps struct field order, so equal content gives equal hashes, also
// across simulator restarts.
func contentHash(salt string, clusters []byte) string {
	h := sha512.New()
	h.Write([]byte(salt))
	h.Write(clusters)
	return hex.EncodeToString(h.Sum(nil))
}

func newSnapshot(gen uint64, salt string, clusters any) *snapshot {
	b, err := json.Marshal(clusters)
	if err != nil {
		// Every value in the model came from JSON or from typed structs.
		panic(fmt.Sprintf("sim: encode snapshot: %v", err))
	}
	return &snapshot{gen: gen, salt: salt, hash: contentHash(salt, b), clusters: b}
}

func (m *model) topology() *snapshot {
	if m.topoSnap == nil || m.topoSnap.gen != m.gen {
		m.topoSnap = newSnapshot(m.gen, "", m.topo)
	}
	return m.topoSnap
}

func (m *model) metadata() *snapshot {
	if m.metaSnap == nil || m.metaSnap.gen != m.gen {
		m.metaSnap = newSnapshot(m.gen, "", m.meta)
	}
	return m.metaSnap
}

// hostData returns host h's current snapshot of a per-host data set.
func (m *model) hostData(h *host, ds dataSet) *snapshot {
	if s := h.override[ds]; s != nil {
		if salt := m.salt(ds); s.salt != salt {
			// The encryption key changed: same content, new hash.
			s = &snapshot{gen: s.gen, salt: salt, hash: contentHash(salt, s.clusters), clusters: s.clusters}
			h.override[ds] = s
		}
		return s
	}
	if s := h.derived[ds]; s != nil && s.gen == m.gen {
		return s
	}
	s := newSnapshot(m.gen, m.salt(ds), m.deriveHostData(h, ds))
	h.derived[ds] = s
	return s
}

// salt is the hash salt of a data set: the encryption key for
// configurations, as on the server.
func (m *model) salt(ds dataSet) string {
	if ds == dsConfigs {
		return m.encryptionKey
	}
	return ""
}

func (m *model) deriveHostData(h *host, ds dataSet) any {
	switch ds {
	case dsConfigs:
		out := map[string]protocol.ClusterConfigs{}
		for _, cid := range m.memberships(h.id) {
			if cm := m.clusterByID[cid]; cm != nil {
				out[cid] = cm.configs
			} else {
				out[cid] = protocol.ClusterConfigs{Configurations: map[string]map[string]string{}, ConfigurationAttributes: map[string]map[string]map[string]string{}}
			}
		}
		return out
	case dsHostLevelParams:
		out := map[string]protocol.HostLevelParamsCluster{}
		for _, cid := range m.memberships(h.id) {
			hc := protocol.HostLevelParamsCluster{
				RecoveryConfig:             protocol.RecoveryConfig{Components: []protocol.RecoveryComponent{}},
				BlueprintProvisioningState: map[string]string{},
			}
			cm := m.clusterByID[cid]
			for _, c := range m.componentsOn(cid, h.id) {
				state := protocol.ProvisioningNone
				if cm != nil {
					state = cmp.Or(cm.bps[c.ComponentName], protocol.ProvisioningNone)
				}
				hc.BlueprintProvisioningState[c.ComponentName] = state
				if cm == nil {
					continue
				}
				for _, r := range cm.recovery {
					if r.ComponentName == c.ComponentName {
						if r.ServiceName == "" {
							r.ServiceName = c.ServiceName
						}
						hc.RecoveryConfig.Components = append(hc.RecoveryConfig.Components, r)
					}
				}
			}
			out[cid] = hc
		}
		return out
	default:
		out := map[string]protocol.AlertCluster{}
		for _, cid := range m.memberships(h.id) {
			ac := protocol.AlertCluster{HostName: h.name, AlertDefinitions: []protocol.AlertDefinition{}}
			if cm := m.clusterByID[cid]; cm != nil {
				ac.StaleIntervalMultiplier = cm.staleMultiplier
				for _, d := range cm.alerts {
					if m.alertApplies(cid, h.id, d) {
						ac.AlertDefinitions = append(ac.AlertDefinitions, d)
					}
				}
			}
			out[cid] = ac
		}
		return out
	}
}

// alertApplies says whether definition d is scheduled on host id: host-wide
// definitions everywhere, component definitions where the component is.
func (m *model) alertApplies(cid string, id int64, d protocol.AlertDefinition) bool {
	if d.ComponentName == "" || d.ComponentName == agentComponent {
		return true
	}
	c := m.findComponent(cid, d.ComponentName)
	return c != nil && slices.Contains(c.HostIDs, id)
}

// --- merges of raw pushes (docs/protocol.md §4; the agent applies the same) --

// applyTopology merges a topology event into the model.
func (m *model) applyTopology(ev *protocol.TopologyEvent) error {
	switch ev.EventType {
	case protocol.EventCreate:
		m.topo = map[string]*protocol.TopologyCluster{}
		for cid, c := range ev.Clusters {
			m.topo[cid] = wholeCluster(c)
		}
	case protocol.EventUpdate:
		for cid, c := range ev.Clusters {
			if c == nil {
				continue
			}
			tc := m.topo[cid]
			if tc == nil {
				m.topo[cid] = wholeCluster(c)
				continue
			}
			for _, uh := range c.Hosts {
				if i := slices.IndexFunc(tc.Hosts, func(x protocol.TopologyHost) bool { return x.HostID == uh.HostID }); i >= 0 {
					old := &tc.Hosts[i]
					old.HostName = cmp.Or(uh.HostName, old.HostName)
					old.RackName = cmp.Or(uh.RackName, old.RackName)
					old.IPv4 = cmp.Or(uh.IPv4, old.IPv4)
				} else {
					tc.Hosts = append(tc.Hosts, uh)
				}
			}
			for _, uc := range c.Components {
				i := slices.IndexFunc(tc.Components, func(x protocol.TopologyComponent) bool {
					return x.ServiceName == uc.ServiceName && x.ComponentName == uc.ComponentName
				})
				if i < 0 {
					tc.Components = append(tc.Components, cloneComponent(uc))
					continue
				}
				old := &tc.Components[i]
				for _, id := range uc.HostIDs {
					if !slices.Contains(old.HostIDs, id) {
						old.HostIDs = append(old.HostIDs, id)
					}
				}
				if uc.DisplayName != "" {
					old.DisplayName = uc.DisplayName
				}
				if uc.Version != "" {
					old.Version = uc.Version
				}
				if uc.CommandParams != nil {
					old.CommandParams = maps.Clone(uc.CommandParams)
				}
				if uc.ComponentLevelParams != nil {
					old.ComponentLevelParams = maps.Clone(uc.ComponentLevelParams)
				}
			}
		}
	case protocol.EventDelete:
		for cid, c := range ev.Clusters {
			tc := m.topo[cid]
			if tc == nil {
				continue
			}
			if c == nil || (c.Hosts == nil && c.Components == nil) {
				delete(m.topo, cid)
				continue
			}
			for _, dh := range c.Hosts {
				tc.Hosts = slices.DeleteFunc(tc.Hosts, func(x protocol.TopologyHost) bool { return x.HostID == dh.HostID })
			}
			for _, dc := range c.Components {
				i := slices.IndexFunc(tc.Components, func(x protocol.TopologyComponent) bool {
					return x.ServiceName == dc.ServiceName && x.ComponentName == dc.ComponentName
				})
				if i < 0 {
					// The agent's handler throws on this; refuse it here.
					return fmt.Errorf("topology DELETE: cluster %s has no component %s/%s", cid, dc.ServiceName, dc.ComponentName)
				}
				old := &tc.Components[i]
				old.HostIDs = slices.DeleteFunc(old.HostIDs, func(id int64) bool { return slices.Contains(dc.HostIDs, id) })
				if len(old.HostIDs) == 0 {
					tc.Components = slices.Delete(tc.Components, i, i+1)
				}
			}
		}
	default:
		return fmt.Errorf("topology event: eventType %q is not CREATE, UPDATE or DELETE", ev.EventType)
	}
	m.touch()
	return nil
}

// wholeCluster copies a cluster of an event into the model, where hosts and
// components are always arrays (a CREATE must carry both); nil gives an
// empty cluster.
func wholeCluster(c *protocol.TopologyCluster) *protocol.TopologyCluster {
	out := &protocol.TopologyCluster{Hosts: []protocol.TopologyHost{}, Components: []protocol.TopologyComponent{}}
	if c == nil {
		return out
	}
	out.Hosts = append(out.Hosts, c.Hosts...)
	for _, comp := range c.Components {
		out.Components = append(out.Components, cloneComponent(comp))
	}
	return out
}

func cloneComponent(c protocol.TopologyComponent) protocol.TopologyComponent {
	c.HostIDs = slices.Clone(c.HostIDs)
	if c.HostIDs == nil {
		c.HostIDs = []int64{}
	}
	c.CommandParams = maps.Clone(c.CommandParams)
	c.ComponentLevelParams = maps.Clone(c.ComponentLevelParams)
	return c
}

// applyMetadata merges a metadata event into the model.
func (m *model) applyMetadata(ev *protocol.MetadataEvent) error {
	switch ev.EventType {
	case protocol.EventCreate:
		m.meta = map[string]map[string]any{}
		for cid, c := range ev.Clusters {
			m.meta[cid] = deepCopyMap(c)
		}
	case protocol.EventUpdate:
		for cid, c := range ev.Clusters {
			if m.meta[cid] == nil {
				m.meta[cid] = map[string]any{}
			}
			deepMerge(m.meta[cid], c)
		}
	case protocol.EventDelete:
		for cid, c := range ev.Clusters {
			if len(c) != 0 {
				return fmt.Errorf("metadata DELETE: cluster %s must be {} (deleting sub-values is not supported by agents)", cid)
			}
		}
		for cid := range ev.Clusters {
			delete(m.meta, cid)
		}
	default:
		return fmt.Errorf("metadata event: eventType %q is not CREATE, UPDATE or DELETE", ev.EventType)
	}
	m.touch()
	return nil
}

// deepMerge merges src into dst: objects key by key, anything else
// (arrays included) replaces.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				deepMerge(dv, sv)
				continue
			}
			dst[k] = deepCopyMap(sv)
			continue
		}
		dst[k] = deepCopy(v)
	}
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// applyAlertDefinitions merges an alert-definitions event into a host's
// generic "clusters" object and returns the result.
func applyAlertDefinitions(cur map[string]any, eventType string, clusters map[string]map[string]any) (map[string]any, error) {
	switch eventType {
	case protocol.EventCreate:
		out := map[string]any{}
		for cid, c := range clusters {
			out[cid] = deepCopyMap(c)
		}
		return out, nil
	case protocol.EventUpdate:
		out := deepCopyMap(cur)
		for cid, c := range clusters {
			old, ok := out[cid].(map[string]any)
			if !ok {
				out[cid] = deepCopyMap(c)
				continue
			}
			for k, v := range c {
				if k != "alertDefinitions" {
					old[k] = deepCopy(v)
					continue
				}
				defs, _ := old["alertDefinitions"].([]any)
				for _, nd := range asList(v) {
					id := definitionID(nd)
					i := slices.IndexFunc(defs, func(d any) bool { return definitionID(d) == id })
					if i >= 0 {
						defs[i] = deepCopy(nd)
					} else {
						defs = append(defs, deepCopy(nd))
					}
				}
				old["alertDefinitions"] = defs
			}
		}
		return out, nil
	case protocol.EventDelete:
		out := deepCopyMap(cur)
		for cid, c := range clusters {
			old, ok := out[cid].(map[string]any)
			if !ok {
				continue
			}
			if len(c) == 0 {
				delete(out, cid)
				continue
			}
			defs, _ := old["alertDefinitions"].([]any)
			for _, dd := range asList(c["alertDefinitions"]) {
				id := definitionID(dd)
				i := slices.IndexFunc(defs, func(d any) bool { return definitionID(d) == id })
				if i < 0 {
					return nil, fmt.Errorf("alert definitions DELETE: cluster %s has no definition %s", cid, id)
				}
				defs = slices.Delete(defs, i, i+1)
			}
			old["alertDefinitions"] = defs
		}
		return out, nil
	}
	return nil, fmt.Errorf("alert definitions event: eventType %q is not CREATE, UPDATE or DELETE", eventType)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// definitionID is a definition's id as text (JSON numbers decode to
// float64; compare them by their text).
func definitionID(d any) string {
	m, _ := d.(map[string]any)
	switch v := m["definitionId"].(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case string:
		return v
	}
	return ""
}
