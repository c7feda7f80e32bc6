package recovery

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

const testCluster = "2"

// fakeClock is the injectable clock: whole epoch seconds, set by the test.
type fakeClock struct{ sec atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.Unix(c.sec.Load(), 0) }
func (c *fakeClock) set(sec int64)  { c.sec.Store(sec) }

// comp is one entry of recoveryConfig.components.
type comp struct{ service, name, desired string }

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a manager over a real cache store, with the clock and the
// log under the test's control.
type harness struct {
	t     testing.TB
	store *cache.Store
	clock *fakeClock
	logs  *syncBuffer
	cfg   Config
	m     *Manager
	seq   int
}

func newHarness(t testing.TB, at int64) *harness {
	t.Helper()
	h := &harness{t: t, store: cache.Open("", nil), clock: &fakeClock{}, logs: &syncBuffer{}}
	h.clock.set(at)
	l := logrus.New()
	l.SetOutput(h.logs)
	l.SetLevel(logrus.InfoLevel)
	h.cfg = Config{
		Configurations:  h.store.Configurations(),
		HostLevelParams: h.store.HostLevelParams(),
		Now:             h.clock.Now,
		Log:             logrus.NewEntry(l),
	}
	return h
}

// start builds the manager from what the caches hold now.
func (h *harness) start() *Manager {
	h.m = New(h.cfg)
	return h.m
}

// env applies a configurations event carrying cluster-env and lets the
// manager see it (as Run would on the notification).
func (h *harness) env(kv map[string]string) {
	h.t.Helper()
	h.seq++
	ev := map[string]any{"timestamp": 1700000000000 + h.seq, "hash": "c" + string(rune('a'+h.seq%26)),
		"clusters": map[string]any{testCluster: map[string]any{
			"configurations": map[string]any{"cluster-env": kv, "zoo.cfg": map[string]any{"clientPort": "2181"}}}}}
	h.apply(cache.Configurations, ev)
	if h.m != nil {
		h.m.refreshConfigurations()
	}
}

// params applies a host-level params event with recoveryConfig and the
// blueprint provisioning states.
func (h *harness) params(comps []comp, blueprint map[string]string) {
	h.t.Helper()
	list := []any{}
	for _, c := range comps {
		list = append(list, map[string]any{"service_name": c.service, "component_name": c.name, "desired_state": c.desired})
	}
	cl := map[string]any{"recoveryConfig": map[string]any{"components": list}}
	if blueprint != nil {
		cl["blueprint_provisioning_state"] = blueprint
	}
	h.rawParams(map[string]any{testCluster: cl})
}

func (h *harness) rawParams(clusters map[string]any) {
	h.t.Helper()
	h.seq++
	h.apply(cache.HostLevelParams, map[string]any{"hash": "p" + string(rune('a'+h.seq%26)), "clusters": clusters})
	if h.m != nil {
		h.m.refreshHostLevelParams()
	}
}

func (h *harness) apply(name cache.Name, ev map[string]any) {
	h.t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Apply(name, b); err != nil {
		h.t.Fatalf("apply %s: %v", name, err)
	}
}

// commandsAt sets the clock and asks for commands.
func (h *harness) commandsAt(sec int64) []map[string]any {
	h.clock.set(sec)
	return h.m.Commands()
}

// roleCommands summarises commands as role -> roleCommand.
func roleCommands(cmds []map[string]any) map[string]string {
	out := map[string]string{}
	for _, c := range cmds {
		out[c["role"].(string)] = c["roleCommand"].(string)
	}
	return out
}

func stateFileIn(t *testing.T) string { return filepath.Join(t.TempDir(), StateFileName) }

// autoStart is a cluster-env with the worked example's limits of docs/behaviour.md §8.3.
func autoStart(maxCount, window, gap, lifetime string) map[string]string {
	return map[string]string{"recovery_enabled": "true", "recovery_type": "AUTO_START",
		"recovery_max_count": maxCount, "recovery_window_in_minutes": window,
		"recovery_retry_interval": gap, "recovery_lifetime_max_count": lifetime}
}

// headerOf decodes the header fields the manager reads from a command
// object, as the action queue does at intake.
func headerOf(cmd map[string]any) protocol.CommandHeader {
	h := protocol.CommandHeader{}
	h.CommandType, _ = cmd["commandType"].(string)
	h.Role, _ = cmd["role"].(string)
	h.RoleCommand, _ = cmd["roleCommand"].(string)
	h.TopLevelCustomCommand, _ = cmd["custom_command"].(string)
	params, _ := cmd["commandParams"].(map[string]any)
	h.CustomCommand, _ = params["custom_command"].(string)
	return h
}
