package alerts

import (
	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/logging"
)

// CacheDefinitions reads the alert-definitions cache as the scheduler's
// DefinitionSource: every cluster's definitions, decoded by
// ClusterDefinitionsFrom. A definition that cannot be scheduled is logged
// on log and left out; the other definitions of its cluster still run.
func CacheDefinitions(c *cache.AlertDefinitionsCache, log *logrus.Entry) DefinitionSource {
	return cacheDefinitions{c: c, log: logging.OrDiscard(log)}
}

type cacheDefinitions struct {
	c   *cache.AlertDefinitionsCache
	log *logrus.Entry
}

func (d cacheDefinitions) AlertDefinitions() ([]ClusterDefinitions, string) {
	snap := d.c.Snapshot()
	var out []ClusterDefinitions
	for _, id := range snap.ClusterIDs() {
		c := snap.Cluster(id)
		if c == nil {
			continue
		}
		cd, err := ClusterDefinitionsFrom(c)
		if err != nil {
			d.log.WithError(err).Warn("Skipping alert definitions that cannot be scheduled")
		}
		out = append(out, cd)
	}
	return out, snap.EventType()
}

func (d cacheDefinitions) Subscribe() (<-chan struct{}, func()) { return d.c.Subscribe() }
