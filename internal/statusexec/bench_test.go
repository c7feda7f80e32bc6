package statusexec

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// instantRunner answers every check at once: what is left of a cycle is the
// agent's own work.
type instantRunner struct{ exit atomic.Int32 }

func (r *instantRunner) RunStatus(context.Context, string, string, string, string) (int, string, map[string]any, error) {
	return int(r.exit.Load()), "", nil, nil
}

// okSender acknowledges every report and keeps nothing.
type okSender struct{ n atomic.Int64 }

func (s *okSender) Request(context.Context, string, []byte) ([]byte, error) {
	s.n.Add(1)
	return []byte(`{"status":"OK"}`), nil
}

func benchExecutor(b *testing.B, n int) (*Executor, *instantRunner, *okSender) {
	b.Helper()
	st := newStack(b)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("COMPONENT_%03d", i)
	}
	st.topology("CREATE", cluster{id: "1", local: names})
	st.metadata("1")
	r, s := &instantRunner{}, &okSender{}
	e, err := New(Config{HostName: testHost, Caches: st.store, Runner: r, Sender: s})
	if err != nil {
		b.Fatal(err)
	}
	return e, r, s
}

// BenchmarkStatusCycle100 is the agent's CPU per cycle for 100 components
// whose statuses did not change (the steady state): enumerate, dispatch,
// collect, compare; no report.
func BenchmarkStatusCycle100(b *testing.B) {
	e, _, s := benchExecutor(b, 100)
	ctx := context.Background()
	e.runCycle(ctx) // everything acknowledged once
	sent := s.n.Load()
	b.ReportAllocs()
	for b.Loop() {
		e.runCycle(ctx)
	}
	if s.n.Load() != sent {
		b.Fatal("an unchanged cycle sent a report")
	}
}

// BenchmarkStatusCycle100AllChanged: every cycle flips all 100 statuses, so
// each cycle builds, sends and records a 100-entry report.
func BenchmarkStatusCycle100AllChanged(b *testing.B) {
	e, r, s := benchExecutor(b, 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.exit.Store(1 - r.exit.Load())
		e.runCycle(ctx)
	}
	if s.n.Load() == 0 {
		b.Fatal("no report sent")
	}
}
