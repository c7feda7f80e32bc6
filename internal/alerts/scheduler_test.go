package alerts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/jitter"
)

func recoveryDef(id int, name string, interval int) map[string]any {
	return def(id, name, interval, map[string]any{"type": "RECOVERY"})
}

// resultTimes collects the timestamps of one alert's results for d: when
// each run was evaluated, whenever the test got to read it.
func (e *testEnv) resultTimes(name string, d time.Duration) []time.Time {
	var out []time.Time
	deadline := time.After(d)
	for {
		select {
		case r := <-e.results:
			if r.Name == name {
				out = append(out, time.UnixMilli(r.Timestamp))
			}
		case <-deadline:
			return out
		}
	}
}

func TestScheduleFirstRunAfterOneInterval(t *testing.T) {
	const minute = 300 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.Minute = minute })
	e.defs.set("CREATE", cluster(t, "2", "h1", nil, recoveryDef(1, "every1", 1), recoveryDef(2, "every0", 0)))
	start := time.Now()
	e.start()
	r := e.waitResult("every1", 10*time.Second)
	if el := time.Since(start); el < minute {
		t.Fatalf("first run after %s, before one interval", el)
	}
	if r.State != StateOK {
		t.Fatalf("%+v", r)
	}
	// interval 0 is treated as 1: it runs too.
	e.waitResult("every0", 10*time.Second)
	// A loaded machine can only make runs late, never more frequent: the
	// upper bound is sure, the repeats are waited for.
	times := e.resultTimes("every1", 5*minute)
	if len(times) > 6 {
		t.Fatalf("%d runs in 5 intervals", len(times))
	}
	for range 3 - min(3, len(times)) {
		e.waitResult("every1", 10*time.Second)
	}
}

func TestDefinitionChangesTakeEffectWithoutRestart(t *testing.T) {
	const minute = 200 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.Minute = minute })
	e.defs.set("CREATE", cluster(t, "2", "h1", nil, recoveryDef(1, "a", 1), recoveryDef(2, "b", 1)))
	e.start()
	e.waitResult("a", 10*time.Second)
	e.waitResult("b", 10*time.Second)

	// New uuid with a far longer interval (what the server sends on a
	// change): no run of it for ten of the old intervals. (The old job may
	// run until the scheduler has taken the change.)
	slow := recoveryDef(1, "a", 1000)
	slow["uuid"] = "uuid-1-a-v2"
	e.defs.set("UPDATE", cluster(t, "2", "h1", nil, slow, recoveryDef(2, "b", 1)))
	for deadline := time.After(10 * minute); ; {
		select {
		case r := <-e.results:
			if r.uuid == "uuid-1-a-v2" {
				t.Fatalf("interval change ignored: %+v", r)
			}
			continue
		case <-deadline:
		}
		break
	}

	// Disabled (same uuid, enabled=false): no more runs; b unaffected.
	off := recoveryDef(2, "b", 1)
	off["enabled"] = false
	e.defs.set("UPDATE", cluster(t, "2", "h1", nil, slow, off))
	drainFor(e, 2*minute) // a run already started may still finish
	e.noResult("b", 5*minute)

	// Interval change without a new uuid is picked up as well: ignored, it
	// would leave the next run 1000 intervals (200 s) away.
	fast := recoveryDef(1, "a", 1)
	fast["uuid"] = "uuid-1-a-v2"
	e.defs.set("UPDATE", cluster(t, "2", "h1", nil, fast, off))
	e.waitUUID("uuid-1-a-v2", 30*time.Second)

	// DELETE: gone, and its unsent result is dropped.
	e.defs.set("DELETE", cluster(t, "2", "h1", nil, off))
	drainFor(e, 2*minute)
	if n := e.m.collector.len(); n > 1 {
		t.Fatalf("%d results held after delete", n)
	}
	e.noResult("a", 4*minute)
	for _, r := range e.m.collector.drain() {
		if r.Name == "a" {
			t.Fatalf("result of a deleted definition kept: %+v", r)
		}
	}
}

func drainFor(e *testEnv, d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case <-e.results:
		case <-deadline:
			return
		}
	}
}

