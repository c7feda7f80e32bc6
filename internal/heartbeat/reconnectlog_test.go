package heartbeat

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// recordingObserver keeps what the link told it.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recordingObserver) add(s string) { o.mu.Lock(); o.events = append(o.events, s); o.mu.Unlock() }
func (o *recordingObserver) Connecting(server string) {
	o.add("connecting " + server)
}
func (o *recordingObserver) Registered(server string) { o.add("registered " + server) }
func (o *recordingObserver) Disconnected(server string, err error, _ time.Duration) {
	o.add("disconnected " + server)
}
func (o *recordingObserver) HeartbeatAcked(rtt, late time.Duration) { o.add("heartbeat") }

// TestUnreachableServersAreLoggedHonestly: while no server answers the
// probe, each line says which attempt on which server, which round, how
// long no server was reached and where the next attempt goes, instead of
// counting "1 of N" again and again.
func TestUnreachableServersAreLoggedHonestly(t *testing.T) {
	logger, hook := test.NewNullLogger()
	obs := &recordingObserver{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probes := 0
	l := New(Config{
		Servers:       []string{"a.example", "b.example"},
		ProbeAttempts: 2,
		ProbeDelay:    time.Millisecond,
		Probe: func(ctx context.Context, server string) error {
			probes++
			if probes == 6 {
				cancel()
			}
			return errors.New("connection refused")
		},
		Observer: obs,
		Log:      logrus.NewEntry(logger),
	})
	if _, ok := l.waitForServer(ctx); ok {
		t.Fatal("a server was reported reachable")
	}
	var lines []string
	// How long is the machine's business; the rest is exact.
	took := regexp.MustCompile(`for [0-9hms.]+, `)
	for _, e := range hook.AllEntries() {
		lines = append(lines, took.ReplaceAllString(e.Message, "for T, "))
	}
	want := []string{
		"a.example not reachable (attempt 1 of 2 on it, round 1; no server reached for T, 1 attempts); trying a.example",
		"a.example not reachable (attempt 2 of 2 on it, round 1; no server reached for T, 2 attempts); trying b.example",
		"b.example not reachable (attempt 1 of 2 on it, round 1; no server reached for T, 3 attempts); trying b.example",
		"b.example not reachable (attempt 2 of 2 on it, round 1; no server reached for T, 4 attempts); trying a.example",
		"a.example not reachable (attempt 1 of 2 on it, round 2; no server reached for T, 5 attempts); trying a.example",
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("line %d: %q lacks %q", i, lines[i], want[i])
		}
	}
	if n := len(obs.events); n != 11 || obs.events[0] != "connecting a.example" || obs.events[1] != "disconnected a.example" {
		t.Errorf("observer saw %v", obs.events)
	}
}
