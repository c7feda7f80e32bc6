package recovery

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The worked example of docs/behaviour.md §8.3 end to end: a recoverable DATANODE that stays
// INSTALLED gets START commands at 1000, 1071 and 1400 only.
func TestWorkedExampleThroughCommands(t *testing.T) {
	h := newHarness(t, 900)
	h.env(autoStart("2", "5", "1", "4"))
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")

	for _, s := range []struct {
		at   int64
		want int
	}{{1000, 1}, {1004, 0}, {1071, 1}, {1150, 0}, {1400, 1}} {
		cmds := h.commandsAt(s.at)
		if len(cmds) != s.want {
			t.Fatalf("t=%d: %d commands, want %d", s.at, len(cmds), s.want)
		}
		for _, c := range cmds {
			if c["roleCommand"] != "START" {
				t.Fatalf("t=%d: roleCommand %v", s.at, c["roleCommand"])
			}
			// A failed START leaves the component INSTALLED.
			m.CommandFinished(headerOf(c), "FAILED")
		}
	}
	got, ok := m.Counters("DATANODE")
	if !ok {
		t.Fatal("no counters for DATANODE")
	}
	want := Counters{Count: 1, LastAttemptUnix: 1400, LastResetUnix: 1400, LifetimeCount: 3, Window: 5 * 60e9}
	if got != want {
		t.Fatalf("counters %+v, want %+v", got, want)
	}
	// One more attempt uses up the lifetime of 4; after that nothing, ever.
	if n := len(h.commandsAt(1461)); n != 1 {
		t.Fatalf("t=1461: %d commands", n)
	}
	for _, at := range []int64{1800, 5000, 100000} {
		if n := len(h.commandsAt(at)); n != 0 {
			t.Fatalf("t=%d: %d commands past the lifetime limit", at, n)
		}
	}
	got, _ = m.Counters("DATANODE")
	if !got.LifetimeLimitReached || got.LifetimeCount != 4 || got.WarnedThresholdReached || !got.Stale {
		t.Fatalf("after the lifetime limit: %+v", got)
	}
	if c := strings.Count(h.logs.String(), "lifetime limit of attempts reached"); c != 1 {
		t.Fatalf("lifetime limit logged %d times, want once", c)
	}
}

// The docs/behaviour.md §8.2 table for every mode: which command each desired/current pair
// produces.
func TestModeTransitions(t *testing.T) {
	desired := []string{"STARTED", "INSTALLED", "INSTALL_FAILED", "XYS"}
	current := []string{"", "INIT", "INSTALLED", "STARTED", "INSTALL_FAILED"}
	tables := []struct {
		name string
		env  map[string]string
		want map[[2]string]string // {desired, current} -> roleCommand; absent: none
	}{
		{"AUTO_START", map[string]string{"recovery_type": "AUTO_START"}, map[[2]string]string{
			{"STARTED", "INSTALLED"}: "START",
		}},
		{"AUTO_INSTALL_START", map[string]string{"recovery_type": "AUTO_INSTALL_START"}, map[[2]string]string{
			{"STARTED", "INSTALLED"}:        "START",
			{"STARTED", "INSTALL_FAILED"}:   "INSTALL",
			{"INSTALLED", "INSTALL_FAILED"}: "INSTALL",
		}},
		{"FULL", map[string]string{"recovery_type": "FULL"}, fullTable},
		// recovery_enabled=true without a known recovery_type is FULL mode.
		{"enabled without type", map[string]string{"recovery_enabled": "true"}, fullTable},
		{"unknown type, enabled", map[string]string{"recovery_type": "SOMETHING", "recovery_enabled": "TRUE"}, fullTable},
	}
	for _, tb := range tables {
		for _, d := range desired {
			for _, c := range current {
				t.Run(fmt.Sprintf("%s/%s/%s", tb.name, d, c), func(t *testing.T) {
					h := newHarness(t, 10000)
					h.env(tb.env)
					h.params([]comp{{"ZOOKEEPER", "ZOOKEEPER_SERVER", d}}, nil)
					m := h.start()
					if c != "" {
						m.ObserveLiveStatus("ZOOKEEPER_SERVER", c)
					}
					got := roleCommands(m.Commands())["ZOOKEEPER_SERVER"]
					if want := tb.want[[2]string{d, c}]; got != want {
						t.Fatalf("desired %s current %q: command %q, want %q", d, c, got, want)
					}
				})
			}
		}
	}
}

