package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"
)

// reporterEnv has definitions loaded (without the scheduler running) so
// report cycles can be driven one by one.
func reporterEnv(t *testing.T, changesOnly bool, clusterTolerance any, defs ...map[string]any) *testEnv {
	e := newEnv(t, func(c *Config) { c.SendChangesOnly = changesOnly })
	types := map[string]map[string]any{}
	if clusterTolerance != nil {
		types["cluster-env"] = map[string]any{"alerts_repeat_tolerance": clusterTolerance}
	}
	e.cfgs.setTypes("2", types)
	e.defs.set("CREATE", cluster(t, "2", "h1", nil, defs...))
	snap := newDefSnapshot(cluster(t, "2", "h1", nil, defs...).asList())
	e.m.defs.Store(snap)
	return e
}

func (c ClusterDefinitions) asList() []ClusterDefinitions { return []ClusterDefinitions{c} }

func withTolerance(d map[string]any, n int) map[string]any {
	d["repeat_tolerance_enabled"] = true
	d["repeat_tolerance"] = n
	return d
}

// cycle puts results (name:state:text) and runs one report cycle; it
// returns the names sent, sorted.
func (e *testEnv) cycle(results ...Result) []string {
	e.t.Helper()
	for _, r := range results {
		r.ClusterID = "2"
		e.m.collector.put(r)
	}
	before := len(e.link.sent)
	e.m.reportCycle(context.Background())
	e.link.mu.Lock()
	defer e.link.mu.Unlock()
	var names []string
	for _, batch := range e.link.sent[before:] {
		for _, r := range batch {
			names = append(names, r.Name+":"+r.State)
		}
	}
	sort.Strings(names)
	return names
}

func res(name, state, text string) Result {
	return Result{Name: name, State: state, Text: text, Timestamp: time.Now().UnixMilli()}
}

func TestReporterChangesOnlyAndRepeatTolerance(t *testing.T) {
	e := reporterEnv(t, true, "2",
		recoveryDef(1, "ok_alert", 1),
		withTolerance(recoveryDef(2, "crit3", 1), 3),
		recoveryDef(3, "crit_cluster", 1),
	)
	steps := []struct {
		in   []Result
		want []string
	}{
		// First results always go.
		{[]Result{res("ok_alert", "OK", "fine"), res("crit3", "CRITICAL", "down"), res("crit_cluster", "CRITICAL", "down")},
			[]string{"crit3:CRITICAL", "crit_cluster:CRITICAL", "ok_alert:OK"}},
		// Unchanged: OK never repeats; not-OK repeats up to its tolerance.
		{[]Result{res("ok_alert", "OK", "fine"), res("crit3", "CRITICAL", "down"), res("crit_cluster", "CRITICAL", "down")},
			[]string{"crit3:CRITICAL", "crit_cluster:CRITICAL"}},
		{[]Result{res("ok_alert", "OK", "fine"), res("crit3", "CRITICAL", "down"), res("crit_cluster", "CRITICAL", "down")},
			[]string{"crit3:CRITICAL"}},
		{[]Result{res("ok_alert", "OK", "fine"), res("crit3", "CRITICAL", "down"), res("crit_cluster", "CRITICAL", "down")},
			nil},
		// A changed text is a change (and restarts the repeat count).
		{[]Result{res("ok_alert", "OK", "fine again"), res("crit3", "CRITICAL", "still down")},
			[]string{"crit3:CRITICAL", "ok_alert:OK"}},
		{[]Result{res("crit3", "CRITICAL", "still down")}, []string{"crit3:CRITICAL"}},
		// A result without a definition is never sent.
		{[]Result{res("unknown_alert", "CRITICAL", "x")}, nil},
	}
	for i, s := range steps {
		if got := e.cycle(s.in...); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: sent %v, want %v", i, got, s.want)
		}
	}
}

