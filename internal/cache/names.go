package cache

import (
	"path/filepath"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Name identifies one of the five caches. Its value is the base name of the
// cache's files, the same as the Python agent's get_cache_name().
type Name string

// The five caches; the same strings as protocol.CacheSyncOrder's Cache field,
// so Name(step.Cache) picks the cache of a synchronisation step.
const (
	Topology         Name = protocol.CacheTopology
	Metadata         Name = protocol.CacheMetadata
	Configurations   Name = protocol.CacheConfigurations
	HostLevelParams  Name = protocol.CacheHostLevelParams
	AlertDefinitions Name = protocol.CacheAlertDefinitions
)

// CommonCluster is the cluster id under which the server sends data that
// belongs to no cluster (ambari level params and agentConfigs in metadata).
const CommonCluster = "-1"

// DirName is the sub-directory of the agent's cache_dir holding the caches.
const DirName = "cluster_cache"

// Dir returns the cluster cache directory for the agent's cache_dir.
func Dir(cacheDir string) string { return filepath.Join(cacheDir, DirName) }

// Names returns the five caches in the order the agent synchronises them
// after registration (topology, metadata, configurations, host-level params,
// alert definitions).
func Names() []Name {
	return []Name{Topology, Metadata, Configurations, HostLevelParams, AlertDefinitions}
}

// jsonFile and hashFile are the Python agent's file names, kept so that a host
// upgraded from the Python agent keeps its caches.
func (n Name) jsonFile() string { return string(n) + ".json" }
func (n Name) hashFile() string { return "." + string(n) + ".hash" }
