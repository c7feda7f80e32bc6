package sim

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func TestCommandMessageShape(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	sent, err := s.SendCommand("h1",
		CommandSpec{Component: "ZK_SERVER", RoleCommand: "INSTALL"},
		CommandSpec{Component: "ZK_SERVER", RoleCommand: "RESTART"},
		CommandSpec{Component: "ZK_CLIENT", RoleCommand: "CUSTOM_COMMAND", CustomCommand: "REFRESH", CommandParams: StringMap{"extra": "1"}},
		CommandSpec{RoleCommand: "SERVICE_CHECK", Service: "ZK"},
		CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action", Cluster: "-1", CommandParams: StringMap{"message": "hi"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.TaskIDs) != 5 || sent.TaskIDs[0] != 1 || sent.RequestID != 1 {
		t.Fatalf("sent %+v, want tasks 1..5 of request 1", sent)
	}
	p := a.next(protocol.UserCommands)
	if p.messageID != "0" {
		t.Errorf("messageId %q, want 0 (the first of the simulator)", p.messageID)
	}
	ev, cmds := commandsIn(t, p)
	if ev.RequiredConfigTimestamp == nil || *ev.RequiredConfigTimestamp != s.hostTS("h1") {
		t.Errorf("requiredConfigTimestamp %v, want the host's configs timestamp %d", ev.RequiredConfigTimestamp, s.hostTS("h1"))
	}
	if len(ev.Clusters["2"].Commands) != 4 || len(ev.Clusters["-1"].Commands) != 1 {
		t.Fatalf("clusters of the message: %s", p.body)
	}
	byTask := map[int64]protocol.ServerCommand{}
	for _, c := range cmds {
		byTask[c.TaskID] = c
	}

	install := byTask[1]
	if install.CommandType != "EXECUTION_COMMAND" || install.CommandID != "1-0" || install.ClusterName != "c1" ||
		install.Role != "ZK_SERVER" || install.ServiceName != "ZK" || install.RoleParams["component_category"] != "MASTER" {
		t.Errorf("install command %+v", install)
	}
	if install.CommandParams["command_timeout"] != "1800" || install.CommandParams["script"] != "scripts/zk_server.py" ||
		install.CommandParams["service_package_folder"] != "stacks/DEMO/1.0/services/ZK/package" || install.CommandParams["script_type"] != "PYTHON" {
		t.Errorf("install commandParams %v (INSTALL gets at least 1800 s)", install.CommandParams)
	}
	chi := install.ClusterHostInfo
	for _, k := range []string{"all_hosts", "all_ping_ports", "all_racks", "all_ipv4_ips", "ambari_server_host", "ambari_server_port", "ambari_server_use_ssl"} {
		if len(chi[k]) == 0 {
			t.Errorf("clusterHostInfo lacks %s: %v", k, chi)
		}
	}
	if !slices.Equal(chi["all_hosts"], []string{"h1", "h2"}) || !slices.Equal(chi["zk_server_hosts"], []string{"0"}) ||
		!slices.Equal(chi["zk_client_hosts"], []string{"0-1"}) || !slices.Equal(chi["all_racks"], []string{"/default-rack:0-1"}) ||
		!slices.Equal(chi["all_ipv4_ips"], []string{"10.0.0.11:0", "127.0.0.1:1"}) {
		t.Errorf("clusterHostInfo %v", chi)
	}
	if install.ComponentVersionMap["ZK"]["ZK_SERVER"] != "3.4.9" {
		t.Errorf("componentVersionMap %v", install.ComponentVersionMap)
	}
	if r := byTask[2]; r.RoleCommand != "CUSTOM_COMMAND" || r.CommandParams["custom_command"] != "RESTART" || r.CommandParams["command_timeout"] != "600" {
		t.Errorf("RESTART became %s %v", r.RoleCommand, r.CommandParams)
	}
	if c := byTask[3]; c.CommandParams["custom_command"] != "REFRESH" || c.CommandParams["extra"] != "1" || c.RoleParams["component_category"] != "CLIENT" {
		t.Errorf("custom command %+v", c)
	}
	if c := byTask[4]; c.Role != "ZK_SERVICE_CHECK" || c.RoleCommand != "SERVICE_CHECK" || c.CommandParams["script"] != "scripts/service_check.py" {
		t.Errorf("service check %+v", c)
	}
	if c := byTask[5]; c.Role != "demo_action" || c.ClusterID != "-1" || c.CommandParams["script"] != "demo_action.py" ||
		c.CommandParams["message"] != "hi" || c.ClusterHostInfo != nil {
		t.Errorf("custom action %+v", c)
	}
	// The recovery desired state moved to INSTALLED with the INSTALL, then
	// STARTED with the RESTART: two host-level params pushes.
	var hlp protocol.HostLevelParamsEvent
	decode(t, a.next(protocol.UserHostLevelParams).body, &hlp)
	if got := hlp.Clusters["2"].RecoveryConfig.Components[0].DesiredState; got != "INSTALLED" {
		t.Errorf("desired state after INSTALL %s", got)
	}
	decode(t, a.next(protocol.UserHostLevelParams).body, &hlp)
	if got := hlp.Clusters["2"].RecoveryConfig.Components[0].DesiredState; got != "STARTED" {
		t.Errorf("desired state after RESTART %s", got)
	}
	if st, _ := s.HostState("h1"); st.Hashes[protocol.CacheHostLevelParams] != hlp.Hash {
		t.Errorf("pushed host-level params hash %s is not the one served", hlp.Hash)
	}

	for _, bad := range []CommandSpec{
		{Component: "NOPE", RoleCommand: "START"},
		{RoleCommand: "START"},
		{Component: "ZK_CLIENT", RoleCommand: "CUSTOM_COMMAND"},
		{RoleCommand: "ACTIONEXECUTE"},
		{Component: "ZK_SERVER", RoleCommand: "START", Cluster: "other"},
	} {
		if _, err := s.SendCommand("h1", bad); err == nil {
			t.Errorf("SendCommand(%+v) succeeded", bad)
		}
	}
	if _, err := s.SendCommand("nobody", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"}); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("command to an unknown host: %v", err)
	}
}

