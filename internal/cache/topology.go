package cache

import (
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"
)

// TopologySnapshot is an immutable topology with per-cluster indexes built
// once when the snapshot is made.
type TopologySnapshot struct {
	Snapshot
	clusters map[string]*TopologyCluster
}

// Cluster returns a cluster's topology, nil if the cache has none.
func (t *TopologySnapshot) Cluster(id string) *TopologyCluster { return t.clusters[id] }

// TopologyCluster is one cluster's hosts and components. Everything is shared
// with other readers: do not modify.
type TopologyCluster struct {
	ID         string
	Hosts      []TopologyHost      // server order
	Components []TopologyComponent // server order (the status loop's order)

	hostByID       map[int64]*TopologyHost
	hostIDByName   map[string]int64
	componentByKey map[componentKey]*TopologyComponent
	onHost         map[int64][]*TopologyComponent
	hostInfo       map[string][]string
	versions       map[string]map[string]string
}

// TopologyHost is a host entry.
type TopologyHost struct {
	HostID   int64
	HostName string
	RackName string
	IPv4     string
	Raw      map[string]any
}

// TopologyComponent is a component entry. The two parameter maps are string
// maps on the wire; a non-string value appears as its JSON text.
type TopologyComponent struct {
	ServiceName          string
	ComponentName        string
	HostIDs              []int64
	ComponentLevelParams map[string]string
	CommandParams        map[string]string
	Version              string // the optional top-level "version" field
	Raw                  map[string]any
}

// Host returns the host with the given id, nil if unknown.
func (c *TopologyCluster) Host(hostID int64) *TopologyHost { return c.hostByID[hostID] }

// HostID returns the id of the host with the given name (the agent finds its
// own id this way).
func (c *TopologyCluster) HostID(hostName string) (int64, bool) {
	id, ok := c.hostIDByName[hostName]
	return id, ok
}

// Component returns the component entry, nil if absent.
func (c *TopologyCluster) Component(serviceName, componentName string) *TopologyComponent {
	return c.componentByKey[componentKey{serviceName, componentName}]
}

// ComponentsOnHost returns the components whose hostIds contain hostID, in
// component order (the Python agent's "local components" for this host).
func (c *TopologyCluster) ComponentsOnHost(hostID int64) []*TopologyComponent {
	return c.onHost[hostID]
}

// ClusterHostInfo returns the command's clusterHostInfo derived from the
// topology: "<component lower-case>_hosts" -> host names (host ids missing
// from the hosts list are skipped, with a warning when the snapshot is
// built), plus all_hosts, all_racks and all_ipv4_ips in host order.
//
// Deliberate difference: the Python agent computes this map once for the
// whole cache (from whichever cluster asks first) until the next topology
// change; here each cluster has its own.
func (c *TopologyCluster) ClusterHostInfo() map[string][]string { return c.hostInfo }

// ComponentVersionMap returns service -> component -> commandParams.version
// for the components that have one (the command's componentVersionMap).
func (c *TopologyCluster) ComponentVersionMap() map[string]map[string]string { return c.versions }

func buildTopology(base Snapshot, log *logrus.Entry) (*TopologySnapshot, error) {
	t := &TopologySnapshot{Snapshot: base, clusters: make(map[string]*TopologyCluster, len(base.content.ids))}
	for _, id := range base.content.ids {
		tc, err := buildTopologyCluster(id, base.content.m[id], log)
		if err != nil {
			return nil, invalid("topology cluster %s: %v", id, err)
		}
		t.clusters[id] = tc
	}
	return t, nil
}