func TestOneInstanceAndCoalescing(t *testing.T) {
	const minute = 200 * time.Millisecond
	// Each check takes ~700 ms: the server answers the command late.
	ln := listen(t, "127.0.0.1:0", func(string) string {
		time.Sleep(700 * time.Millisecond)
		return "imok"
	})
	e := newEnv(t, func(c *Config) { c.Minute = minute })
	e.defs.set("CREATE", cluster(t, "2", "127.0.0.1", nil, def(1, "slow", 1, map[string]any{
		"type": "PORT", "uri": "127.0.0.1:" + portOf(ln),
		"parameters": []any{map[string]any{"name": "socket.command", "value": "ruok"}},
	})))
	e.start()
	times := e.resultTimes("slow", 3*time.Second)
	// Without the one-instance rule 15 runs would start in 3 s. A loaded
	// machine only makes fewer: for the gaps, wait for at least two.
	if len(times) > 4 {
		t.Fatalf("%d results in 3 s for a 700 ms check due every 200 ms", len(times))
	}
	for len(times) < 2 {
		times = append(times, time.UnixMilli(e.waitResult("slow", 10*time.Second).Timestamp))
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 600*time.Millisecond {
			t.Fatalf("results %s apart: instances overlapped", d)
		}
	}
}

func TestLateRunSkippedAfterGracePeriod(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.GracePeriod = 100 * time.Millisecond })
	cd := cluster(t, "2", "h1", nil, recoveryDef(1, "late", 1))
	s := newScheduler(e.m)
	s.reschedule(newDefSnapshot([]ClusterDefinitions{cd}), "CREATE", time.Now())
	j := s.jobs["uuid-1-late"]
	if j == nil {
		t.Fatal("not scheduled")
	}
	ctx := context.Background()
	s.launch(ctx, j, time.Now().Add(-time.Second)) // waited a second for a worker
	s.wg.Wait()
	if n := e.m.collector.len(); n != 0 {
		t.Fatalf("a run started 1 s late with a 100 ms grace produced %d results", n)
	}
	s.launch(ctx, j, time.Now())
	s.wg.Wait()
	if n := e.m.collector.len(); n != 1 {
		t.Fatalf("on-time run produced %d results", n)
	}
}

func TestUnsupportedAndInvalidDefinitionsSkipped(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Minute = 100 * time.Millisecond })
	bad := def(2, "bad_metric", 1, map[string]any{"type": "METRIC", "jmx": map[string]any{"property_list": []any{"no-slash"}}})
	e.defs.set("CREATE", cluster(t, "2", "h1", nil,
		def(1, "server_side", 1, map[string]any{"type": "SERVER"}),
		def(3, "aggregate", 1, map[string]any{"type": "AGGREGATE"}),
		bad,
		recoveryDef(4, "good", 1)))
	e.start()
	e.waitResult("good", 10*time.Second)
	drainFor(e, 300*time.Millisecond)
	for _, r := range e.m.collector.drain() {
		if r.Name != "good" {
			t.Fatalf("unexpected result %+v", r)
		}
	}
}

// Definitions that arrive as a full (CREATE) event every 20 seconds, one of
// them changed each time, driven on the scheduler's own clock (the times
// given to reschedule and dispatchDue): every alert still runs once a
// minute, because an unchanged definition keeps its schedule and a changed
// one counts from its own last run.
func TestSchedulesSurviveFrequentDefinitionEvents(t *testing.T) {
	e := newEnv(t, nil)
	s := newScheduler(e.m)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.wg.Wait() }()
	defs := func(step int) *defSnapshot {
		changing := recoveryDef(2, "changing", 1)
		changing["source"] = map[string]any{"type": "RECOVERY", "reporting": map[string]any{
			"ok": map[string]any{"text": fmt.Sprintf("version %d", step)}}}
		return newDefSnapshot([]ClusterDefinitions{cluster(t, "2", "h1", nil, recoveryDef(1, "steady", 1), changing)})
	}
	// In the future, so that no run counts as missed on the real clock the
	// checks use.
	t0 := time.Now().Add(time.Hour)
	s.reschedule(defs(0), "CREATE", t0)
	step := 0
	for now := t0; !now.After(t0.Add(4 * time.Minute)); now = now.Add(20 * time.Second) {
		if step > 0 {
			s.reschedule(defs(step), "CREATE", now)
		}
		s.dispatchDue(ctx, now)
		if step%3 == 0 && step > 0 {
			// A minute has passed: both ran, and their checks finish
			// before the next event, as they would in 20 seconds.
			waitResults(t, e, "steady", "changing")
		}
		step++
	}
	for uuid, want := range map[string]time.Time{
		"uuid-1-steady":   t0.Add(5 * time.Minute),
		"uuid-2-changing": t0.Add(5 * time.Minute),
	} {
		if got := s.jobs[uuid].next; !got.Equal(want) {
			t.Errorf("%s: next run at t0+%s, want t0+%s", uuid, got.Sub(t0), want.Sub(t0))
		}
	}
}

