package cache

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

func TestTopologyView(t *testing.T) {
	log, hook := testLog()
	s := Open("", log)
	mustApply(t, s, Topology, topo0, `{"eventType":"CREATE","hash":"t1","clusters":{
	  "2":{"hosts":[{"hostId":1,"hostName":"h1","rackName":"/r1","ipv4":"10.0.0.1"},
	                {"hostId":2,"hostName":"h2","rackName":"/r2","ipv4":"10.0.0.2"}],
	       "components":[
	         {"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2,77],"commandParams":{"script":"zk.py","version":"3.0.1","command_timeout":"1200"},
	          "componentLevelParams":{"unlimited_key_jce_required":"false"}},
	         {"serviceName":"HDFS","componentName":"DATANODE","hostIds":[2],"commandParams":{"script":"dn.py"},"version":"3.1"}]},
	  "3":{"hosts":[{"hostId":1,"hostName":"other","rackName":"/x","ipv4":"10.1.0.1"}],
	       "components":[{"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[1],"commandParams":{}}]}}}`)
	snap := s.Topology().Snapshot()
	c := snap.Cluster("2")
	if c == nil || snap.Cluster("9") != nil {
		t.Fatal("cluster lookup wrong")
	}
	if id, ok := c.HostID("h2"); !ok || id != 2 {
		t.Errorf("HostID(h2) = %d, %v", id, ok)
	}
	if _, ok := c.HostID("nope"); ok {
		t.Error("HostID of an unknown host")
	}
	if h := c.Host(1); h == nil || h.HostName != "h1" || h.RackName != "/r1" || h.IPv4 != "10.0.0.1" {
		t.Errorf("Host(1) = %+v", h)
	}
	zk := c.Component("ZK", "ZK_SERVER")
	if zk == nil || !reflect.DeepEqual(zk.HostIDs, []int64{1, 2, 77}) || zk.CommandParams["command_timeout"] != "1200" ||
		zk.ComponentLevelParams["unlimited_key_jce_required"] != "false" {
		t.Errorf("component = %+v", zk)
	}
	if dn := c.Component("HDFS", "DATANODE"); dn == nil || dn.Version != "3.1" {
		t.Errorf("DATANODE = %+v", dn)
	}
	var onH2 []string
	for _, comp := range c.ComponentsOnHost(2) {
		onH2 = append(onH2, comp.ComponentName)
	}
	if !reflect.DeepEqual(onH2, []string{"ZK_SERVER", "DATANODE"}) {
		t.Errorf("components on host 2 = %v", onH2)
	}
	wantInfo := map[string][]string{
		"zk_server_hosts": {"h1", "h2"}, // 77 is unknown: skipped
		"datanode_hosts":  {"h2"},
		"all_hosts":       {"h1", "h2"},
		"all_racks":       {"/r1", "/r2"},
		"all_ipv4_ips":    {"10.0.0.1", "10.0.0.2"},
	}
	if got := c.ClusterHostInfo(); !reflect.DeepEqual(got, wantInfo) {
		t.Errorf("clusterHostInfo = %v", got)
	}
	warned := false
	for _, e := range hook.AllEntries() {
		if e.Data["hostId"] == int64(77) {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning for the unknown host id")
	}
	// Per cluster, unlike Python's one map for the whole cache.
	want3 := map[string][]string{"namenode_hosts": {"other"}, "all_hosts": {"other"}, "all_racks": {"/x"}, "all_ipv4_ips": {"10.1.0.1"}}
	if got := snap.Cluster("3").ClusterHostInfo(); !reflect.DeepEqual(got, want3) {
		t.Errorf("cluster 3 clusterHostInfo = %v", got)
	}
	if got := c.ComponentVersionMap(); !reflect.DeepEqual(got, map[string]map[string]string{"ZK": {"ZK_SERVER": "3.0.1"}}) {
		t.Errorf("componentVersionMap = %v", got)
	}
}

func TestTopologyViewRejectsMalformedCreate(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Topology, topo0)
	for _, ev := range []string{
		`{"eventType":"CREATE","hash":"x","clusters":{"2":{"hosts":{}}}}`,
		`{"eventType":"CREATE","hash":"x","clusters":{"2":{"hosts":[{"hostName":"a"}]}}}`,
		`{"eventType":"CREATE","hash":"x","clusters":{"2":{"components":[{"serviceName":"S"}]}}}`,
		`{"eventType":"CREATE","hash":"x","clusters":{"2":{"components":[{"serviceName":"S","componentName":"C","hostIds":[1.5]}]}}}`,
	} {
		if err := s.Apply(Topology, []byte(ev)); err == nil {
			t.Errorf("accepted %s", ev)
		}
	}
	if h, _ := s.Topology().Hash(); h != "t0" {
		t.Errorf("hash = %q", h)
	}
}

