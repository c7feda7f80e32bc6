package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestBadInputFromServer: malformed frames and JSON from the server are
// logged, acknowledged with ERROR where a messageId is present, and the
// agent keeps running (and heartbeating) without losing its session.
func TestBadInputFromServer(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-bad", nil)
	ctx, st := a.StartReady(s, 60*time.Second)
	since := s.LastSeq()
	raw := func(msg string) {
		t.Helper()
		if err := s.SendRaw(a.Name, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// A commands message that is not JSON, with a messageId.
	raw("MESSAGE\ndestination:/user/commands\nsubscription:sub\nmessage-id:m-1\nmessageId:9001\n\n{\"clusters\": {not json\x00")
	// A JSON body of the wrong shape.
	raw("MESSAGE\ndestination:/user/commands\nsubscription:sub\nmessage-id:m-2\nmessageId:9002\n\n[1,2,3]\x00")
	// A cache push that breaks the merge rules (DELETE of an unknown
	// component), with a messageId.
	raw("MESSAGE\ndestination:/events/topologies\nsubscription:sub\nmessage-id:m-3\nmessageId:9003\n\n" +
		`{"eventType":"DELETE","hash":"x","clusters":{"2":{"components":[{"serviceName":"NOPE","componentName":"NOPE","hostIds":[1]}]}}}` + "\x00")
	// A frame with a header line without a colon: dropped by the decoder.
	raw("MESSAGE\nthis header has no colon\ndestination:/user/commands\n\n{}\x00")
	// An unknown agent action and a non-JSON one.
	raw("MESSAGE\ndestination:/user/agent_actions\nsubscription:sub\nmessage-id:m-4\n\n{\"actionName\":\"DANCE\"}\x00")
	raw("MESSAGE\ndestination:/user/agent_actions\nsubscription:sub\nmessage-id:m-5\n\nnot json at all\x00")
	// A reply nobody asked for.
	raw("MESSAGE\ndestination:/user/\nsubscription:sub\nmessage-id:m-6\ncorrelationId:424242\n\n{}\x00")

	for _, id := range []string{"9001", "9002", "9003"} {
		r, err := s.WaitRecord(ctx, sim.Query{Host: a.Name, Destination: protocol.ReportsResponses, Since: since}, func(r sim.Record) bool {
			var ack protocol.MessageAck
			r.Decode(&ack)
			return ack.MessageID == id
		})
		if err != nil {
			t.Fatalf("no acknowledgement of message %s: %v", id, err)
		}
		var ack protocol.MessageAck
		r.Decode(&ack)
		if ack.Status != "ERROR" || ack.Reason == "" {
			t.Errorf("message %s acknowledged %+v, want ERROR with a reason", id, ack)
		}
	}
	// Still the same session, still heartbeating, topology intact.
	hb := st.Heartbeats
	after, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool { return h.Heartbeats >= hb+1 })
	if err != nil {
		t.Fatalf("heartbeats stopped: %v", err)
	}
	if after.Session != st.Session || after.Registrations != st.Registrations {
		t.Errorf("the agent re-registered (session %s -> %s)", st.Session, after.Session)
	}
	if a.Pid() == 0 {
		t.Fatal("agent exited")
	}
	select {
	case <-a.Exited():
		t.Fatal("agent exited")
	default:
	}
	log := a.Log()
	for _, want := range []string{"Cannot process the message on /user/commands", "DANCE", "malformed"} {
		if !strings.Contains(log, want) {
			t.Errorf("agent log lacks %q", want)
		}
	}
	// The agent still takes commands.
	sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "DEMO_CLIENT", RoleCommand: "INSTALL"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := s.WaitTaskDone(ctx, sent.TaskIDs[0])
	if err != nil || task.Status != protocol.StatusCompleted {
		t.Fatalf("command after bad input: %+v %v", task, err)
	}
}

// TestUndecodableStreamReconnects: a frame the decoder cannot delimit
// (content-length beyond the limit) ends the session; the agent registers
// again and goes on.
func TestUndecodableStreamReconnects(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-huge", nil)
	ctx, st := a.StartReady(s, 60*time.Second)
	if err := s.SendRaw(a.Name, []byte("MESSAGE\ndestination:/user/commands\ncontent-length:999999999\n\n{}\x00")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitHost(ctx, a.Name, func(h sim.HostState) bool { return h.Registrations > st.Registrations && h.Ready }); err != nil {
		t.Fatalf("agent did not come back: %v", err)
	}
	if !strings.Contains(a.Log(), "content-length") {
		t.Errorf("the log does not say why the session ended")
	}
}

// TestBigFramesAreOneWebSocketMessage: a 5 KiB frame and a 1.9 MB command
// report each reach the server as one WebSocket message.
func TestBigFramesAreOneWebSocketMessage(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	a := newAgent(t, s, "e2e-big", Ini{"heartbeat": {"log_max_symbols_size": "0"}})
	ctx, _ := a.StartReady(s, 90*time.Second)
	// About 30 bytes of report per line of output: a ~6 KiB report, then
	// a ~1.9 MB one.
	sizes := map[string][2]int{"200": {5 * 1024, 64 * 1024}, "63000": {1_800_000, 1_950_000}}
	for _, lines := range []string{"200", "63000"} {
		since := s.LastSeq()
		sent, err := s.SendCommand(a.Name, sim.CommandSpec{Component: "CHATTY", RoleCommand: "START",
			CommandParams: sim.StringMap{"lines": lines}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitTaskDone(ctx, sent.TaskIDs[0]); err != nil {
			t.Fatal(err)
		}
		var biggest int
		for _, r := range s.Records(sim.Query{Host: a.Name, Destination: protocol.ReportsCommandsStatus, Since: since}) {
			biggest = max(biggest, len(r.Body))
		}
		t.Logf("%s lines of output: biggest command report %d bytes", lines, biggest)
		if biggest < sizes[lines][0] || biggest > sizes[lines][1] {
			t.Errorf("biggest report %d bytes, want %d to %d", biggest, sizes[lines][0], sizes[lines][1])
		}
	}
	if m := s.Metrics(); m.SplitFramesIn != 0 {
		t.Errorf("%d frames reached the server spread over several WebSocket messages", m.SplitFramesIn)
	}
}

// TestTwoWaySSL: with the server requiring client certificates, a fresh
// agent obtains one (key 0600 in keysdir) and connects.
func TestTwoWaySSL(t *testing.T) {
	s := startSim(t, demoScenario(t), func(c *sim.Config) { c.TwoWaySSL = true; c.Passphrase = "e2e" })
	a := newAgent(t, s, "e2e-2way", nil)
	a.StartReady(s, 60*time.Second)
	keys := a.Path("var/lib/ambari-agent/keys")
	for _, f := range []string{"ca.crt", a.Name + ".key", a.Name + ".csr", a.Name + ".crt"} {
		if st, err := statMode(keys + "/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if strings.HasSuffix(f, ".key") && st != 0o600 {
			t.Errorf("%s has mode %v", f, st)
		}
	}
}

// TestWrongCARefused: with ssl_verify_cert=1 and a CA that did not sign the
// server's certificate, the agent refuses to talk and says why.
func TestWrongCARefused(t *testing.T) {
	s := startSim(t, demoScenario(t), nil)
	other := startSim(t, demoScenario(t), nil) // its CA is not s's
	caFile := t.TempDir() + "/other-ca.pem"
	writeFile(t, caFile, other.CACertPEM())
	a := newAgent(t, s, "e2e-wrongca", Ini{"security": {"ssl_verify_cert": "1", "ca_cert_path": caFile}})
	a.Start()
	ctx := ctxFor(t, 20*time.Second)
	if !a.waitLog(ctx, "certificate") {
		t.Fatal("no certificate error in the log")
	}
	time.Sleep(2 * time.Second)
	if h, ok := s.HostState(a.Name); ok && h.Registrations > 0 {
		t.Fatal("the agent registered with a server it could not verify")
	}
	if !strings.Contains(a.Log(), caFile) {
		t.Errorf("the error does not name the CA file")
	}
}

// TestHundredAgents: 100 agents with separate homes register against one
// simulator; their memory is reported.
func TestHundredAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 100 agent processes")
	}
	// The hosts join with no components, so no version checks run either:
	// 500 Python start-ups would measure the machine, not the link.
	sc := demoScenario(t)
	sc.Options.JoinTemplate.Components = nil
	s := startSim(t, sc, func(c *sim.Config) { c.HeartbeatLogEvery = 1000 })
	buildAgent(t)
	const n = 100
	agents := make([]*Agent, n)
	for i := range agents {
		// Status checks and alerts off: this measures the link, and 100
		// agents' Python scripts would only measure the machine.
		a := newAgent(t, s, fmt.Sprintf("e2e-many-%03d", i), Ini{"agent": {
			"status_commands_run_interval": "0", "loglevel": "INFO"}})
		a.bin = plainBin
		agents[i] = a
	}
	begin := time.Now()
	for _, a := range agents {
		a.Start()
	}
	ctx := ctxFor(t, 120*time.Second)
	for _, a := range agents {
		if _, err := s.WaitRegistered(ctx, a.Name); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
	}
	t.Logf("%d agents registered in %s", n, time.Since(begin).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	var total, most int
	for _, a := range agents {
		r := rss(a.Pid())
		total += r
		most = max(most, r)
	}
	t.Logf("agent RSS after registration: mean %d kB, max %d kB", total/n, most)
	if m := s.Metrics(); m.RegisteredHosts < n {
		t.Fatalf("%d hosts registered, want %d", m.RegisteredHosts, n)
	}
	// Stop them all at once rather than one by one in the cleanups.
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.Stop() }()
	}
	wg.Wait()
}
