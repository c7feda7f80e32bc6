package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func TestControlAPI(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()

	var status map[string]any
	if code := apiDo(t, s, "GET", "/api/v1/status", nil, &status); code != 200 || status["stompUrl"] != s.StompURL() || status["scenario"] != "test" {
		t.Errorf("status %d %v", code, status)
	}
	var hosts []HostState
	if apiDo(t, s, "GET", "/api/v1/hosts", nil, &hosts); len(hosts) != 2 || hosts[0].Name != "h1" || hosts[0].Status != HostHealthy || !hosts[0].Ready {
		t.Errorf("hosts %+v", hosts)
	}
	var one HostState
	if code := apiDo(t, s, "GET", "/api/hosts/h1", nil, &one); code != 200 || one.Name != "h1" {
		t.Errorf("the /api/ short form: %d %+v", code, one)
	}
	if code := apiDo(t, s, "GET", "/api/v1/hosts/nobody", nil, nil); code != 404 {
		t.Errorf("unknown host: %d", code)
	}

	// Commands: high level, to a pattern.
	var sent []Sent
	code := apiDo(t, s, "POST", "/api/v1/commands", map[string]any{"host": "h1", "commands": []any{map[string]string{"component": "ZK_SERVER", "roleCommand": "START"}}}, &sent)
	if code != 200 || len(sent) != 1 || sent[0].Host != "h1" || len(sent[0].TaskIDs) != 1 {
		t.Fatalf("commands: %d %+v", code, sent)
	}
	p := a.next(protocol.UserCommands)
	a.ack(p.messageID)
	// Raw.
	raw := `{"clusters":{"2":{"commands":[{"commandType":"EXECUTION_COMMAND","taskId":500,"requestId":9,"commandId":"9-0","clusterId":"2","role":"ZK_CLIENT","roleCommand":"INSTALL","serviceName":"ZK","commandParams":{"script":"s.py","script_type":"PYTHON","command_timeout":"60"}}]}}}`
	code = apiDo(t, s, "POST", "/api/v1/commands", map[string]any{"host": "h1", "event": json.RawMessage(raw)}, &sent)
	if code != 200 || sent[0].TaskIDs[0] != 500 {
		t.Errorf("raw commands: %d %+v", code, sent)
	}
	ev, cmds := commandsIn(t, a.next(protocol.UserCommands))
	if cmds[0].TaskID != 500 || ev.RequiredConfigTimestamp == nil {
		t.Errorf("raw command went out as %+v %+v", ev, cmds)
	}
	if code := apiDo(t, s, "POST", "/api/v1/commands", map[string]any{"host": "h1", "comands": []any{}}, nil); code != 400 {
		t.Errorf("misspelt field: %d, want 400", code)
	}
	if code := apiDo(t, s, "POST", "/api/v1/commands", map[string]any{"host": "zz*", "commands": []any{map[string]string{"component": "ZK_SERVER", "roleCommand": "START"}}}, nil); code != 404 {
		t.Errorf("pattern matching no host: %d, want 404", code)
	}

	// Tasks and cancel.
	var tasks []TaskState
	if apiDo(t, s, "GET", "/api/v1/tasks?host=h1", nil, &tasks); len(tasks) != 2 {
		t.Errorf("tasks %+v", tasks)
	}
	var task TaskState
	if code := apiDo(t, s, "POST", fmt.Sprintf("/api/v1/tasks/%d/cancel", sent[0].TaskIDs[0]), map[string]string{"reason": "enough"}, &task); code != 200 || !task.CancelRequested {
		t.Errorf("cancel: %d %+v", code, task)
	}
	if code := apiDo(t, s, "GET", "/api/v1/tasks/12345", nil, nil); code != 404 {
		t.Errorf("unknown task: %d", code)
	}

	// Push, configs, alert definitions, encryption key, restart.
	var delivered map[string]int
	if code := apiDo(t, s, "POST", "/api/v1/push", Push{Topic: protocol.UserAgentActions, Host: "h1", Body: json.RawMessage(`{"actionName":"X"}`)}, &delivered); code != 200 || delivered["delivered"] != 1 {
		t.Errorf("push: %d %v", code, delivered)
	}
	a.next(protocol.UserAgentActions)
	if code := apiDo(t, s, "POST", "/api/v1/configs", ConfigChange{Type: "zoo.cfg", Properties: StringMap{"a": "b"}}, &delivered); code != 200 || delivered["delivered"] != 1 {
		t.Errorf("configs: %d %v", code, delivered)
	}
	a.next(protocol.UserConfigs)
	var def map[string]int64
	body := map[string]any{"cluster": "c1", "definition": map[string]any{"name": "x", "source": map[string]string{"type": "PORT"}}}
	if code := apiDo(t, s, "POST", "/api/v1/alert-definitions", body, &def); code != 200 || def["definitionId"] != 3 {
		t.Errorf("alert definition: %d %v", code, def)
	}
	if code := apiDo(t, s, "DELETE", "/api/v1/alert-definitions/3?cluster=c1", nil, nil); code != 200 {
		t.Errorf("delete definition: %d", code)
	}
	if code := apiDo(t, s, "POST", "/api/v1/encryption-key", map[string]string{"encryptionKey": "k"}, nil); code != 200 {
		t.Errorf("encryption key: %d", code)
	}
	if code := apiDo(t, s, "POST", "/api/v1/hosts/h1/restart", nil, nil); code != 200 {
		t.Errorf("restart: %d", code)
	}
	if p := a.next(protocol.UserAgentActions); !strings.Contains(string(p.body), "RESTART_AGENT") {
		t.Errorf("restart sent %s", p.body)
	}
	if code := apiDo(t, s, "POST", "/api/v1/hosts/h2/restart", nil, nil); code != 409 {
		t.Errorf("restart of a disconnected host: %d, want 409", code)
	}

	// Faults.
	var f Faults
	if code := apiDo(t, s, "PUT", "/api/v1/faults", Faults{HeartbeatIDZero: -1}, &f); code != 200 || f.HeartbeatIDZero != -1 {
		t.Errorf("faults: %d %+v", code, f)
	}
	for i := 0; i < 2; i++ {
		if r := a.heartbeat(); *r.ID != 0 {
			t.Errorf("heartbeat with the permanent fault: %+v", r)
		}
	}
	apiDo(t, s, "PUT", "/api/v1/faults", Faults{}, nil)
	if r := a.heartbeat(); *r.ID != 2 {
		t.Errorf("heartbeat after clearing the faults: %+v", r)
	}

	var m Metrics
	if apiDo(t, s, "GET", "/api/v1/metrics", nil, &m); m.Sessions != 1 || m.Registrations != 1 || m.Heartbeats < 4 {
		t.Errorf("metrics %+v", m)
	}
	var sc Scenario
	if apiDo(t, s, "GET", "/api/v1/scenario", nil, &sc); sc.Name != "test" {
		t.Errorf("scenario %+v", sc.Name)
	}
	resp, err := http.Get(s.APIURL() + "/api/v1/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("index: %d", resp.StatusCode)
	}
}

