package sim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func TestRegistrationAndCacheSync(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")

	r := a.register()
	if r.ExitStatus != 0 || r.ID == nil || *r.ID != 0 || r.Status != "OK" {
		t.Fatalf("registration reply %+v, want status OK, exitstatus 0, id 0", r)
	}
	caches := a.syncCaches()

	var topo protocol.TopologyEvent
	decode(t, mustJSON(caches[protocol.CacheTopology]), &topo)
	if topo.EventType != protocol.EventCreate || len(topo.Hash) != 128 {
		t.Errorf("topology eventType %q hash %q, want CREATE and a 128-digit hash", topo.EventType, topo.Hash)
	}
	c := topo.Clusters["2"]
	if c == nil || len(c.Hosts) != 2 || c.Hosts[0].HostName != "h1" || c.Hosts[0].IPv4 != "10.0.0.11" || c.Hosts[0].RackName != "/default-rack" {
		t.Fatalf("topology cluster 2 = %+v, want hosts h1 (10.0.0.11, /default-rack) and h2", c)
	}
	server := c.Components[0]
	if server.ComponentName != "ZK_SERVER" || !slices.Equal(server.HostIDs, []int64{1}) {
		t.Errorf("ZK_SERVER = %+v, want on host 1", server)
	}
	wantParams := map[string]string{"script": "scripts/zk_server.py", "script_type": "PYTHON", "command_timeout": "600",
		"service_package_folder": "stacks/DEMO/1.0/services/ZK/package", "version": "3.4.9"}
	for k, v := range wantParams {
		if server.CommandParams[k] != v {
			t.Errorf("ZK_SERVER commandParams[%s] = %q, want %q", k, server.CommandParams[k], v)
		}
	}
	if got := c.Components[1].CommandParams["script"]; got != "scripts/zk_client.py" {
		t.Errorf("default script %q, want scripts/zk_client.py", got)
	}

	var meta protocol.MetadataEvent
	decode(t, mustJSON(caches[protocol.CacheMetadata]), &meta)
	ambari := meta.Clusters["-1"]["clusterLevelParams"].(map[string]any)
	if ambari["jdk_location"] != s.ResourcesURL() {
		t.Errorf("jdk_location %v, want %s", ambari["jdk_location"], s.ResourcesURL())
	}
	agentConfig := meta.Clusters["-1"]["agentConfigs"].(map[string]any)["agentConfig"].(map[string]any)
	if agentConfig["agent.auto.cache.update"] != "true" {
		t.Errorf("agentConfig %v, want agent.auto.cache.update", agentConfig)
	}
	clp := meta.Clusters["2"]["clusterLevelParams"].(map[string]any)
	if clp["cluster_name"] != "c1" || clp["hooks_folder"] != "stack-hooks" || clp["stack_name"] != "DEMO" {
		t.Errorf("cluster params %v", clp)
	}
	if st := meta.Clusters["2"]["status_commands_to_run"]; !slices.Equal(toStrings(st), []string{"STATUS"}) {
		t.Errorf("status_commands_to_run %v, want [STATUS]", st)
	}
	if _, ok := meta.Clusters["2"]["serviceLevelParams"].(map[string]any)["ZK"]; !ok {
		t.Errorf("serviceLevelParams lacks ZK: %v", meta.Clusters["2"]["serviceLevelParams"])
	}

	var confs struct {
		Timestamp int64                              `json:"timestamp"`
		Hash      string                             `json:"hash"`
		Clusters  map[string]protocol.ClusterConfigs `json:"clusters"`
	}
	decode(t, mustJSON(caches[protocol.CacheConfigurations]), &confs)
	if confs.Timestamp == 0 || confs.Clusters["2"].Configurations["zoo.cfg"]["clientPort"] != "2181" ||
		confs.Clusters["2"].ConfigurationAttributes["zoo.cfg"]["final"]["clientPort"] != "true" {
		t.Errorf("configs %+v", confs)
	}

	var hlp protocol.HostLevelParamsEvent
	decode(t, mustJSON(caches[protocol.CacheHostLevelParams]), &hlp)
	want := []protocol.RecoveryComponent{{ServiceName: "ZK", ComponentName: "ZK_SERVER", DesiredState: "STARTED"}}
	if got := hlp.Clusters["2"].RecoveryConfig.Components; !slices.Equal(got, want) {
		t.Errorf("recovery components %v, want %v", got, want)
	}
	if hlp.Clusters["2"].BlueprintProvisioningState["ZK_CLIENT"] != "NONE" {
		t.Errorf("blueprint state %v", hlp.Clusters["2"].BlueprintProvisioningState)
	}

	var alerts protocol.AlertDefinitionsEvent
	decode(t, mustJSON(caches[protocol.CacheAlertDefinitions]), &alerts)
	ac := alerts.Clusters["2"]
	if alerts.EventType != protocol.EventCreate || ac.HostName != "h1" || ac.StaleIntervalMultiplier != 5 || len(ac.AlertDefinitions) != 2 {
		t.Fatalf("alert definitions %+v", alerts)
	}
	var raw struct {
		Clusters map[string]struct {
			AlertDefinitions []map[string]any `json:"alertDefinitions"`
		} `json:"clusters"`
	}
	decode(t, mustJSON(caches[protocol.CacheAlertDefinitions]), &raw)
	for _, d := range raw.Clusters["2"].AlertDefinitions {
		if _, ok := d["repeat_tolerance_enabled"]; !ok {
			t.Errorf("definition %v lacks repeat_tolerance_enabled", d["name"])
		}
		if d["clusterId"] != float64(2) || d["enabled"] != true || d["uuid"] == "" {
			t.Errorf("definition %v: clusterId, enabled or uuid missing", d)
		}
	}

	// A new session with the hashes the agent now holds gets "unchanged".
	b := dialAgent(t, s, "h1")
	b.hashes = a.hashes
	b.register()
	again := b.syncCaches()
	for _, name := range []string{protocol.CacheTopology, protocol.CacheMetadata, protocol.CacheHostLevelParams, protocol.CacheAlertDefinitions} {
		if len(again[name]) != 0 {
			t.Errorf("%s with a current hash answered %v, want {}", name, again[name])
		}
	}
	if len(again[protocol.CacheConfigurations]) != 1 || string(again[protocol.CacheConfigurations]["timestamp"]) != mustJSONString(confs.Timestamp) {
		t.Errorf("configs with a current hash answered %v, want {\"timestamp\":%d}", again[protocol.CacheConfigurations], confs.Timestamp)
	}
	if st, _ := s.HostState("h2"); len(st.Components) != 1 || st.Status != HostNeverRegistered {
		t.Errorf("h2 state %+v", st)
	}
}