var fullTable = map[[2]string]string{
	{"STARTED", "INSTALLED"}:        "START",
	{"STARTED", "INIT"}:             "INSTALL",
	{"STARTED", "INSTALL_FAILED"}:   "INSTALL",
	{"INSTALLED", "INIT"}:           "INSTALL",
	{"INSTALLED", "INSTALL_FAILED"}: "INSTALL",
	{"INSTALLED", "STARTED"}:        "STOP",
}

func TestModesAndEnabled(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		enabled bool
		mode    Mode
	}{
		{nil, false, ModeFull},
		{map[string]string{}, false, ModeFull},
		{map[string]string{"recovery_type": "AUTO_START"}, true, ModeAutoStart},
		{map[string]string{"recovery_type": "AUTO_INSTALL_START"}, true, ModeAutoInstallStart},
		{map[string]string{"recovery_type": "FULL"}, true, ModeFull},
		{map[string]string{"recovery_type": "auto_start"}, false, ModeFull},
		{map[string]string{"recovery_type": "AUTO_START", "recovery_enabled": "false"}, false, ModeAutoStart},
		{map[string]string{"recovery_type": "AUTO_START", "recovery_enabled": "yes"}, false, ModeAutoStart},
		{map[string]string{"recovery_type": "AUTO_START", "recovery_enabled": "True"}, true, ModeAutoStart},
		{map[string]string{"recovery_enabled": "true"}, true, ModeFull},
	} {
		h := newHarness(t, 1000)
		if c.env != nil {
			h.env(c.env)
		}
		s := h.start().Settings()
		if s.Enabled != c.enabled || s.Mode != c.mode || s.Limits != DefaultLimits {
			t.Errorf("%v: enabled=%v mode=%v limits=%+v, want %v %v defaults", c.env, s.Enabled, s.Mode, s.Limits, c.enabled, c.mode)
		}
		if h.m.Enabled() != c.enabled {
			t.Errorf("%v: Enabled() = %v", c.env, h.m.Enabled())
		}
	}
}

// Each validation rule disables recovery and keeps the previous limits and
// mode; a later valid configuration enables it again.
func TestConfigValidation(t *testing.T) {
	valid := Limits{MaxCount: 3, WindowMinutes: 30, RetryGapMinutes: 2, LifetimeMaxCount: 9}
	base := autoStart("3", "30", "2", "9")
	for _, c := range []struct {
		name string
		set  map[string]string
	}{
		{"max_count 0", map[string]string{"recovery_max_count": "0"}},
		{"max_count negative", map[string]string{"recovery_max_count": "-1"}},
		{"window 0", map[string]string{"recovery_window_in_minutes": "0"}},
		{"retry gap 0", map[string]string{"recovery_retry_interval": "0"}},
		{"retry gap = window", map[string]string{"recovery_retry_interval": "30"}},
		{"retry gap > window", map[string]string{"recovery_retry_interval": "31"}},
		{"lifetime < max", map[string]string{"recovery_lifetime_max_count": "2"}},
		{"lifetime negative", map[string]string{"recovery_lifetime_max_count": "-1", "recovery_max_count": "-2"}},
		// Defaults fill unparsable values: window "x" -> 60 > gap, but gap 60 = window 60.
		{"gap equals the default window", map[string]string{"recovery_window_in_minutes": "x", "recovery_retry_interval": "60"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, 1000)
			h.env(base)
			m := h.start()
			if s := m.Settings(); !s.Enabled || s.Limits != valid || s.Mode != ModeAutoStart {
				t.Fatalf("valid config not applied: %+v", s)
			}
			bad := map[string]string{"recovery_type": "AUTO_INSTALL_START"}
			for k, v := range base {
				if k != "recovery_type" {
					bad[k] = v
				}
			}
			for k, v := range c.set {
				bad[k] = v
			}
			h.env(bad)
			s := m.Settings()
			if s.Enabled || s.Limits != valid || s.Mode != ModeAutoStart {
				t.Fatalf("after invalid config: %+v, want disabled with previous limits and mode", s)
			}
			if !strings.Contains(h.logs.String(), "recovery disabled: invalid cluster-env") {
				t.Fatal("invalid configuration not logged")
			}
			h.env(base)
			if s := m.Settings(); !s.Enabled || s.Limits != valid {
				t.Fatalf("valid config after invalid one: %+v", s)
			}
		})
	}
}

