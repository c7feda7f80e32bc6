package orchestrator

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// The cluster dictionary alert checks read is built once per state of the
// caches: the same map while nothing changed, a new one with the new value
// after a configurations push.
func TestClusterConfigurationFollowsTheCaches(t *testing.T) {
	e := newEnv(t, nil)
	first, err := e.orch.ClusterConfiguration(clusterID)
	if err != nil {
		t.Fatal(err)
	}
	if got := configValue(first, "demo-env", "message"); got != "hello from the cache" {
		t.Fatalf("demo-env/message = %v", got)
	}
	again, err := e.orch.ClusterConfiguration(clusterID)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(first).Pointer() != reflect.ValueOf(again).Pointer() {
		t.Error("dictionary built again while the caches did not change")
	}

	body, _ := json.Marshal(map[string]any{"timestamp": 1700000000001, "hash": "c2", "clusters": map[string]any{
		clusterID: map[string]any{"configurations": map[string]any{"demo-env": map[string]any{"message": "changed"}}}}})
	if err := e.store.Apply(cache.Configurations, body); err != nil {
		t.Fatal(err)
	}
	changed, err := e.orch.ClusterConfiguration(clusterID)
	if err != nil {
		t.Fatal(err)
	}
	if got := configValue(changed, "demo-env", "message"); got != "changed" {
		t.Errorf("after a configurations push demo-env/message = %v", got)
	}
	if got := configValue(first, "demo-env", "message"); got != "hello from the cache" {
		t.Errorf("an earlier dictionary changed under its reader: %v", got)
	}
	if _, err := e.orch.ClusterConfiguration("9"); err == nil {
		t.Error("a cluster the caches do not hold gave a dictionary")
	}
}

func configValue(dict map[string]any, typ, key string) any {
	c, _ := dict["configurations"].(map[string]any)
	t, _ := c[typ].(map[string]any)
	return t[key]
}
