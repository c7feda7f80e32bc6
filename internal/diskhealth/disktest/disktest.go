// Package disktest gives tests a real small file system they can fill: a
// tmpfs mounted over a directory. Mounting needs root (the tests run as
// root here and in CI); where it is refused the test is skipped with the
// reason.
package disktest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MountTmpfs mounts a tmpfs of size (e.g. "1m") on dir, which is created,
// for the rest of the test; options are added to the mount options (e.g.
// "ro").
func MountTmpfs(t testing.TB, dir, size string, options ...string) {
	t.Helper()
	if err := TryMountTmpfs(t, dir, size, options...); err != nil {
		t.Skip(err)
	}
}

// TryMountTmpfs is MountTmpfs that returns the reason it could not mount
// instead of skipping the test.
func TryMountTmpfs(t testing.TB, dir, size string, options ...string) error {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append([]string{"size=" + size}, options...)
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", strings.Join(opts, ","), "tmpfs", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cannot mount a tmpfs on %s (needs root): %v: %s", dir, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}

// Fill writes to a file in dir until the file system is full and returns
// a function that frees the space again.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				f.Close()
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// The last partial page too.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("free %s: %v", dir, err)
		}
	}
}

// KeepFull fills dir and keeps it full, as a runaway writer on the same
// file system would: space that others free is taken again within
// milliseconds. stop frees everything.
func KeepFull(t testing.TB, dir string) (stop func()) {
	t.Helper()
	free := Fill(t, dir)
	f, err := os.OpenFile(filepath.Join(dir, "filler"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		page := make([]byte, 4096)
		for {
			if _, err := f.Write(page); err == nil {
				continue
			}
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		f.Close()
		free()
	}
}
