package sim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// twoAgents starts the test scenario with h1 and h2 registered and synced.
func twoAgents(t *testing.T) (*testSim, *fakeAgent, *fakeAgent) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	b := dialAgent(t, s, "h2")
	b.join()
	return s, a, b
}

// stillCurrent checks that the agent's hash of a cache is what the
// simulator serves (the request answers "unchanged").
func stillCurrent(t *testing.T, a *fakeAgent, cache, request string) {
	t.Helper()
	reply := string(a.request(request, protocol.HashRequest{Hash: a.hashes[cache]}))
	if reply != "{}" && !(cache == protocol.CacheConfigurations && strings.HasPrefix(reply, `{"timestamp":`) && !strings.Contains(reply, "hash")) {
		t.Errorf("%s: %s with the pushed hash answered %s, want unchanged", a.name, request, reply)
	}
}

func hashOf(t *testing.T, body []byte) *string {
	var ev struct {
		Hash string `json:"hash"`
	}
	decode(t, body, &ev)
	return &ev.Hash
}

func TestTopologyAndMetadataPushesUpdateTheModel(t *testing.T) {
	s, a, b := twoAgents(t)
	n, err := s.Push(Push{Topic: protocol.EventsTopologies, Body: json.RawMessage(
		`{"eventType":"UPDATE","clusters":{"2":{"hosts":[{"hostId":1,"rackName":"/rack-9"}],"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[2],"commandParams":{"script":"scripts/new.py","script_type":"PYTHON","command_timeout":"60","service_package_folder":"p"}}]}}}`)})
	if err != nil || n != 2 {
		t.Fatalf("push: %d sessions, %v", n, err)
	}
	for _, ag := range []*fakeAgent{a, b} {
		p := ag.next(protocol.EventsTopologies)
		ag.hashes[protocol.CacheTopology] = hashOf(t, p.body)
		if !strings.Contains(string(p.body), `"eventType":"UPDATE"`) {
			t.Errorf("pushed %s", p.body)
		}
		stillCurrent(t, ag, protocol.CacheTopology, protocol.AgentsTopologies)
	}
	if st, _ := s.HostState("h2"); !strings.Contains(strings.Join(st.Components, ","), "ZK_SERVER") {
		t.Errorf("h2 components after the push: %v", st.Components)
	}
	sent, err := s.SendCommand("h2", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	if err != nil {
		t.Fatal(err)
	}
	_, cmds := commandsIn(t, b.next(protocol.UserCommands))
	if cmds[0].TaskID != sent.TaskIDs[0] || cmds[0].CommandParams["script"] != "scripts/new.py" || cmds[0].ClusterHostInfo["zk_server_hosts"][0] != "0-1" {
		t.Errorf("command after the topology push: %+v", cmds[0])
	}

	// Metadata: a deep merge; DELETE with a non-empty cluster is refused.
	if _, err := s.Push(Push{Topic: protocol.EventsMetadata, Body: json.RawMessage(`{"eventType":"UPDATE","clusters":{"2":{"clusterLevelParams":{"new_key":"v"}}}}`)}); err != nil {
		t.Fatal(err)
	}
	p := a.next(protocol.EventsMetadata)
	a.hashes[protocol.CacheMetadata] = hashOf(t, p.body)
	stillCurrent(t, a, protocol.CacheMetadata, protocol.AgentsMetadata)
	var meta protocol.MetadataEvent
	decode(t, b.request(protocol.AgentsMetadata, protocol.HashRequest{}), &meta)
	if clp := meta.Clusters["2"]["clusterLevelParams"].(map[string]any); clp["new_key"] != "v" || clp["cluster_name"] != "c1" {
		t.Errorf("merged cluster params %v", clp)
	}
	if _, err := s.Push(Push{Topic: protocol.EventsMetadata, Body: json.RawMessage(`{"eventType":"DELETE","clusters":{"2":{"x":1}}}`)}); err == nil {
		t.Error("a metadata DELETE with a non-empty cluster was accepted")
	}
	if _, err := s.Push(Push{Topic: protocol.EventsTopologies, Body: json.RawMessage(`{"eventType":"DELETE","clusters":{"2":{"components":[{"serviceName":"X","componentName":"Y","hostIds":[1]}]}}}`)}); err == nil {
		t.Error("a topology DELETE of an unknown component was accepted")
	}
	// DELETE of the last host of a component removes it.
	if _, err := s.Push(Push{Topic: protocol.EventsTopologies, Body: json.RawMessage(`{"eventType":"DELETE","clusters":{"2":{"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1,2]}]}}}`)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.HostState("h1"); strings.Contains(strings.Join(st.Components, ","), "ZK_SERVER") {
		t.Errorf("h1 components after the DELETE: %v", st.Components)
	}
}

func TestPerHostPushes(t *testing.T) {
	s, a, b := twoAgents(t)

	// Configs to h1 only: a full snapshot with a new timestamp.
	before := s.hostTS("h1")
	n, err := s.Push(Push{Topic: protocol.UserConfigs, Host: "h1", Body: json.RawMessage(`{"clusters":{"2":{"configurations":{"zoo.cfg":{"clientPort":"2182"}},"configurationAttributes":{}}}}`)})
	if err != nil || n != 1 {
		t.Fatalf("configs push: %d, %v", n, err)
	}
	p := a.next(protocol.UserConfigs)
	var ev struct {
		Timestamp int64  `json:"timestamp"`
		Hash      string `json:"hash"`
	}
	decode(t, p.body, &ev)
	if ev.Timestamp <= before || ev.Timestamp != s.hostTS("h1") || len(ev.Hash) != 128 {
		t.Errorf("configs push %s (timestamp before %d)", p.body, before)
	}
	a.hashes[protocol.CacheConfigurations] = &ev.Hash
	stillCurrent(t, a, protocol.CacheConfigurations, protocol.AgentsConfigs)
	if len(b.pending(protocol.UserConfigs)) != 0 || s.hostTS("h2") != before {
		t.Error("h2 got h1's configs")
	}
	// Commands now require the new timestamp.
	s.SendCommand("h1", CommandSpec{Component: "ZK_CLIENT", RoleCommand: "INSTALL"})
	if cev, _ := commandsIn(t, a.next(protocol.UserCommands)); *cev.RequiredConfigTimestamp != ev.Timestamp {
		t.Errorf("requiredConfigTimestamp %d, want %d", *cev.RequiredConfigTimestamp, ev.Timestamp)
	}

	// Host-level params to every host.
	if n, err := s.Push(Push{Topic: protocol.UserHostLevelParams, Body: json.RawMessage(`{"clusters":{"2":{"recoveryConfig":{"components":[]},"blueprint_provisioning_state":{}}}}`)}); err != nil || n != 2 {
		t.Fatalf("host-level params push: %d, %v", n, err)
	}
	for _, ag := range []*fakeAgent{a, b} {
		ag.hashes[protocol.CacheHostLevelParams] = hashOf(t, ag.next(protocol.UserHostLevelParams).body)
		stillCurrent(t, ag, protocol.CacheHostLevelParams, protocol.AgentsHostLevelParams)
	}

	// Alert definitions: UPDATE then DELETE, per host, with the host name.
	upd := `{"eventType":"UPDATE","clusters":{"2":{"alertDefinitions":[{"definitionId":9,"name":"new","clusterId":2,"interval":1,"enabled":true,"repeat_tolerance_enabled":false,"source":{"type":"PORT"}}]}}}`
	if _, err := s.Push(Push{Topic: protocol.UserAlertDefinitions, Host: "h*", Body: json.RawMessage(upd)}); err != nil {
		t.Fatal(err)
	}
	for _, ag := range []*fakeAgent{a, b} {
		p := ag.next(protocol.UserAlertDefinitions)
		if !strings.Contains(string(p.body), `"hostName":"`+ag.name+`"`) || !strings.Contains(string(p.body), `"eventType":"UPDATE"`) {
			t.Errorf("%s got %s", ag.name, p.body)
		}
		ag.hashes[protocol.CacheAlertDefinitions] = hashOf(t, p.body)
		stillCurrent(t, ag, protocol.CacheAlertDefinitions, protocol.AgentsAlertDefinitions)
	}
	var full protocol.AlertDefinitionsEvent
	decode(t, b.request(protocol.AgentsAlertDefinitions, protocol.HashRequest{}), &full)
	if defs := full.Clusters["2"].AlertDefinitions; len(defs) != 2 || defs[1].DefinitionID != 9 {
		t.Errorf("h2 definitions after the UPDATE: %+v", defs)
	}
	if _, err := s.Push(Push{Topic: protocol.UserAlertDefinitions, Host: "h2", Body: json.RawMessage(`{"eventType":"DELETE","clusters":{"2":{"alertDefinitions":[{"definitionId":9}]}}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(Push{Topic: protocol.UserAlertDefinitions, Host: "h2", Body: json.RawMessage(`{"eventType":"DELETE","clusters":{"2":{"alertDefinitions":[{"definitionId":9}]}}}`)}); err == nil {
		t.Error("deleting an unknown definition was accepted")
	}

	// Agent actions and unknown /user/ topics pass through.
	if n, err := s.Push(Push{Topic: protocol.UserAgentActions, Host: "h2", Body: json.RawMessage(`{"actionName":"RESTART_AGENT"}`)}); err != nil || n != 1 {
		t.Errorf("agent action push: %d, %v", n, err)
	}
	b.next(protocol.UserAgentActions)
	if _, err := s.Push(Push{Topic: protocol.UserConfigs, Host: "nobody", Body: json.RawMessage(`{"clusters":{}}`)}); err == nil {
		t.Error("push to an unknown host accepted")
	}
	if _, err := s.Push(Push{Topic: protocol.UserConfigs, Body: json.RawMessage(`nope`)}); err == nil {
		t.Error("push of a non-JSON body accepted")
	}
}

func TestEncryptionKey(t *testing.T) {
	sc := testScenario()
	sc.Options.EncryptionKey = "k1"
	sc.Options.BroadcastEncryptionKey = true
	s := startSim(t, sc)
	a := dialAgent(t, s, "h1")
	a.register()
	// Subscribed before /register, the agent gets the key its own
	// registration triggered.
	if p := a.next(protocol.EventsEncryptionKey); string(p.body) != `{"encryptionKey":"k1"}` {
		t.Errorf("key push %s", p.body)
	}
	a.syncCaches()
	old := *a.hashes[protocol.CacheConfigurations]
	if n, err := s.SetEncryptionKey("k2"); err != nil || n != 1 {
		t.Fatalf("SetEncryptionKey: %d, %v", n, err)
	}
	a.next(protocol.EventsEncryptionKey)
	// The configurations hash is salted with the key.
	if st, _ := s.HostState("h1"); st.Hashes[protocol.CacheConfigurations] == old {
		t.Error("configurations hash unchanged by a new encryption key")
	}
	for _, e := range s.logs.AllEntries() {
		if strings.Contains(e.Message, "k2") || strings.Contains(e.Message, "k1") {
			t.Errorf("the key was logged: %q", e.Message)
		}
	}
}

func TestHighLevelChanges(t *testing.T) {
	s, a, b := twoAgents(t)

	n, err := s.UpdateConfigs(ConfigChange{Cluster: "c1", Type: "zoo.cfg", Properties: StringMap{"tickTime": "2000"}, Delete: []string{"clientPort"}})
	if err != nil || n != 2 {
		t.Fatalf("UpdateConfigs: %d, %v", n, err)
	}
	for _, ag := range []*fakeAgent{a, b} {
		var ev struct {
			Timestamp int64                              `json:"timestamp"`
			Hash      string                             `json:"hash"`
			Clusters  map[string]protocol.ClusterConfigs `json:"clusters"`
		}
		decode(t, ag.next(protocol.UserConfigs).body, &ev)
		zoo := ev.Clusters["2"].Configurations["zoo.cfg"]
		if zoo["tickTime"] != "2000" || zoo["clientPort"] != "" || ev.Clusters["2"].Configurations["cluster-env"] == nil {
			t.Errorf("%s configs %v", ag.name, ev.Clusters["2"].Configurations)
		}
		if ev.Timestamp != s.hostTS(ag.name) {
			t.Errorf("%s pushed timestamp %d, serving %d", ag.name, ev.Timestamp, s.hostTS(ag.name))
		}
		ag.hashes[protocol.CacheConfigurations] = &ev.Hash
		stillCurrent(t, ag, protocol.CacheConfigurations, protocol.AgentsConfigs)
	}
	if _, err := s.UpdateConfigs(ConfigChange{Cluster: "nope", Type: "x"}); err == nil {
		t.Error("config change of an unknown cluster accepted")
	}

	// A new ZK_SERVER definition goes to h1 only (as a full CREATE).
	id, err := s.UpsertAlertDefinition("c1", AlertDefinitionSpec{Name: "zk_web", ComponentName: "ZK_SERVER", Source: json.RawMessage(`{"type":"WEB"}`)})
	if err != nil || id != 3 {
		t.Fatalf("UpsertAlertDefinition: %d, %v", id, err)
	}
	p := a.next(protocol.UserAlertDefinitions)
	var ev protocol.AlertDefinitionsEvent
	decode(t, p.body, &ev)
	if ev.EventType != protocol.EventCreate || len(ev.Clusters["2"].AlertDefinitions) != 3 {
		t.Errorf("h1 definitions push %s", p.body)
	}
	if got := b.pending(protocol.UserAlertDefinitions); len(got) != 0 {
		t.Errorf("h2 got a push for a ZK_SERVER definition: %s", got[0].body)
	}
	if err := s.DeleteAlertDefinition("c1", id); err != nil {
		t.Fatal(err)
	}
	decode(t, a.next(protocol.UserAlertDefinitions).body, &ev)
	if len(ev.Clusters["2"].AlertDefinitions) != 2 {
		t.Errorf("after delete: %d definitions", len(ev.Clusters["2"].AlertDefinitions))
	}
	if err := s.DeleteAlertDefinition("c1", id); err == nil {
		t.Error("deleting a deleted definition succeeded")
	}
}
