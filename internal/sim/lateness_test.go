package sim

import (
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func TestLatenessHistogram(t *testing.T) {
	var h latenessHistogram
	for range 98 {
		h.observe(-2 * time.Second) // early: the jittered second heartbeat
	}
	h.observe(300 * time.Millisecond)
	h.observe(12 * time.Second)
	s := h.snapshot()
	if s.P50MS != 0 || s.P99MS != 500 || s.MaxMS != 12000 {
		t.Errorf("p50 %g p99 %g max %g, want 0, 500, 12000", s.P50MS, s.P99MS, s.MaxMS)
	}
	if s.Counts[0] != 98 || s.Counts[len(s.Counts)-1] != 1 {
		t.Errorf("counts %v", s.Counts)
	}
}

// With joins batched, the topology updates of hosts that joined wait for
// the batch, but a command is never sent ahead of them: agent a learns the
// final topology (both joins, in one push) before its command arrives.
func TestBatchedJoinsAreFlushedBeforeACommand(t *testing.T) {
	s := startSim(t, joinScenario(), func(c *Config) { c.JoinBroadcastDelay = time.Hour })
	ctx := testCtx(t)
	changed := make(chan struct{}, 1)
	a, err := connectAndRegister(ctx, s.StompURL(), "batch-a", changed)
	if err != nil {
		t.Fatal(err)
	}
	defer a.conn.Close()
	for _, n := range []string{"batch-b", "batch-c"} {
		b, err := connectAndRegister(ctx, s.StompURL(), n, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.conn.Close()
	}
	final, _ := s.HostState("batch-c")
	want := final.Hashes[protocol.CacheTopology]
	if _, err := s.SendCommand("batch-a", CommandSpec{Component: "ZK_CLIENT", RoleCommand: "INSTALL"}); err != nil {
		t.Fatal(err)
	}
	for !a.has(want) {
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("the batched joins never reached batch-a although a command was sent to it")
		}
	}
}
