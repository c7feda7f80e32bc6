package cache

import "github.com/sirupsen/logrus"

// ConfigurationsSnapshot is an immutable configurations cache and the
// configurations timestamp that came with it.
type ConfigurationsSnapshot struct {
	Snapshot
	clusters map[string]*ConfigCluster
}

// ConfigCluster is one cluster's configurations. Shared: do not modify.
// Never log it: it holds passwords.
type ConfigCluster struct {
	ID string
	// Configurations maps config type -> key -> value.
	Configurations map[string]map[string]string
	// Raw holds every key the server sent (configurations,
	// configurationAttributes, ...); commands copy all of them.
	Raw map[string]any
}

// Cluster returns a cluster's configurations, nil if absent.
func (c *ConfigurationsSnapshot) Cluster(id string) *ConfigCluster { return c.clusters[id] }

// Timestamp returns the configurations timestamp (ms) of the last configs
// event; ok is false until the first one arrives after start.
func (c *ConfigurationsSnapshot) Timestamp() (ms int64, ok bool) {
	return c.timestamp, c.hasTimestamp
}

// Get returns configurations[configType][key].
func (c *ConfigCluster) Get(configType, key string) (string, bool) {
	v, ok := c.Configurations[configType][key]
	return v, ok
}

func buildConfigurations(base Snapshot, _ *logrus.Entry) (*ConfigurationsSnapshot, error) {
	s := &ConfigurationsSnapshot{Snapshot: base, clusters: make(map[string]*ConfigCluster, len(base.content.ids))}
	for _, id := range base.content.ids {
		raw := base.content.m[id]
		c := &ConfigCluster{ID: id, Raw: raw}
		if types, ok := raw["configurations"].(map[string]any); ok {
			c.Configurations = make(map[string]map[string]string, len(types))
			for t, kv := range types {
				if m := stringMap(kv); m != nil {
					c.Configurations[t] = m
				}
			}
		}
		s.clusters[id] = c
	}
	return s, nil
}
