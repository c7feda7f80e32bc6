package cache

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// A small topology used as the starting point of most topology cases.
const topo0 = `{"eventType":"CREATE","hash":"t0","clusters":{
 "2":{"hosts":[
   {"hostId":1,"hostName":"h1","rackName":"/r1","ipv4":"10.0.0.1"},
   {"hostId":2,"hostName":"h2","rackName":"/r1","ipv4":"10.0.0.2"},
   {"hostId":3,"hostName":"h3","rackName":"/r2","ipv4":"10.0.0.3"}],
  "components":[
   {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2],"commandParams":{"script":"zk.py","version":"1.0"},"componentLevelParams":{"a":"1"}},
   {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2,3],"commandParams":{"script":"dn.py"}},
   {"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3],"commandParams":{"script":"nn.py"}}]},
 "5":{"hosts":[],"components":[]}}}`

const meta0 = `{"eventType":"CREATE","hash":"m0","clusters":{
 "-1":{"clusterLevelParams":{"jdk_location":"http://s/r","java_home":"/j"},"agentConfigs":{"agentConfig":{"agent.auto.cache.update":"true"}}},
 "2":{"status_commands_to_run":["STATUS"],"clusterLevelParams":{"cluster_name":"c1","stack_name":"HDP"},
      "serviceLevelParams":{"ZK":{"version":"3.4","credentialStoreEnabled":false}}}}}`

const alerts0 = `{"eventType":"CREATE","hash":"a0","clusters":{
 "2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[
   {"definitionId":1,"name":"a","uuid":"u1","interval":1},
   {"definitionId":2,"name":"b","uuid":"u2","interval":2}]},
 "3":{"hostName":"h1","alertDefinitions":[{"definitionId":7,"name":"c"}]}}}`

