package heartbeat

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
	"github.com/ambari-go/ambari-agent/internal/stompws"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

func TestBackoffGrowsIsCappedAndJittered(t *testing.T) {
	b := backoff{base: time.Second, cap: 8 * time.Second, jitter: func() float64 { return 0.999 }}
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, b.next().Round(10*time.Millisecond))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want about %v", got, want)
		}
	}
	b.reset()
	b.jitter = func() float64 { return 0 }
	if d := b.next(); d != 500*time.Millisecond {
		t.Fatalf("lowest jitter gives %s, want half the step", d)
	}
}

type harness struct {
	t      *testing.T
	sim    *sim.Server
	caches *cache.Store
	link   *Link
	cancel context.CancelFunc
	done   chan error

	mu         sync.Mutex
	restarts   []string
	keys       []string
	registered int
	commands   int
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	s, err := sim.New(sim.Config{Log: quietLog(), Scenario: &sim.Scenario{Options: sim.Options{EncryptionKey: "k-123", BroadcastEncryptionKey: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &harness{t: t, sim: s, caches: cache.Open(t.TempDir(), nil), done: make(chan error, 1)}
	cfg := Config{
		Servers: []string{"127.0.0.1"},
		Connect: func(ctx context.Context, server string) (Conn, error) {
			url := "wss://" + server + ":" + strconv.Itoa(s.SecuredURLPort()) + "/agent/stomp/v1"
			return stompws.Dial(ctx, stompws.Config{URL: url, TLS: &tls.Config{InsecureSkipVerify: true}})
		},
		Registration: func(ctx context.Context) (*protocol.RegisterRequest, error) {
			return &protocol.RegisterRequest{ID: -1, Hostname: "hb-host", Timestamp: time.Now().UnixMilli()}, nil
		},
		Caches:        h.caches,
		Commands:      func(string, []byte) error { h.mu.Lock(); h.commands++; h.mu.Unlock(); return nil },
		Restart:       func(r string) { h.mu.Lock(); h.restarts = append(h.restarts, r); h.mu.Unlock() },
		EncryptionKey: func(k string) { h.mu.Lock(); h.keys = append(h.keys, k); h.mu.Unlock() },
		OnRegistered:  func() { h.mu.Lock(); h.registered++; h.mu.Unlock() },
		Interval:      200 * time.Millisecond,
		MinBackoff:    100 * time.Millisecond,
		MaxBackoff:    300 * time.Millisecond,
		Log:           quietLog(),
	}
	if mod != nil {
		mod(&cfg)
	}
	h.link = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.link.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

func (h *harness) wait(what string, cond func() bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			h.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (h *harness) count(f func() int) int { h.mu.Lock(); defer h.mu.Unlock(); return f() }

func TestSessionRegistersSyncsAndHeartbeats(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	st, err := h.sim.WaitHost(ctx, "hb-host", func(s sim.HostState) bool { return s.Heartbeats >= 3 })
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cache.Names() {
		c, _ := h.caches.Cache(name)
		if got, ok := c.Hash(); !ok || got != st.Hashes[string(name)] {
			t.Errorf("%s cache hash %q, server's %q", name, got, st.Hashes[string(name)])
		}
	}
	if !h.link.Registered() {
		t.Error("not registered")
	}
	h.wait("OnRegistered and the encryption key", func() bool {
		return h.count(func() int { return h.registered }) == 1 && h.count(func() int { return len(h.keys) }) > 0
	})
	if h.keys[0] != "k-123" {
		t.Errorf("encryption key %q", h.keys[0])
	}
	// Reports go through Request once registered.
	reply, err := h.link.Request(ctx, protocol.ReportsHostStatus, []byte(`{"agentEnv":{},"mounts":[]}`))
	if err != nil || !protocol.IsOK(reply) {
		t.Fatalf("Request: %s %v", reply, err)
	}
}

// A request while the link is down fails with ErrNotConnected instead of
// waiting for a connection (this link never connects: "x" is no server,
// and Run is not called).
func TestRequestFailsFastWhenNotConnected(t *testing.T) {
	l := New(Config{Servers: []string{"x"}})
	done := make(chan error, 1)
	go func() {
		_, err := l.Request(context.Background(), protocol.ReportsHostStatus, []byte("{}"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotConnected) {
			t.Fatalf("err %v, want ErrNotConnected", err)
		}
	case <-time.After(testutil.Wait):
		t.Fatal("Request waits for a connection that never comes")
	}
}

func TestServerRestartReRegisters(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	h.sim.Stop()
	h.wait("the link noticing the server is gone", func() bool { return !h.link.Registered() })
	if _, err := h.link.Request(ctx, protocol.ReportsHostStatus, []byte("{}")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Request while the server is down: %v", err)
	}
	hits := h.sim.Metrics().CacheHits
	if err := h.sim.Start(); err != nil {
		t.Fatal(err)
	}
	h.wait("re-registration", func() bool { return h.count(func() int { return h.registered }) == 2 && h.link.Registered() })
	if got := h.sim.Metrics().CacheHits - hits; got != 5 {
		t.Errorf("%d caches answered 'unchanged' after the restart, want 5", got)
	}
}

func TestHeartbeatIDMismatchRequestsRestart(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	h.sim.SetFaults(sim.Faults{HeartbeatIDZero: 1})
	h.wait("a restart request", func() bool { return h.count(func() int { return len(h.restarts) }) > 0 })
	if h.restarts[0] == "" {
		t.Error("restart without a reason")
	}
}

func TestRestartAgentActionRequestsRestart(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RestartAgent("hb-host"); err != nil {
		t.Fatal(err)
	}
	h.wait("a restart request", func() bool { return h.count(func() int { return len(h.restarts) }) > 0 })
}

func TestRegistrationRefusedIsRetried(t *testing.T) {
	logger, hook := test.NewNullLogger()
	h := newHarness(t, func(c *Config) { c.Log = logrus.NewEntry(logger) })
	h.sim.SetFaults(sim.Faults{RegistrationFailure: 2, RegistrationFailureLog: "agent version mismatch"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := h.sim.WaitReady(ctx, "hb-host")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.sim.Records(sim.Query{Host: "hb-host", Destination: protocol.Register})); n != 3 {
		t.Errorf("%d registration attempts, want 3 (two refused)", n)
	}
	_ = st
	// Operators grep for the Python agent's words.
	var refusals int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Message == "Registration failed due to: agent version mismatch" {
			refusals++
		}
	}
	if refusals != 2 {
		t.Errorf("%d \"Registration failed due to: agent version mismatch\" errors logged, want 2", refusals)
	}
}

func TestCommandsAreAcknowledged(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.SendCommandEvent("hb-host", []byte(`{"requiredConfigTimestamp":1,"clusters":{"-1":{"commands":[{"commandType":"EXECUTION_COMMAND","taskId":7,"commandId":"1-0","clusterId":"-1","role":"x","roleCommand":"ACTIONEXECUTE"}]}}}`)); err != nil {
		t.Fatal(err)
	}
	r, err := h.sim.WaitRecord(ctx, sim.Query{Host: "hb-host", Destination: protocol.ReportsResponses}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ack protocol.MessageAck
	r.Decode(&ack)
	if ack.Status != protocol.StatusOK || ack.MessageID == "" {
		t.Errorf("ack %+v", ack)
	}
	if h.count(func() int { return h.commands }) != 1 {
		t.Error("Commands handler not called")
	}
}

// BenchmarkHeartbeatBody measures the per-heartbeat encoding: no
// allocation without stale alerts.
func BenchmarkHeartbeatBody(b *testing.B) {
	l := New(Config{Servers: []string{"x"}})
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = l.heartbeatBody(buf[:0], int64(i))
	}
}

// The second heartbeat of a session comes at the jitter phase, not one
// whole interval after the first: with an hour's interval and a phase
// near its end, the server still sees two heartbeats at once.
func TestJitterBringsTheSecondHeartbeatForward(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Interval = time.Hour
		c.Jitter = jitter.Fixed(0.99999)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitHost(ctx, "hb-host", func(s sim.HostState) bool { return s.Heartbeats >= 2 }); err != nil {
		t.Fatalf("no second heartbeat: %v", err)
	}
}
