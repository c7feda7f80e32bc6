package orchestrator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// CommandSource is what the orchestrator needs from the cluster caches to
// build a command's full JSON. Everything it returns is shared with other
// readers and must not be modified; the orchestrator copies what it uses.
// NewCacheSource adapts the agent's cache.Store.
type CommandSource interface {
	// ConfigsTimestamp is the configurations timestamp (ms) the agent holds;
	// ok is false before the first configurations event.
	ConfigsTimestamp() (ms int64, ok bool)
	// AmbariLevelParams is metadata "-1".clusterLevelParams as received,
	// nil when unknown.
	AmbariLevelParams() map[string]any
	// ClusterData returns what one cluster contributes to a command for the
	// given service and component (either may be empty).
	ClusterData(clusterID, serviceName, componentName string) ClusterData
}

// ClusterData holds one cluster's cached data sets. A nil field means the
// cache has nothing for the cluster.
type ClusterData struct {
	// Metadata is the raw metadata cluster object (clusterLevelParams,
	// serviceLevelParams, ...).
	Metadata map[string]any
	// HostLevelParams is the raw host-level params cluster object.
	HostLevelParams map[string]any
	// Configurations is the raw configurations cluster object; all its keys
	// (configurations, configurationAttributes) go into the command.
	Configurations map[string]any
	// Topology holds the topology-derived pieces.
	Topology *TopologyData
}

// TopologyData is what a command takes from the cluster's topology.
type TopologyData struct {
	// HostName is this host's hostName in the cluster's topology, "" when
	// the host is not part of the cluster.
	HostName            string
	ClusterHostInfo     map[string][]string
	LocalComponents     []string
	ComponentVersionMap map[string]map[string]string
	// Component is the entry of the requested (service, component), nil
	// when the topology has none.
	Component *ComponentData
}

// ComponentData is a topology component's parameters as received.
type ComponentData struct {
	ComponentLevelParams map[string]any
	CommandParams        map[string]any
}

// agentParams are the agent-side values every command carries.
type agentParams struct {
	publicHostname         string
	cacheDir               string
	parallelExecution      int
	useSystemProxySettings bool
}

// agentError is a refusal to run a command for a reason the agent itself
// detects (the Python agent's AgentException); other failures are plain
// errors. The distinction only shows in the failure text.
type agentError struct{ err error }

func (e *agentError) Error() string { return e.err.Error() }
func (e *agentError) Unwrap() error { return e.err }

func agentErrorf(format string, args ...any) error {
	return &agentError{err: fmt.Errorf(format, args...)}
}

// isCluster reports whether a clusterId names a real cluster.
func isCluster(clusterID string) bool { return clusterID != "-1" && clusterID != "null" }

// buildCommand assembles the command the scripts get: the base from the
// caches with the header deep-merged on top and a header clusterHostInfo
// expanded (docs/behaviour.md §5.4.1). The header is not modified.
func buildCommand(src CommandSource, header map[string]any, ap agentParams) (map[string]any, error) {
	rawCluster, hasCluster := header["clusterId"]
	clusterID := pyvalue.Str(rawCluster)
	var base map[string]any
	if hasCluster && isCluster(clusterID) {
		service, ok := stringOf(header["serviceName"])
		if !ok {
			return nil, fmt.Errorf("command for cluster %s has no serviceName", clusterID)
		}
		role, ok := stringOf(header["role"])
		if !ok {
			return nil, fmt.Errorf("command for cluster %s has no role", clusterID)
		}
		if err := checkConfigsTimestamp(src, header["requiredConfigTimestamp"]); err != nil {
			return nil, err
		}
		var err error
		base, err = clusterBase(src.ClusterData(clusterID, service, role), clusterID, service, role)
		if err != nil {
			return nil, err
		}
	} else {
		base = map[string]any{"agentLevelParams": map[string]any{}}
	}

	base["ambariLevelParams"] = copyMap(src.AmbariLevelParams())
	alp := base["agentLevelParams"].(map[string]any)
	alp["public_hostname"] = ap.publicHostname
	alp["agentCacheDir"] = ap.cacheDir
	alp["agentConfigParams"] = map[string]any{
		"agent": map[string]any{
			"parallel_execution":        ap.parallelExecution,
			"use_system_proxy_settings": ap.useSystemProxySettings,
		},
	}

	// A clusterHostInfo sent with the command replaces the topology's rather
	// than being merged into it.
	headerCHI, hasCHI := header["clusterHostInfo"]
	if hasCHI {
		delete(base, "clusterHostInfo")
	}
	cmd := pyvalue.MergeNestedInPlace(base, header)
	if hasCHI && pyvalue.Truthy(headerCHI) {
		chi, ok := headerCHI.(map[string]any)
		if !ok {
			return nil, agentErrorf("clusterHostInfo is not an object")
		}
		expanded, err := expandClusterHostInfo(chi)
		if err != nil {
			return nil, err
		}
		cmd["clusterHostInfo"] = expanded
	}
	return cmd, nil
}