func TestReporterMissingClusterTolerance(t *testing.T) {
	// Python's cycle fails entirely here; the tolerance counts as 1.
	e := reporterEnv(t, true, nil, recoveryDef(1, "crit", 1), recoveryDef(2, "ok", 1))
	for i, want := range [][]string{{"crit:CRITICAL", "ok:OK"}, nil} {
		got := e.cycle(res("crit", "CRITICAL", "down"), res("ok", "OK", "up"))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cycle %d: sent %v, want %v", i, got, want)
		}
	}
	e2 := reporterEnv(t, true, "not a number", recoveryDef(1, "crit", 1))
	if got := e2.cycle(res("crit", "CRITICAL", "down")); !reflect.DeepEqual(got, []string{"crit:CRITICAL"}) {
		t.Fatalf("non-numeric tolerance: %v", got)
	}
}

func TestReporterUnacknowledgedResultsAreKept(t *testing.T) {
	e := reporterEnv(t, true, "1", recoveryDef(1, "a", 1), recoveryDef(2, "b", 1))
	e.link.err = errors.New("not connected")
	if got := e.cycle(res("a", "CRITICAL", "down"), res("b", "OK", "up")); len(got) != 2 {
		t.Fatalf("attempted %v", got)
	}
	// Not acknowledged: both are still held; a newer result of b replaces
	// the old one.
	e.link.mu.Lock()
	e.link.err = nil
	e.link.reply = []byte(`{"status":"ERROR"}`)
	e.link.mu.Unlock()
	e.cycle(res("b", "WARNING", "slow"))
	e.link.mu.Lock()
	e.link.reply = []byte(`{"status":"OK"}`)
	e.link.mu.Unlock()
	before := len(e.link.sent)
	e.m.reportCycle(context.Background())
	last := e.link.sent[len(e.link.sent)-1]
	if len(e.link.sent) != before+1 || len(last) != 2 || last[0].Name != "a" || last[1].Name != "b" || last[1].State != "WARNING" {
		t.Fatalf("resend after failures: %+v", last)
	}
	// Acknowledged now: nothing left.
	if n := e.m.collector.len(); n != 0 {
		t.Fatalf("%d results left after acknowledgement", n)
	}
}

func TestReporterOnlyWhenRegistered(t *testing.T) {
	e := reporterEnv(t, true, "1", recoveryDef(1, "a", 1))
	e.link.registered = false
	if got := e.cycle(res("a", "OK", "up")); got != nil {
		t.Fatalf("sent while unregistered: %v", got)
	}
	if e.m.collector.len() != 1 {
		t.Fatal("result dropped while unregistered")
	}
	e.link.registered = true
	if got := e.cycle(); !reflect.DeepEqual(got, []string{"a:OK"}) {
		t.Fatalf("after registration: %v", got)
	}
}

func TestReporterSendAllAndUpdateClearsHistory(t *testing.T) {
	e := reporterEnv(t, false, "1", recoveryDef(1, "a", 1))
	for i := 0; i < 3; i++ {
		if got := e.cycle(res("a", "OK", "up")); !reflect.DeepEqual(got, []string{"a:OK"}) {
			t.Fatalf("send-all cycle %d: %v", i, got)
		}
	}
	e2 := reporterEnv(t, true, "1", recoveryDef(1, "a", 1))
	e2.cycle(res("a", "OK", "up"))
	if got := e2.cycle(res("a", "OK", "up")); got != nil {
		t.Fatalf("unchanged OK resent: %v", got)
	}
	// An UPDATE makes the reporter forget what it sent.
	s := newScheduler(e2.m)
	snap := e2.m.defs.Load()
	s.reschedule(snap, "UPDATE", time.Now())
	if got := e2.cycle(res("a", "OK", "up")); !reflect.DeepEqual(got, []string{"a:OK"}) {
		t.Fatalf("after UPDATE: %v", got)
	}
}