func TestOneOutstandingMessagePerHostUntilAck(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	first, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	second, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "STOP"})

	p := a.next(protocol.UserCommands)
	if _, cmds := commandsIn(t, p); cmds[0].TaskID != first.TaskIDs[0] {
		t.Fatalf("first message carries task %d, want %d", cmds[0].TaskID, first.TaskIDs[0])
	}
	st, _ := s.HostState("h1")
	if st.QueuedMessages != 1 || st.OutstandingMessage == nil || *st.OutstandingMessage != 0 {
		t.Errorf("queued %d outstanding %v, want 1 and 0", st.QueuedMessages, st.OutstandingMessage)
	}
	if task, _ := s.Task(second.TaskIDs[0]); task.Status != TaskPending {
		t.Errorf("second task %s before the ack, want PENDING", task.Status)
	}
	// A wrong id or an ERROR ack releases nothing.
	a.ack("42")
	a.send(protocol.ReportsResponses, protocol.MessageAck{MessageID: p.messageID, Status: "ERROR", Reason: "Traceback ...\nboom"})
	if got := a.pending(protocol.UserCommands); len(got) != 0 {
		t.Fatalf("a message arrived before the ack: %s", got[0].body)
	}
	a.ack(p.messageID)
	p2 := a.next(protocol.UserCommands)
	if p2.messageID != "1" {
		t.Errorf("second message id %q, want 1", p2.messageID)
	}
	if _, cmds := commandsIn(t, p2); cmds[0].TaskID != second.TaskIDs[0] {
		t.Errorf("second message carries %d", cmds[0].TaskID)
	}
	if task, _ := s.Task(first.TaskIDs[0]); task.Status != TaskQueued || task.MessageID == nil || *task.MessageID != 0 || task.AckedAt.IsZero() {
		t.Errorf("first task after the ack: %+v", task)
	}
}

