package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/filecache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// With cache_dir holding the agent's own directories (as when it is the
// agent's home), a command naming one of them as its package folder, its
// hooks folder or its script fails with a clear error and nothing runs.
func TestRunRefusesAgentDirectories(t *testing.T) {
	var keys string
	e := newEnv(t, func(c *Config) {
		c.Prefix = filepath.Join(c.CacheDir, "data")
		c.TmpDir = filepath.Join(c.CacheDir, "tmp")
		keys = filepath.Join(c.CacheDir, "keys")
		c.KeysDir = keys
	})
	e.data = filepath.Join(e.cache, "data")
	for _, d := range []string{e.data, keys, filepath.Join(e.cache, "tmp"), filepath.Join(e.cache, "cluster_cache")} {
		os.MkdirAll(d, 0o755)
	}
	// A script an attacker got into the agent's own directories.
	ran := filepath.Join(t.TempDir(), "ran")
	evil := []byte("open(" + strconv.Quote(ran) + ", 'w')\n")
	for _, d := range []string{"cluster_cache", "data", "keys", "tmp"} {
		os.MkdirAll(filepath.Join(e.cache, d, "scripts"), 0o755)
		os.WriteFile(filepath.Join(e.cache, d, "scripts", "evil.py"), evil, 0o644)
	}
	folder := func(f string) map[string]any {
		return map[string]any{"script": "scripts/evil.py", "script_type": "PYTHON", "command_timeout": "60", "service_package_folder": f}
	}
	cases := map[string]map[string]any{
		"cluster_cache": folder("cluster_cache"),
		"data":          folder("data"),
		"keys":          folder("keys/"),
		"tmp":           folder("stacks/../tmp"),
		"script":        testkitParams(strings.Repeat("../", 7)+"cluster_cache/scripts/evil.py", 60, nil),
	}
	i := 60
	for name, params := range cases {
		i++
		res := e.orch.Run(context.Background(), e.request(header(t, i, "TESTKIT", "X", "START", params, nil)))
		if res.ExitCode != 1 || !errors.Is(res.Err, filecache.ErrAgentDir) || !strings.Contains(res.Stdout, "agent's own directory") {
			t.Errorf("%s: exit %d err %v stdout %q", name, res.ExitCode, res.Err, res.Stdout)
		}
	}
	// A custom action whose script climbs into the agent's data.
	action := decode(t, map[string]any{
		"commandType": protocol.ExecutionCommand, "clusterId": "-1", "taskId": 68, "serviceName": "null", "role": "evil_action",
		"roleCommand":   "ACTIONEXECUTE",
		"commandParams": map[string]any{"script": "../../data/scripts/evil.py", "script_type": "PYTHON", "command_timeout": "60"},
	})
	if res := e.orch.Run(context.Background(), e.request(action)); !errors.Is(res.Err, filecache.ErrAgentDir) {
		t.Errorf("custom action: exit %d err %v", res.ExitCode, res.Err)
	}
	// The stack's hooks folder pointed at the cluster caches.
	ev, _ := json.Marshal(map[string]any{"eventType": "UPDATE", "hash": "m2", "clusters": map[string]any{
		clusterID: map[string]any{"clusterLevelParams": map[string]any{"hooks_folder": "cluster_cache"}}}})
	if err := e.store.Apply(cache.Metadata, ev); err != nil {
		t.Fatal(err)
	}
	res := e.orch.Run(context.Background(), e.request(header(t, 69, "TESTKIT", "X", "START", testkitParams("dump_env.py", 60, nil), nil)))
	if !errors.Is(res.Err, filecache.ErrAgentDir) {
		t.Errorf("hooks folder: exit %d err %v", res.ExitCode, res.Err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a script from the agent's own directories ran")
	}
}