func TestUnparsableIntegersKeepDefaults(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START", "recovery_max_count": "many",
		"recovery_window_in_minutes": " 90 ", "recovery_retry_interval": "2.5", "recovery_lifetime_max_count": "1_000"})
	s := h.start().Settings()
	want := Limits{MaxCount: 6, WindowMinutes: 90, RetryGapMinutes: 5, LifetimeMaxCount: 1000}
	if !s.Enabled || s.Limits != want {
		t.Fatalf("settings %+v, want enabled with %+v", s, want)
	}
}

// recoveryConfig replaces the recoverable set; components that left it keep
// their desired state but get no more commands.
func TestRecoveryConfigReplacement(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}, {"YARN", "NODEMANAGER", "STARTED"}}, nil)
	m := h.start()
	if got := m.Settings().Recoverable; !reflect.DeepEqual(got, []string{"DATANODE", "NODEMANAGER"}) {
		t.Fatalf("recoverable %v", got)
	}
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	m.ObserveLiveStatus("NODEMANAGER", "INSTALLED")
	m.ObserveLiveStatus("ZKFC", "INSTALLED") // on the host, never recoverable

	h.params([]comp{{"YARN", "NODEMANAGER", "STARTED"}}, nil)
	got := h.commandsAt(1000)
	if len(got) != 1 || got[0]["role"] != "NODEMANAGER" || got[0]["serviceName"] != "YARN" {
		t.Fatalf("commands %v, want one START for NODEMANAGER", got)
	}
	// Desired INSTALLED from the server: nothing to do in AUTO_START.
	h.params([]comp{{"HDFS", "DATANODE", "INSTALLED"}, {"YARN", "NODEMANAGER", "INSTALLED"}}, nil)
	if got := h.commandsAt(5000); len(got) != 0 {
		t.Fatalf("commands %v with desired INSTALLED", got)
	}
	// Desired STARTED again: DATANODE is back in the set.
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	if got := roleCommands(h.commandsAt(9000)); !reflect.DeepEqual(got, map[string]string{"DATANODE": "START"}) {
		t.Fatalf("commands %v", got)
	}
	// An empty list switches everything off.
	h.params(nil, nil)
	if got := h.commandsAt(20000); len(got) != 0 || len(m.Settings().Recoverable) != 0 {
		t.Fatalf("commands %v with no recoverable component", got)
	}
}

// A host-level params event whose first cluster has no recoveryConfig
// changes nothing.
func TestParamsWithoutRecoveryConfigKeepSet(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	h.rawParams(map[string]any{testCluster: map[string]any{"blueprint_provisioning_state": map[string]any{"DATANODE": "NONE"}}})
	if got := m.Settings().Recoverable; !reflect.DeepEqual(got, []string{"DATANODE"}) {
		t.Fatalf("recoverable %v", got)
	}
	h.rawParams(map[string]any{testCluster: map[string]any{"recoveryConfig": map[string]any{}}})
	if got := m.Settings().Recoverable; !reflect.DeepEqual(got, []string{"DATANODE"}) {
		t.Fatalf("recoveryConfig without components changed the set: %v", got)
	}
}