// TestMergeRules covers every merge rule of docs/protocol.md §4, one case
// per rule, including the Python quirks this package keeps (named "quirk").
func TestMergeRules(t *testing.T) {
	cases := []struct {
		name     string
		cache    Name
		setup    []string
		event    string
		wantErr  bool
		want     string // expected clusters; "" = unchanged from setup
		wantHash string // "" = unchanged from setup
	}{
		// --- common rules ---
		{name: "empty object means unchanged", cache: Topology, setup: []string{topo0}, event: `{}`},
		{name: "unknown eventType is ignored, even without hash", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"NONE","clusters":{}}`},
		{name: "non-string eventType is ignored like an unknown one", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":null,"hash":"x","clusters":{}}`},
		{name: "missing eventType is an error", cache: Topology, setup: []string{topo0},
			event: `{"hash":"x","clusters":{}}`, wantErr: true},
		{name: "data without hash is an error", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"CREATE","clusters":{}}`, wantErr: true},
		{name: "null hash is an error", cache: HostLevelParams,
			event: `{"hash":null,"clusters":{}}`, wantErr: true},
		{name: "numeric hash is an error", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"CREATE","hash":5,"clusters":{}}`, wantErr: true},
		{name: "missing clusters is an error", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":"UPDATE","hash":"x"}`, wantErr: true},
		{name: "clusters not an object is an error", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":"UPDATE","hash":"x","clusters":[]}`, wantErr: true},
		{name: "cluster value not an object is an error", cache: HostLevelParams,
			event: `{"hash":"x","clusters":{"2":[]}}`, wantErr: true},
		{name: "invalid JSON is an error", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"CREATE",`, wantErr: true},
		{name: "trailing garbage is an error", cache: Topology, setup: []string{topo0},
			event: `{} {}`, wantErr: true},
		{name: "body that is not an object is an error", cache: Topology, setup: []string{topo0},
			event: `null`, wantErr: true},

		// --- topology ---
		{name: "topology CREATE replaces everything", cache: Topology, setup: []string{topo0},
			event:    `{"eventType":"CREATE","hash":"t1","clusters":{"9":{"hosts":[],"components":[]}}}`,
			want:     `{"9":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology UPDATE inserts an unknown cluster whole", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"UPDATE","hash":"t1","clusters":{"7":{"hosts":[{"hostId":9,"hostName":"h9"}]}}}`,
			want: `{"2":` + topoCluster2 + `,"5":{"hosts":[],"components":[]},
			        "7":{"hosts":[{"hostId":9,"hostName":"h9"}]}}`,
			wantHash: "t1"},
		{name: "topology UPDATE overwrites host keys shallowly and appends unknown hosts", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"UPDATE","hash":"t1","clusters":{"5":{"hosts":[
			   {"hostId":4,"hostName":"h4","rackName":"/r","ipv4":"1"}]},
			 "2":{"hosts":[{"hostId":2,"rackName":"/new"},{"hostId":4,"hostName":"h4","rackName":"/r2","ipv4":"10.0.0.4"}]}}}`,
			want: `{"2":{"hosts":[
			   {"hostId":1,"hostName":"h1","rackName":"/r1","ipv4":"10.0.0.1"},
			   {"hostId":2,"hostName":"h2","rackName":"/new","ipv4":"10.0.0.2"},
			   {"hostId":3,"hostName":"h3","rackName":"/r2","ipv4":"10.0.0.3"},
			   {"hostId":4,"hostName":"h4","rackName":"/r2","ipv4":"10.0.0.4"}],
			  "components":` + topoComponents2 + `},
			 "5":{"hosts":[{"hostId":4,"hostName":"h4","rackName":"/r","ipv4":"1"}],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology UPDATE unions hostIds and replaces commandParams wholesale", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"components":[
			   {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[2,3],"commandParams":{"script":"new.py"}},
			   {"serviceName":"YARN","componentName":"NODEMANAGER","hostIds":[1],"commandParams":{}}]}}}`,
			want: `{"2":{"hosts":` + topoHosts2 + `,"components":[
			   {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2,3],"commandParams":{"script":"new.py"},"componentLevelParams":{"a":"1"}},
			   {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2,3],"commandParams":{"script":"dn.py"}},
			   {"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3],"commandParams":{"script":"nn.py"}},
			   {"serviceName":"YARN","componentName":"NODEMANAGER","hostIds":[1],"commandParams":{}}]},
			 "5":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology UPDATE of a component without hostIds keeps its hosts", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"components":[
			   {"serviceName":"HDFS","componentName":"NAMENODE","version":"3.1"}]}}}`,
			want: `{"2":{"hosts":` + topoHosts2 + `,"components":[
			   {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2],"commandParams":{"script":"zk.py","version":"1.0"},"componentLevelParams":{"a":"1"}},
			   {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2,3],"commandParams":{"script":"dn.py"}},
			   {"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3],"commandParams":{"script":"nn.py"},"version":"3.1"}]},
			 "5":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "quirk: topology UPDATE ignores cluster keys other than hosts and components", cache: Topology, setup: []string{topo0},
			event:    `{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"extra":1}}}`,
			want:     `{"2":` + topoCluster2 + `,"5":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology UPDATE with a host lacking hostId is an error", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"hosts":[{"hostName":"x"}]}}}`, wantErr: true},
		{name: "topology UPDATE with a non-integer host id is an error", cache: Topology, setup: []string{topo0},
			event:   `{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":["x"]}]}}}`,
			wantErr: true},
		{name: "topology DELETE removes hosts by id and logs unknown ones", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"DELETE","hash":"t1","clusters":{"2":{"hosts":[{"hostId":2},{"hostId":99}]}}}`,
			want: `{"2":{"hosts":[
			   {"hostId":1,"hostName":"h1","rackName":"/r1","ipv4":"10.0.0.1"},
			   {"hostId":3,"hostName":"h3","rackName":"/r2","ipv4":"10.0.0.3"}],"components":` + topoComponents2 + `},
			 "5":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology DELETE removes host ids and drops emptied components, all of them", cache: Topology, setup: []string{topo0},
			event: `{"eventType":"DELETE","hash":"t1","clusters":{"2":{
			   "hosts":[{"hostId":1},{"hostId":3}],
			   "components":[
			     {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2]},
			     {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[3]},
			     {"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3]}]}}}`,
			want: `{"2":{"hosts":[{"hostId":2,"hostName":"h2","rackName":"/r1","ipv4":"10.0.0.2"}],"components":[
			   {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2],"commandParams":{"script":"dn.py"}}]},
			 "5":{"hosts":[],"components":[]}}`,
			wantHash: "t1"},
		{name: "topology DELETE of an unknown component is an error", cache: Topology, setup: []string{topo0},
			event:   `{"eventType":"DELETE","hash":"t1","clusters":{"2":{"components":[{"serviceName":"X","componentName":"Y","hostIds":[1]}]}}}`,
			wantErr: true},
		{name: "topology DELETE of a component without hostIds is an error", cache: Topology, setup: []string{topo0},
			event:   `{"eventType":"DELETE","hash":"t1","clusters":{"2":{"components":[{"serviceName":"ZK","componentName":"ZK_SERVER"}]}}}`,
			wantErr: true},
		{name: "topology DELETE with {} removes the cluster; unknown clusters are skipped", cache: Topology, setup: []string{topo0},
			event:    `{"eventType":"DELETE","hash":"t1","clusters":{"5":{},"8":{},"9":{"hosts":[{"hostId":1}]}}}`,
			want:     `{"2":` + topoCluster2 + `}`,
			wantHash: "t1"},

		// --- metadata ---
		{name: "metadata CREATE replaces everything", cache: Metadata, setup: []string{meta0},
			event:    `{"eventType":"CREATE","hash":"m1","clusters":{"3":{"clusterLevelParams":{"cluster_name":"c3"}}}}`,
			want:     `{"3":{"clusterLevelParams":{"cluster_name":"c3"}}}`,
			wantHash: "m1"},
		{name: "metadata UPDATE deep-merges, replaces lists, never removes keys, adds clusters", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":"UPDATE","hash":"m1","clusters":{
			   "2":{"status_commands_to_run":[],"clusterLevelParams":{"stack_name":"HDP3"},
			        "serviceLevelParams":{"ZK":{"version":"3.5"},"HDFS":{"version":"3.1"}}},
			   "4":{"clusterLevelParams":{"cluster_name":"c4"}}}}`,
			want: `{"-1":{"clusterLevelParams":{"jdk_location":"http://s/r","java_home":"/j"},"agentConfigs":{"agentConfig":{"agent.auto.cache.update":"true"}}},
			  "2":{"status_commands_to_run":[],"clusterLevelParams":{"cluster_name":"c1","stack_name":"HDP3"},
			       "serviceLevelParams":{"ZK":{"version":"3.5","credentialStoreEnabled":false},"HDFS":{"version":"3.1"}}},
			  "4":{"clusterLevelParams":{"cluster_name":"c4"}}}`,
			wantHash: "m1"},
		{name: "metadata UPDATE replaces a scalar by an object", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":"UPDATE","hash":"m1","clusters":{"-1":{"agentConfigs":{"agentConfig":{"java.home":"/k"}},"clusterLevelParams":{"java_home":{"a":{"b":1}}}}}}`,
			want: `{"-1":{"clusterLevelParams":{"jdk_location":"http://s/r","java_home":{"a":{"b":1}}},"agentConfigs":{"agentConfig":{"agent.auto.cache.update":"true","java.home":"/k"}}},
			  "2":{"status_commands_to_run":["STATUS"],"clusterLevelParams":{"cluster_name":"c1","stack_name":"HDP"},
			       "serviceLevelParams":{"ZK":{"version":"3.4","credentialStoreEnabled":false}}}}`,
			wantHash: "m1"},
		{name: "metadata DELETE removes clusters given as {}; unknown ones are a no-op", cache: Metadata, setup: []string{meta0},
			event:    `{"eventType":"DELETE","hash":"m1","clusters":{"2":{},"77":{}}}`,
			want:     `{"-1":{"clusterLevelParams":{"jdk_location":"http://s/r","java_home":"/j"},"agentConfigs":{"agentConfig":{"agent.auto.cache.update":"true"}}}}`,
			wantHash: "m1"},
		{name: "metadata DELETE of sub-values is an error", cache: Metadata, setup: []string{meta0},
			event: `{"eventType":"DELETE","hash":"m1","clusters":{"2":{"fullServiceLevelMetadata":false}}}`, wantErr: true},

		// --- configurations ---
		{name: "configs without timestamp is an error", cache: Configurations,
			event: `{"hash":"c1","clusters":{}}`, wantErr: true},
		{name: "configs with a non-integer timestamp is an error", cache: Configurations,
			event: `{"timestamp":"soon","hash":"c1","clusters":{}}`, wantErr: true},
		{name: "configs {timestamp} alone is unchanged", cache: Configurations,
			setup: []string{`{"timestamp":1,"hash":"c0","clusters":{"2":{"configurations":{"zoo.cfg":{"clientPort":"2181"}}}}}`},
			event: `{"timestamp":2}`},
		{name: "configs are a full replacement", cache: Configurations,
			setup:    []string{`{"timestamp":1,"hash":"c0","clusters":{"2":{"configurations":{"a":{"k":"v"}}},"3":{"configurations":{}}}}`},
			event:    `{"timestamp":2,"hash":"c1","clusters":{"3":{"configurations":{"b":{"k":"w"}},"configurationAttributes":{}}}}`,
			want:     `{"3":{"configurations":{"b":{"k":"w"}},"configurationAttributes":{}}}`,
			wantHash: "c1"},
		{name: "configs without clusters is an error", cache: Configurations,
			event: `{"timestamp":2,"hash":"c1"}`, wantErr: true},

		// --- host-level params ---
		{name: "quirk: host-level params are a full replacement, a partial push erases other clusters", cache: HostLevelParams,
			setup:    []string{`{"hash":"p0","clusters":{"2":{"recoveryConfig":{"components":[]}},"3":{"x":"1"}}}`},
			event:    `{"hash":"p1","clusters":{"3":{"y":"2"}}}`,
			want:     `{"3":{"y":"2"}}`,
			wantHash: "p1"},
		{name: "host-level params {} is unchanged", cache: HostLevelParams,
			setup: []string{`{"hash":"p0","clusters":{"2":{"x":"1"}}}`}, event: `{}`},

		// --- alert definitions ---
		{name: "alert definitions CREATE replaces everything", cache: AlertDefinitions, setup: []string{alerts0},
			event:    `{"eventType":"CREATE","hostName":"ignored","hash":"a1","clusters":{"3":{"alertDefinitions":[]}}}`,
			want:     `{"3":{"alertDefinitions":[]}}`,
			wantHash: "a1"},
		{name: "alert definitions UPDATE upserts by id, overwrites other keys, adds clusters", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"UPDATE","hash":"a1","clusters":{
			   "2":{"staleIntervalMultiplier":7,"alertDefinitions":[{"definitionId":2,"name":"b2","uuid":"u2b"},{"definitionId":3,"name":"c"}]},
			   "4":{"alertDefinitions":[{"definitionId":9}]}}}`,
			want: `{"2":{"hostName":"h1","staleIntervalMultiplier":7,"alertDefinitions":[
			    {"definitionId":1,"name":"a","uuid":"u1","interval":1},
			    {"definitionId":2,"name":"b2","uuid":"u2b"},
			    {"definitionId":3,"name":"c"}]},
			  "3":{"hostName":"h1","alertDefinitions":[{"definitionId":7,"name":"c"}]},
			  "4":{"alertDefinitions":[{"definitionId":9}]}}`,
			wantHash: "a1"},
		{name: "alert definitions UPDATE without alertDefinitions only overwrites other keys", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"UPDATE","hash":"a1","clusters":{"3":{"hostName":"h9"}}}`,
			want: `{"2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[
			    {"definitionId":1,"name":"a","uuid":"u1","interval":1},{"definitionId":2,"name":"b","uuid":"u2","interval":2}]},
			  "3":{"hostName":"h9","alertDefinitions":[{"definitionId":7,"name":"c"}]}}`,
			wantHash: "a1"},
		{name: "alert definitions DELETE removes by id", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"DELETE","hash":"a1","clusters":{"2":{"alertDefinitions":[{"definitionId":1}]}}}`,
			want: `{"2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[{"definitionId":2,"name":"b","uuid":"u2","interval":2}]},
			  "3":{"hostName":"h1","alertDefinitions":[{"definitionId":7,"name":"c"}]}}`,
			wantHash: "a1"},
		{name: "alert definitions DELETE of an unknown id is an error", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"DELETE","hash":"a1","clusters":{"2":{"alertDefinitions":[{"definitionId":1},{"definitionId":42}]}}}`, wantErr: true},
		{name: "alert definitions DELETE {} removes the cluster; unknown clusters are skipped", cache: AlertDefinitions, setup: []string{alerts0},
			event: `{"eventType":"DELETE","hash":"a1","clusters":{"3":{},"8":{"alertDefinitions":[{"definitionId":1}]}}}`,
			want: `{"2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[
			    {"definitionId":1,"name":"a","uuid":"u1","interval":1},{"definitionId":2,"name":"b","uuid":"u2","interval":2}]}}`,
			wantHash: "a1"},
		{name: "quirk: alert definitions DELETE {alertDefinitions:[]} deletes nothing", cache: AlertDefinitions, setup: []string{alerts0},
			event:    `{"eventType":"DELETE","hash":"a1","clusters":{"3":{"alertDefinitions":[]}}}`,
			want:     alerts0Clusters,
			wantHash: "a1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Open("", nil)
			mustApply(t, s, tc.cache, tc.setup...)
			before := base(s, tc.cache)
			err := s.Apply(tc.cache, []byte(tc.event))
			after := base(s, tc.cache)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error, got none")
				}
				if !errors.Is(err, ErrInvalidEvent) {
					t.Errorf("error %v does not wrap ErrInvalidEvent", err)
				}
				if before != after {
					t.Error("a failed event replaced the snapshot")
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if tc.want == "" {
				if !reflect.DeepEqual(before.content, after.content) || before.hash != after.hash || before.hasHash != after.hasHash {
					t.Error("an unchanged event changed the cache")
				}
				return
			}
			assertContent(t, after, tc.want)
			if h, ok := after.Hash(); !ok || h != tc.wantHash {
				t.Errorf("hash = %q, %v; want %q", h, ok, tc.wantHash)
			}
		})
	}
}

