package actionqueue

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// finalSender acknowledges everything and signals each message holding a
// final report.
type finalSender struct{ finals chan struct{} }

func (s *finalSender) Request(ctx context.Context, dest string, body []byte) ([]byte, error) {
	if bytes.Contains(body, []byte(`"status":"COMPLETED"`)) || bytes.Contains(body, []byte(`"status":"FAILED"`)) {
		s.finals <- struct{}{}
	}
	return []byte(`{"status":"OK"}`), nil
}

// timedRunner notes when the queue hands a command to the orchestrator and
// when the orchestrator returns.
type timedRunner struct {
	Runner
	entered, returned chan time.Time
}

func (r *timedRunner) Run(ctx context.Context, req orchestrator.Request) orchestrator.Result {
	r.entered <- time.Now()
	res := r.Runner.Run(ctx, req)
	r.returned <- time.Now()
	return res
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIntakeToExec measures the agent-side latency of a command over
// 200 commands: from Intake to the queue calling the orchestrator
// (queue-p50/p99: dispatch plus the journaled, fsynced IN_PROGRESS
// report), and from Intake to the orchestrator returning with /bin/true as
// the interpreter (exec-p50/p99: adds building the command JSON, writing
// command-N.json, opening the output files, fork/exec and wait of a
// process that does nothing).
func BenchmarkIntakeToExec(b *testing.B) {
	root := b.TempDir()
	testutil.CopyTree(b, "testdata/resources", filepath.Join(root, "cache"))
	store := cache.Open("", nil)
	applyCaches(b, store)
	orch, err := orchestrator.New(orchestrator.Config{
		Prefix: filepath.Join(root, "data"), CacheDir: filepath.Join(root, "cache"), TmpDir: root,
		Python: "/bin/true", Caches: orchestrator.NewCacheSource(store, hostName), Log: testutil.DiscardLog(),
	})
	if err != nil {
		b.Fatal(err)
	}
	tr := &timedRunner{Runner: orch, entered: make(chan time.Time, 1), returned: make(chan time.Time, 1)}
	sender := &finalSender{finals: make(chan struct{}, 1)}
	q, err := New(Config{Runner: tr, Sender: sender, Prefix: filepath.Join(root, "data"), Log: testutil.DiscardLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer runQueue(b, q)()

	const n = 200
	var toQueue, toExec []time.Duration
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		toQueue, toExec = toQueue[:0], toExec[:0]
		for i := 0; i < n; i++ {
			body := message(clusterMsg{id: "-1", commands: []map[string]any{cmd(round*n+i+1, "-1", nil)}})
			start := time.Now()
			if err := q.Intake(body); err != nil {
				b.Fatal(err)
			}
			toQueue = append(toQueue, (<-tr.entered).Sub(start))
			toExec = append(toExec, (<-tr.returned).Sub(start))
			<-sender.finals
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(toQueue, 0.5).Microseconds()), "queue-p50-µs")
	b.ReportMetric(float64(percentile(toQueue, 0.99).Microseconds()), "queue-p99-µs")
	b.ReportMetric(float64(percentile(toExec, 0.5).Microseconds()), "exec-p50-µs")
	b.ReportMetric(float64(percentile(toExec, 0.99).Microseconds()), "exec-p99-µs")
}

// BenchmarkCommandOverhead is the queue's own cost per command, script and
// orchestrator excluded: intake, dispatch, both reports (with and without
// the journal), sending and acknowledgement.
func BenchmarkCommandOverhead(b *testing.B) {
	for _, journal := range []bool{false, true} {
		b.Run(fmt.Sprintf("journal=%t", journal), func(b *testing.B) {
			prefix := ""
			if journal {
				prefix = b.TempDir()
			}
			sender := &finalSender{finals: make(chan struct{}, 1)}
			q, err := New(Config{Runner: &fakeRunner{}, Sender: sender, Prefix: prefix, Log: testutil.DiscardLog()})
			if err != nil {
				b.Fatal(err)
			}
			defer runQueue(b, q)()
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = message(clusterMsg{id: "-1", commands: []map[string]any{cmd(i+1, "-1", nil)}})
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := q.Intake(bodies[i]); err != nil {
					b.Fatal(err)
				}
				<-sender.finals
			}
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkIdleReportCycle is the periodic cycle with nothing pending.
func BenchmarkIdleReportCycle(b *testing.B) {
	s, err := newStatusStore(storeConfig{maxEntries: 10, sender: &finalSender{}, log: logrus.NewEntry(logrus.New())})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.sendPending(ctx, true)
	}
}
