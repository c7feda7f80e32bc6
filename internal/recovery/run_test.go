package recovery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// Run re-reads cluster-env and recoveryConfig when the caches change,
// through the caches' own notifications.
func TestRunFollowsCacheChanges(t *testing.T) {
	h := newHarness(t, 1000)
	// Start from a cache loaded from disk: written by one store, read by a
	// new one, as at agent start.
	dir := t.TempDir()
	first := cache.Open(dir, nil)
	h.store = first
	h.env(map[string]string{"recovery_type": "FULL"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	h.store = cache.Open(dir, nil)
	h.cfg.Configurations, h.cfg.HostLevelParams = h.store.Configurations(), h.store.HostLevelParams()
	m := h.start()
	if s := m.Settings(); !s.Enabled || s.Mode != ModeFull || len(s.Recoverable) != 1 || s.ClusterID != testCluster {
		t.Fatalf("settings from the loaded caches: %+v", s)
	}

	// A desired state set by a server command after New must not be undone
	// by Run catching up with snapshots New already applied.
	m.CommandStarted(headerOf(map[string]any{"commandType": "EXECUTION_COMMAND", "role": "DATANODE", "roleCommand": "STOP"}))
	m.ObserveLiveStatus("DATANODE", "STARTED")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	apply := func(name cache.Name, ev map[string]any) {
		h.apply(name, ev) // no manual refresh: h.m is left to Run
	}
	apply(cache.Configurations, map[string]any{"timestamp": 2, "hash": "c2", "clusters": map[string]any{
		testCluster: map[string]any{"configurations": map[string]any{"cluster-env": map[string]any{
			"recovery_type": "FULL", "recovery_max_count": "4"}}}}})
	testutil.WaitFor(t, "cluster-env change", func() bool { return m.Settings().Limits.MaxCount == 4 })
	if got := roleCommands(h.commandsAt(1000)); got["DATANODE"] != "STOP" {
		t.Fatalf("desired state lost: commands %v", got)
	}

	apply(cache.HostLevelParams, map[string]any{"hash": "p2", "clusters": map[string]any{
		testCluster: map[string]any{"recoveryConfig": map[string]any{"components": []any{
			map[string]any{"service_name": "YARN", "component_name": "NODEMANAGER", "desired_state": "STARTED"}}}}}})
	testutil.WaitFor(t, "recoveryConfig change", func() bool {
		s := m.Settings().Recoverable
		return len(s) == 1 && s[0] == "NODEMANAGER"
	})

	apply(cache.Configurations, map[string]any{"timestamp": 3, "hash": "c3", "clusters": map[string]any{
		testCluster: map[string]any{"configurations": map[string]any{"cluster-env": map[string]any{
			"recovery_type": "AUTO_START", "recovery_enabled": "false"}}}}})
	testutil.WaitFor(t, "recovery switched off", func() bool { return !m.Enabled() })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// Changes between New and Run are picked up when Run starts.
func TestRunCatchesUp(t *testing.T) {
	h := newHarness(t, 1000)
	m := h.start()
	h.m = nil // the harness must not refresh by hand: only Run may see this
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	if m.Enabled() {
		t.Fatal("enabled before Run saw the change")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	testutil.WaitFor(t, "catch-up", m.Enabled)
}

// Observations, commands and cache changes from many goroutines at once
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, 1000)
	h.cfg.StateFile = stateFileIn(t)
	h.env(map[string]string{"recovery_type": "AUTO_INSTALL_START", "recovery_retry_interval": "1"})
	names := make([]comp, 20)
	for i := range names {
		names[i] = comp{"SVC", fmt.Sprintf("C%d", i), "STARTED"}
	}
	h.params(names, nil)
	m := h.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				c := names[(i+g)%len(names)].name
				switch i % 4 {
				case 0:
					m.ObserveLiveStatus(c, "INSTALLED")
				case 1:
					m.CommandFinished(headerOf(map[string]any{"role": c, "roleCommand": "INSTALL"}), "FAILED")
				case 2:
					m.CommandStarted(headerOf(map[string]any{"commandType": "EXECUTION_COMMAND", "role": c, "roleCommand": "START"}))
				case 3:
					h.clock.set(1000 + int64(i)*61)
					for _, cmd := range m.Commands() {
						m.CommandFinished(headerOf(cmd), "COMPLETED")
					}
				}
				m.Counters(c)
				m.Settings()
			}
		}(g)
	}
	for i := 0; i < 20; i++ {
		h.apply(cache.Configurations, map[string]any{"timestamp": 10 + i, "hash": fmt.Sprintf("x%d", i),
			"clusters": map[string]any{testCluster: map[string]any{"configurations": map[string]any{
				"cluster-env": map[string]any{"recovery_type": "AUTO_INSTALL_START", "recovery_max_count": fmt.Sprint(2 + i%3)}}}}})
	}
	wg.Wait()
	if !m.Enabled() {
		t.Fatal("recovery disabled after valid cluster-env changes")
	}
}