const topoHosts2 = `[
   {"hostId":1,"hostName":"h1","rackName":"/r1","ipv4":"10.0.0.1"},
   {"hostId":2,"hostName":"h2","rackName":"/r1","ipv4":"10.0.0.2"},
   {"hostId":3,"hostName":"h3","rackName":"/r2","ipv4":"10.0.0.3"}]`

const topoComponents2 = `[
   {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2],"commandParams":{"script":"zk.py","version":"1.0"},"componentLevelParams":{"a":"1"}},
   {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2,3],"commandParams":{"script":"dn.py"}},
   {"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3],"commandParams":{"script":"nn.py"}}]`

const topoCluster2 = `{"hosts":` + topoHosts2 + `,"components":` + topoComponents2 + `}`

const alerts0Clusters = `{
 "2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[
   {"definitionId":1,"name":"a","uuid":"u1","interval":1},
   {"definitionId":2,"name":"b","uuid":"u2","interval":2}]},
 "3":{"hostName":"h1","alertDefinitions":[{"definitionId":7,"name":"c"}]}}`

// The hash from the message replaces the stored hash even when the content
// does not change (a DELETE of unknown clusters).
func TestHashReplacedByEveryDataEvent(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Topology, topo0, `{"eventType":"DELETE","hash":"t9","clusters":{"42":{}}}`)
	if h, _ := s.Topology().Hash(); h != "t9" {
		t.Fatalf("hash = %q, want t9", h)
	}
}