// h2 only has ZK_CLIENT: the ZK_SERVER alert and recovery entry are not
// its business.
func TestPerHostDataFollowsComponents(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h2")
	a.register()
	caches := a.syncCaches()
	var alerts protocol.AlertDefinitionsEvent
	decode(t, mustJSON(caches[protocol.CacheAlertDefinitions]), &alerts)
	defs := alerts.Clusters["2"].AlertDefinitions
	if len(defs) != 1 || defs[0].Name != "agent_disk" {
		t.Errorf("h2 alert definitions %+v, want only the host-wide agent_disk", defs)
	}
	var hlp protocol.HostLevelParamsEvent
	decode(t, mustJSON(caches[protocol.CacheHostLevelParams]), &hlp)
	if n := len(hlp.Clusters["2"].RecoveryConfig.Components); n != 0 {
		t.Errorf("h2 recovery components %v, want none", hlp.Clusters["2"].RecoveryConfig.Components)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func mustJSONString(v any) string { return string(mustJSON(v)) }

func TestHeartbeatIDRules(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")

	// Before registration: "please register" (id 0).
	var r protocol.HeartbeatResponse
	decode(t, a.request(protocol.Heartbeat, protocol.HeartbeatRequest{ID: 0}), &r)
	if r.ID == nil || *r.ID != 0 {
		t.Fatalf("unregistered heartbeat answered %+v, want id 0", r)
	}

	a.join() // id 0 -> 1
	hb := func(id int64) protocol.HeartbeatResponse {
		var r protocol.HeartbeatResponse
		decode(t, a.request(protocol.Heartbeat, protocol.HeartbeatRequest{ID: id}), &r)
		return r
	}
	if r := hb(1); *r.ID != 2 || r.RestartAgent {
		t.Errorf("heartbeat 1 answered %+v, want id 2", r)
	}
	// Our reply to 1 was "lost": the agent repeats 1 and gets the same.
	if r := hb(1); *r.ID != 2 || r.RestartAgent {
		t.Errorf("repeated heartbeat 1 answered %+v, want the cached id 2", r)
	}
	if r := hb(7); *r.ID != 2 || !r.RestartAgent {
		t.Errorf("heartbeat 7 answered %+v, want id 2 with restartAgent", r)
	}
	if r := hb(2); *r.ID != 3 {
		t.Errorf("heartbeat 2 answered %+v, want id 3", r)
	}
	st, _ := s.HostState("h1")
	if st.Status != HostHealthy || st.HeartbeatID != 3 {
		t.Errorf("host state %s heartbeat id %d, want HEALTHY 3", st.Status, st.HeartbeatID)
	}

	s.SetFaults(Faults{HeartbeatIDZero: 1})
	if r := hb(3); *r.ID != 0 {
		t.Errorf("with the id-0 fault heartbeat answered %+v, want id 0", r)
	}
	if r := hb(3); *r.ID != 4 {
		t.Errorf("after the one-shot fault heartbeat answered %+v, want id 4", r)
	}
	if f := s.Faults(); f.HeartbeatIDZero != 0 {
		t.Errorf("fault count left %d, want 0", f.HeartbeatIDZero)
	}
}

func TestEveryRequestGetsOneReplyWithItsCorrelationID(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	// Request matches replies by correlationId; a reply with a wrong or
	// missing id would make these time out.
	for _, dest := range []string{protocol.ReportsHostStatus, protocol.ReportsComponentVersion, protocol.ReportsAlertsStatus} {
		body := any(map[string]any{"clusters": map[string]any{}})
		if dest == protocol.ReportsAlertsStatus {
			body = []any{}
		}
		a.send(dest, body)
	}
	recs := s.Records(Query{Host: "h1"})
	var dests []string
	for _, r := range recs {
		dests = append(dests, r.Destination)
	}
	want := []string{protocol.Register, protocol.AgentsTopologies, protocol.AgentsMetadata, protocol.AgentsConfigs,
		protocol.AgentsHostLevelParams, protocol.AgentsAlertDefinitions, protocol.Heartbeat,
		protocol.ReportsHostStatus, protocol.ReportsComponentVersion, protocol.ReportsAlertsStatus}
	if !slices.Equal(dests, want) {
		t.Errorf("recorded %v, want %v", dests, want)
	}
	for i, r := range recs {
		if r.CorrelationID != strconv.Itoa(i) {
			t.Errorf("record %d (%s) has correlationId %q, want %d", i, r.Destination, r.CorrelationID, i)
		}
	}
}

func TestUnregisteredSessionsGetErrorsForHostData(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	// Topology and metadata need no registration; configs and reports do.
	if b := a.request(protocol.AgentsTopologies, protocol.HashRequest{}); !strings.Contains(string(b), `"eventType":"CREATE"`) {
		t.Errorf("topology before registration: %s", b)
	}
	for _, dest := range []string{protocol.AgentsConfigs, protocol.ReportsHostStatus} {
		b := a.request(dest, map[string]any{})
		if strings.Contains(string(b), `"status"`) || !strings.Contains(string(b), "HostNotRegistered") {
			t.Errorf("%s before registration answered %s, want an error without status", dest, b)
		}
	}
}

func TestRegistrationFailures(t *testing.T) {
	sc := testScenario()
	sc.Options.ServerVersion = "2.8.0.0-123"
	s := startSim(t, sc)

	a := dialAgent(t, s, "h1")
	req := registration("h1")
	req["agentVersion"] = "2.7.1.0"
	var r protocol.RegisterResponse
	decode(t, a.request(protocol.Register, req), &r)
	if r.ExitStatus != 1 || r.ID == nil || *r.ID != -1 || !strings.Contains(r.Log, "non compatible agent version") {
		t.Errorf("old agent version: %+v, want exitstatus 1, id -1 and the reason", r)
	}
	if r := a.register(); r.ExitStatus != 0 {
		t.Errorf("2.8.0.0 against server 2.8.0.0-123: %+v, want success", r)
	}

	s.SetFaults(Faults{RegistrationFailure: 1, RegistrationFailureLog: "go away"})
	if r := a.register(); r.ExitStatus != 1 || r.Log != "go away" {
		t.Errorf("with the fault: %+v", r)
	}
	if r := a.register(); r.ExitStatus != 0 {
		t.Errorf("after the one-shot fault: %+v", r)
	}
}

func TestReplyFaults(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	s.SetFaults(Faults{Host: "h1", ErrorReplies: map[string]int{protocol.AgentsConfigs: 1}, DropReplies: map[string]int{protocol.Heartbeat: 1}})
	b := a.request(protocol.AgentsConfigs, protocol.HashRequest{})
	if strings.Contains(string(b), `"status"`) || !strings.Contains(string(b), `"payload"`) {
		t.Errorf("faulted configs request answered %s, want the error wrapper", b)
	}
	ctx, cancel := testCtxShort(t, 300*time.Millisecond)
	defer cancel()
	if _, err := a.conn.Request(ctx, protocol.Heartbeat, mustJSON(protocol.HeartbeatRequest{ID: 1})); err == nil {
		t.Error("a dropped heartbeat reply arrived")
	}
	if r := a.heartbeat(); r.ID == nil || *r.ID != 2 {
		t.Errorf("heartbeat after the faults: %+v, want id 2 (a heartbeat whose reply was dropped is not processed)", r)
	}
}

func TestThrottleRefusesConnections(t *testing.T) {
	sc := testScenario()
	sc.Options.RegistrationQueueSize = 1
	s := startSim(t, sc)
	a := dialAgent(t, s, "h1") // connected, no heartbeat yet: fills the queue
	if _, err := tryDial(t, s, "h2"); !isConnectRefused(err) {
		t.Fatalf("second connection: %v, want ERROR Connection not allowed", err)
	}
	a.join() // the first heartbeat releases the queue entry
	dialAgent(t, s, "h2").join()

	s.SetFaults(Faults{RefuseConnections: 1})
	if _, err := tryDial(t, s, "h2"); !isConnectRefused(err) {
		t.Fatalf("with refuseConnections: %v", err)
	}
	dialAgent(t, s, "h2")
	if m := s.Metrics(); m.Throttled != 2 {
		t.Errorf("throttled %d, want 2", m.Throttled)
	}
}

func TestDisconnectAndSessionEnd(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	if err := a.conn.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := s.WaitHost(testCtx(t), "h1", func(h HostState) bool { return !h.Registered })
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != HostDisconnected || st.Registrations != 1 {
		t.Errorf("after disconnect: %s, %d registrations", st.Status, st.Registrations)
	}
	if err := s.WaitFor(testCtx(t), func() bool { return s.Metrics().Sessions == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestJoinUnknownHostsBroadcastsTopology(t *testing.T) {
	sc := testScenario()
	sc.Options.JoinUnknownHosts = true
	sc.Options.JoinTemplate = &JoinTemplate{Cluster: "c1", Components: []string{"ZK_CLIENT"}}
	s := startSim(t, sc)
	a := dialAgent(t, s, "h1")
	a.join()

	b := dialAgent(t, s, "new-host")
	b.register()
	p := a.next(protocol.EventsTopologies)
	var ev protocol.TopologyEvent
	decode(t, p.body, &ev)
	c := ev.Clusters["2"]
	if ev.EventType != protocol.EventUpdate || len(c.Hosts) != 1 || c.Hosts[0].HostName != "new-host" || c.Hosts[0].HostID != 3 {
		t.Fatalf("topology push %s, want an UPDATE adding new-host with id 3", p.body)
	}
	if len(c.Components) != 1 || c.Components[0].ComponentName != "ZK_CLIENT" || !slices.Equal(c.Components[0].HostIDs, []int64{3}) ||
		c.Components[0].CommandParams["script"] == "" {
		t.Errorf("components of the push %+v", c.Components)
	}
	caches := b.syncCaches()
	if got := *b.hashes[protocol.CacheTopology]; got != ev.Hash {
		t.Errorf("joined host got topology hash %s, the push said %s", got, ev.Hash)
	}
	if !strings.Contains(string(mustJSON(caches[protocol.CacheTopology])), `"hostName":"new-host"`) {
		t.Errorf("joined host's topology lacks it")
	}
	// h1 applied the UPDATE: its hash is current.
	a.hashes[protocol.CacheTopology] = &ev.Hash
	if reply := a.request(protocol.AgentsTopologies, protocol.HashRequest{Hash: &ev.Hash}); string(reply) != "{}" {
		t.Errorf("h1 with the pushed hash got %s, want {}", reply)
	}
	st, _ := s.HostState("new-host")
	if !slices.Equal(st.Clusters, []string{"c1"}) || !slices.Equal(st.Components, []string{"ZK_CLIENT"}) || st.Agent.Version != "2.8.0.0" {
		t.Errorf("joined host state %+v", st)
	}
}

func TestUnknownHostWithoutJoinBelongsToNoCluster(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "stranger")
	if r := a.register(); r.ExitStatus != 0 {
		t.Fatalf("registration: %+v", r)
	}
	caches := a.syncCaches()
	if got := string(mustJSON(caches[protocol.CacheConfigurations]["clusters"])); got != "{}" {
		t.Errorf("configs clusters %s, want {}", got)
	}
	st, _ := s.HostState("stranger")
	if len(st.Clusters) != 0 || st.HostID != 3 {
		t.Errorf("state %+v, want no cluster and host id 3", st)
	}
}

func TestRestartOnSamePortsKeepsHashes(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	ports := []int{s.URLPort(), s.SecuredURLPort(), s.APIPort()}
	confTS := string(mustJSON(s.hostTS("h1")))

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.conn.Done():
	case <-time.After(waitTimeout):
		t.Fatal("agent connection still open after Stop")
	}
	if _, err := tryDial(t, s, "h1"); err == nil {
		t.Fatal("dialled a stopped simulator")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got := []int{s.URLPort(), s.SecuredURLPort(), s.APIPort()}; !slices.Equal(got, ports) {
		t.Fatalf("ports after restart %v, want %v", got, ports)
	}

	// The agent's old session is gone: a heartbeat on a new, unregistered
	// session gets id 0; after registering, every cache is unchanged.
	b := dialAgent(t, s, "h1")
	b.hashes = a.hashes
	var r protocol.HeartbeatResponse
	decode(t, b.request(protocol.Heartbeat, protocol.HeartbeatRequest{ID: 1}), &r)
	if *r.ID != 0 {
		t.Errorf("heartbeat on a fresh session after restart: %+v, want id 0", r)
	}
	b.register()
	caches := b.syncCaches()
	for name, reply := range caches {
		if name == protocol.CacheConfigurations {
			if string(mustJSON(reply)) != `{"timestamp":`+confTS+`}` {
				t.Errorf("configs after restart %s, want the timestamp only", mustJSON(reply))
			}
			continue
		}
		if len(reply) != 0 {
			t.Errorf("%s after restart: %s, want {}", name, mustJSON(reply))
		}
	}
	if st, _ := s.HostState("h1"); st.Registrations != 2 {
		t.Errorf("registrations %d, want 2", st.Registrations)
	}
}

// hostTS reads a host's configurations timestamp.
func (s *Server) hostTS(name string) int64 {
	st, _ := s.HostState(name)
	return st.ConfigTimestamp
}

func TestHashesAreStableAcrossSimulators(t *testing.T) {
	hashes := func() map[string]string {
		s := startSim(t, testScenario(), func(c *Config) { c.APIPort = 0; c.PublicHost = "sim.example" })
		st, _ := s.HostState("h1")
		delete(st.Hashes, protocol.CacheMetadata) // jdk_location holds the (ephemeral) API port
		return st.Hashes
	}
	one, two := hashes(), hashes()
	for k, v := range one {
		if two[k] != v {
			t.Errorf("%s hash differs between two simulators of one scenario: %s vs %s", k, v, two[k])
		}
	}
}

func TestUnknownDestinationsAndBadBodies(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	// A SEND to a destination nobody handles is recorded and not answered.
	ctx, cancel := testCtxShort(t, 300*time.Millisecond)
	defer cancel()
	if _, err := a.conn.Request(ctx, "/nowhere", []byte(`{}`)); err == nil {
		t.Error("a SEND to an unknown destination was answered")
	}
	if recs := s.Records(Query{Destination: "/nowhere"}); len(recs) != 1 {
		t.Errorf("records of /nowhere: %d", len(recs))
	}
	// Bodies that are not JSON are kept as strings.
	if err := a.conn.Send(testCtx(t), protocol.ReportsHostStatus, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	rec, err := s.WaitRecord(testCtx(t), Query{Destination: protocol.ReportsHostStatus}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var str string
	if json.Unmarshal(rec.Body, &str) != nil || str != "not json" {
		t.Errorf("recorded body %s", rec.Body)
	}
	if r := a.heartbeat(); r.ID == nil || *r.ID != 2 {
		t.Errorf("session unusable after a bad report: %+v", r)
	}
}
