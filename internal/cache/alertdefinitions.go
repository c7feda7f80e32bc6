package cache

import (
	"encoding/json"
	"fmt"

	"github.com/sirupsen/logrus"
)

// AlertDefinitionsSnapshot is an immutable alert-definitions cache.
type AlertDefinitionsSnapshot struct {
	Snapshot
	clusters map[string]*AlertCluster
}

// AlertCluster is one cluster's alert definitions. Shared: do not modify.
type AlertCluster struct {
	ID string
	// HostName is the per-cluster hostName alert checks use as the local host
	// name ("" if absent); the event's top-level hostName is ignored.
	HostName string
	// StaleIntervalMultiplier enables stale-alert detection when present.
	StaleIntervalMultiplier    int
	HasStaleIntervalMultiplier bool
	Definitions                []AlertDefinition // server order
	Raw                        map[string]any
}

// AlertDefinition is one definition with the protocol's typed fields; absent
// fields are zero. Source stays raw: its shape depends on its type.
type AlertDefinition struct {
	ClusterID              int64
	DefinitionID           int64
	Name                   string
	Label                  string
	Description            string
	ServiceName            string
	ComponentName          string
	Scope                  string // ANY | HOST | SERVICE
	Interval               int    // minutes
	Enabled                bool
	UUID                   string
	IgnoreHost             bool
	HelpURL                string
	RepeatTolerance        int
	RepeatToleranceEnabled bool
	// HasRepeatToleranceEnabled: the reporter needs the field on every
	// definition and must know when it is missing.
	HasRepeatToleranceEnabled bool
	SourceType                string          // source.type: PORT, WEB, METRIC, AMS, SCRIPT, RECOVERY, ...
	Source                    json.RawMessage // the whole source object, nil if absent
	Raw                       map[string]any
}

// Cluster returns a cluster's alert definitions, nil if absent.
func (a *AlertDefinitionsSnapshot) Cluster(id string) *AlertCluster { return a.clusters[id] }

func buildAlertDefinitions(base Snapshot, _ *logrus.Entry) (*AlertDefinitionsSnapshot, error) {
	s := &AlertDefinitionsSnapshot{Snapshot: base, clusters: make(map[string]*AlertCluster, len(base.content.ids))}
	for _, id := range base.content.ids {
		c, err := buildAlertCluster(id, base.content.m[id])
		if err != nil {
			return nil, invalid("alert definitions cluster %s: %v", id, err)
		}
		s.clusters[id] = c
	}
	return s, nil
}

func buildAlertCluster(id string, raw map[string]any) (*AlertCluster, error) {
	c := &AlertCluster{ID: id, HostName: viewText(raw["hostName"]), Raw: raw}
	if n, ok := asInt64(raw["staleIntervalMultiplier"]); ok {
		c.StaleIntervalMultiplier, c.HasStaleIntervalMultiplier = int(n), true
	}
	defs, ok := listOf(raw["alertDefinitions"])
	if !ok {
		return nil, fmt.Errorf("alertDefinitions is not a list")
	}
	c.Definitions = make([]AlertDefinition, 0, len(defs))
	for _, e := range defs {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("alert definition is not an object")
		}
		d := AlertDefinition{
			Name:          viewText(m["name"]),
			Label:         viewText(m["label"]),
			Description:   viewText(m["description"]),
			ServiceName:   viewText(m["serviceName"]),
			ComponentName: viewText(m["componentName"]),
			Scope:         viewText(m["scope"]),
			Enabled:       asBool(m["enabled"]),
			UUID:          viewText(m["uuid"]),
			IgnoreHost:    asBool(m["ignore_host"]),
			HelpURL:       viewText(m["help_url"]),
			Raw:           m,
		}
		d.ClusterID, _ = asInt64(m["clusterId"])
		d.DefinitionID, _ = asInt64(m["definitionId"])
		if n, ok := asInt64(m["interval"]); ok {
			d.Interval = int(n)
		}
		if n, ok := asInt64(m["repeat_tolerance"]); ok {
			d.RepeatTolerance = int(n)
		}
		if v, ok := m["repeat_tolerance_enabled"]; ok {
			d.RepeatToleranceEnabled, d.HasRepeatToleranceEnabled = asBool(v), true
		}
		if src, ok := m["source"]; ok && src != nil {
			b, err := marshal(src, "")
			if err != nil {
				return nil, fmt.Errorf("definition %v: source: %v", m["definitionId"], err)
			}
			d.Source = b
			if sm, ok := src.(map[string]any); ok {
				d.SourceType = viewText(sm["type"])
			}
		}
		c.Definitions = append(c.Definitions, d)
	}
	return c, nil
}
