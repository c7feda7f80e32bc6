package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/stompws"
)

// waitTimeout is generous: tests wait for events, never for time to pass.
const waitTimeout = 20 * time.Second

func testCtxShort(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testScenario is a small cluster: c1 (id 2) with service ZK
// (ZK_SERVER on h1, ZK_CLIENT on h1 and h2), configurations, recovery and
// two alert definitions.
func testScenario() *Scenario {
	return &Scenario{
		Name: "test",
		Clusters: []ClusterSpec{{
			ID: 2, Name: "c1", StackName: "DEMO", StackVersion: "1.0", HooksFolder: "stack-hooks",
			Services: []ServiceSpec{{
				Name: "ZK", Version: "3.4", PackageFolder: "stacks/DEMO/1.0/services/ZK/package",
				Components: []ComponentSpec{
					{Name: "ZK_SERVER", Category: "MASTER", Script: "scripts/zk_server.py", Timeout: 600, Version: "3.4.9"},
					{Name: "ZK_CLIENT", Category: "CLIENT"},
				},
			}},
			Hosts: []HostSpec{
				{Name: "h1", Components: []string{"ZK_SERVER", "ZK_CLIENT"}, IPv4: "10.0.0.11"},
				{Name: "h2", Components: []string{"ZK_CLIENT"}},
			},
			Configurations: map[string]StringMap{
				"cluster-env": {"alerts_repeat_tolerance": "1", "recovery_enabled": "false"},
				"zoo.cfg":     {"clientPort": "2181"},
			},
			ConfigurationAttributes: map[string]map[string]StringMap{"zoo.cfg": {"final": {"clientPort": "true"}}},
			Recovery:                []RecoverySpec{{Component: "ZK_SERVER"}},
			StaleIntervalMultiplier: 5,
			AlertDefinitions: []AlertDefinitionSpec{
				{Name: "zk_port", ComponentName: "ZK_SERVER", Source: json.RawMessage(`{"type":"PORT","uri":"{{zoo.cfg/clientPort}}","default_port":2181}`)},
				{Name: "agent_disk", ComponentName: agentComponent, Source: json.RawMessage(`{"type":"SCRIPT","path":"alert_disk_space.py"}`)},
			},
		}},
	}
}

type testSim struct {
	*Server
	logs *test.Hook
}

// startSim starts a simulator on ephemeral loopback ports, closed when the
// test ends.
func startSim(t testing.TB, sc *Scenario, tweak ...func(*Config)) *testSim {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	cfg := Config{Scenario: sc, Log: log.WithField("component", "sim"), SummaryInterval: -1}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testSim{Server: s, logs: hook}
}

// push is a message the fake agent received on a subscription.
type push struct {
	dest      string
	messageID string
	body      []byte
}

// fakeAgent speaks the agent's side of the protocol, as the Python agent
// does, over a real TLS WebSocket.
type fakeAgent struct {
	t      testing.TB
	name   string
	conn   *stompws.Conn
	mu     sync.Mutex
	pushes []push
	newMsg chan struct{}
	hbID   int64
	hashes map[string]*string
	subs   map[string]bool
}

func dialAgent(t testing.TB, s *testSim, name string) *fakeAgent {
	t.Helper()
	a, err := tryDial(t, s, name)
	if err != nil {
		t.Fatalf("dial as %s: %v", name, err)
	}
	return a
}

func tryDial(t testing.TB, s *testSim, name string) (*fakeAgent, error) {
	tlsConf, err := s.ClientTLSConfig(name)
	if err != nil {
		return nil, err
	}
	conn, err := stompws.Dial(testCtx(t), stompws.Config{URL: s.StompURL(), TLS: tlsConf})
	if err != nil {
		return nil, err
	}
	a := &fakeAgent{t: t, name: name, conn: conn, newMsg: make(chan struct{}, 1), hashes: map[string]*string{}}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Subscribe(protocol.UserReplies, 0, nil); err != nil {
		return nil, err
	}
	for _, d := range protocol.PreRegistrationTopics[1:] {
		a.subscribe(d)
	}
	return a, nil
}

func (a *fakeAgent) subscribe(dest string) {
	a.t.Helper()
	if a.subs == nil {
		a.subs = map[string]bool{}
	}
	if a.subs[dest] {
		return // a re-registration on the same connection
	}
	a.subs[dest] = true
	err := a.conn.Subscribe(dest, 1000, func(m *stompws.Message) {
		a.mu.Lock()
		a.pushes = append(a.pushes, push{dest: m.Destination, messageID: m.MessageID, body: m.Body})
		a.mu.Unlock()
		select {
		case a.newMsg <- struct{}{}:
		default:
		}
	})
	if err != nil {
		a.t.Fatalf("%s: subscribe %s: %v", a.name, dest, err)
	}
}

func (a *fakeAgent) request(dest string, body any) []byte {
	a.t.Helper()
	b, err := a.conn.Request(testCtx(a.t), dest, mustJSON(body))
	if err != nil {
		a.t.Fatalf("%s: request %s: %v", a.name, dest, err)
	}
	return b
}

func (a *fakeAgent) send(dest string, body any) {
	a.t.Helper()
	// Reports are answered too; wait for the answer so that the report
	// is recorded when send returns.
	reply := a.request(dest, body)
	if !protocol.IsOK(reply) {
		a.t.Fatalf("%s: %s answered %s", a.name, dest, reply)
	}
}

func registration(name string) map[string]any {
	return map[string]any{
		"id": -1, "timestamp": time.Now().UnixMilli(), "hostname": name, "currentPingPort": 8670,
		"publicHostname": name, "agentVersion": "2.8.0.0", "prefix": "/var/lib/ambari-agent/data",
		"agentStartTime":  time.Now().UnixMilli(),
		"hardwareProfile": map[string]any{"ipaddress": "127.0.0.1", "operatingsystem": "centos", "operatingsystemrelease": "7.9"},
		"agentEnv":        map[string]any{},
	}
}

func (a *fakeAgent) register() protocol.RegisterResponse {
	a.t.Helper()
	var r protocol.RegisterResponse
	decode(a.t, a.request(protocol.Register, registration(a.name)), &r)
	a.hbID = 0
	return r
}

// syncCaches does the post-registration cache synchronisation with the
// hashes the agent holds and returns the five replies by cache name.
func (a *fakeAgent) syncCaches() map[string]map[string]json.RawMessage {
	a.t.Helper()
	out := map[string]map[string]json.RawMessage{}
	for _, c := range protocol.CacheSyncOrder {
		a.subscribe(c.Topic)
		var reply map[string]json.RawMessage
		decode(a.t, a.request(c.Request, protocol.HashRequest{Hash: a.hashes[c.Cache]}), &reply)
		if h, ok := reply["hash"]; ok {
			var s string
			decode(a.t, h, &s)
			a.hashes[c.Cache] = &s
		}
		out[c.Cache] = reply
	}
	a.subscribe(protocol.UserCommands)
	return out
}

// heartbeat sends the next heartbeat and returns the reply.
func (a *fakeAgent) heartbeat() protocol.HeartbeatResponse {
	a.t.Helper()
	var r protocol.HeartbeatResponse
	decode(a.t, a.request(protocol.Heartbeat, protocol.HeartbeatRequest{ID: a.hbID}), &r)
	if r.ID != nil && *r.ID == a.hbID+1 {
		a.hbID++
	}
	return r
}

// next waits for the next push on dest (consuming it).
func (a *fakeAgent) next(dest string) push {
	a.t.Helper()
	p, err := a.nextWithin(dest, waitTimeout)
	if err != nil {
		a.t.Fatalf("%s: %v", a.name, err)
	}
	return p
}

func (a *fakeAgent) nextWithin(dest string, d time.Duration) (push, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		for i, p := range a.pushes {
			if strings.TrimRight(p.dest, "/") == strings.TrimRight(dest, "/") {
				a.pushes = append(a.pushes[:i:i], a.pushes[i+1:]...)
				a.mu.Unlock()
				return p, nil
			}
		}
		a.mu.Unlock()
		select {
		case <-a.newMsg:
		case <-a.conn.Done():
			return push{}, fmt.Errorf("connection closed while waiting for %s: %v", dest, a.conn.Err())
		case <-deadline.C:
			return push{}, fmt.Errorf("no message on %s within %s", dest, d)
		}
	}
}

