package statusexec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkDeathToReport measures, with real status scripts run by the
// orchestrator, the time from a component dying to its INSTALLED report,
// with a short interval: ten components, interval 200 ms, each death at a
// random moment. Reported: mean and worst latency and the cycle's work time
// W. With deaths at random moments the mean is about Interval/2 + W and the
// worst about Interval + 2W, which gives the figures for the default 20 s.
func BenchmarkDeathToReport(b *testing.B) {
	for _, c := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) { deathToReport(b, c) })
	}
}

func deathToReport(b *testing.B, concurrency int) {
	st := newStack(b)
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("C%d", i)
		st.setState(names[i], "running")
	}
	st.topology("CREATE", cluster{id: "1", local: names})
	st.metadata("1")
	const interval = 200 * time.Millisecond
	snd := newSender()
	var cycleStart, work atomic.Int64
	var cycles atomic.Int64
	runner := st.orchestrator()
	e, err := New(Config{HostName: testHost, Caches: st.store, Runner: runner, Sender: snd, Interval: interval, Concurrency: concurrency})
	if err != nil {
		b.Fatal(err)
	}
	e.onCycle = func() {
		if s := cycleStart.Load(); s != 0 {
			work.Add(time.Now().UnixNano() - s)
			cycles.Add(1)
		}
		// The next cycle starts one interval from now.
		cycleStart.Store(time.Now().Add(interval).UnixNano())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	await := func(line string) time.Time {
		for {
			select {
			case r := <-snd.reports:
				if slices.Contains(statusLines(b, r), line) {
					return time.Now()
				}
			case <-time.After(wait):
				b.Fatalf("no report with %s", line)
			}
		}
	}
	await("1/C9/STATUS=STARTED")

	var total, worst time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := names[i%len(names)]
		time.Sleep(time.Duration(rand.Int64N(int64(interval))))
		died := time.Now()
		st.setState(name, "stopped")
		lat := await("1/" + name + "/STATUS=INSTALLED").Sub(died)
		total += lat
		worst = max(worst, lat)
		st.setState(name, "running")
		await("1/" + name + "/STATUS=STARTED")
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-report/op")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	if n := cycles.Load(); n > 0 {
		b.ReportMetric(float64(work.Load())/float64(n)/1e6, "cycle-work-ms")
	}
	b.ReportMetric(0, "ns/op")
}
