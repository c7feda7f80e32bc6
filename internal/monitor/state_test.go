package monitor

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/liveness"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// statusState builds the state a daemon writes, through the real
// registry, state file and clock arithmetic.
func statusState(t *testing.T, registered, stall, degraded bool) (*State, time.Time) {
	t.Helper()
	start := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	clock := testutil.NewClock(start)
	reg := liveness.New(clock.Now)
	link := reg.Part("server link", 3*time.Minute)
	hb := reg.Part("heartbeat sending", 30*time.Second)
	loop := reg.Part("status loop", 15*time.Minute+40*time.Second)
	intake := reg.Part("action queue intake", time.Minute)
	intake.Idle()
	m := New(Config{Liveness: reg, Now: clock.Now, Base: State{Pid: 4242, Version: "2.7.8.0", Build: "1a2b3c4", Started: start},
		State: func(st *State) {
			st.Components, st.PendingReports = 12, 2
			if degraded {
				st.Degraded = "cannot write to /var/lib/ambari-agent/data: no space left on device"
			}
		}}, link, hb)
	m.Connecting("c6401.ambari.apache.org")
	clock.Add(3 * time.Second)
	m.Registered("c6401.ambari.apache.org")
	loop.Beat()
	var end func()
	if stall {
		end = loop.BeginFor("STATUS of HDFS/DATANODE", 15*time.Minute+40*time.Second)
	}
	for clock.Now().Sub(start) < 2*time.Hour {
		clock.Add(10 * time.Second)
		m.HeartbeatAcked(5*time.Millisecond, 0)
		loop.Beat()
	}
	if !registered {
		m.Disconnected("c6401.ambari.apache.org", errors.New("dial tcp 10.0.0.1:8441: connect: connection refused"), 8*time.Second)
		clock.Add(95 * time.Second)
		m.Connecting("c6401.ambari.apache.org")
		m.Disconnected("c6401.ambari.apache.org", errors.New("dial tcp 10.0.0.1:8441: connect: connection refused"), 16*time.Second)
	}
	path := filepath.Join(t.TempDir(), StateFile("ambari-agent.pid"))
	if err := WriteState(path, m.snapshot()); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = end
	return st, clock.Now().Add(4 * time.Second)
}

// TestStatusGolden: what `ambari-agent status` prints of a running agent
// while registered, while its server is unreachable, and with a stalled
// part; -v adds the per-part table.
func TestStatusGolden(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		registered, stall, degraded bool
	}{
		{"registered", true, false, false},
		{"disconnected", false, false, false},
		{"stalled", true, true, false},
		{"degraded", true, false, true},
	} {
		for _, verbose := range []bool{false, true} {
			name := tc.name
			if verbose {
				name += "-v"
			}
			t.Run(name, func(t *testing.T) {
				st, now := statusState(t, tc.registered, tc.stall, tc.degraded)
				var b bytes.Buffer
				PrintStatus(&b, st, now, verbose)
				golden := filepath.Join("testdata", "status-"+name+".golden")
				if *update {
					os.MkdirAll("testdata", 0o755)
					if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("status output differs from %s:\n--- got\n%s--- want\n%s", golden, b.Bytes(), want)
				}
			})
		}
	}
}

// TestStatusNamesAStaleStateFile: a state file nobody rewrote for a while
// is said to be old, since the daemon may be hung.
func TestStatusNamesAStaleStateFile(t *testing.T) {
	st, now := statusState(t, true, false, false)
	var b bytes.Buffer
	PrintStatus(&b, st, now.Add(5*time.Minute), false)
	if !bytes.Contains(b.Bytes(), []byte("WARNING: this state was written 5m04s ago; the agent may be hung")) {
		t.Fatalf("%s", b.Bytes())
	}
}
