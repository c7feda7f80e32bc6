package alerts

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Expected values were produced by the Python agent's helpers
// (inet_utils.get_host_from_url, get_port_from_url, get_path_from_url).
func TestURLParsingLikePython(t *testing.T) {
	cases := []struct {
		uri     string
		host    string
		hasHost bool
		port    int
		hasPort bool
		path    string
		hasPath bool
	}{
		{"c6401.ambari.apache.org:8080", "c6401.ambari.apache.org", true, 8080, true, "", false},
		{"8080", "", false, 8080, true, "", false},
		{"http://h1:50070/jmx", "h1", true, 50070, true, "jmx", true},
		{"https://h1", "h1", true, 0, false, "", false},
		{"h1", "h1", true, 0, false, "", false},
		{"0.0.0.0:2181", "0.0.0.0", true, 2181, true, "", false},
		{"h1:8080/path/x", "h1", true, 8080, true, "path/x", true},
		{"hdfs://h1:8020", "h1", true, 8020, true, "", false},
		{"/path", "/path", true, 0, false, "path", true},
		{"h1:123456", "h1", true, 0, false, "", false},
		{"h1:123456/x", "h1", true, 0, false, "x", true},
		{"http://h1:80:90/", "h1", true, 90, true, "", false},
		{"h1:80,h2:90", "h1", true, 90, true, "", false},
		{"", "", true, 0, false, "", false},
	}
	for _, c := range cases {
		h, ok := hostFromURL(c.uri)
		if h != c.host || ok != c.hasHost {
			t.Errorf("host(%q) = %q, %v", c.uri, h, ok)
		}
		p, ok := portFromURL(c.uri)
		if p != c.port || ok != c.hasPort {
			t.Errorf("port(%q) = %d, %v", c.uri, p, ok)
		}
		if c.uri == "" {
			continue
		}
		path, ok := pathFromURL(c.uri)
		if path != c.path || ok != c.hasPath {
			t.Errorf("path(%q) = %q, %v", c.uri, path, ok)
		}
	}
	if _, ok := hostFromURL(int64(8080)); ok {
		t.Error("a number has no host")
	}
	if p, ok := portFromURL(int64(8080)); !ok || p != 8080 {
		t.Error("a number is a port")
	}
}

func TestResolvePlaceholders(t *testing.T) {
	var root map[string]any
	dec := json.NewDecoder(strings.NewReader(`{
		"configurations": {"hdfs-site": {"a": "h1", "b": "50070", "n": 3}, "empty": {}},
		"clusterLevelParams": {"stack_name": "HDP"}}`))
	dec.UseNumber() // as the caches decode
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	c := configLookup{fetch: func() (map[string]any, error) { return root, nil }}
	cases := []struct {
		key  any
		want any
		ok   bool
	}{
		{"constant", "constant", true},
		{"{{hdfs-site/a}}:{{hdfs-site/b}}/x", "h1:50070/x", true},
		{"{{hdfs-site/a}}:{{hdfs-site/missing}}", nil, false},
		{"{{/clusterLevelParams/stack_name}}", "HDP", true},
		{"{{hdfs-site/n}}", "3", true},
		{nil, nil, false},
	}
	for _, tc := range cases {
		v, ok, err := c.resolve(tc.key)
		if err != nil || ok != tc.ok || !reflect.DeepEqual(v, tc.want) {
			t.Errorf("resolve(%v) = %v, %v, %v", tc.key, v, ok, err)
		}
	}
	// A placeholder naming a whole type returns that dictionary.
	if v, ok, _ := c.resolve("{{empty}}"); !ok || !reflect.DeepEqual(v, map[string]any{}) {
		t.Errorf("dict placeholder: %v %v", v, ok)
	}
}

func TestDecodeClusterDefinitions(t *testing.T) {
	raw := []byte(`{"hostName": "h1", "staleIntervalMultiplier": 5, "alertDefinitions": [
		{"clusterId": 2, "definitionId": 17, "name": "zk", "interval": 1, "enabled": true, "uuid": "u17",
		 "repeat_tolerance": 3, "repeat_tolerance_enabled": true, "componentName": "ZOOKEEPER_SERVER",
		 "source": {"type": "PORT", "uri": "{{zoo.cfg/clientPort}}"}},
		{"name": "no id"},
		{"definitionId": 18, "name": "minimal", "source": {"type": "SCRIPT"}}]}`)
	cd, err := decodeCluster("2", raw)
	if err == nil {
		t.Fatal("the definition without an id was not reported")
	}
	if cd.HostName != "h1" || cd.StaleIntervalMultiplier == nil || *cd.StaleIntervalMultiplier != 5 || len(cd.Definitions) != 2 {
		t.Fatalf("%+v", cd)
	}
	d := cd.Definitions[0]
	if d.DefinitionID != 17 || d.Name != "zk" || d.Interval != 1 || !d.Enabled || d.UUID != "u17" ||
		d.RepeatTolerance != 3 || !d.RepeatToleranceEnabled || d.ComponentName != "ZOOKEEPER_SERVER" || d.ClusterID != 2 ||
		string(d.Source) != `{"type":"PORT","uri":"{{zoo.cfg/clientPort}}"}` {
		t.Fatalf("%+v", d)
	}
	m := cd.Definitions[1]
	if m.Enabled || m.intervalMinutes() != 1 || m.RepeatToleranceEnabled {
		t.Fatalf("defaults: %+v", m)
	}
}