// Cluster order follows the server: merges keep existing positions and append
// new clusters; a replacement takes the message's order (the recovery manager
// reads the first cluster).
func TestClusterOrder(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, HostLevelParams, `{"hash":"p","clusters":{"9":{},"2":{},"10":{}}}`)
	if got := s.HostLevelParams().Snapshot().ClusterIDs(); !reflect.DeepEqual(got, []string{"9", "2", "10"}) {
		t.Errorf("replacement order = %v", got)
	}
	mustApply(t, s, Metadata, meta0, `{"eventType":"UPDATE","hash":"m","clusters":{"0":{},"-1":{"x":"y"}}}`)
	if got := s.Metadata().Snapshot().ClusterIDs(); !reflect.DeepEqual(got, []string{"-1", "2", "0"}) {
		t.Errorf("merge order = %v", got)
	}
}

func TestConfigsTimestamp(t *testing.T) {
	s := Open("", nil)
	if _, ok := s.ConfigsTimestamp(); ok {
		t.Fatal("timestamp known before any configs event")
	}
	changed, cancel := s.Configurations().Subscribe()
	defer cancel()
	mustApply(t, s, Configurations, `{"timestamp":1700000100000,"hash":"c0","clusters":{"2":{"configurations":{}}}}`)
	<-changed
	if ts, ok := s.ConfigsTimestamp(); !ok || ts != 1700000100000 {
		t.Fatalf("timestamp = %d, %v", ts, ok)
	}
	// The unchanged reply still renews the timestamp but is not a change.
	mustApply(t, s, Configurations, `{"timestamp":1700000200000}`)
	if ts, _ := s.ConfigsTimestamp(); ts != 1700000200000 {
		t.Fatalf("timestamp after unchanged reply = %d", ts)
	}
	if h, _ := s.Configurations().Hash(); h != "c0" {
		t.Errorf("hash = %q", h)
	}
	select {
	case <-changed:
		t.Error("a timestamp-only reply notified subscribers")
	default:
	}
	// A failing event leaves the timestamp alone too.
	if err := s.Apply(Configurations, []byte(`{"timestamp":5,"hash":"c1"}`)); err == nil {
		t.Fatal("want an error")
	}
	if ts, _ := s.ConfigsTimestamp(); ts != 1700000200000 {
		t.Errorf("timestamp after failed event = %d", ts)
	}
}