func TestCommandsWaitForTheCommandsSubscription(t *testing.T) {
	s := startSim(t, testScenario())
	sent, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	a := dialAgent(t, s, "h1")
	a.register()
	if st, _ := s.HostState("h1"); st.Ready || !st.Registered {
		t.Errorf("after /register: ready %v registered %v", st.Ready, st.Registered)
	}
	a.syncCaches() // ends with SUBSCRIBE /user/commands
	_, cmds := commandsIn(t, a.next(protocol.UserCommands))
	if cmds[0].TaskID != sent.TaskIDs[0] {
		t.Errorf("got task %d", cmds[0].TaskID)
	}
}

func TestUnacknowledgedMessagesAreResentThenTheHostIsLost(t *testing.T) {
	s := startSim(t, testScenario(), func(c *Config) {
		c.CommandRetryInterval = 50 * time.Millisecond
		c.CommandRetries = 2
	})
	a := dialAgent(t, s, "h1")
	a.join()
	sent, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	for i := 0; i < 3; i++ {
		if p := a.next(protocol.UserCommands); p.messageID != "0" {
			t.Fatalf("transmission %d has messageId %q, want the same 0", i+1, p.messageID)
		}
	}
	task, err := s.WaitTaskDone(testCtx(t), sent.TaskIDs[0])
	if err != nil || task.Status != TaskTimedOut {
		t.Fatalf("task %+v (%v), want TIMEDOUT", task, err)
	}
	if st, _ := s.HostState("h1"); st.Status != HostHeartbeatLost {
		t.Errorf("host status %s, want HEARTBEAT_LOST", st.Status)
	}
	if got := a.pending(protocol.UserCommands); len(got) != 0 {
		t.Errorf("%d transmissions beyond the retries", len(got))
	}
	// The lost host's next heartbeat gets RESTART_AGENT and id 0.
	r := a.heartbeat()
	if *r.ID != 0 {
		t.Errorf("heartbeat of a lost host: %+v, want id 0", r)
	}
	if p := a.next(protocol.UserAgentActions); string(p.body) != `{"actionName":"RESTART_AGENT"}` {
		t.Errorf("agent action %s", p.body)
	}
	// Re-registration clears it.
	a.register()
	if st, _ := s.HostState("h1"); st.Status == HostHeartbeatLost {
		t.Error("still lost after registering again")
	}
}

func TestOutstandingMessageGoesToTheNextSession(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	a.next(protocol.UserCommands)
	_ = a.conn.Close()
	if _, err := s.WaitHost(testCtx(t), "h1", func(h HostState) bool { return !h.Registered }); err != nil {
		t.Fatal(err)
	}
	b := dialAgent(t, s, "h1")
	b.join()
	if p := b.next(protocol.UserCommands); p.messageID != "0" {
		t.Errorf("re-sent message has id %q, want 0", p.messageID)
	}
}

func TestCancel(t *testing.T) {
	s := startSim(t, testScenario())
	// Not yet sent: dropped from the simulator's queue.
	pending, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"}, CommandSpec{Component: "ZK_CLIENT", RoleCommand: "INSTALL"})
	if err := s.Cancel(pending.TaskIDs[0], "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if task, _ := s.Task(pending.TaskIDs[0]); task.Status != TaskAborted {
		t.Errorf("cancelled pending task %s, want ABORTED", task.Status)
	}
	a := dialAgent(t, s, "h1")
	a.join()
	p := a.next(protocol.UserCommands)
	if _, cmds := commandsIn(t, p); len(cmds) != 1 || cmds[0].TaskID != pending.TaskIDs[1] {
		t.Fatalf("message after the cancel: %s", p.body)
	}
	a.ack(p.messageID)

	// Sent: a cancelCommands message follows.
	if err := s.Cancel(pending.TaskIDs[1], "stage timeout"); err != nil {
		t.Fatal(err)
	}
	ev, cmds := commandsIn(t, a.next(protocol.UserCommands))
	cc := ev.Clusters["2"].CancelCommands
	if len(cmds) != 0 || len(cc) != 1 || cc[0].TargetTaskID != pending.TaskIDs[1] || cc[0].Reason != "stage timeout" || cc[0].CommandType != "CANCEL_COMMAND" {
		t.Errorf("cancel message %+v", ev)
	}
	if ev.RequiredConfigTimestamp == nil {
		t.Error("cancel message without requiredConfigTimestamp")
	}
	if task, _ := s.Task(pending.TaskIDs[1]); !task.CancelRequested {
		t.Error("task not marked as cancel requested")
	}
	if err := s.Cancel(999, ""); !errors.Is(err, ErrUnknownTask) {
		t.Errorf("cancel of an unknown task: %v", err)
	}
	if err := s.Cancel(pending.TaskIDs[0], ""); !errors.Is(err, ErrTaskFinished) {
		t.Errorf("cancel of an aborted task: %v", err)
	}
}

