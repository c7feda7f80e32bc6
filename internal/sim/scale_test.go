package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/stompws"
)

// lightAgent is a goroutine-safe agent for many-session tests and
// benchmarks: errors are returned, not reported through t.
type lightAgent struct {
	name string
	conn *stompws.Conn
	hbID int64

	mu         sync.Mutex
	topoHashes map[string]bool // every topology hash seen, pushed or replied
	changed    chan struct{}
}

func (a *lightAgent) sawTopology(hash string) {
	a.mu.Lock()
	a.topoHashes[hash] = true
	a.mu.Unlock()
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

func (a *lightAgent) has(hash string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.topoHashes[hash]
}

// connectAndRegister dials, registers, syncs the five caches and sends the
// first heartbeat, as an agent does.
func connectAndRegister(ctx context.Context, url, name string, changed chan struct{}) (*lightAgent, error) {
	conn, err := stompws.Dial(ctx, stompws.Config{URL: url, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		return nil, err
	}
	a := &lightAgent{name: name, conn: conn, topoHashes: map[string]bool{}, changed: changed}
	fail := func(err error) (*lightAgent, error) {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := conn.Subscribe(protocol.UserReplies, 0, nil); err != nil {
		return fail(err)
	}
	ignore := func(*stompws.Message) {}
	for _, d := range protocol.PreRegistrationTopics[1:] {
		if err := conn.Subscribe(d, 0, ignore); err != nil {
			return fail(err)
		}
	}
	reply, err := conn.Request(ctx, protocol.Register, mustJSON(registration(name)))
	if err != nil {
		return fail(err)
	}
	var r protocol.RegisterResponse
	if err := json.Unmarshal(reply, &r); err != nil || r.ExitStatus != 0 {
		return fail(fmt.Errorf("registration answered %s", reply))
	}
	for _, c := range protocol.CacheSyncOrder {
		h := ignore
		if c.Topic == protocol.EventsTopologies {
			h = func(m *stompws.Message) {
				var ev struct {
					Hash string `json:"hash"`
				}
				if json.Unmarshal(m.Body, &ev) == nil {
					a.sawTopology(ev.Hash)
				}
			}
		}
		queue := 0 // the default
		if c.Topic == protocol.EventsTopologies {
			queue = 2000 // every later join pushes an UPDATE
		}
		if err := conn.Subscribe(c.Topic, queue, h); err != nil {
			return fail(err)
		}
		reply, err := conn.Request(ctx, c.Request, []byte(`{"hash":null}`))
		if err != nil {
			return fail(err)
		}
		var ev struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(reply, &ev); err != nil || ev.Hash == "" {
			return fail(fmt.Errorf("%s answered %.100s", c.Request, reply))
		}
		if c.Request == protocol.AgentsTopologies {
			a.sawTopology(ev.Hash)
		}
	}
	if err := conn.Subscribe(protocol.UserCommands, 0, ignore); err != nil {
		return fail(err)
	}
	if err := a.heartbeat(ctx); err != nil {
		return fail(err)
	}
	return a, nil
}

func (a *lightAgent) heartbeat(ctx context.Context) error {
	reply, err := a.conn.Request(ctx, protocol.Heartbeat, mustJSON(protocol.HeartbeatRequest{ID: a.hbID}))
	if err != nil {
		return err
	}
	var r protocol.HeartbeatResponse
	if err := json.Unmarshal(reply, &r); err != nil || r.ID == nil || *r.ID != a.hbID+1 {
		return fmt.Errorf("heartbeat %d answered %s", a.hbID, reply)
	}
	a.hbID++
	return nil
}

func joinScenario() *Scenario {
	sc := testScenario()
	sc.Options.JoinUnknownHosts = true
	sc.Options.JoinTemplate = &JoinTemplate{Components: []string{"ZK_CLIENT"}}
	return sc
}

func TestManySessionsRegisterConcurrently(t *testing.T) {
	const n = 200
	s := startSim(t, joinScenario())
	ctx := testCtx(t)
	changed := make(chan struct{}, 1)
	agents := make([]*lightAgent, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := connectAndRegister(ctx, s.StompURL(), fmt.Sprintf("node-%03d", i), changed)
			if err != nil {
				errs <- err
				return
			}
			agents[i] = a
			t.Cleanup(func() { a.conn.Close() })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	m := s.Metrics()
	if m.RegisteredHosts != n || m.Registrations != n || m.Sessions != n || m.SlowConsumers != 0 {
		t.Errorf("metrics %+v", m)
	}
	ids := map[int64]bool{}
	for _, h := range s.Hosts() {
		if ids[h.HostID] {
			t.Errorf("host id %d given twice", h.HostID)
		}
		ids[h.HostID] = true
	}
	if len(ids) != n+2 {
		t.Errorf("%d hosts, want %d", len(ids), n+2)
	}
	// Every agent ends up with the final topology: from its reply or from
	// the UPDATE pushes of later joins.
	final, _ := s.HostState("h1")
	want := final.Hashes[protocol.CacheTopology]
	for {
		missing := 0
		for _, a := range agents {
			if !a.has(want) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d agents never got the final topology", missing)
		}
	}
	// And every heartbeat still works.
	for _, a := range agents {
		if err := a.heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkRegistrations measures whole registrations (TLS, WebSocket,
// STOMP connect, /register, five cache requests, first heartbeat) against
// one simulator, many at once.
func BenchmarkRegistrations(b *testing.B) {
	for _, join := range []bool{false, true} {
		name := "unassigned"
		sc := testScenario()
		if join {
			name, sc = "joining", joinScenario()
		}
		b.Run(name, func(b *testing.B) {
			s := startSim(b, sc)
			var seq atomic.Int64
			ctx := context.Background()
			var mu sync.Mutex
			var conns []*stompws.Conn
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					a, err := connectAndRegister(ctx, s.StompURL(), fmt.Sprintf("bench-%d", seq.Add(1)), nil)
					if err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					conns = append(conns, a.conn)
					mu.Unlock()
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

// BenchmarkHeartbeats measures heartbeat round trips per second over many
// registered sessions at once.
func BenchmarkHeartbeats(b *testing.B) {
	s := startSim(b, testScenario())
	var seq atomic.Int64
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		a, err := connectAndRegister(ctx, s.StompURL(), fmt.Sprintf("hb-%d", seq.Add(1)), nil)
		if err != nil {
			b.Error(err)
			return
		}
		defer a.conn.Close()
		for pb.Next() {
			if err := a.heartbeat(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "heartbeats/s")
}
