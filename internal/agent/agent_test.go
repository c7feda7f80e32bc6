package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/logging"
)

func TestDataCleaner(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, size int, age time.Duration) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-age)
		os.Chtimes(p, mt, mt)
		return p
	}
	old := write("output-1.txt", 10, 48*time.Hour)
	oldBackup := write("sub/errors-2.txt.0", 10, 48*time.Hour)
	keepVersion := write("version", 10, 48*time.Hour)
	keepHostcheck := write("hostcheck.result", 10, 48*time.Hour)
	keepStatus := write("status_command_stdout_x.txt", 10, 48*time.Hour)
	a := write("command-3.json", 400, 3*time.Hour)
	b := write("structured-out-4.json", 400, 2*time.Hour)
	c := write("auto_output-5.txt", 400, time.Hour)

	d := &DataCleaner{Dir: dir, MaxAge: 24 * time.Hour, MaxSize: 900, Log: logging.Discard(), now: func() time.Time { return now }}
	d.Clean()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, p := range []string{old, oldBackup, a} {
		if exists(p) {
			t.Errorf("%s should have been deleted", p)
		}
	}
	for _, p := range []string{keepVersion, keepHostcheck, keepStatus, b, c} {
		if !exists(p) {
			t.Errorf("%s should have been kept", p)
		}
	}
}

type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.order = append(r.order, s); r.mu.Unlock() }

func TestGroupStopsInReverseOrder(t *testing.T) {
	rec := &recorder{}
	g := group{log: logging.Discard()}
	for _, name := range []string{"link", "queue", "status"} {
		g.add(name, ComponentFunc(func(ctx context.Context) error {
			<-ctx.Done()
			rec.add(name)
			return nil
		}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.run(ctx, func() time.Duration { return 5 * time.Second }) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.order) != "[status queue link]" {
		t.Fatalf("stop order %v", rec.order)
	}
}

func TestGroupFailingComponentStopsAllAndHungOneIsAbandoned(t *testing.T) {
	g := group{log: logging.Discard()}
	boom := errors.New("boom")
	g.add("hung", ComponentFunc(func(ctx context.Context) error { select {} }))
	g.add("panics", ComponentFunc(func(ctx context.Context) error { panic("bad") }))
	g.add("fails", ComponentFunc(func(ctx context.Context) error {
		time.Sleep(20 * time.Millisecond)
		return boom
	}))
	start := time.Now()
	err := g.run(context.Background(), func() time.Duration { return 300 * time.Millisecond })
	if err == nil {
		t.Fatal("no error")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("stop not bounded: %s", time.Since(start))
	}
}

func TestAgentRestartRequest(t *testing.T) {
	a := &Agent{log: logging.Discard(), restart: newRestartRequest()}
	a.group.log = a.log
	a.group.add("idle", ComponentFunc(func(ctx context.Context) error { <-ctx.Done(); return nil }))
	go func() {
		time.Sleep(20 * time.Millisecond)
		a.RequestRestart("test")
		a.RequestRestart("second request is ignored")
	}()
	if err := a.Run(context.Background()); !errors.Is(err, ErrRestart) {
		t.Fatalf("Run = %v, want ErrRestart", err)
	}
}

func TestRestartDelayGrowsAndIsCapped(t *testing.T) {
	var got []time.Duration
	for n := 0; n < 10; n++ {
		got = append(got, restartDelay(n))
	}
	if got[0] != 0 || got[restartBurst-1] != 0 || got[restartBurst] != restartMinDelay || got[restartBurst+1] != 2*restartMinDelay {
		t.Fatalf("delays %v", got)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) || got[9] != restartMaxDelay {
		t.Fatalf("delays %v", got)
	}
}
