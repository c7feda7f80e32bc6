package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// BenchmarkConfigPushFlood measures the agent's peak memory while the
// server pushes pushFloodCount configuration snapshots of pushFloodSize
// each, back to back, faster than the agent applies them. One op is one
// flood against a freshly started non-race agent:
//
//	go test -run '^$' -bench BenchmarkConfigPushFlood -benchtime 1x ./internal/e2e/
//
// peak-RSS-MB is the agent's VmHWM (the kernel's high-water mark of its
// resident set) once every push has been applied; idle-RSS-MB is VmRSS
// just before the flood. Inbound pushes wait in the STOMP client's queues,
// whose byte bound (docs/architecture.md, "Memory") is what keeps the peak
// flat however many pushes are in flight.
func BenchmarkConfigPushFlood(b *testing.B) {
	for i := 0; i < b.N; i++ {
		peak, idle := pushFlood(b)
		b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(idle)/1024, "idle-RSS-MB")
	}
}

const (
	pushFloodCount = 20
	pushFloodSize  = 15 << 20
)

func pushFlood(b *testing.B) (peakKB, idleKB int) {
	b.StopTimer()
	sc := demoScenario(b)
	s := startSim(b, sc, nil)
	a := newAgent(b, s, fmt.Sprintf("e2e-push-flood-%d", time.Now().UnixNano()), nil)
	a.bin = plainBin
	a.Start()
	ctx := ctxFor(b, 10*time.Minute)
	if _, err := s.WaitReady(ctx, a.Name); err != nil {
		b.Fatal(err)
	}
	const applied = "configurations cache updated"
	before := strings.Count(a.Log(), applied)
	idleKB = rss(a.Pid())

	bodies := make([]json.RawMessage, pushFloodCount)
	for i := range bodies {
		bodies[i] = bigConfigs(strconv.FormatInt(sc.Clusters[0].ID, 10), i, pushFloodSize)
	}
	b.StartTimer()
	for _, body := range bodies {
		if n, err := s.Push(sim.Push{Topic: protocol.UserConfigs, Host: a.Name, Body: body}); err != nil || n != 1 {
			b.Fatalf("push: delivered to %d sessions: %v", n, err)
		}
	}
	for strings.Count(a.Log(), applied) < before+pushFloodCount {
		if ctx.Err() != nil || !alive(a.Pid()) {
			b.Fatalf("%d of %d pushes applied", strings.Count(a.Log(), applied)-before, pushFloodCount)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	return vmHWM(b, a.Pid()), idleKB
}

// bigConfigs is a /user/configs body of about size bytes for cluster cid:
// one configuration type of 1 KiB properties, different in every push.
func bigConfigs(cid string, seq, size int) json.RawMessage {
	value := strings.Repeat(strconv.Itoa(seq%10), 1000)
	props := make(map[string]string, size/1024)
	for i := 0; i < size/1024; i++ {
		props["property."+strconv.Itoa(i)] = value
	}
	body, _ := json.Marshal(map[string]any{"clusters": map[string]any{
		cid: map[string]any{
			"configurations":          map[string]any{"flood-site": props},
			"configurationAttributes": map[string]any{},
		},
	}})
	return body
}

// vmHWM returns a process's peak resident set size in kB.
func vmHWM(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
