package sim

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// BenchmarkHold holds many registered hosts against one simulator, as a
// scale test does: every host joins the cluster (each join is pushed to
// all the others), then heartbeats every 10 s and sends a component status
// report every 20 s, while the control API is asked for the metrics and
// the host list every second. One iteration is one whole run:
//
//	SIM_HOLD_HOSTS=2000 SIM_HOLD_SECONDS=60 go test -run '^$' -bench Hold -benchtime 1x ./internal/sim/
//
// It reports the registration time, the heartbeat lateness the simulator
// saw during the hold (p99 bucket bound and max), the slowest control API
// answer and the heap in use.
func BenchmarkHold(b *testing.B) {
	hosts := envInt("SIM_HOLD_HOSTS", 200)
	hold := time.Duration(envInt("SIM_HOLD_SECONDS", 30)) * time.Second
	for range b.N {
		holdOnce(b, hosts, hold)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func holdOnce(b *testing.B, n int, hold time.Duration) {
	s := startSim(b, joinScenario(), func(c *Config) { c.JoinBroadcastDelay = 200 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The control API answers throughout.
	var apiMax atomic.Int64
	var apiErrs atomic.Int64
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, p := range []string{"/api/v1/metrics", "/api/v1/hosts"} {
				t0 := time.Now()
				resp, err := http.Get(s.APIURL() + p)
				if err != nil || resp.StatusCode != http.StatusOK {
					apiErrs.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				if d := int64(time.Since(t0)); d > apiMax.Load() {
					apiMax.Store(d)
				}
			}
		}
	}()

	// Each host beats every 10 s from its registration on, as an agent
	// does, and sends a status report every other beat.
	beatCtx, stopBeats := context.WithCancel(ctx)
	defer stopBeats()
	var hbErrs atomic.Int64
	var hw sync.WaitGroup
	report := []byte(`{"clusters":{"2":[{"serviceName":"ZK","componentName":"ZK_CLIENT","command":"STATUS","status":"INSTALLED","clusterId":"2"}]}}`)
	beat := func(a *lightAgent) {
		defer hw.Done()
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-beatCtx.Done():
				return
			case <-t.C:
			}
			if err := a.heartbeat(beatCtx); err != nil && beatCtx.Err() == nil {
				hbErrs.Add(1)
			}
			if n%2 == 0 {
				if _, err := a.conn.Request(beatCtx, protocol.ReportsComponentStatus, report); err != nil && beatCtx.Err() == nil {
					hbErrs.Add(1)
				}
			}
			t.Reset(10 * time.Second)
		}
	}

	start := time.Now()
	agents := make([]*lightAgent, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := connectAndRegister(ctx, s.StompURL(), fmt.Sprintf("hold-%04d", i), nil)
			if err != nil {
				failed.Add(1)
				b.Log(err)
				return
			}
			agents[i] = a
			hw.Add(1)
			go beat(a)
		}()
	}
	wg.Wait()
	regTime := time.Since(start)
	defer func() {
		for _, a := range agents {
			if a != nil {
				a.conn.Close()
			}
		}
	}()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d registrations failed", failed.Load(), n)
	}

	before := s.Metrics().HeartbeatLateness
	select {
	case <-time.After(hold):
	case <-ctx.Done():
	}
	stopBeats()
	hw.Wait()
	after := s.Metrics()
	cancel()
	<-apiDone

	late := diffLateness(before, after.HeartbeatLateness)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(regTime.Seconds(), "register-all-s")
	b.ReportMetric(late.P99MS, "hb-p99-late-ms")
	b.ReportMetric(after.HeartbeatLateness.MaxMS, "hb-max-late-ms")
	b.ReportMetric(float64(apiMax.Load())/1e6, "api-max-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.Logf("%d hosts: registered in %s; during %s: %d heartbeats late p50<=%gms p99<=%gms; API slowest %s, %d API errors, %d heartbeat/report errors; registered now %d",
		n, regTime.Round(time.Millisecond), hold, sum(late.Counts), late.P50MS, late.P99MS,
		time.Duration(apiMax.Load()).Round(time.Millisecond), apiErrs.Load(), hbErrs.Load(), after.RegisteredHosts)
	if hbErrs.Load() > 0 || apiErrs.Load() > 0 || after.RegisteredHosts < n {
		b.Errorf("the simulator did not keep up: %d heartbeat/report errors, %d API errors, %d of %d hosts registered",
			hbErrs.Load(), apiErrs.Load(), after.RegisteredHosts, n)
	}
}

// diffLateness is the histogram of what happened between two snapshots.
func diffLateness(before, after HeartbeatLateness) HeartbeatLateness {
	var h latenessHistogram
	for i := range after.Counts {
		h.counts[i].Store(after.Counts[i] - before.Counts[i])
	}
	return h.snapshot()
}

func sum(c []uint64) (n uint64) {
	for _, v := range c {
		n += v
	}
	return n
}