func TestUnknownEventTypeIsLogged(t *testing.T) {
	log, hook := testLog()
	s := Open("", log)
	mustApply(t, s, Topology, topo0)
	mustApply(t, s, Topology, `{"eventType":"MERGE","hash":"x","clusters":{}}`)
	e := hook.LastEntry()
	if e == nil || e.Data["eventType"] != "MERGE" {
		t.Fatalf("no log entry for the unknown event type: %+v", e)
	}
	if h, _ := s.Topology().Hash(); h != "t0" {
		t.Errorf("hash = %q after ignored event", h)
	}
}

func TestApplyUnknownCache(t *testing.T) {
	if err := Open("", nil).Apply("nope", []byte(`{}`)); err == nil {
		t.Fatal("want an error")
	}
}

func TestIDKeyEquality(t *testing.T) {
	same := [][2]string{{"1", "1.0"}, {"1", "1e0"}, {"-5", "-5.00"}, {"0", "-0"}, {"12345678901234567890123", "12345678901234567890123"}}
	for _, p := range same {
		a, _ := idKey(json.Number(p[0]))
		b, _ := idKey(json.Number(p[1]))
		if a != b {
			t.Errorf("%s and %s are different ids (%q, %q)", p[0], p[1], a, b)
		}
	}
	a, _ := idKey(json.Number("1"))
	b, _ := idKey("1")
	c, _ := idKey(json.Number("1.5"))
	if a == b || a == c {
		t.Error("the number 1 equals the string \"1\" or 1.5")
	}
	if _, ok := idKey(true); ok {
		t.Error("a bool is an id")
	}
}
