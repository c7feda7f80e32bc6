package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ClusterDefinitions is one cluster of the alert-definitions cache
// (protocol.md §4.5).
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

// DecodeClusterDefinitions decodes one cluster object of the
// alert-definitions cache (the value under "clusters"."<id>"). Definitions
// whose common fields cannot be read are left out (as Python skips them)
// and reported in the returned error, which joins one error per skipped
// definition; the rest of the cluster is returned all the same.
func DecodeClusterDefinitions(clusterID string, raw []byte) (ClusterDefinitions, error) {
	cd := ClusterDefinitions{ClusterID: clusterID}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return cd, fmt.Errorf("alert definitions of cluster %s: not an object", clusterID)
	}
	cd.ClusterName = jsonString(top["clusterName"])
	cd.HostName = jsonString(top["hostName"])
	cd.PublicHostName = jsonString(top["publicHostName"])
	if v, ok := top["staleIntervalMultiplier"]; ok {
		if f, ok := jsonFloat(v); ok {
			cd.StaleIntervalMultiplier = &f
		}
	}
	var list []json.RawMessage
	if v, ok := top["alertDefinitions"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &list); err != nil {
			return cd, fmt.Errorf("alert definitions of cluster %s: alertDefinitions is not a list", clusterID)
		}
	}
	var errs []error
	for i, item := range list {
		d, err := decodeDefinition(item)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert definition %d of cluster %s: %w", i, clusterID, err))
			continue
		}
		cd.Definitions = append(cd.Definitions, d)
	}
	return cd, errors.Join(errs...)
}

func decodeDefinition(raw json.RawMessage) (Definition, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Definition{}, fmt.Errorf("not an object")
	}
	d := Definition{
		Name:          jsonString(m["name"]),
		Label:         jsonString(m["label"]),
		ServiceName:   jsonString(m["serviceName"]),
		ComponentName: jsonString(m["componentName"]),
		Scope:         jsonString(m["scope"]),
		UUID:          jsonString(m["uuid"]),
		Enabled:       jsonBool(m["enabled"]),
		Source:        m["source"],
	}
	id, ok := jsonInt(m["definitionId"])
	if !ok {
		return d, fmt.Errorf("no definitionId")
	}
	d.DefinitionID = id
	if d.Name == "" {
		return d, fmt.Errorf("definition %d has no name", id)
	}
	d.ClusterID, _ = jsonInt(m["clusterId"])
	if n, ok := jsonInt(m["interval"]); ok && n <= math.MaxInt32 {
		d.Interval = int(n)
	}
	if n, ok := jsonInt(m["repeat_tolerance"]); ok && n <= math.MaxInt32 {
		d.RepeatTolerance = int(n)
	}
	d.RepeatToleranceEnabled = jsonBool(m["repeat_tolerance_enabled"])
	return d, nil
}

func jsonString(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return ""
}

func jsonBool(v json.RawMessage) bool {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b
	}
	// Tolerate "true"/"false" strings.
	return strings.EqualFold(jsonString(v), "true")
}

func jsonFloat(v json.RawMessage) (float64, bool) {
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return f, true
	}
	if f, err := strconv.ParseFloat(jsonString(v), 64); err == nil {
		return f, true
	}
	return 0, false
}

func jsonInt(v json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		s := jsonString(v)
		if s == "" {
			return 0, false
		}
		n = json.Number(s)
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<62 {
		return 0, false
	}
	return int64(f), true
}