func TestReportBody(t *testing.T) {
	e := reporterEnv(t, true, "1", recoveryDef(17, "zk", 1))
	var body []byte
	link := &captureLink{fn: func(b []byte) { body = b }}
	e.m.cfg.Link = link
	e.m.collector.put(Result{Name: "zk", ClusterID: "2", Timestamp: 1700000205000, DefinitionID: 17, State: "OK",
		Text: "TCP OK - 0.001s response on port 2181", uuid: "x"})
	e.m.reportCycle(context.Background())
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	want := []map[string]any{{"name": "zk", "clusterId": "2", "timestamp": 1700000205000.0, "definitionId": 17.0,
		"state": "OK", "text": "TCP OK - 0.001s response on port 2181"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %s", body)
	}
}

type captureLink struct{ fn func([]byte) }

func (c *captureLink) Registered() bool { return true }
func (c *captureLink) Request(_ context.Context, dest string, body []byte) ([]byte, error) {
	if dest != "/reports/alerts_status" {
		return nil, errors.New("wrong destination " + dest)
	}
	c.fn(body)
	return []byte(`{"status":"OK"}`), nil
}

func TestStaleAlerts(t *testing.T) {
	now := time.Unix(1700000000, 0)
	e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return now } })
	disabled := recoveryDef(3, "disabled", 2)
	disabled["enabled"] = false
	snap := newDefSnapshot([]ClusterDefinitions{
		cluster(t, "2", "h1", map[string]any{"staleIntervalMultiplier": 2}, recoveryDef(1, "one", 1), disabled),
		cluster(t, "3", "h1", nil, recoveryDef(2, "no_multiplier", 1)),
	})
	e.m.defs.Store(snap)
	if s := e.m.StaleAlerts(); s != nil {
		t.Fatalf("stale at first sight: %v", s)
	}
	now = now.Add(121 * time.Second)
	want := []StaleAlert{{ID: 1, Timestamp: 1700000000000}}
	if s := e.m.StaleAlerts(); !reflect.DeepEqual(s, want) {
		t.Fatalf("after 2 intervals: %v", s)
	}
	now = now.Add(120 * time.Second)
	want = append(want, StaleAlert{ID: 3, Timestamp: 1700000000000})
	if s := e.m.StaleAlerts(); !reflect.DeepEqual(s, want) {
		t.Fatalf("disabled definition: %v", s)
	}
	// A result of "one" makes it fresh again.
	e.m.stale.ran(Result{DefinitionID: 1, Timestamp: now.UnixMilli()})
	if s := e.m.StaleAlerts(); !reflect.DeepEqual(s, []StaleAlert{{ID: 3, Timestamp: 1700000000000}}) {
		t.Fatalf("after a result: %v", s)
	}
	b, _ := json.Marshal(e.m.StaleAlerts())
	if string(b) != `[{"id":3,"timestamp":1700000000000}]` {
		t.Fatalf("json %s", b)
	}
}

// TestAlertsRunningWhileUnregisteredAreNotStale: while the agent is not
// registered no report cycle runs, but the alerts still produce results;
// they must not be listed as stale when the heartbeats resume.
func TestAlertsRunningWhileUnregisteredAreNotStale(t *testing.T) {
	const minute = 100 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.Minute = minute; c.ReportInterval = minute })
	e.link.mu.Lock()
	e.link.registered = false
	e.link.mu.Unlock()
	e.defs.set("CREATE", cluster(t, "2", "h1", map[string]any{"staleIntervalMultiplier": 2}, recoveryDef(1, "one", 1)))
	e.start()
	e.waitResult("one", 10*time.Second)
	if s := e.m.StaleAlerts(); s != nil {
		t.Fatalf("stale after its first result: %v", s)
	}
	// Six intervals, three times the stale limit, with results all along.
	if n := len(e.resultTimes("one", 6*minute)); n < 3 {
		t.Fatalf("%d results in 6 intervals", n)
	}
	if s := e.m.StaleAlerts(); s != nil {
		t.Fatalf("a definition that kept producing results is stale: %v", s)
	}
	if n := len(e.link.sent); n != 0 {
		t.Fatalf("%d reports sent while unregistered", n)
	}
}