// pending lists the pushes received and not consumed, on dest.
func (a *fakeAgent) pending(dest string) []push {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []push
	for _, p := range a.pushes {
		if p.dest == dest {
			out = append(out, p)
		}
	}
	return out
}

func (a *fakeAgent) ack(messageID string) {
	a.t.Helper()
	a.send(protocol.ReportsResponses, protocol.MessageAck{MessageID: messageID, Status: protocol.StatusOK})
}

// join registers, syncs the caches and sends the first heartbeat.
func (a *fakeAgent) join() {
	a.t.Helper()
	if r := a.register(); r.ExitStatus != 0 {
		a.t.Fatalf("%s: registration failed: %s", a.name, r.Log)
	}
	a.syncCaches()
	if r := a.heartbeat(); r.ID == nil || *r.ID != 1 {
		a.t.Fatalf("%s: first heartbeat answered %+v", a.name, r)
	}
}

func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// commandsIn decodes the execution commands of a /user/commands message.
func commandsIn(t testing.TB, p push) (protocol.CommandsEvent, []protocol.ServerCommand) {
	t.Helper()
	var ev protocol.CommandsEvent
	decode(t, p.body, &ev)
	var cmds []protocol.ServerCommand
	for _, cc := range ev.Clusters {
		for _, raw := range cc.Commands {
			var c protocol.ServerCommand
			decode(t, raw, &c)
			cmds = append(cmds, c)
		}
	}
	return ev, cmds
}

// report builds a /reports/commands_status body for one task.
func report(c protocol.ServerCommand, status string, exit int) protocol.CommandsStatusReport {
	r := protocol.CommandReport{
		Role: c.Role, ActionID: c.CommandID, TaskID: c.TaskID, ClusterID: c.ClusterID,
		ServiceName: c.ServiceName, RoleCommand: c.RoleCommand, Status: status,
	}
	if status != protocol.StatusInProgress || exit != 0 {
		out, errOut, so := "done", "None", "{}"
		r.Stdout, r.Stderr, r.StructuredOut, r.ExitCode = &out, &errOut, &so, &exit
	}
	return protocol.CommandsStatusReport{Clusters: map[string][]protocol.CommandReport{c.ClusterID: {r}}}
}

// apiDo calls the control API and decodes the JSON answer into out (when
// not nil); it returns the HTTP status.
func apiDo(t testing.TB, s *testSim, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(mustJSON(body)))
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, s.APIURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		decode(t, b, out)
	}
	return resp.StatusCode
}

// insecureClient speaks HTTPS to the agent ports without verifying, as the
// agent does in one-way mode.
func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func isConnectRefused(err error) bool {
	var ce *stompws.ConnectError
	return errors.As(err, &ce) && ce.Message == "Connection not allowed"
}
