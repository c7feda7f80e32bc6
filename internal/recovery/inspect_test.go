package recovery

import "sort"

// What the tests inspect of a manager; the agent itself reads only
// Commands and Counters.

// Settings is the configuration in force.
type Settings struct {
	Enabled bool
	Mode    Mode
	Limits  Limits
	// ClusterID is the recovery cluster, the clusterId of recovery commands
	// ("" until a cache names one).
	ClusterID string
	// Recoverable lists recoveryConfig.components, sorted.
	Recoverable []string
}

// Settings returns the configuration in force, for the tests to check
// what the manager read.
func (m *Manager) Settings() Settings {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Settings{Enabled: m.enabled, Mode: m.mode, Limits: m.lim.limits, ClusterID: m.clusterID,
		Recoverable: make([]string, 0, len(m.recoverable))}
	for name := range m.recoverable {
		s.Recoverable = append(s.Recoverable, name)
	}
	sort.Strings(s.Recoverable)
	return s
}

// Enabled reports whether recovery is on (cluster-env valid and enabled).
func (m *Manager) Enabled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enabled
}
