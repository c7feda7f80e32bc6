package hoststatus

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/hostinfo"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

const wait = 20 * time.Second

// host is a host whose disks the test changes; its clock moves on every
// report, as the real one does.
type host struct {
	mu     sync.Mutex
	mounts []protocol.Mount
	now    int64
	calls  chan struct{}
}

func newHost() *host {
	return &host{
		mounts: []protocol.Mount{{Device: "/dev/sda1", Type: "xfs", Size: "100", Used: "10", Available: "90", Percent: "10%", MountPoint: "/"}},
		calls:  make(chan struct{}, 1024),
	}
}

func (h *host) HostStatus(ctx context.Context) protocol.HostStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now += 1000
	h.calls <- struct{}{}
	return protocol.HostStatus{
		AgentEnv: protocol.AgentEnv{
			HostHealth: protocol.HostHealth{
				LiveServices:              []protocol.LiveService{{Name: "chronyd", Status: "Healthy"}},
				AgentTimeStampAtReporting: h.now,
			},
			Umask: "18", FirewallName: "iptables", ReverseLookup: true,
		},
		Mounts: slices.Clone(h.mounts),
	}
}

func (h *host) setUsed(used string) {
	h.mu.Lock()
	h.mounts[0].Used = used
	h.mu.Unlock()
}

// checks waits for n host checks to begin from now on; when one has begun,
// the one before has sent whatever it sends.
func (h *host) checks(t *testing.T, n int) {
	t.Helper()
	for len(h.calls) > 0 {
		<-h.calls
	}
	for range n {
		select {
		case <-h.calls:
		case <-time.After(wait):
			t.Fatal("no host check")
		}
	}
}

type sender struct {
	mu        sync.Mutex
	connected bool
	ack       bool
	reports   chan []byte
}

func newSender() *sender {
	return &sender{connected: true, ack: true, reports: make(chan []byte, 1024)}
}

func (s *sender) set(connected, ack bool) {
	s.mu.Lock()
	s.connected, s.ack = connected, ack
	s.mu.Unlock()
}

func (s *sender) Request(_ context.Context, dest string, body []byte) ([]byte, error) {
	s.mu.Lock()
	connected, ack := s.connected, s.ack
	s.mu.Unlock()
	if !connected {
		return nil, errors.New("not connected")
	}
	if dest != protocol.ReportsHostStatus {
		return nil, errors.New("wrong destination " + dest)
	}
	s.reports <- slices.Clone(body)
	if ack {
		return []byte(`{"status":"OK"}`), nil
	}
	return []byte(`{"status":"ERROR"}`), nil
}

func (s *sender) next(t *testing.T) protocol.HostStatus {
	t.Helper()
	select {
	case b := <-s.reports:
		var st protocol.HostStatus
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("report %s: %v", b, err)
		}
		return st
	case <-time.After(wait):
		t.Fatal("no host status report")
		return protocol.HostStatus{}
	}
}

func (s *sender) none(t *testing.T) {
	t.Helper()
	select {
	case b := <-s.reports:
		t.Fatalf("unexpected host status report %s", b)
	default:
	}
}

func run(t *testing.T, cfg Config) *Reporter {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return")
		}
	})
	return r
}

// A report goes out when the facts change (the timestamp aside) and after
// every registration, and not otherwise.
func TestSendsChangesAndAlwaysAfterRegistration(t *testing.T) {
	h, s := newHost(), newSender()
	r := run(t, Config{Source: h, Sender: s, Registered: func() bool { return true }, Interval: 20 * time.Millisecond})

	if got := s.next(t); got.Mounts[0].Used != "10" || got.AgentEnv.HostHealth.AgentTimeStampAtReporting == 0 {
		t.Fatalf("first report %+v", got)
	}
	h.checks(t, 4)
	s.none(t) // only the timestamp moved

	h.setUsed("20")
	if got := s.next(t); got.Mounts[0].Used != "20" {
		t.Fatalf("report after a change: %+v", got.Mounts)
	}
	h.checks(t, 3)
	s.none(t)

	r.Registered()
	if got := s.next(t); got.Mounts[0].Used != "20" {
		t.Fatalf("report after registration: %+v", got.Mounts)
	}
	h.checks(t, 3)
	s.none(t)
}

// A report the server did not acknowledge is sent again by the next check.
func TestUnacknowledgedReportIsResent(t *testing.T) {
	h, s := newHost(), newSender()
	s.set(true, false)
	run(t, Config{Source: h, Sender: s, Interval: 20 * time.Millisecond})
	s.next(t)
	s.next(t)
	s.set(true, true)
	// Checks under way may still go unacknowledged; then one is
	// acknowledged and the reports stop.
	h.checks(t, 3)
	for len(s.reports) > 0 {
		s.next(t)
	}
	h.checks(t, 3)
	s.none(t)
}

// While not registered the host is not even probed; a registration brings
// the first report at once, not one interval later.
func TestFirstReportRightAfterRegistration(t *testing.T) {
	h, s := newHost(), newSender()
	var registered atomic.Bool
	r := run(t, Config{Source: h, Sender: s, Registered: registered.Load, Interval: time.Hour})
	time.Sleep(100 * time.Millisecond)
	if n := len(h.calls); n != 0 {
		t.Fatalf("host probed %d times while not registered", n)
	}
	registered.Store(true)
	r.Registered()
	s.next(t)

	// Unchanged, but a new registration: sent again.
	r.Registered()
	s.next(t)
}

// With the real host facts: the report carries the host checks and the
// disk list and is sent again after a registration.
func TestRealHostInfo(t *testing.T) {
	hi := hostinfo.New(hostinfo.Config{Prefix: t.TempDir(), EC2MetadataURL: "-"})
	s := newSender()
	r := run(t, Config{Source: hi, Sender: s, Interval: time.Hour})
	var raw map[string]any
	select {
	case b := <-s.reports:
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("no host status report")
	}
	env, _ := raw["agentEnv"].(map[string]any)
	health, _ := env["hostHealth"].(map[string]any)
	if ts, _ := health["agentTimeStampAtReporting"].(float64); ts <= 0 {
		t.Errorf("agentTimeStampAtReporting %v", health["agentTimeStampAtReporting"])
	}
	if _, ok := env["umask"].(string); !ok {
		t.Errorf("umask %v", env["umask"])
	}
	if _, ok := raw["mounts"].([]any); !ok {
		t.Errorf("mounts %v, want a list", raw["mounts"])
	}
	r.Registered()
	s.next(t)
}