// Desired states follow the server's execution commands; current states
// follow command outcomes and status results.
func TestObservations(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "FULL"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	state := func() (string, string) {
		m.mu.Lock()
		defer m.mu.Unlock()
		c := m.components["DATANODE"]
		return c.desired, c.current
	}
	cmd := func(typ, roleCommand string, extra map[string]any) map[string]any {
		c := map[string]any{"commandType": typ, "role": "DATANODE", "roleCommand": roleCommand, "serviceName": "HDFS", "clusterId": "2"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	steps := []struct {
		do            func()
		desired, curr string
	}{
		{func() { m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "STOP", nil))) }, "INSTALLED", ""},
		{func() { m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "START", nil))) }, "STARTED", ""},
		{func() { m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "INSTALL", nil))) }, "INSTALLED", ""},
		// Only server execution commands move the desired state.
		{func() { m.CommandStarted(headerOf(cmd("AUTO_EXECUTION_COMMAND", "START", nil))) }, "INSTALLED", ""},
		{func() { m.CommandStarted(headerOf(cmd("BACKGROUND_EXECUTION_COMMAND", "START", nil))) }, "INSTALLED", ""},
		{func() { m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "SERVICE_CHECK", nil))) }, "INSTALLED", ""},
		// RESTART as the server sends it (commandParams) and as Python reads it (top level).
		{func() {
			m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "CUSTOM_COMMAND", map[string]any{"commandParams": map[string]any{"custom_command": "RESTART"}})))
		}, "STARTED", ""},
		{func() { m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "STOP", nil))) }, "INSTALLED", ""},
		{func() {
			m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "CUSTOM_COMMAND", map[string]any{"custom_command": "RESTART"})))
		}, "STARTED", ""},
		{func() {
			m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "CUSTOM_COMMAND", map[string]any{"commandParams": map[string]any{"custom_command": "DECOMMISSION"}})))
		}, "STARTED", ""},
		{func() {
			m.CommandStarted(headerOf(map[string]any{"commandType": "EXECUTION_COMMAND", "role": "DATANODE"}))
		}, "STARTED", ""},
		// Outcomes.
		{func() { m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "INSTALL", nil)), "COMPLETED") }, "STARTED", "INSTALLED"},
		{func() { m.CommandFinished(headerOf(cmd("AUTO_EXECUTION_COMMAND", "START", nil)), "COMPLETED") }, "STARTED", "STARTED"},
		{func() { m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "STOP", nil)), "COMPLETED") }, "STARTED", "INSTALLED"},
		{func() { m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "START", nil)), "FAILED") }, "STARTED", "INSTALLED"},
		{func() {
			m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "CUSTOM_COMMAND", map[string]any{"commandParams": map[string]any{"custom_command": "RESTART"}})), "COMPLETED")
		}, "STARTED", "STARTED"},
		{func() { m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "STOP", nil)), "IN_PROGRESS") }, "STARTED", "STARTED"},
		{func() { m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "INSTALL", nil)), "FAILED") }, "STARTED", "INSTALL_FAILED"},
		// A failed install sticks until the component is seen running.
		{func() { m.ObserveLiveStatus("DATANODE", "INSTALLED") }, "STARTED", "INSTALL_FAILED"},
		{func() { m.ObserveLiveStatus("DATANODE", "STARTED") }, "STARTED", "STARTED"},
		// The status loop's spelling of the same observation.
		{func() { m.LiveStatus(testCluster, "DATANODE", "INSTALLED") }, "STARTED", "INSTALLED"},
		{func() { m.LiveStatus(testCluster, "DATANODE", "STARTED") }, "STARTED", "STARTED"},
		{func() { m.ObserveLiveStatus("DATANODE", "INSTALLED") }, "STARTED", "INSTALLED"},
	}
	for i, s := range steps {
		s.do()
		if d, c := state(); d != s.desired || c != s.curr {
			t.Fatalf("step %d: desired=%q current=%q, want %q %q", i, d, c, s.desired, s.curr)
		}
	}

	// Commands for components outside the recoverable set, or while
	// recovery is disabled, change nothing.
	m.CommandStarted(headerOf(map[string]any{"commandType": "EXECUTION_COMMAND", "role": "NAMENODE", "roleCommand": "START"}))
	if _, ok := m.components["NAMENODE"]; ok {
		t.Fatal("a command for a non-recoverable component created state")
	}
	h.env(map[string]string{"recovery_enabled": "false"})
	m.CommandStarted(headerOf(cmd("EXECUTION_COMMAND", "STOP", nil)))
	m.CommandFinished(headerOf(cmd("EXECUTION_COMMAND", "START", nil)), "COMPLETED")
	if d, c := state(); d != "STARTED" || c != "INSTALLED" {
		t.Fatalf("disabled manager changed states: %q %q", d, c)
	}
	// Status results are recorded even while disabled, as in Python.
	m.ObserveLiveStatus("DATANODE", "STARTED")
	if _, c := state(); c != "STARTED" {
		t.Fatalf("status result ignored while disabled: %q", c)
	}
}

