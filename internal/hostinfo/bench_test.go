package hostinfo

import (
	"context"
	"strconv"
	"testing"
)

// Costs on the machine running the benchmarks. Host status runs the cheap
// AgentEnv and Mounts every state_interval_seconds (60 s); HardwareProfile
// runs once per process.

func benchHostInfo(parallelism int) *HostInfo {
	return New(Config{EC2MetadataURL: "-", ProbeParallelism: parallelism})
}

func BenchmarkAgentEnvCheap(b *testing.B) {
	h := benchHostInfo(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.AgentEnv(ctx, false)
	}
}

// The same checks one at a time, to show what running them concurrently buys.
func BenchmarkAgentEnvCheapSequential(b *testing.B) {
	h := benchHostInfo(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.AgentEnv(ctx, false)
	}
}

func BenchmarkAgentEnvRegistration(b *testing.B) {
	h := New(Config{EC2MetadataURL: "-", Prefix: b.TempDir()})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.WriteHostCheckResult(h.AgentEnv(ctx, true)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMounts(b *testing.B) {
	h := benchHostInfo(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Mounts(ctx)
	}
}

func BenchmarkHostStatus(b *testing.B) {
	h := benchHostInfo(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.HostStatus(ctx)
	}
}

// First call in a process: everything is collected.
func BenchmarkHardwareProfile(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		benchHostInfo(0).HardwareProfile(ctx)
	}
}

func BenchmarkHardwareProfileSequential(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		benchHostInfo(1).HardwareProfile(ctx)
	}
}

// Every later call (re-registration): a copy of the cached profile.
func BenchmarkHardwareProfileCached(b *testing.B) {
	h := benchHostInfo(0)
	ctx := context.Background()
	h.HardwareProfile(ctx)
	b.ReportAllocs()
	for b.Loop() {
		h.HardwareProfile(ctx)
	}
}

func BenchmarkParseDF(b *testing.B) {
	data := fixture(b, "df.txt")
	b.ReportAllocs()
	for b.Loop() {
		parseDF(data)
	}
}

func BenchmarkSameHostStatus(b *testing.B) {
	h := benchHostInfo(0)
	ctx := context.Background()
	x, y := h.HostStatus(ctx), h.HostStatus(ctx)
	b.ReportAllocs()
	for b.Loop() {
		SameHostStatus(x, y)
	}
}

// A host where every external check takes 50 ms (a busy systemd, a slow
// name service): here running the checks concurrently pays off most.
func BenchmarkAgentEnvSlowTools(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run("parallelism="+strconv.Itoa(par), func(b *testing.B) {
			f := newFixtureHost(b)
			script(b, f.bin, "systemctl", `sleep 0.05; case "$1 $2" in "status chronyd") exit 0;; esac; exit 3`)
			cfg := f.config(b)
			cfg.Log = nil
			cfg.ProbeParallelism = par
			cfg.AgentConfig = staticAgentConfig(map[string]string{keyJavaHome: f.bin})
			script(b, f.bin+"/bin", "java", `sleep 0.05; exit 0`)
			h := New(cfg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h.AgentEnv(ctx, false)
			}
		})
	}
}