func TestMetadataView(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Metadata, meta0, `{"eventType":"UPDATE","hash":"m1","clusters":{"-1":{"clusterLevelParams":{"ambari_db_rca_url":null}}}}`)
	m := s.Metadata().Snapshot()
	if got := m.AmbariLevelParams(); !reflect.DeepEqual(got, map[string]string{"jdk_location": "http://s/r", "java_home": "/j"}) {
		t.Errorf("ambari level params = %v", got)
	}
	if got := m.AgentConfig(); !reflect.DeepEqual(got, map[string]string{"agent.auto.cache.update": "true"}) {
		t.Errorf("agentConfig = %v", got)
	}
	c := m.Cluster("2")
	if c.ClusterLevelParams["cluster_name"] != "c1" || !reflect.DeepEqual(c.StatusCommandsToRun, []string{"STATUS"}) {
		t.Errorf("cluster 2 = %+v", c)
	}
	if zk := c.ServiceLevelParams["ZK"]; zk["version"] != "3.4" || zk["credentialStoreEnabled"] != false {
		t.Errorf("serviceLevelParams ZK = %v", zk)
	}
	// The raw map keeps the null for command JSON.
	if v, ok := m.Raw(CommonCluster)["clusterLevelParams"].(map[string]any)["ambari_db_rca_url"]; !ok || v != nil {
		t.Errorf("raw null lost: %v %v", v, ok)
	}
}

func TestConfigurationsView(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Configurations, `{"timestamp":1,"hash":"c","clusters":{"2":{
	  "configurations":{"cluster-env":{"recovery_enabled":"true","alerts_repeat_tolerance":"1"},"zoo.cfg":{"clientPort":"2181"}},
	  "configurationAttributes":{"zoo.cfg":{"final":{"clientPort":"true"}}}}}}`)
	c := s.Configurations().Snapshot().Cluster("2")
	if v, ok := c.Get("zoo.cfg", "clientPort"); !ok || v != "2181" {
		t.Errorf("zoo.cfg/clientPort = %q, %v", v, ok)
	}
	if _, ok := c.Get("nope", "x"); ok {
		t.Error("Get of a missing type")
	}
	if _, ok := c.Raw["configurationAttributes"]; !ok {
		t.Error("raw lost configurationAttributes")
	}
}

func TestHostLevelParamsView(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, HostLevelParams, `{"hash":"p","clusters":{
	  "2":{"recoveryConfig":{"components":[{"service_name":"ZK","component_name":"ZK_SERVER","desired_state":"STARTED"}]},
	       "blueprint_provisioning_state":{"ZK_SERVER":"IN_PROGRESS"}},
	  "3":{"x":"y"}}}`)
	snap := s.HostLevelParams().Snapshot()
	c := snap.Cluster("2")
	want := []RecoveryComponent{{ServiceName: "ZK", ComponentName: "ZK_SERVER", DesiredState: "STARTED"}}
	if !c.HasRecoveryConfig || !reflect.DeepEqual(c.RecoveryComponents, want) {
		t.Errorf("recovery = %v %+v", c.HasRecoveryConfig, c.RecoveryComponents)
	}
	if c.BlueprintProvisioningState["ZK_SERVER"] != "IN_PROGRESS" {
		t.Errorf("blueprint state = %v", c.BlueprintProvisioningState)
	}
	if snap.Cluster("3").HasRecoveryConfig {
		t.Error("cluster 3 has no recoveryConfig")
	}
}