func checkConfigsTimestamp(src CommandSource, required any) error {
	if !pyvalue.Truthy(required) {
		return nil
	}
	req, ok := pyvalue.Integral(required)
	if !ok {
		return fmt.Errorf("requiredConfigTimestamp %v is not an integer", required)
	}
	have, _ := src.ConfigsTimestamp()
	if have < req {
		return fmt.Errorf("Command requires configs with timestamp=%d but configs on agent have timestamp=%d", req, have)
	}
	return nil
}

// clusterBase is the cache-derived part of a cluster command. Every value is
// a private copy.
func clusterBase(cd ClusterData, clusterID, service, role string) (map[string]any, error) {
	if cd.Metadata == nil {
		return nil, fmt.Errorf("no metadata for cluster %s", clusterID)
	}
	if cd.HostLevelParams == nil {
		return nil, fmt.Errorf("no host level params for cluster %s", clusterID)
	}
	if cd.Configurations == nil {
		return nil, fmt.Errorf("no configurations for cluster %s", clusterID)
	}
	if cd.Topology == nil {
		return nil, fmt.Errorf("no topology for cluster %s", clusterID)
	}
	topo := cd.Topology
	if topo.HostName == "" {
		return nil, fmt.Errorf("this host is not in the topology of cluster %s", clusterID)
	}
	clp := copyMap(child(cd.Metadata, "clusterLevelParams"))
	if clp == nil {
		clp = map[string]any{}
	}
	base := map[string]any{
		"clusterLevelParams":  clp,
		"hostLevelParams":     copyMap(cd.HostLevelParams),
		"clusterHostInfo":     pyvalue.DeepCopy(hostInfoValue(topo.ClusterHostInfo)),
		"localComponents":     pyvalue.DeepCopy(nonNilStrings(topo.LocalComponents)),
		"componentVersionMap": versionMapValue(topo.ComponentVersionMap),
		"agentLevelParams":    map[string]any{"hostname": topo.HostName},
	}
	// Deliberate difference: the Python agent fails without cluster_name;
	// here the key is just left out.
	if name, ok := clp["cluster_name"]; ok {
		base["clusterName"] = name
	}
	if service != "" && service != "null" {
		slp, ok := child(cd.Metadata, "serviceLevelParams")[service].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no serviceLevelParams for service %s in cluster %s", service, clusterID)
		}
		base["serviceLevelParams"] = copyMap(slp)
	}
	if c := topo.Component; c != nil {
		base["componentLevelParams"] = copyMap(orEmpty(c.ComponentLevelParams))
		base["commandParams"] = copyMap(orEmpty(c.CommandParams))
	}
	for k, v := range cd.Configurations {
		base[k] = pyvalue.DeepCopy(v)
	}
	return base, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func hostInfoValue(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = pyvalue.DeepCopy(nonNilStrings(v))
	}
	return out
}

func versionMapValue(m map[string]map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for svc, comps := range m {
		out[svc] = pyvalue.DeepCopy(comps)
	}
	return out
}

// The seven keys a compressed clusterHostInfo must carry.
const (
	chiHosts     = "all_hosts"
	chiPingPorts = "all_ping_ports"
	chiRacks     = "all_racks"
	chiIPv4      = "all_ipv4_ips"
	chiSrvHost   = "ambari_server_host"
	chiSrvPort   = "ambari_server_port"
	chiSrvSSL    = "ambari_server_use_ssl"
)

// expandClusterHostInfo turns the compressed clusterHostInfo a command may
// carry into plain lists (docs/behaviour.md §5.4.1, docs/protocol.md §5.4).
func expandClusterHostInfo(chi map[string]any) (map[string]any, error) {
	for _, k := range []string{chiHosts, chiPingPorts, chiRacks, chiIPv4, chiSrvHost, chiSrvPort, chiSrvSSL} {
		if _, ok := chi[k]; !ok {
			return nil, agentErrorf("clusterHostInfo has no %s", k)
		}
	}
	hosts, ok := chi[chiHosts].([]any)
	if !ok {
		return nil, agentErrorf("clusterHostInfo %s is not a list", chiHosts)
	}
	out := make(map[string]any, len(chi))
	for k, v := range chi {
		switch k {
		case chiHosts, chiPingPorts, chiRacks, chiIPv4, chiSrvHost, chiSrvPort, chiSrvSSL:
			continue
		}
		items, err := stringItems(k, v)
		if err != nil {
			return nil, err
		}
		idx, err := rangesToIndexes(items)
		if err != nil {
			return nil, err
		}
		names := make([]any, 0, len(idx))
		for _, i := range idx {
			if i < 0 || i >= len(hosts) {
				return nil, agentErrorf("clusterHostInfo %s: host index %d out of range (%d hosts)", k, i, len(hosts))
			}
			names = append(names, pyvalue.DeepCopy(hosts[i]))
		}
		out[k] = names
	}
	for _, k := range []string{chiPingPorts, chiRacks, chiIPv4} {
		items, err := stringItems(k, chi[k])
		if err != nil {
			return nil, err
		}
		vals, err := mappedRangesToList(items)
		if err != nil {
			return nil, err
		}
		if k == chiPingPorts {
			for i, v := range vals {
				vals[i] = pyvalue.Str(v)
			}
		}
		out[k] = vals
	}
	out[chiHosts] = pyvalue.DeepCopy(hosts)
	for _, k := range []string{chiSrvHost, chiSrvPort, chiSrvSSL} {
		out[k] = pyvalue.DeepCopy(chi[k])
	}
	return out, nil
}

