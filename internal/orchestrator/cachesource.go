package orchestrator

import (
	"github.com/ambari-go/ambari-agent/internal/cache"
)

// cacheSource reads commands' base data from the agent's cluster caches.
type cacheSource struct {
	store    *cache.Store
	hostName string
}

// NewCacheSource adapts the cluster caches to CommandSource. hostName is
// this host's name as the server knows it; the agent finds itself in each
// cluster's topology by it.
func NewCacheSource(store *cache.Store, hostName string) CommandSource {
	return &cacheSource{store: store, hostName: hostName}
}

func (c *cacheSource) ConfigsTimestamp() (int64, bool) { return c.store.ConfigsTimestamp() }

func (c *cacheSource) AmbariLevelParams() map[string]any {
	return asMap(c.store.Metadata().Snapshot().Raw(cache.CommonCluster)["clusterLevelParams"])
}

func (c *cacheSource) ClusterData(clusterID, serviceName, componentName string) ClusterData {
	cd := ClusterData{
		Metadata:        c.store.Metadata().Snapshot().Raw(clusterID),
		HostLevelParams: c.store.HostLevelParams().Snapshot().Raw(clusterID),
		Configurations:  c.store.Configurations().Snapshot().Raw(clusterID),
	}
	topo := c.store.Topology().Snapshot().Cluster(clusterID)
	if topo == nil {
		return cd
	}
	td := &TopologyData{
		ClusterHostInfo:     topo.ClusterHostInfo(),
		ComponentVersionMap: topo.ComponentVersionMap(),
	}
	if id, ok := topo.HostID(c.hostName); ok {
		if h := topo.Host(id); h != nil {
			td.HostName = h.HostName
		}
		for _, comp := range topo.ComponentsOnHost(id) {
			td.LocalComponents = append(td.LocalComponents, comp.ComponentName)
		}
	}
	if comp := topo.Component(serviceName, componentName); comp != nil {
		td.Component = &ComponentData{
			ComponentLevelParams: asMap(comp.Raw["componentLevelParams"]),
			CommandParams:        asMap(comp.Raw["commandParams"]),
		}
	}
	cd.Topology = td
	return cd
}
