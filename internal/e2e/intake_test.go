package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestCommandsMessageWithBadEntries: one commands message holds a valid
// command, an entry that is not an object and a command of an unknown
// type. The message is acknowledged OK at once, the valid command
// completes, the unknown one is reported FAILED naming its type, the
// non-object is logged with the message id, and the host is never lost.
func TestCommandsMessageWithBadEntries(t *testing.T) {
	e := startCmdEnv(t, "e2e-intake", nil, 90*time.Second)
	s, a := e.s, e.a
	before, _ := s.HostState(a.Name)
	since := s.LastSeq()
	event := `{"clusters":{"2":{"commands":[
		{"commandType":"EXECUTION_COMMAND","taskId":8101,"requestId":8101,"commandId":"8101-0","clusterId":"2",
		 "role":"demo_action","roleCommand":"ACTIONEXECUTE",
		 "commandParams":{"script":"demo_action.py","script_type":"PYTHON","command_timeout":"300","message":"valid entry"}},
		42,
		{"commandType":"DANCE_COMMAND","taskId":8102,"requestId":8101,"commandId":"8101-1","clusterId":"2",
		 "role":"demo_action","roleCommand":"ACTIONEXECUTE","commandParams":{}}]}}}`
	ids, err := s.SendCommandEvent(a.Name, json.RawMessage(event))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != 8101 || ids[1] != 8102 {
		t.Fatalf("tracked tasks %v", ids)
	}

	valid := cmdFinal(t, e.done(8101), protocol.StatusCompleted)
	if !strings.Contains(cmdText(valid.Stdout), "valid entry") {
		t.Errorf("valid command stdout %q", cmdText(valid.Stdout))
	}
	unknown := cmdFinal(t, e.done(8102), protocol.StatusFailed)
	if !strings.Contains(cmdText(unknown.Stderr), `unknown command type "DANCE_COMMAND"`) {
		t.Errorf("unknown type reported with stderr %q", cmdText(unknown.Stderr))
	}

	task, _ := s.Task(8101)
	if task.MessageID == nil {
		t.Fatal("the simulator did not record the message id")
	}
	mid := strconv.FormatInt(*task.MessageID, 10)
	var acks []protocol.MessageAck
	for _, r := range s.Records(sim.Query{Host: a.Name, Destination: protocol.ReportsResponses, Since: since}) {
		var ack protocol.MessageAck
		if r.Decode(&ack) == nil && ack.MessageID == mid {
			acks = append(acks, ack)
		}
	}
	if len(acks) != 1 || acks[0].Status != protocol.StatusOK {
		t.Errorf("acknowledgements of message %s: %+v, want one OK", mid, acks)
	}
	if !a.waitLog(e.ctx, "Dropping an entry of commands message \""+mid+"\"") {
		t.Errorf("the non-object entry was not logged with message id %s", mid)
	}

	// A message whose commands are not a list is not a commands message:
	// acknowledged ERROR, and later commands still run.
	since = s.LastSeq()
	if err := s.SendRaw(a.Name, []byte("MESSAGE\ndestination:/user/commands\nsubscription:sub\nmessage-id:m-9\nmessageId:9201\n\n"+
		`{"clusters":{"2":{"commands":{"taskId":8103}}}}`+"\x00")); err != nil {
		t.Fatal(err)
	}
	r, err := s.WaitRecord(e.ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsResponses, Since: since}, func(r sim.Record) bool {
		var ack protocol.MessageAck
		return r.Decode(&ack) == nil && ack.MessageID == "9201"
	})
	if err != nil {
		t.Fatalf("no acknowledgement of the malformed message: %v", err)
	}
	var ack protocol.MessageAck
	r.Decode(&ack)
	if ack.Status != "ERROR" || !strings.Contains(ack.Reason, "commands") {
		t.Errorf("malformed message acknowledged %+v, want ERROR naming commands", ack)
	}
	cmdFinal(t, e.done(e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action"})), protocol.StatusCompleted)

	after, _ := s.HostState(a.Name)
	if after.Status == "HEARTBEAT_LOST" || after.Registrations != before.Registrations || after.Session != before.Session {
		t.Errorf("host %s: status %s, registrations %d -> %d: the message cost the session", a.Name, after.Status, before.Registrations, after.Registrations)
	}
	if after.OutstandingMessage != nil && *after.OutstandingMessage == *task.MessageID {
		t.Errorf("message %s still outstanding on the server", mid)
	}
}

// TestEmptyPushesAreLogged: a null or empty body on /user/commands or
// /events/encryption_key is acknowledged and logged, not dropped silently.
func TestEmptyPushesAreLogged(t *testing.T) {
	e := startCmdEnv(t, "e2e-empty-push", nil, 60*time.Second)
	for i, m := range []string{
		"MESSAGE\ndestination:/user/commands\nsubscription:sub\nmessage-id:m-1\nmessageId:9101\n\nnull\x00",
		"MESSAGE\ndestination:/events/encryption_key\nsubscription:sub\nmessage-id:m-2\n\n\x00",
	} {
		if err := e.s.SendRaw(e.a.Name, []byte(m)); err != nil {
			t.Fatal(err)
		}
		dest := []string{"/user/commands", "/events/encryption_key"}[i]
		if !e.a.waitLog(e.ctx, "Ignoring an empty message on "+dest) {
			t.Errorf("no log line for the empty message on %s", dest)
		}
	}
	r, err := e.s.WaitRecord(e.ctx, sim.Query{Host: e.a.Name, Destination: protocol.ReportsResponses}, func(r sim.Record) bool {
		var ack protocol.MessageAck
		return r.Decode(&ack) == nil && ack.MessageID == "9101"
	})
	if err != nil {
		t.Fatalf("the null commands message was not acknowledged: %v", err)
	}
	var ack protocol.MessageAck
	r.Decode(&ack)
	if ack.Status != protocol.StatusOK {
		t.Errorf("null commands message acknowledged %+v, want OK", ack)
	}
	cmdFinal(t, e.done(e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action"})), protocol.StatusCompleted)
}
