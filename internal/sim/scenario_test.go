package sim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func TestExampleScenariosLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "sim", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("example scenarios: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Name == "" || sc.Description == "" {
				t.Error("example scenarios need a name and a description")
			}
			s, err := New(Config{Scenario: sc})
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
		})
	}
}

func TestInvalidScenarios(t *testing.T) {
	cases := map[string]string{
		`{"clusters":[{"name":"a"},{"name":"a"}]}`:                                                                             "defined twice",
		`{"clusters":[{"name":"a","services":[{"name":"S"}]}]}`:                                                                "packageFolder",
		`{"clusters":[{"name":"a","hosts":[{"name":"h","components":["X"]}]}]}`:                                                "which no service defines",
		`{"clusters":[{"name":"a","hosts":[{"name":"H"}]}]}`:                                                                   "lower-case",
		`{"clusters":[{"name":"a","hosts":[{"name":"h","id":1},{"name":"g","id":1}]}]}`:                                        "also used by",
		`{"clusters":[{"name":"a","alertDefinitions":[{"name":"x"}]}]}`:                                                        "JSON source",
		`{"clusters":[{"name":"a","recovery":[{"component":"X"}]}]}`:                                                           "unknown component",
		`{"clusters":[{"name":"a"}],"options":{"joinUnknownHosts":true,"joinTemplate":{"components":["X"]}}}`:                  "has no component",
		`{"options":{"joinUnknownHosts":true}}`:                                                                                "needs a cluster",
		`{"timeline":[{"after":"later","message":"x"}]}`:                                                                       "names no earlier step",
		`{"timeline":[{"after":"start"}]}`:                                                                                     "does nothing",
		`{"timeline":[{"id":"registered","after":"start","message":"x"}]}`:                                                     "trigger name",
		`{"timeline":[{"after":"start","restartAgent":true,"message":"x","command":{"component":"A","roleCommand":"START"}}]}`: "one action",
		`{"timeline":[{"id":"a","after":"start","message":"x"},{"after":"a:maybe","message":"y"}]}`:                            "suffix",
		`{"timeline":[{"after":"start","command":{"component":"A"}}]}`:                                                         "roleCommand",
		`{"timeline":[{"after":"start","delay":"soon","message":"x"}]}`:                                                        "duration",
		`{"clusters":[{"name":"a","configurations":{"t":{"k":[1]}}}]}`:                                                         "string, number or boolean",
		`{"clusterz":[]}`: "unknown field",
	}
	for in, want := range cases {
		_, err := ParseScenario([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", in, err, want)
		}
	}
	sc, err := ParseScenario([]byte(`{"clusters":[{"name":"a","configurations":{"t":{"port":8080,"on":true,"s":"x"}}}],"timeline":[{"after":"start","delay":2.5,"message":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Clusters[0].Configurations["t"]; got["port"] != "8080" || got["on"] != "true" || got["s"] != "x" {
		t.Errorf("configuration values %v, want text", got)
	}
	if sc.Timeline[0].Delay != Duration(2500e6) {
		t.Errorf("delay %v", sc.Timeline[0].Delay)
	}
}

func loadDemo(t *testing.T) *Scenario {
	t.Helper()
	sc, err := LoadScenario(filepath.Join("..", "..", "configs", "sim", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// The demo scenario, driven by a fake agent: it joins, gets INSTALL of
// both components, and START of DEMO_SERVER only once the install
// completed.
func TestDemoScenarioTimeline(t *testing.T) {
	sc := loadDemo(t)
	repo := filepath.Join("..", "..", "testdata", "resources")
	s := startSim(t, sc, func(c *Config) { c.ResourcesDir = repo })
	a := dialAgent(t, s, "myhost.example.com")
	a.join()

	p := a.next(protocol.UserCommands)
	_, cmds := commandsIn(t, p)
	var roles []string
	for _, c := range cmds {
		roles = append(roles, c.RoleCommand+" "+c.Role)
		if c.ClusterName != "demo" || c.CommandParams["service_package_folder"] != "stacks/DEMO/1.0/services/DEMO/package" {
			t.Errorf("command %+v", c)
		}
		script := filepath.Join(repo, c.CommandParams["service_package_folder"], c.CommandParams["script"])
		if _, err := os.Stat(script); err != nil {
			t.Errorf("the demo command's script is not in the resources: %v", err)
		}
	}
	if !slices.Equal(roles, []string{"INSTALL DEMO_SERVER", "INSTALL DEMO_CLIENT"}) {
		t.Fatalf("first message %v", roles)
	}
	a.ack(p.messageID)
	// The metadata the agent got points at the simulator's resources.
	var meta protocol.MetadataEvent
	decode(t, a.request(protocol.AgentsMetadata, protocol.HashRequest{}), &meta)
	if meta.Clusters["-1"]["clusterLevelParams"].(map[string]any)["jdk_location"] != s.ResourcesURL() {
		t.Errorf("jdk_location %v", meta.Clusters["-1"]["clusterLevelParams"])
	}
	if meta.Clusters["2"]["clusterLevelParams"].(map[string]any)["hooks_folder"] != "stack-hooks" {
		t.Error("no hooks_folder")
	}

	a.send(protocol.ReportsCommandsStatus, report(cmds[0], protocol.StatusCompleted, 0))
	// One of two done: nothing yet.
	if got := a.pending(protocol.UserCommands); len(got) != 0 {
		t.Fatalf("START before the whole install completed: %s", got[0].body)
	}
	a.send(protocol.ReportsCommandsStatus, report(cmds[1], protocol.StatusCompleted, 0))
	p = a.next(protocol.UserCommands)
	_, cmds = commandsIn(t, p)
	if len(cmds) != 1 || cmds[0].RoleCommand != "START" || cmds[0].Role != "DEMO_SERVER" {
		t.Fatalf("second message %+v", cmds)
	}
	task, _ := s.Task(cmds[0].TaskID)
	if task.Step != "start_server" {
		t.Errorf("task step %q", task.Step)
	}
	a.ack(p.messageID)
	a.send(protocol.ReportsCommandsStatus, report(cmds[0], protocol.StatusCompleted, 0))
	if err := s.WaitFor(testCtx(t), func() bool { return logged(s, "DEMO_SERVER runs on myhost.example.com") }); err != nil {
		t.Fatal(err)
	}

	// Registering again does not install again.
	a.register()
	a.syncCaches()
	if got := a.pending(protocol.UserCommands); len(got) != 0 {
		t.Errorf("a re-registration sent %s", got[0].body)
	}
	// The demo host has the PORT and WEB alerts and the recovery entry.
	st, _ := s.HostState("myhost.example.com")
	if !slices.Equal(st.Components, []string{"DEMO_SERVER", "DEMO_CLIENT"}) {
		t.Errorf("components %v", st.Components)
	}
	var alerts protocol.AlertDefinitionsEvent
	decode(t, a.request(protocol.AgentsAlertDefinitions, protocol.HashRequest{}), &alerts)
	var types []string
	for _, d := range alerts.Clusters["2"].AlertDefinitions {
		types = append(types, d.Name)
	}
	if !slices.Equal(types, []string{"demo_server_port", "demo_server_web"}) {
		t.Errorf("alert definitions %v", types)
	}
	var hlp protocol.HostLevelParamsEvent
	decode(t, a.request(protocol.AgentsHostLevelParams, protocol.HashRequest{}), &hlp)
	if rc := hlp.Clusters["2"].RecoveryConfig.Components; len(rc) != 1 || rc[0].ComponentName != "DEMO_SERVER" || rc[0].DesiredState != "STARTED" {
		t.Errorf("recovery %+v", rc)
	}
	var confs struct {
		Clusters map[string]protocol.ClusterConfigs `json:"clusters"`
	}
	decode(t, a.request(protocol.AgentsConfigs, protocol.HashRequest{}), &confs)
	if env := confs.Clusters["2"].Configurations["cluster-env"]; env["recovery_enabled"] != "false" || env["recovery_type"] != "AUTO_START" {
		t.Errorf("cluster-env %v: recovery must be available but off", env)
	}
}

func TestDemoScenarioFailedInstall(t *testing.T) {
	s := startSim(t, loadDemo(t))
	a := dialAgent(t, s, "h9")
	a.join()
	p := a.next(protocol.UserCommands)
	_, cmds := commandsIn(t, p)
	a.ack(p.messageID)
	a.send(protocol.ReportsCommandsStatus, report(cmds[0], protocol.StatusFailed, 1))
	a.send(protocol.ReportsCommandsStatus, report(cmds[1], protocol.StatusCompleted, 0))
	if err := s.WaitFor(testCtx(t), func() bool { return logged(s, "installing on h9 failed") }); err != nil {
		t.Fatal(err)
	}
	if got := a.pending(protocol.UserCommands); len(got) != 0 {
		t.Errorf("START sent after a failed install: %s", got[0].body)
	}
}

func TestTimelineStartTriggerAndDelays(t *testing.T) {
	sc := testScenario()
	sc.Timeline = []Step{
		{ID: "early", After: AfterStart, Host: "h2", Command: &CommandSpec{Component: "ZK_CLIENT", RoleCommand: "INSTALL"}},
		{ID: "cfg", After: AfterStart, Configs: &ConfigChange{Type: "zoo.cfg", Properties: StringMap{"x": "1"}}},
		{After: "cfg", Delay: Duration(20e6), Message: "configured"},
		{After: "early:done", Push: &Push{Topic: protocol.UserAgentActions, Body: []byte(`{"actionName":"HELLO"}`)}},
	}
	s := startSim(t, sc)
	if err := s.WaitFor(testCtx(t), func() bool { return logged(s, "configured") }); err != nil {
		for _, e := range s.logs.AllEntries() {
			t.Log(e.Message, e.Data)
		}
		t.Fatal(err)
	}
	if tasks := s.Tasks("h2"); len(tasks) != 1 || tasks[0].Status != TaskPending || tasks[0].Step != "early" {
		t.Fatalf("h2 tasks %+v", tasks)
	}
	b := dialAgent(t, s, "h2")
	b.join()
	p := b.next(protocol.UserCommands)
	_, cmds := commandsIn(t, p)
	b.ack(p.messageID)
	b.send(protocol.ReportsCommandsStatus, report(cmds[0], protocol.StatusFailed, 1))
	if p := b.next(protocol.UserAgentActions); string(p.body) != `{"actionName":"HELLO"}` {
		t.Errorf("push after early:done: %s", p.body)
	}
}

func logged(s *testSim, substr string) bool {
	for _, e := range s.logs.AllEntries() {
		if strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

// The full example in configs/sim/README.md must stay a valid scenario.
func TestReadmeFullExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "sim", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Full example")
	if !ok {
		t.Fatal("no Full example section")
	}
	_, rest, ok = strings.Cut(rest, "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no json block in the Full example section")
	}
	sc, err := ParseScenario([]byte(example))
	if err != nil {
		t.Fatalf("README full example: %v", err)
	}
	s := startSim(t, sc)
	a := dialAgent(t, s, "h1")
	a.join()
	_, cmds := commandsIn(t, a.next(protocol.UserCommands))
	if len(cmds) != 2 {
		t.Errorf("the example's install step sent %d commands", len(cmds))
	}
}
