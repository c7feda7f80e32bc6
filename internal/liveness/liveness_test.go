package liveness

import (
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// TestUnitPastItsBoundStalls: a part that beats on schedule is still
// stalled while one unit of work is open past its own bound; an idle part
// never is.
func TestUnitPastItsBoundStalls(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1000, 0))
	reg := New(clock.Now)
	var units []time.Duration
	reg.OnUnit(func(part, what string, d time.Duration) {
		if what == "" {
			units = append(units, d)
		}
	})
	p := reg.Part("status loop", 10*time.Second)
	idle := reg.Part("action queue intake", time.Second)
	idle.Idle()
	p.Beat()
	end := p.BeginFor("STATUS of HDFS/DATANODE", 30*time.Second)
	for i := 0; i < 4; i++ {
		clock.Add(9 * time.Second)
		p.Beat()
	}
	if err := reg.Err(); err == nil || !strings.Contains(err.Error(), "STATUS of HDFS/DATANODE running for 36s (bound 30s)") {
		t.Fatalf("err %v", err)
	}
	end()
	if err := reg.Err(); err != nil {
		t.Fatal(err)
	}
	cycle := p.Begin()
	clock.Add(9 * time.Second)
	p.Beat()
	clock.Add(2 * time.Second)
	if err := reg.Err(); err == nil || !strings.Contains(err.Error(), "one unit of work running for 11s (bound 10s)") {
		t.Fatalf("a cycle open past the part's bound: %v", err)
	}
	cycle()
	if err := reg.Err(); err != nil {
		t.Fatal(err)
	}
	if len(units) != 1 || units[0] != 11*time.Second {
		t.Fatalf("unit durations %v", units)
	}
	clock.Add(time.Hour)
	if h := reg.Check(); !h[1].Idle || h[1].Stalled || !h[0].Stalled {
		t.Fatalf("%+v", h)
	}
}
