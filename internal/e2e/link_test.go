package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

var cacheNames = []string{"topology", "metadata", "configurations", "host_level_params", "alert_definitions"}

// TestRegistrationCachesAndHeartbeats: the agent registers, keeps the five
// caches on disk under the Python agent's names with the server's hashes,
// and heartbeats with increasing ids.
func TestRegistrationCachesAndHeartbeats(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-reg", nil)
	ctx, h := a.StartReady(s, 60*time.Second)
	reg, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.Register}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var req protocol.RegisterRequest
	if err := reg.Decode(&req); err != nil {
		t.Fatal(err)
	}
	if req.ID != -1 || req.Hostname != a.Name || req.Prefix != a.DataDir() || req.HardwareProfile.ProcessorCount < 1 || req.AgentStartTime == 0 {
		t.Errorf("registration request: %+v", req)
	}

	dir := a.Path("var/lib/ambari-agent/cache/cluster_cache")
	for _, name := range cacheNames {
		var v map[string]any
		readJSON(t, filepath.Join(dir, name+".json"), &v)
		hash, err := os.ReadFile(filepath.Join(dir, "."+name+".hash"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(hash) != h.Hashes[name] {
			t.Errorf("%s hash on disk %q, server's %q", name, hash, h.Hashes[name])
		}
	}

	// Three heartbeats with ids 0, 1, 2: the server's counter follows.
	st, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool { return h.Heartbeats >= 3 })
	if err != nil {
		t.Fatalf("heartbeats: %v", err)
	}
	var ids []int64
	for _, r := range s.Records(sim.Query{Host: a.Name, Destination: protocol.Heartbeat}) {
		var hb protocol.HeartbeatRequest
		r.Decode(&hb)
		ids = append(ids, hb.ID)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("heartbeat ids %v are not consecutive", ids)
		}
	}
	if ids[0] != 0 || st.HeartbeatID < 3 {
		t.Fatalf("heartbeat ids %v, server counter %d", ids, st.HeartbeatID)
	}
}

// TestSimRestartReRegistersWithHashes: a restarted server sees the agent
// back within the backoff cap plus a second; the agent sends its stored
// hashes, gets "unchanged" answers and keeps its data.
func TestSimRestartReRegistersWithHashes(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-restart", nil)
	ctx, h := a.StartReady(s, 90*time.Second)
	topoFile := a.Path("var/lib/ambari-agent/cache/cluster_cache/topology.json")
	before, _ := os.ReadFile(topoFile)
	hitsBefore := s.Metrics().CacheHits
	since := s.LastSeq()

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	restarted := time.Now()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.Register, Since: since}, nil); err != nil {
		t.Fatalf("no re-registration: %v", err)
	}
	took := time.Since(restarted)
	// max_reconnect_retry_delay=2 in the test ini: the agent must be back
	// within the cap plus one second.
	if took > 3*time.Second {
		t.Errorf("re-registered %s after the restart, more than the 2 s cap + 1 s", took)
	}
	t.Logf("re-registered %s after the simulator restarted", took.Round(time.Millisecond))
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	for _, sync := range protocol.CacheSyncOrder {
		r, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: sync.Request, Since: since}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var req protocol.HashRequest
		r.Decode(&req)
		if req.Hash == nil || *req.Hash != h.Hashes[sync.Cache] {
			t.Errorf("%s: the agent sent hash %v, it had %q", sync.Cache, req.Hash, h.Hashes[sync.Cache])
		}
	}
	if got := s.Metrics().CacheHits - hitsBefore; got < 5 {
		t.Errorf("%d cache requests answered 'unchanged', want 5", got)
	}
	after, _ := os.ReadFile(topoFile)
	if string(before) != string(after) || len(after) == 0 {
		t.Errorf("topology cache changed across the restart")
	}
}

// TestPushesChangeCachesOnDisk: pushes of every cached kind reach the
// agent's files.
func TestPushesChangeCachesOnDisk(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-push", nil)
	ctx, h := a.StartReady(s, 60*time.Second)
	dir := a.Path("var/lib/ambari-agent/cache/cluster_cache")
	cid := "2"
	waitFile := func(name string, ok func(map[string]any) bool) {
		t.Helper()
		for ctx.Err() == nil {
			var v map[string]any
			b, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if err == nil && json.Unmarshal(b, &v) == nil && ok(v) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s.json never showed the pushed change", name)
	}
	push := func(topic, body string) {
		t.Helper()
		if _, err := s.Push(sim.Push{Topic: topic, Host: a.Name, Body: json.RawMessage(body)}); err != nil {
			t.Fatal(err)
		}
	}

	// Topology UPDATE: a new host appended.
	push(protocol.EventsTopologies, `{"eventType":"UPDATE","hash":"t2","clusters":{"`+cid+`":{"hosts":[{"hostId":77,"hostName":"other-host","rackName":"/r2","ipv4":"10.0.0.77"}]}}}`)
	waitFile("topology", func(v map[string]any) bool {
		return strings.Contains(mustJSON(v), `"other-host"`)
	})
	// Topology DELETE of that host.
	push(protocol.EventsTopologies, `{"eventType":"DELETE","hash":"t3","clusters":{"`+cid+`":{"hosts":[{"hostId":77}]}}}`)
	waitFile("topology", func(v map[string]any) bool {
		return !strings.Contains(mustJSON(v), `"other-host"`)
	})
	// Metadata UPDATE: a deep merge adds a key and keeps the others.
	push(protocol.EventsMetadata, `{"eventType":"UPDATE","hash":"m2","clusters":{"`+cid+`":{"clusterLevelParams":{"e2e_marker":"yes"}}}}`)
	waitFile("metadata", func(v map[string]any) bool {
		s := mustJSON(v)
		return strings.Contains(s, `"e2e_marker":"yes"`) && strings.Contains(s, `"cluster_name":"demo"`)
	})
	// Configurations: a full replacement.
	push(protocol.UserConfigs, `{"timestamp":9999999999999,"hash":"c2","clusters":{"`+cid+`":{"configurations":{"e2e-site":{"k":"v"}},"configurationAttributes":{}}}}`)
	waitFile("configurations", func(v map[string]any) bool {
		s := mustJSON(v)
		return strings.Contains(s, `"e2e-site"`) && !strings.Contains(s, `"demo-env"`)
	})
	// Host-level params: a full replacement.
	push(protocol.UserHostLevelParams, `{"hash":"h2","clusters":{"`+cid+`":{"recoveryConfig":{"components":[]},"blueprint_provisioning_state":{"E2E":"NONE"}}}}`)
	waitFile("host_level_params", func(v map[string]any) bool {
		return strings.Contains(mustJSON(v), `"E2E":"NONE"`)
	})
	// The simulator keeps its model consistent: the agent stores the hash
	// of what the server now serves for each pushed cache.
	now, _ := s.HostState(a.Name)
	for _, name := range cacheNames {
		hash, _ := os.ReadFile(filepath.Join(dir, "."+name+".hash"))
		if string(hash) != now.Hashes[name] {
			t.Errorf("%s hash on disk %q, the server's is %q", name, hash, now.Hashes[name])
		}
		if (name == "metadata" || name == "configurations" || name == "host_level_params") && now.Hashes[name] == h.Hashes[name] {
			t.Errorf("%s: the server's hash did not change with the push", name)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