func TestAlertDefinitionsView(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, AlertDefinitions, `{"eventType":"CREATE","hostName":"top","hash":"a","clusters":{
	  "2":{"hostName":"h1","staleIntervalMultiplier":5,"alertDefinitions":[
	    {"clusterId":2,"definitionId":17,"name":"zk_process","label":"ZK Process","description":"Port check",
	     "serviceName":"ZOOKEEPER","componentName":"ZOOKEEPER_SERVER","scope":"ANY","interval":1,"enabled":true,
	     "uuid":"u-17","ignore_host":false,"help_url":"http://h","repeat_tolerance":1,"repeat_tolerance_enabled":false,
	     "source":{"type":"PORT","uri":"{{zoo.cfg/clientPort}}","default_port":2181,
	               "reporting":{"warning":{"text":"slow <{0}>","value":1.5}}}}]},
	  "3":{"alertDefinitions":[{"definitionId":1}]}}}`)
	snap := s.AlertDefinitions().Snapshot()
	c := snap.Cluster("2")
	if c.HostName != "h1" || c.StaleIntervalMultiplier != 5 || !c.HasStaleIntervalMultiplier {
		t.Errorf("cluster = %+v", c)
	}
	d := c.Definitions[0]
	want := AlertDefinition{ClusterID: 2, DefinitionID: 17, Name: "zk_process", Label: "ZK Process", Description: "Port check",
		ServiceName: "ZOOKEEPER", ComponentName: "ZOOKEEPER_SERVER", Scope: "ANY", Interval: 1, Enabled: true, UUID: "u-17",
		HelpURL: "http://h", RepeatTolerance: 1, HasRepeatToleranceEnabled: true, SourceType: "PORT"}
	got := d
	got.Source, got.Raw = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("definition\n got %+v\nwant %+v", got, want)
	}
	var src struct {
		DefaultPort json.Number `json:"default_port"`
		Reporting   struct {
			Warning struct {
				Text  string
				Value json.Number
			}
		}
	}
	if err := json.Unmarshal(d.Source, &src); err != nil || src.DefaultPort != "2181" ||
		src.Reporting.Warning.Text != "slow <{0}>" || src.Reporting.Warning.Value != "1.5" {
		t.Errorf("source = %s (%v)", d.Source, err)
	}
	c3 := snap.Cluster("3")
	if c3.HostName != "" || c3.HasStaleIntervalMultiplier || c3.Definitions[0].HasRepeatToleranceEnabled {
		t.Errorf("cluster 3 = %+v", c3)
	}
}

func TestEventTypeOfSnapshot(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, AlertDefinitions, alerts0)
	if et := s.AlertDefinitions().Snapshot().EventType(); et != EventCreate {
		t.Errorf("event type = %q", et)
	}
	mustApply(t, s, AlertDefinitions, `{"eventType":"DELETE","hash":"a1","clusters":{"3":{}}}`)
	if et := s.AlertDefinitions().Snapshot().EventType(); et != EventDelete {
		t.Errorf("event type = %q", et)
	}
}

func TestDeepCopy(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Metadata, meta0)
	raw := s.Metadata().Snapshot().Raw("2")
	cp := pyvalue.DeepCopy(raw).(map[string]any)
	cp["clusterLevelParams"].(map[string]any)["cluster_name"] = "changed"
	cp["status_commands_to_run"].([]any)[0] = "X"
	if s.Metadata().Snapshot().Cluster("2").Raw["clusterLevelParams"].(map[string]any)["cluster_name"] != "c1" ||
		raw["status_commands_to_run"].([]any)[0] != "STATUS" {
		t.Error("DeepCopy shares nested values with the snapshot")
	}
}