// INSTALL_FAILED sticks in the command stream too: AUTO_INSTALL_START keeps
// re-installing while the status loop reports INSTALLED.
func TestInstallFailedSticks(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_INSTALL_START", "recovery_retry_interval": "1"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	cmds := h.commandsAt(1000)
	if got := roleCommands(cmds); got["DATANODE"] != "START" {
		t.Fatalf("commands %v", got)
	}
	m.CommandFinished(headerOf(map[string]any{"commandType": "EXECUTION_COMMAND", "role": "DATANODE", "roleCommand": "INSTALL"}), "FAILED")
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	if got := roleCommands(h.commandsAt(1100)); got["DATANODE"] != "INSTALL" {
		t.Fatalf("after a failed install: %v, want INSTALL", got)
	}
	m.ObserveLiveStatus("DATANODE", "STARTED")
	if got := h.commandsAt(1200); len(got) != 0 {
		t.Fatalf("running component got %v", got)
	}
}

// Nothing is generated, and no attempt consumed, while the blueprint is
// being provisioned for the component. (The action queue asks for commands
// only while no execution command is active.)
func TestPauses(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}, {"YARN", "NODEMANAGER", "STARTED"}},
		map[string]string{"DATANODE": "IN_PROGRESS", "NODEMANAGER": "NONE"})
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	m.ObserveLiveStatus("NODEMANAGER", "INSTALLED")

	if got := roleCommands(h.commandsAt(1000)); !reflect.DeepEqual(got, map[string]string{"NODEMANAGER": "START"}) {
		t.Fatalf("commands %v, want NODEMANAGER only (DATANODE is being provisioned)", got)
	}
	if c, _ := m.Counters("DATANODE"); c.LifetimeCount != 0 {
		t.Fatalf("blueprint pause consumed an attempt: %+v", c)
	}
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}, {"YARN", "NODEMANAGER", "STARTED"}},
		map[string]string{"DATANODE": "FINISHED"})
	if got := roleCommands(h.commandsAt(1010)); !reflect.DeepEqual(got, map[string]string{"DATANODE": "START"}) {
		t.Fatalf("commands %v after provisioning finished", got)
	}
}

