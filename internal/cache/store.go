package cache

import (
	"fmt"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/sirupsen/logrus"
)

// Store bundles the five caches. It is safe for concurrent use: each cache
// has its own single-writer lock, readers never lock.
type Store struct {
	topology         *TopologyCache
	metadata         *MetadataCache
	configurations   *ConfigurationsCache
	hostLevelParams  *HostLevelParamsCache
	alertDefinitions *AlertDefinitionsCache
}

// Open loads the five caches from dir (the cluster cache directory,
// Dir(cache_dir)); a cache whose files are missing or unreadable starts
// empty with no hash. dir "" keeps everything in memory. The directory is
// created on the first write. A nil log discards log output.
func Open(dir string, log *logrus.Entry) *Store {
	log = logging.OrDiscard(log)
	return &Store{
		topology: newCache(Topology, dir, log,
			rules{eventTypes: true, update: topologyUpdate, delete: topologyDelete}, buildTopology),
		metadata: newCache(Metadata, dir, log,
			rules{eventTypes: true, update: metadataUpdate, delete: metadataDelete}, buildMetadata),
		configurations: newCache(Configurations, dir, log,
			rules{timestamp: true}, buildConfigurations),
		hostLevelParams: newCache(HostLevelParams, dir, log,
			rules{}, buildHostLevelParams),
		alertDefinitions: newCache(AlertDefinitions, dir, log,
			rules{eventTypes: true, update: alertDefinitionsUpdate, delete: alertDefinitionsDelete}, buildAlertDefinitions),
	}
}

// Topology returns the topology cache.
func (s *Store) Topology() *TopologyCache { return s.topology }

// Metadata returns the metadata cache.
func (s *Store) Metadata() *MetadataCache { return s.metadata }

// Configurations returns the configurations cache.
func (s *Store) Configurations() *ConfigurationsCache { return s.configurations }

// HostLevelParams returns the host-level params cache.
func (s *Store) HostLevelParams() *HostLevelParamsCache { return s.hostLevelParams }

// AlertDefinitions returns the alert-definitions cache.
func (s *Store) AlertDefinitions() *AlertDefinitionsCache { return s.alertDefinitions }

// Cache returns a cache by name.
func (s *Store) Cache(name Name) (EventCache, bool) {
	switch name {
	case Topology:
		return s.topology, true
	case Metadata:
		return s.metadata, true
	case Configurations:
		return s.configurations, true
	case HostLevelParams:
		return s.hostLevelParams, true
	case AlertDefinitions:
		return s.alertDefinitions, true
	}
	return nil, false
}

// Apply applies an event body to the named cache (see Cache.Apply).
func (s *Store) Apply(name Name, body []byte) error {
	c, ok := s.Cache(name)
	if !ok {
		return fmt.Errorf("apply event: unknown cache %q", name)
	}
	return c.Apply(body)
}

// ConfigsTimestamp returns the configurations timestamp (ms) the agent
// holds; ok is false until the first configs event after start.
func (s *Store) ConfigsTimestamp() (ms int64, ok bool) {
	return s.configurations.Snapshot().Timestamp()
}
