package alerts

import (
	"fmt"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// decodeCluster turns one cluster object of the alert-definitions cache,
// as JSON, into ClusterDefinitions the way the agent does: through the
// cache.
func decodeCluster(id string, raw []byte) (ClusterDefinitions, error) {
	st := cache.Open("", nil)
	body := fmt.Sprintf(`{"eventType":"CREATE","hash":"h","clusters":{%q:%s}}`, id, raw)
	if err := st.AlertDefinitions().Apply([]byte(body)); err != nil {
		return ClusterDefinitions{}, err
	}
	return ClusterDefinitionsFrom(st.AlertDefinitions().Snapshot().Cluster(id))
}