func TestCommandReportsAreRecordedAndDeduplicated(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	sent, _ := s.SendCommand("h1", CommandSpec{Component: "ZK_SERVER", RoleCommand: "START"})
	p := a.next(protocol.UserCommands)
	_, cmds := commandsIn(t, p)
	c := cmds[0]
	// The IN_PROGRESS report may overtake the ack.
	a.send(protocol.ReportsCommandsStatus, report(c, protocol.StatusInProgress, 0))
	a.ack(p.messageID)
	a.send(protocol.ReportsCommandsStatus, report(c, protocol.StatusInProgress, 777))
	a.send(protocol.ReportsCommandsStatus, report(c, protocol.StatusCompleted, 0))
	a.send(protocol.ReportsCommandsStatus, report(c, protocol.StatusCompleted, 0))

	task, _ := s.Task(sent.TaskIDs[0])
	if task.Status != protocol.StatusCompleted || task.FinalReports != 2 || len(task.History) != 3 ||
		task.ExitCode == nil || *task.ExitCode != 0 || task.StartedAt.IsZero() || task.EndedAt.IsZero() {
		t.Errorf("task %+v, want COMPLETED, 2 final reports, 3 history entries", task)
	}
	if task.Report == nil || *task.Report.Report.Stdout != "done" {
		t.Errorf("latest report %+v", task.Report)
	}

	// A report for a task the simulator never sent (a recovery command).
	auto := protocol.ServerCommand{TaskID: 1700000000, CommandID: "1700000000", Role: "ZK_SERVER", RoleCommand: "START", ClusterID: "2", ServiceName: "ZK"}
	a.send(protocol.ReportsCommandsStatus, report(auto, protocol.StatusFailed, 1))
	// h2's agent may use the same id for its own recovery command.
	b := dialAgent(t, s, "h2")
	b.join()
	b.send(protocol.ReportsCommandsStatus, report(auto, protocol.StatusInProgress, 0))
	tasks := s.Tasks("h1")
	if len(tasks) != 2 || tasks[1].TaskID != 1700000000 || tasks[1].Origin != OriginAgent || tasks[1].Status != protocol.StatusFailed {
		t.Errorf("h1 tasks %+v, want the sent one and the agent's FAILED one", tasks)
	}
	if tasks := s.Tasks("h2"); len(tasks) != 1 || tasks[0].Status != protocol.StatusInProgress {
		t.Errorf("h2 tasks %+v", tasks)
	}
	if _, ok := s.Task(1700000000); ok {
		t.Error("an agent task is found as a simulator task")
	}
	recs := s.Records(Query{Host: "h1", Destination: protocol.ReportsCommandsStatus})
	if len(recs) != 5 {
		t.Fatalf("%d commands_status records, want 5", len(recs))
	}
	var body protocol.CommandsStatusReport
	if err := recs[3].Decode(&body); err != nil || body.Clusters["2"][0].Status != "COMPLETED" {
		t.Errorf("record 4 decodes to %+v (%v)", body, err)
	}
	if next := s.Records(Query{Host: "h1", Destination: protocol.ReportsCommandsStatus, Since: recs[2].Seq, Limit: 1}); len(next) != 1 || next[0].Seq != recs[3].Seq {
		t.Errorf("since/limit query returned %v, want record %d only", next, recs[3].Seq)
	}
}

