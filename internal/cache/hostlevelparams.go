package cache

import "github.com/sirupsen/logrus"

// HostLevelParamsSnapshot is an immutable host-level params cache.
type HostLevelParamsSnapshot struct {
	Snapshot
	clusters map[string]*HostLevelParamsCluster
}

// HostLevelParamsCluster is one cluster's host-level params. Shared: do not
// modify.
type HostLevelParamsCluster struct {
	ID string
	// HasRecoveryConfig reports whether the cluster object carries
	// recoveryConfig (the recovery manager re-reads only then).
	HasRecoveryConfig bool
	// RecoveryComponents is recoveryConfig.components: the components enabled
	// for auto-recovery and their desired state.
	RecoveryComponents []RecoveryComponent
	// BlueprintProvisioningState maps component -> NONE | IN_PROGRESS | FINISHED.
	BlueprintProvisioningState map[string]string
	// Raw is the whole object, the command's hostLevelParams.
	Raw map[string]any
}

// RecoveryComponent is one entry of recoveryConfig.components.
type RecoveryComponent struct {
	ServiceName   string
	ComponentName string
	DesiredState  string
}

// Cluster returns a cluster's host-level params, nil if absent.
func (h *HostLevelParamsSnapshot) Cluster(id string) *HostLevelParamsCluster { return h.clusters[id] }

func buildHostLevelParams(base Snapshot, _ *logrus.Entry) (*HostLevelParamsSnapshot, error) {
	s := &HostLevelParamsSnapshot{Snapshot: base, clusters: make(map[string]*HostLevelParamsCluster, len(base.content.ids))}
	for _, id := range base.content.ids {
		raw := base.content.m[id]
		c := &HostLevelParamsCluster{
			ID:                         id,
			BlueprintProvisioningState: stringMap(raw["blueprint_provisioning_state"]),
			Raw:                        raw,
		}
		if rc, ok := raw["recoveryConfig"]; ok {
			c.HasRecoveryConfig = true
			rcm, _ := rc.(map[string]any)
			comps, _ := listOf(rcm["components"])
			for _, e := range comps {
				m, ok := e.(map[string]any)
				if !ok {
					continue
				}
				c.RecoveryComponents = append(c.RecoveryComponents, RecoveryComponent{
					ServiceName:   viewText(m["service_name"]),
					ComponentName: viewText(m["component_name"]),
					DesiredState:  viewText(m["desired_state"]),
				})
			}
		}
		s.clusters[id] = c
	}
	return s, nil
}
