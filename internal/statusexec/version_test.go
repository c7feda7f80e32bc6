package statusexec

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

type versionHarness struct {
	*stack
	rep    *VersionReporter
	runner *runner
	sender *sender
	stop   func()
}

func startVersionReporter(t *testing.T, st *stack, concurrency int) *versionHarness {
	t.Helper()
	h := &versionHarness{
		stack:  st,
		runner: st.runner,
		sender: newSender(),
	}
	rep, err := NewVersionReporter(VersionConfig{
		HostName: testHost, Caches: st.store, Runner: h.runner, Sender: h.sender, Concurrency: concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.rep = rep
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rep.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once bool
	h.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("version reporter did not stop")
		}
	}
	t.Cleanup(h.stop)
	return h
}

// next returns the next version report as sorted "cluster/COMPONENT=version".
func (h *versionHarness) next(t *testing.T) []string {
	t.Helper()
	var r sent
	select {
	case r = <-h.sender.reports:
	case <-time.After(wait):
		t.Fatal("no component version report")
	}
	if r.dest != protocol.ReportsComponentVersion {
		t.Fatalf("report sent to %s", r.dest)
	}
	var rep protocol.ComponentVersionReport
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for cid, list := range rep.Clusters {
		for _, v := range list {
			if v.ClusterID != cid || v.ServiceName != service {
				t.Errorf("entry %+v under cluster %s", v, cid)
			}
			lines = append(lines, fmt.Sprintf("%s/%s=%s", cid, v.ComponentName, v.Version))
		}
	}
	slices.Sort(lines)
	return lines
}

// Only GET_VERSION runs that exit 0 with a version in their structured
// output are reported, for every component on this host, in every cluster,
// whatever is running; nothing is sent while not registered.
func TestVersionReportAfterRegistration(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE",
		cluster{id: "1", local: []string{"A", "B", "C", "D"}, remote: []string{"E"}},
		cluster{id: "2", local: []string{"F"}})
	// Versions do not depend on status_commands_to_run.
	st.clusterData(nil, "1", "2")
	for c, v := range map[string]any{"A": "3.0.1.0-187", "D": "9", "E": "1", "F": 2.5} {
		st.runner.setVersion(c, v)
	}
	st.setState("A", running)
	st.setState("B", broken)  // exit 1, no version
	st.setState("C", running) // exit 0, no version
	st.setState("D", stopped) // a version, but failed
	st.setState("E", running)
	st.setState("F", running)
	h := startVersionReporter(t, st, 2)

	h.sender.set(false, true)
	h.rep.Registered()
	select {
	case <-h.sender.refused:
	case <-time.After(wait):
		t.Fatal("the report while unregistered was not tried")
	}

	h.sender.set(true, true)
	h.rep.Registered()
	want(t, h.next(t), "1/A=3.0.1.0-187", "2/F=2.5")
	h.stop()
	h.sender.none(t)
	for _, c := range []string{"A", "B", "C", "D", "F"} {
		if got := st.calls(c); !slices.Equal(got, []string{CommandGetVersion, CommandGetVersion}) {
			t.Errorf("%s ran %v, want GET_VERSION once per registration", c, got)
		}
	}
	if got := st.calls("E"); len(got) != 0 {
		t.Errorf("component of another host ran %v", got)
	}
	if p := h.runner.peakChecks(); p > 2 {
		t.Errorf("%d GET_VERSION scripts at once, limit 2", p)
	}
}

// A newer registration cancels a report still running: only the new one
// is sent.
func TestVersionReportCancelledByNewerRegistration(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", running)
	st.setState("B", running)
	st.runner.setVersion("A", "1.0")
	st.runner.setVersion("B", "2.0")
	st.runner.hold("A")
	h := startVersionReporter(t, st, 1)

	h.rep.Registered()
	st.runner.waitCalls("A", 1)
	st.runner.setVersion("A", "1.1")
	h.rep.Registered()
	want(t, h.next(t), "1/A=1.1", "1/B=2.0")
	h.stop()
	h.sender.none(t)
	if got := st.calls("B"); len(got) != 1 {
		t.Errorf("B ran %d times; the cancelled report must not start it", len(got))
	}
}