func TestReportsEndpointFollowsTheStream(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	var recs []Record
	apiDo(t, s, "GET", "/api/v1/reports?host=h1", nil, &recs)
	if len(recs) != 7 {
		t.Fatalf("%d records, want 7 (register, 5 caches, heartbeat)", len(recs))
	}
	last := recs[len(recs)-1].Seq

	// A long poll returns as soon as a matching record arrives.
	done := make(chan []Record)
	go func() {
		var got []Record
		apiDo(t, s, "GET", fmt.Sprintf("/api/v1/reports?destination=%s&since=%d&wait=30s", protocol.ReportsHostStatus, last), nil, &got)
		done <- got
	}()
	a.heartbeat() // not matching
	a.send(protocol.ReportsHostStatus, protocol.HostStatus{})
	select {
	case got := <-done:
		if len(got) != 1 || got[0].Destination != protocol.ReportsHostStatus || got[0].Host != "h1" {
			t.Errorf("long poll returned %+v", got)
		}
	case <-time.After(waitTimeout):
		t.Fatal("long poll did not return")
	}
	var limited []Record
	apiDo(t, s, "GET", "/api/v1/reports?limit=2&since=0", nil, &limited)
	if len(limited) != 2 || limited[0].Destination != protocol.Register {
		t.Errorf("limit: %+v", limited)
	}
	if code := apiDo(t, s, "GET", "/api/v1/reports?since=x", nil, nil); code != 400 {
		t.Errorf("bad since: %d", code)
	}
}

func TestRecordsAreBoundedPerHostAndDestination(t *testing.T) {
	s := startSim(t, testScenario(), func(c *Config) { c.RecordsPerHost = 3 })
	a := dialAgent(t, s, "h1")
	a.join()
	for i := 0; i < 10; i++ {
		a.heartbeat()
	}
	recs := s.Records(Query{Host: "h1", Destination: protocol.Heartbeat})
	if len(recs) != 3 {
		t.Fatalf("%d heartbeat records, want the last 3", len(recs))
	}
	var hb protocol.HeartbeatRequest
	recs[2].Decode(&hb)
	if hb.ID != 10 {
		t.Errorf("newest kept heartbeat id %d, want 10", hb.ID)
	}
	if n := len(s.Records(Query{Host: "h1", Destination: protocol.Register})); n != 1 {
		t.Errorf("registration records %d: other destinations keep theirs", n)
	}
}