// A definition replaced by a new uuid (what the server sends when it
// changes) is scheduled from the last run of the job it replaces, with its
// new interval, on CREATE and UPDATE alike.
func TestChangedDefinitionCountsFromItsLastRun(t *testing.T) {
	e := newEnv(t, nil)
	s := newScheduler(e.m)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.wg.Wait() }()
	snap := func(defs ...map[string]any) *defSnapshot {
		return newDefSnapshot([]ClusterDefinitions{cluster(t, "2", "h1", nil, defs...)})
	}
	t0 := time.Now().Add(time.Hour)
	s.reschedule(snap(recoveryDef(1, "a", 2), recoveryDef(2, "b", 5)), "CREATE", t0)
	s.dispatchDue(ctx, t0.Add(2*time.Minute)) // a runs
	e.waitResult("a", 10*time.Second)

	a3 := recoveryDef(1, "a", 3)
	a3["uuid"] = "uuid-1-a-v2"
	b1 := recoveryDef(2, "b", 1)
	b1["uuid"] = "uuid-2-b-v2"
	s.reschedule(snap(a3, b1), "CREATE", t0.Add(2*time.Minute+30*time.Second))
	next := func(uuid string) time.Duration {
		t.Helper()
		j, ok := s.jobs[uuid]
		if !ok {
			t.Fatalf("job %s not scheduled", uuid)
		}
		return j.next.Sub(t0)
	}
	if _, ok := s.jobs["uuid-1-a"]; ok {
		t.Error("the replaced job is still scheduled")
	}
	// a last ran at 2m: 2m + 3m. b never ran; it was scheduled at t0 and
	// its new interval has passed already, so it is due at once.
	if got := next("uuid-1-a-v2"); got != 5*time.Minute {
		t.Errorf("changed a: next run at t0+%s, want t0+5m", got)
	}
	if got := next("uuid-2-b-v2"); got != time.Minute {
		t.Errorf("changed b: next run at t0+%s, want t0+1m (due)", got)
	}

	// UPDATE: the same uuid with a new interval.
	s.dispatchDue(ctx, t0.Add(5*time.Minute)) // a (and b) run
	a1 := recoveryDef(1, "a", 1)
	a1["uuid"] = "uuid-1-a-v2"
	s.reschedule(snap(a1, b1), "UPDATE", t0.Add(5*time.Minute+10*time.Second))
	if got := next("uuid-1-a-v2"); got != 6*time.Minute {
		t.Errorf("updated a: next run at t0+%s, want t0+6m", got)
	}
}

// waitResults waits for one result of each named alert, in any order.
func waitResults(t *testing.T, e *testEnv, names ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	// Generous: the checks are quick, but a loaded machine may delay them.
	deadline := time.After(time.Minute)
	for len(want) > 0 {
		select {
		case r := <-e.results:
			delete(want, r.Name)
		case <-deadline:
			t.Fatalf("no result within a minute for %v", want)
		}
	}
}

// With a jitter phase near the whole interval, a definition's first run
// comes long before one interval: many agents started together spread
// their checks over the interval instead of all running them at its end.
func TestJitteredFirstRunComesWithinTheInterval(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Minute = 10 * time.Minute
		c.Jitter = jitter.Fixed(0.9999)
	})
	e.defs.set("CREATE", cluster(t, "2", "h1", nil, recoveryDef(1, "spread", 1)))
	e.start()
	if r := e.waitResult("spread", 30*time.Second); r.State != StateOK {
		t.Fatalf("%+v", r)
	}
}
