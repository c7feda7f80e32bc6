package orchestrator

import (
	"sync"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// stateSource is a CommandSource that can tell whether its data changed:
// two equal states mean the same data. The cluster caches can (their
// snapshots are immutable and replaced on every change); a source that
// cannot is read afresh every time.
type stateSource interface {
	State() any
}

// cacheState is the identity of the cluster caches' data: the snapshots a
// command is built from.
type cacheState struct {
	topo *cache.TopologySnapshot
	meta *cache.MetadataSnapshot
	conf *cache.ConfigurationsSnapshot
	hlp  *cache.HostLevelParamsSnapshot
}

func (c *cacheSource) State() any {
	return cacheState{
		topo: c.store.Topology().Snapshot(),
		meta: c.store.Metadata().Snapshot(),
		conf: c.store.Configurations().Snapshot(),
		hlp:  c.store.HostLevelParams().Snapshot(),
	}
}

// clusterConfigs keeps the last dictionary built per cluster with the
// state of the caches it was built from.
type clusterConfigs struct {
	mu   sync.Mutex
	memo map[string]clusterConfig
}

type clusterConfig struct {
	state any
	dict  map[string]any
}

// ClusterConfiguration is the command-style dictionary of a cluster built
// for no service and no component: what alert definitions resolve
// {{type/key}} placeholders against (docs/behaviour.md §9.3). It is built
// once per state of the caches, not per alert check, and shared: callers
// only read it. The memo holds one dictionary per cluster of the caches.
func (o *Orchestrator) ClusterConfiguration(clusterID string) (map[string]any, error) {
	src, ok := o.cfg.Caches.(stateSource)
	if !ok {
		return o.buildClusterConfiguration(clusterID)
	}
	state := src.State()
	c := &o.configs
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.memo[clusterID]; ok && m.state == state {
		return m.dict, nil
	}
	dict, err := o.buildClusterConfiguration(clusterID)
	if err != nil {
		return nil, err
	}
	if c.memo == nil {
		c.memo = map[string]clusterConfig{}
	}
	c.memo[clusterID] = clusterConfig{state: state, dict: dict}
	return dict, nil
}
