package orchestrator

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// benchEnv runs commands whose "interpreter" is true(1): the process does
// nothing, so what is measured is the agent's own work around a script.
func benchEnv(b *testing.B) (*env, map[string]any) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, func(c *Config) { c.Python = truePath; c.RetentionPolicy = RetentionRemove })
	// Without a hooks folder, as for most commands of a real stack.
	h := header(b, 1, "TESTKIT", "X", "START", testkitParams("dump_env.py", 60, nil), nil)
	return e, h
}

// BenchmarkRunTrivialCommand is the whole Run: build and write the command,
// start the process, wait for it, read the outputs, clean up.
func BenchmarkRunTrivialCommand(b *testing.B) {
	e, h := benchEnv(b)
	req := e.request(h)
	// Appending: overwriting the same task's files again and again would
	// pile up backups, which no real task does.
	req.Overwrite = false
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := e.orch.Run(context.Background(), req); res.ExitCode != 0 {
			b.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
		}
	}
}

// BenchmarkRunToExec measures from the Run call to the script's process
// having been exec'd (Start returns once exec succeeded).
func BenchmarkRunToExec(b *testing.B) {
	e, h := benchEnv(b)
	req := e.request(h)
	s := &runSpec{header: req.Command, out: req.OutFile, err: req.ErrFile, overwrite: true}
	var total time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p, err := e.orch.prepare(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		cmd, err := e.orch.start(p, p.chain[0], s.out, s.err, true, false)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		cmd.Wait()
		os.Remove(p.jsonPath)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-to-exec/op")
}

// BenchmarkBuildCommand is the pure part: caches + header -> full command.
func BenchmarkBuildCommand(b *testing.B) {
	e, h := benchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := buildCommand(e.orch.cfg.Caches, h, e.orch.agentParams()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTailOutputFile is one periodic IN_PROGRESS read of a 10 MB output.
func BenchmarkTailOutputFile(b *testing.B) {
	path := b.TempDir() + "/out.txt"
	line := []byte("a line of script output that is reasonably long for a log line\n")
	f, _ := os.Create(path)
	for n := 0; n < 10<<20; n += len(line) {
		f.Write(line)
	}
	f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		TailOutputFile(path, 900000)
	}
}

// BenchmarkStatusRun is one status check around a process that does
// nothing: the agent's own cost of a check, which the status loop pays
// for every component every cycle.
func BenchmarkStatusRun(b *testing.B) {
	e, _ := benchEnv(b)
	req := StatusRequest{ClusterID: clusterID, ServiceName: "DEMO", ComponentName: "DEMO_SERVER"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := e.orch.Status(context.Background(), req); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}