func TestStatusAlertVersionAndHostReports(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	started, installed := "STARTED", "INSTALLED"
	cs := func(st *string) protocol.ComponentStatusReport {
		return protocol.ComponentStatusReport{Clusters: map[string][]protocol.ComponentStatus{"2": {
			{ServiceName: "ZK", ComponentName: "ZK_SERVER", Command: "STATUS", Status: st, ClusterID: "2"}}}}
	}
	a.send(protocol.ReportsComponentStatus, cs(&installed))
	a.send(protocol.ReportsComponentStatus, cs(&started))
	a.send(protocol.ReportsComponentVersion, protocol.ComponentVersionReport{Clusters: map[string][]protocol.ComponentVersion{"2": {
		{ServiceName: "ZK", ComponentName: "ZK_SERVER", Version: "3.4.9", ClusterID: "2"}}}})
	a.send(protocol.ReportsAlertsStatus, []protocol.AlertResult{{Name: "zk_port", ClusterID: "2", Timestamp: 1, DefinitionID: 1, State: "CRITICAL", Text: "Connection failed"}})
	a.send(protocol.ReportsAlertsStatus, []protocol.AlertResult{{Name: "zk_port", ClusterID: "2", Timestamp: 2, DefinitionID: 1, State: "OK", Text: "TCP OK"}})
	a.send(protocol.ReportsHostStatus, protocol.HostStatus{})
	// The heartbeat carries stale alerts.
	var r protocol.HeartbeatResponse
	decode(t, a.request(protocol.Heartbeat, protocol.HeartbeatRequest{ID: 1, StaleAlerts: []protocol.StaleAlert{{ID: 1, Timestamp: 5}}}), &r)

	st, _ := s.HostState("h1")
	if c := st.ComponentStatus["ZK_SERVER"]; c.Status != "STARTED" || c.Service != "ZK" || c.ClusterID != "2" {
		t.Errorf("component status %+v", c)
	}
	if st.Versions["ZK_SERVER"] != "3.4.9" {
		t.Errorf("versions %v", st.Versions)
	}
	if al := st.Alerts["zk_port"]; al.State != "OK" || al.Text != "TCP OK" || al.Timestamp != 2 {
		t.Errorf("alert %+v", al)
	}
	if st.HostStatus == nil || st.StaleAlerts[0].ID != 1 || st.Reports[protocol.ReportsAlertsStatus] != 2 {
		t.Errorf("host status %s, stale %v, reports %v", st.HostStatus, st.StaleAlerts, st.Reports)
	}
	// The log shows the changes.
	found := false
	for _, e := range s.logs.AllEntries() {
		if e.Message == "h1 ZK_SERVER: INSTALLED -> STARTED" {
			found = true
		}
	}
	if !found {
		t.Error("no log line for the component status change")
	}
	if b := a.request(protocol.ReportsComponentStatus, "not an object"); protocol.IsOK(b) {
		t.Errorf("a malformed component status report answered %s", b)
	}
}

func TestTaskIDsAndMessageIDsAreUnique(t *testing.T) {
	s := startSim(t, testScenario())
	a := dialAgent(t, s, "h1")
	a.join()
	b := dialAgent(t, s, "h2")
	b.join()
	seen := map[string]bool{}
	tasks := map[int64]bool{}
	for i := 0; i < 3; i++ {
		for _, ag := range []*fakeAgent{a, b} {
			sent, err := s.SendCommand(ag.name, CommandSpec{Component: "ZK_CLIENT", RoleCommand: "INSTALL"})
			if err != nil {
				t.Fatal(err)
			}
			p := ag.next(protocol.UserCommands)
			if seen[p.messageID] {
				t.Errorf("messageId %s used twice", p.messageID)
			}
			seen[p.messageID] = true
			if tasks[sent.TaskIDs[0]] {
				t.Errorf("task id %d used twice", sent.TaskIDs[0])
			}
			tasks[sent.TaskIDs[0]] = true
			ag.ack(p.messageID)
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d message ids", len(seen))
	}
	if n := len(a.pending(protocol.UserCommands)) + len(b.pending(protocol.UserCommands)); n != 0 {
		t.Errorf("%d unexpected command messages", n)
	}
}