func buildTopologyCluster(id string, raw map[string]any, log *logrus.Entry) (*TopologyCluster, error) {
	hosts, ok := listOf(raw["hosts"])
	if !ok {
		return nil, fmt.Errorf("hosts is not a list")
	}
	comps, ok := listOf(raw["components"])
	if !ok {
		return nil, fmt.Errorf("components is not a list")
	}
	c := &TopologyCluster{
		ID:             id,
		Hosts:          make([]TopologyHost, 0, len(hosts)),
		Components:     make([]TopologyComponent, 0, len(comps)),
		hostByID:       make(map[int64]*TopologyHost, len(hosts)),
		hostIDByName:   make(map[string]int64, len(hosts)),
		componentByKey: make(map[componentKey]*TopologyComponent, len(comps)),
		onHost:         make(map[int64][]*TopologyComponent, len(hosts)),
		hostInfo:       make(map[string][]string, len(comps)+3),
		versions:       map[string]map[string]string{},
	}
	for _, h := range hosts {
		m, ok := h.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("host entry is not an object")
		}
		hid, ok := asInt64(m["hostId"])
		if !ok {
			return nil, fmt.Errorf("host entry without an integer hostId")
		}
		c.Hosts = append(c.Hosts, TopologyHost{
			HostID: hid, HostName: viewText(m["hostName"]), RackName: viewText(m["rackName"]), IPv4: viewText(m["ipv4"]), Raw: m,
		})
	}
	for _, e := range comps {
		k, m, err := keyOfComponent(e)
		if err != nil {
			return nil, err
		}
		idList, ok := listOf(m["hostIds"])
		if !ok {
			return nil, fmt.Errorf("component %s/%s: hostIds is not a list", k.service, k.component)
		}
		ids := make([]int64, 0, len(idList))
		for _, v := range idList {
			hid, ok := asInt64(v)
			if !ok {
				return nil, fmt.Errorf("component %s/%s: host id %v is not an integer", k.service, k.component, v)
			}
			ids = append(ids, hid)
		}
		c.Components = append(c.Components, TopologyComponent{
			ServiceName: k.service, ComponentName: k.component, HostIDs: ids,
			ComponentLevelParams: stringMap(m["componentLevelParams"]),
			CommandParams:        stringMap(m["commandParams"]),
			Version:              viewText(m["version"]),
			Raw:                  m,
		})
	}

	// Indexes point into the finished slices. Duplicates: the last entry
	// wins, as in the Python agent's dict indexes.
	allHosts := make([]string, 0, len(c.Hosts))
	allRacks := make([]string, 0, len(c.Hosts))
	allIPs := make([]string, 0, len(c.Hosts))
	for i := range c.Hosts {
		h := &c.Hosts[i]
		c.hostByID[h.HostID] = h
		c.hostIDByName[h.HostName] = h.HostID
		allHosts = append(allHosts, h.HostName)
		allRacks = append(allRacks, h.RackName)
		allIPs = append(allIPs, h.IPv4)
	}
	for i := range c.Components {
		comp := &c.Components[i]
		c.componentByKey[componentKey{comp.ServiceName, comp.ComponentName}] = comp
		if v, ok := comp.CommandParams["version"]; ok {
			if c.versions[comp.ServiceName] == nil {
				c.versions[comp.ServiceName] = map[string]string{}
			}
			c.versions[comp.ServiceName][comp.ComponentName] = v
		}
		key := strings.ToLower(comp.ComponentName) + "_hosts"
		names := c.hostInfo[key]
		if names == nil {
			names = make([]string, 0, len(comp.HostIDs))
		}
		for _, hid := range comp.HostIDs {
			if l := c.onHost[hid]; len(l) == 0 || l[len(l)-1] != comp {
				c.onHost[hid] = append(l, comp)
			}
			h := c.hostByID[hid]
			if h == nil {
				// Seen in practice when the server's DB cache was corrupt.
				log.WithFields(logrus.Fields{"cluster": id, "hostId": hid, "componentName": comp.ComponentName}).
					Warn("component placed on a host id missing from the topology's hosts; skipped in clusterHostInfo")
				continue
			}
			names = append(names, h.HostName)
		}
		c.hostInfo[key] = names
	}
	c.hostInfo["all_hosts"] = allHosts
	c.hostInfo["all_racks"] = allRacks
	c.hostInfo["all_ipv4_ips"] = allIPs
	return c, nil
}
