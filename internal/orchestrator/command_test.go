package orchestrator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func jsonObj(t *testing.T, s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExpandClusterHostInfo(t *testing.T) {
	full := func(extra string) string {
		return `{"all_hosts":["a","b","c","d","e"],"all_ping_ports":["8670:0-2,4","8671:3"],"all_racks":["/r1:0-1","42:2-4"],` +
			`"all_ipv4_ips":["10.0.0.1:0","10.0.0.2:1","10.0.0.3:2","10.0.0.4:3","10.0.0.5:4"],` +
			`"ambari_server_host":["s"],"ambari_server_port":["8080"],"ambari_server_use_ssl":["false"]` + extra + `}`
	}
	got, err := expandClusterHostInfo(decode(t, jsonObj(t, full(`,"nn_hosts":["0-2,4"],"dn_hosts":["1","3-3"],"zk_hosts":["4-2"]`))))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"all_hosts": []any{"a", "b", "c", "d", "e"},
		"nn_hosts":  []any{"a", "b", "c", "e"}, "dn_hosts": []any{"b", "d"}, "zk_hosts": []any{},
		"all_ping_ports": []any{"8670", "8670", "8670", "8671", "8670"},
		// All-digit values become integers (the rack "42" too), except ping
		// ports, which end up as strings.
		"all_racks":          []any{"/r1", "/r1", int64(42), int64(42), int64(42)},
		"all_ipv4_ips":       []any{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"},
		"ambari_server_host": []any{"s"}, "ambari_server_port": []any{"8080"}, "ambari_server_use_ssl": []any{"false"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}

	bad := map[string]string{
		"missing key":        `{"all_hosts":["a"]}`,
		"empty range side":   full(`,"x_hosts":["0-"]`),
		"three part range":   full(`,"x_hosts":["0-1-2"]`),
		"not a number":       full(`,"x_hosts":["a"]`),
		"index out of range": full(`,"x_hosts":["7"]`),
		"not a list":         full(`,"x_hosts":"0"`),
		"mapped without :":   strings.Replace(full(""), `"8671:3"`, `"8671"`, 1),
		"mapped empty side":  strings.Replace(full(""), `"8671:3"`, `"8671:-3"`, 1),
		"huge range":         full(`,"x_hosts":["0-99999999"]`),
	}
	for name, s := range bad {
		if _, err := expandClusterHostInfo(decode(t, jsonObj(t, s))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := expandClusterHostInfo(decode(t, jsonObj(t, full(`,"x_hosts":["0-"]`)))); err == nil ||
		err.Error() != "Broken data in given range, expected - m-n or m, got: 0-" {
		t.Errorf("message: %v", err)
	}
}

// fakeSource is a CommandSource over literal maps, for table tests of the
// error paths; the happy path runs over the real caches in run_test.go.
type fakeSource struct {
	ts     int64
	ambari map[string]any
	data   map[string]ClusterData
}

func (f *fakeSource) ConfigsTimestamp() (int64, bool)   { return f.ts, f.ts != 0 }
func (f *fakeSource) AmbariLevelParams() map[string]any { return f.ambari }
func (f *fakeSource) ClusterData(id, _, _ string) ClusterData {
	return f.data[id]
}

func TestBuildCommandNeedsClusterData(t *testing.T) {
	complete := ClusterData{
		Metadata: map[string]any{"clusterLevelParams": map[string]any{"cluster_name": "c1"},
			"serviceLevelParams": map[string]any{"S": map[string]any{"version": "1"}}},
		HostLevelParams: map[string]any{}, Configurations: map[string]any{"configurations": map[string]any{}},
		Topology: &TopologyData{HostName: "h1", ClusterHostInfo: map[string][]string{"all_hosts": {"h1"}}},
	}
	without := func(mod func(*ClusterData)) ClusterData { c := complete; mod(&c); return c }
	cases := map[string]struct {
		cd   ClusterData
		want string
	}{
		"complete":       {complete, ""},
		"no metadata":    {without(func(c *ClusterData) { c.Metadata = nil }), "no metadata for cluster 2"},
		"no host params": {without(func(c *ClusterData) { c.HostLevelParams = nil }), "no host level params"},
		"no configs":     {without(func(c *ClusterData) { c.Configurations = nil }), "no configurations"},
		"no topology":    {without(func(c *ClusterData) { c.Topology = nil }), "no topology"},
		"host not in it": {without(func(c *ClusterData) { c.Topology = &TopologyData{} }), "not in the topology"},
		"no service":     {without(func(c *ClusterData) { c.Metadata = map[string]any{} }), "no serviceLevelParams for service S"},
	}
	for name, c := range cases {
		src := &fakeSource{ts: 5, data: map[string]ClusterData{"2": c.cd}}
		cmd, err := buildCommand(src, map[string]any{"clusterId": "2", "serviceName": "S", "role": "R"}, agentParams{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		case c.want == "":
			if cmd["componentLevelParams"] != nil || cmd["commandParams"] != nil {
				t.Errorf("%s: component params without a topology component", name)
			}
			if !reflect.DeepEqual(cmd["localComponents"], []any{}) {
				t.Errorf("%s: localComponents %v", name, cmd["localComponents"])
			}
		}
	}

	// "-1" and "null" clusters take nothing from the cluster caches.
	src := &fakeSource{ambari: map[string]any{"jdk_location": "u"}}
	for _, id := range []string{"-1", "null"} {
		cmd, err := buildCommand(src, map[string]any{"clusterId": id, "requiredConfigTimestamp": 99}, agentParams{
			publicHostname: "pub", cacheDir: "/c", parallelExecution: 1, useSystemProxySettings: true})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"clusterId": id, "requiredConfigTimestamp": 99,
			"ambariLevelParams": map[string]any{"jdk_location": "u"},
			"agentLevelParams": map[string]any{"public_hostname": "pub", "agentCacheDir": "/c",
				"agentConfigParams": map[string]any{"agent": map[string]any{"parallel_execution": 1, "use_system_proxy_settings": true}}},
		}
		if !reflect.DeepEqual(cmd, want) {
			t.Errorf("cluster %s:\n%v\nwant\n%v", id, cmd, want)
		}
	}
}
