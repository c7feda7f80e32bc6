package diskhealth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/diskhealth/disktest"
)

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	if err := Probe(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("probe left %v", ents)
	}
	// A path that is a file is no directory, even for root.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if err := Probe(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("probe of a file: %v", err)
	}
	left := filepath.Join(dir, probePrefix+"0123")
	os.WriteFile(left, nil, 0o600)
	if err := ProbeAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Error("a probe file left by a crash was kept")
	}
	if err := ProbeAll(dir, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("ProbeAll: %v", err)
	}
}

func TestProbeFullAndReadOnly(t *testing.T) {
	full := filepath.Join(t.TempDir(), "full")
	disktest.MountTmpfs(t, full, "256k")
	free := disktest.Fill(t, full)
	err := Probe(full)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), full) {
		t.Errorf("probe of a full file system: %v", err)
	}
	free()
	if err := Probe(full); err != nil {
		t.Errorf("probe after freeing: %v", err)
	}

	ro := filepath.Join(t.TempDir(), "ro")
	disktest.MountTmpfs(t, ro, "256k", "ro")
	if err := Probe(ro); !errors.Is(err, syscall.EROFS) {
		t.Errorf("probe of a read-only file system: %v", err)
	}
}

// A write error marks the agent degraded until a probe of the data dir
// succeeds again.
func TestMonitor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	disktest.MountTmpfs(t, dir, "256k")
	m := &Monitor{Dir: dir, Recheck: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if d, _, _ := m.Degraded(); d {
		t.Fatal("degraded from the start")
	}
	free := disktest.Fill(t, dir)
	m.WriteFailed(Probe(dir))
	d, reason, _ := m.Degraded()
	if !d || !strings.Contains(reason, "no space left") {
		t.Fatalf("after a failed write: degraded %t, %q", d, reason)
	}
	free()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d, _, _ := m.Degraded(); !d {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still degraded after the disk was freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