func stringItems(key string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, agentErrorf("clusterHostInfo %s is not a list", key)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, agentErrorf("clusterHostInfo %s: item %v is not a string", key, e)
		}
		out[i] = s
	}
	return out, nil
}

// rangesToIndexes converts ["1-3,5", "7"] to [1 2 3 5 7].
func rangesToIndexes(items []string) ([]int, error) {
	var out []int
	for _, item := range items {
		for _, r := range strings.Split(item, ",") {
			lo, hi, ok, err := indexRange(r)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, agentErrorf("Broken data in given range, expected - m-n or m, got: %s", r)
			}
			for i := lo; i <= hi; i++ {
				out = append(out, i)
			}
		}
	}
	return out, nil
}

// indexRange reads "m" or "m-n". ok is false for an empty bound of a pair or
// more than one "-", which each caller treats in its own way.
func indexRange(r string) (lo, hi int, ok bool, err error) {
	bounds := strings.Split(r, "-")
	if len(bounds) > 2 || (len(bounds) == 2 && (bounds[0] == "" || bounds[1] == "")) {
		return 0, 0, false, nil
	}
	if lo, err = rangeIndex(bounds[0]); err != nil {
		return 0, 0, true, err
	}
	hi = lo
	if len(bounds) == 2 {
		hi, err = rangeIndex(bounds[1])
	}
	return lo, hi, true, err
}

// mappedRangesToList converts ["8670:0-2,4", "8671:3"] to a list ordered by
// host index: [8670 8670 8670 8671 8670]. All-digit values become integers.
// Like the Python agent, a range item with more than one "-" is ignored.
func mappedRangesToList(items []string) ([]any, error) {
	byIndex := map[int]any{}
	for _, item := range items {
		parts := strings.Split(item, ":")
		if len(parts) != 2 {
			return nil, agentErrorf("Broken data in given value to range, expected format - value:m-n, got - %s", item)
		}
		var value any = parts[0]
		if pyvalue.IsDigits(parts[0]) {
			value = digitsValue(parts[0])
		}
		for _, r := range strings.Split(parts[1], ",") {
			lo, hi, ok, err := indexRange(r)
			if err != nil {
				return nil, err
			}
			if !ok && strings.Count(r, "-") == 1 {
				return nil, agentErrorf("Broken data in given value to range, expected format - value:m-n, got - %s", r)
			}
			for i := lo; ok && i <= hi; i++ {
				byIndex[i] = value
			}
		}
	}
	keys := make([]int, 0, len(byIndex))
	for k := range byIndex {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = byIndex[k]
	}
	return out, nil
}

// maxRangeIndex bounds host indexes so a malformed "0-999999999" cannot make
// the agent allocate without limit; no cluster comes near it.
const maxRangeIndex = 1 << 20

// rangeIndex reads a host index like Python's int(), bounded.
func rangeIndex(s string) (int, error) {
	i, ok := pyvalue.ParseInt(s)
	if !ok {
		return 0, agentErrorf("Broken data in given range, invalid number %q", s)
	}
	if i < 0 || i > maxRangeIndex {
		return 0, agentErrorf("Broken data in given range, index %d out of bounds", i)
	}
	return int(i), nil
}

// digitsValue is int(s) for an all-digit string: an int when it fits, else
// the digits without leading zeros as a JSON number.
func digitsValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		t = "0"
	}
	return json.Number(t)
}

// buildClusterConfiguration is the command-style dictionary of a cluster
// built for no service and no component (ConfigurationBuilder's
// get_configuration(cluster, None, None)): what alert definitions resolve
// {{type/key}} placeholders against. The caller owns the result.
func (o *Orchestrator) buildClusterConfiguration(clusterID string) (map[string]any, error) {
	if !isCluster(clusterID) {
		return nil, fmt.Errorf("no cluster %q", clusterID)
	}
	cmd, err := buildCommand(o.cfg.Caches, map[string]any{"clusterId": clusterID, "serviceName": "", "role": ""}, o.agentParams())
	if err != nil {
		return nil, err
	}
	delete(cmd, "serviceName")
	delete(cmd, "role")
	return cmd, nil
}
