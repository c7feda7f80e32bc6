package cache

// Snapshot is the part every cache's snapshot shares: the raw cluster
// objects, the hash and how the snapshot came to be. It is embedded in the
// typed snapshots (TopologySnapshot, ...). A snapshot never changes after it
// is published; everything it returns is shared and must not be mutated.
type Snapshot struct {
	hash      string
	hasHash   bool
	content   clusterSet
	eventType string
	// The configurations timestamp lives here so that a reader gets configs
	// and their timestamp from the same instant; only
	// ConfigurationsSnapshot exposes it.
	timestamp    int64
	hasTimestamp bool
}

func (s *Snapshot) snapshot() *Snapshot { return s }

// Hash returns the server hash of this content; ok is false when the agent
// has none (fresh host or unreadable files) and must send null.
func (s *Snapshot) Hash() (hash string, ok bool) { return s.hash, s.hasHash }

// ClusterIDs returns the cluster ids in the server's order, including
// CommonCluster ("-1") when present. Shared: do not modify.
func (s *Snapshot) ClusterIDs() []string { return s.content.ids }

// Len is the number of clusters.
func (s *Snapshot) Len() int { return len(s.content.ids) }

// Raw returns the cluster object exactly as received (nil if absent), for
// consumers that copy it into command JSON. Shared: do not modify;
// pyvalue.DeepCopy it first.
func (s *Snapshot) Raw(clusterID string) map[string]any { return s.content.m[clusterID] }

// EventType is the eventType of the event that produced this snapshot
// (CREATE, UPDATE, DELETE), "" for content loaded from disk and for caches
// whose events carry no type (configurations, host-level params).
func (s *Snapshot) EventType() string { return s.eventType }
