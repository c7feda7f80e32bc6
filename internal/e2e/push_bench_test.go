package e2e

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
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
// just before the flood. The benchmark fails if the session had to be
// re-established meanwhile. Inbound pushes wait in the STOMP client's queues,
// whose byte bound (docs/architecture.md, "Concurrency and memory") keeps the peak
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
	// Built first, so that the test process is quiet while it measures.
	frames := make([][]byte, pushFloodCount)
	for i := range frames {
		frames[i] = bigConfigsFrame(strconv.FormatInt(sc.Clusters[0].ID, 10), i, pushFloodSize)
	}
	debug.FreeOSMemory()
	s := startSim(b, sc, nil)
	a := newAgent(b, s, fmt.Sprintf("e2e-push-flood-%d", time.Now().UnixNano()), nil)
	a.bin = plainBin
	ctx, _ := a.StartReady(s, 10*time.Minute)
	const (
		applied    = "configurations cache updated"
		registered = "Registered with the Ambari server"
	)
	before := strings.Count(a.Log(), applied)
	sessions := strings.Count(a.Log(), registered)
	idleKB = rss(a.Pid())

	b.StartTimer()
	// Raw frames: the simulator's own configuration pushes re-encode the
	// model under its lock, which would pace the flood (and delay its
	// heartbeat replies) more than the agent does.
	for _, f := range frames {
		if err := s.SendRaw(a.Name, f); err != nil {
			b.Fatal(err)
		}
	}
	for strings.Count(a.Log(), applied) < before+pushFloodCount {
		if ctx.Err() != nil || !alive(a.Pid()) {
			b.Fatalf("%d of %d pushes applied", strings.Count(a.Log(), applied)-before, pushFloodCount)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	// Heartbeat replies waited behind the pushes; the session held.
	if n := strings.Count(a.Log(), registered); n != sessions {
		b.Errorf("the agent registered %d times during the flood", n-sessions)
	}
	return vmHWM(b, a.Pid()), idleKB
}

// bigConfigsFrame is a STOMP MESSAGE on /user/configs of about size bytes
// for cluster cid: one configuration type of 1 KiB properties, different
// in every push.
func bigConfigsFrame(cid string, seq, size int) []byte {
	value := strings.Repeat(strconv.Itoa(seq%10), 1000)
	var body strings.Builder
	fmt.Fprintf(&body, `{"timestamp":%d,"hash":"flood-%d","clusters":{%q:{"configurationAttributes":{},"configurations":{"flood-site":{`,
		time.Now().UnixMilli()+int64(seq), seq, cid)
	for i := 0; i < size/1024; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"property.%d":%q`, i, value)
	}
	body.WriteString(`}}}}}`)
	return fmt.Appendf(nil, "MESSAGE\ndestination:%s\ncontent-type:application/json\nsubscription:sub\nmessage-id:flood-%d\ncontent-length:%d\n\n%s\x00",
		protocol.UserConfigs, seq, body.Len(), body.String())
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