// Generated commands carry exactly the docs/behaviour.md §8.5 fields; task ids count up from
// the second the manager was created.
func TestCommandFieldsAndTaskIDs(t *testing.T) {
	h := newHarness(t, 1729091235)
	h.env(map[string]string{"recovery_type": "AUTO_START", "recovery_retry_interval": "1"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}, {"", "NOSERVICE", "STARTED"}}, nil)
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	m.ObserveLiveStatus("NOSERVICE", "INSTALLED")
	got := h.commandsAt(1729091300)
	want := []map[string]any{
		{"clusterId": "2", "roleCommand": "START", "commandType": "AUTO_EXECUTION_COMMAND",
			"taskId": int64(1729091236), "commandId": int64(1729091236), "role": "DATANODE", "serviceName": "HDFS"},
		{"clusterId": "2", "roleCommand": "START", "commandType": "AUTO_EXECUTION_COMMAND",
			"taskId": int64(1729091237), "commandId": int64(1729091237), "role": "NOSERVICE"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("commands\n%v\nwant\n%v", got, want)
	}
	if got := h.commandsAt(1729091400); len(got) != 2 || got[0]["taskId"] != int64(1729091238) || got[1]["taskId"] != int64(1729091239) {
		t.Fatalf("second round %v", got)
	}
}

func TestDisabledProducesNothing(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START", "recovery_enabled": "false"})
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	if got := m.Commands(); len(got) != 0 {
		t.Fatalf("disabled manager produced %v", got)
	}
	if m.Enabled() {
		t.Fatal("enabled without recovery_enabled")
	}
	if _, ok := m.Counters("DATANODE"); ok {
		t.Fatal("a disabled manager counted attempts")
	}
}

// Python's test_recovery_report, through Commands and the counters.
func TestLifetimeLimitsPerComponent(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(autoStart("2", "5", "1", "4"))
	h.params([]comp{{"S", "PUMA", "STARTED"}, {"S", "LION", "STARTED"}}, nil)
	m := h.start()
	if _, ok := m.Counters("PUMA"); ok {
		t.Fatal("counters before any attempt")
	}
	m.ObserveLiveStatus("PUMA", "INSTALLED")
	h.commandsAt(1000)
	m.ObserveLiveStatus("LION", "INSTALLED")
	for _, at := range []int64{1071, 1400, 1461} {
		h.commandsAt(at)
	}
	puma, _ := m.Counters("PUMA")
	lion, _ := m.Counters("LION")
	if puma.LifetimeCount != 4 || !puma.LifetimeLimitReached || lion.LifetimeCount != 3 || lion.LifetimeLimitReached {
		t.Fatalf("PUMA %+v, LION %+v; want PUMA at its lifetime limit, LION one short", puma, lion)
	}
	h.commandsAt(1800)
	if lion, _ = m.Counters("LION"); lion.LifetimeCount != 4 || !lion.LifetimeLimitReached {
		t.Fatalf("LION %+v, want at its lifetime limit", lion)
	}
}

// The recovery cluster: at start the first host-level params cluster wins
// even without recoveryConfig; later only one that carries recoveryConfig,
// or any configurations event.
func TestRecoveryCluster(t *testing.T) {
	h := newHarness(t, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	h.rawParams(map[string]any{"3": map[string]any{"blueprint_provisioning_state": map[string]any{}}})
	m := h.start()
	if got := m.Settings().ClusterID; got != "3" {
		t.Fatalf("cluster at start %q, want 3", got)
	}
	h.rawParams(map[string]any{"4": map[string]any{"blueprint_provisioning_state": map[string]any{}}})
	if got := m.Settings().ClusterID; got != "3" {
		t.Fatalf("cluster %q after params without recoveryConfig, want 3", got)
	}
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil) // cluster 2 with recoveryConfig
	if got := m.Settings().ClusterID; got != testCluster {
		t.Fatalf("cluster %q, want %s", got, testCluster)
	}
	m.ObserveLiveStatus("DATANODE", "INSTALLED")
	if got := m.Commands(); len(got) != 1 || got[0]["clusterId"] != testCluster {
		t.Fatalf("commands %v", got)
	}
}
