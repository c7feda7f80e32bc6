package alerts

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// ClusterDefinitions is one cluster of the alert-definitions cache
// (docs/protocol.md §4.6).
type ClusterDefinitions struct {
	// ClusterID is the cache key, the decimal cluster id ("2").
	ClusterID string
	// ClusterName is "clusterName" when present (the STOMP server does not
	// send it; Python then uses "").
	ClusterName string
	// HostName is this host's name as the checks use it ("hostName").
	HostName string
	// PublicHostName is "publicHostName"; empty means HostName.
	PublicHostName string
	// StaleIntervalMultiplier enables stale-alert detection for the cluster
	// when not nil.
	StaleIntervalMultiplier *float64
	Definitions             []Definition
}

// Definition is one alert definition: the fields every alert type shares,
// typed, and the type-specific source as raw JSON.
type Definition struct {
	ClusterID     int64
	DefinitionID  int64
	Name          string
	Label         string
	ServiceName   string
	ComponentName string
	Scope         string
	// Interval is in minutes as sent; scheduling treats missing or < 1 as 1.
	Interval int
	Enabled  bool
	// UUID names the scheduled job; the server gives a changed definition a
	// new one.
	UUID                   string
	RepeatTolerance        int
	RepeatToleranceEnabled bool
	// Source is the "source" object (type, uri, reporting, ...).
	Source json.RawMessage
}

// intervalMinutes applies the Python rule: missing or < 1 means 1.
func (d *Definition) intervalMinutes() int {
	if d.Interval < 1 {
		return 1
	}
	return d.Interval
}

// ClusterDefinitionsFrom takes one cluster of the alert-definitions cache
// (its typed view, decoded once per cache change). Definitions without a
// definitionId or a name can be neither scheduled nor reported; they are
// left out (as Python skips them) and named in the returned error, which
// joins one error per skipped definition; the rest of the cluster is
// returned all the same.
func ClusterDefinitionsFrom(c *cache.AlertCluster) (ClusterDefinitions, error) {
	cd := ClusterDefinitions{
		ClusterID:      c.ID,
		ClusterName:    stringValue(c.Raw["clusterName"]),
		HostName:       c.HostName,
		PublicHostName: stringValue(c.Raw["publicHostName"]),
	}
	if c.HasStaleIntervalMultiplier {
		f := float64(c.StaleIntervalMultiplier)
		cd.StaleIntervalMultiplier = &f
	}
	var errs []error
	for i, d := range c.Definitions {
		if _, ok := d.Raw["definitionId"]; !ok {
			errs = append(errs, fmt.Errorf("alert definition %d of cluster %s: no definitionId", i, c.ID))
			continue
		}
		if d.Name == "" {
			errs = append(errs, fmt.Errorf("alert definition %d of cluster %s: definition %d has no name", i, c.ID, d.DefinitionID))
			continue
		}
		cd.Definitions = append(cd.Definitions, Definition{
			ClusterID:              d.ClusterID,
			DefinitionID:           d.DefinitionID,
			Name:                   d.Name,
			Label:                  d.Label,
			ServiceName:            d.ServiceName,
			ComponentName:          d.ComponentName,
			Scope:                  d.Scope,
			Interval:               d.Interval,
			Enabled:                d.Enabled,
			UUID:                   d.UUID,
			RepeatTolerance:        d.RepeatTolerance,
			RepeatToleranceEnabled: d.RepeatToleranceEnabled,
			Source:                 d.Source,
		})
	}
	return cd, errors.Join(errs...)
}

func stringValue(v any) string {
	s, _ := v.(string)
	return s
}
