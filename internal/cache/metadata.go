package cache

import "github.com/sirupsen/logrus"

// MetadataSnapshot is an immutable metadata cache with typed per-cluster
// views.
type MetadataSnapshot struct {
	Snapshot
	clusters    map[string]*MetadataCluster
	agentConfig map[string]string
}

// MetadataCluster is one cluster's metadata. Shared: do not modify.
type MetadataCluster struct {
	ID string
	// ClusterLevelParams as strings (stack_name, cluster_name, hooks_folder,
	// ...); null values are left out. The raw map is Raw["clusterLevelParams"].
	ClusterLevelParams map[string]string
	// ServiceLevelParams maps a service name to its raw parameters (version,
	// credentialStoreEnabled, configuration_credentials, ...).
	ServiceLevelParams map[string]map[string]any
	// StatusCommandsToRun lists the status commands to run per local
	// component; empty means no status checks for this cluster.
	StatusCommandsToRun []string
	Raw                 map[string]any
}

// Cluster returns a cluster's metadata, nil if absent. CommonCluster ("-1")
// holds the Ambari-wide data.
func (m *MetadataSnapshot) Cluster(id string) *MetadataCluster { return m.clusters[id] }

// AmbariLevelParams returns the "-1" cluster's clusterLevelParams (the
// command's ambariLevelParams), nil if absent.
func (m *MetadataSnapshot) AmbariLevelParams() map[string]string {
	if c := m.clusters[CommonCluster]; c != nil {
		return c.ClusterLevelParams
	}
	return nil
}

// AgentConfig returns "-1".agentConfigs.agentConfig, the server-side
// settings the agent merges into its [agentConfig] section (nil if absent).
func (m *MetadataSnapshot) AgentConfig() map[string]string { return m.agentConfig }

func buildMetadata(base Snapshot, _ *logrus.Entry) (*MetadataSnapshot, error) {
	s := &MetadataSnapshot{Snapshot: base, clusters: make(map[string]*MetadataCluster, len(base.content.ids))}
	for _, id := range base.content.ids {
		raw := base.content.m[id]
		c := &MetadataCluster{
			ID:                  id,
			ClusterLevelParams:  stringMap(raw["clusterLevelParams"]),
			StatusCommandsToRun: stringList(raw["status_commands_to_run"]),
			Raw:                 raw,
		}
		if slp, ok := raw["serviceLevelParams"].(map[string]any); ok {
			c.ServiceLevelParams = make(map[string]map[string]any, len(slp))
			for svc, v := range slp {
				if p, ok := v.(map[string]any); ok {
					c.ServiceLevelParams[svc] = p
				}
			}
		}
		s.clusters[id] = c
	}
	if common := base.content.m[CommonCluster]; common != nil {
		if ac, ok := common["agentConfigs"].(map[string]any); ok {
			s.agentConfig = stringMap(ac["agentConfig"])
		}
	}
	return s, nil
}
