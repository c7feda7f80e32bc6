// Package testutil holds helpers shared by the tests of several packages:
// the Python interpreter the stack scripts run under, copies of fixture
// trees, waiting for a condition, and a clock that only the test moves.
//
// Only _test.go files import it.
package testutil

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// Wait bounds every wait of these helpers: generous, so that a loaded
// machine does not fail a test that would pass.
const Wait = 20 * time.Second

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// Python returns the real interpreter behind python3 (not a wrapper such
// as a pyenv shim), so tests see exactly what the scripts run under. A
// missing python3 fails the test: it is a requirement, not a reason to skip.
func Python(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() {
		var out []byte
		out, pythonErr = exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		pythonPath = strings.TrimSpace(string(out))
	})
	if pythonErr != nil || pythonPath == "" {
		t.Fatalf("python3 is required: %v", pythonErr)
	}
	return pythonPath
}

// CopyTree copies the directory src into dst, leaving out __pycache__, so
// that scripts and their byte code never touch the repository.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ReadFile returns the file's content, failing the test if it cannot be
// read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// WaitFor waits until cond holds, for something that happens
// asynchronously and has no event to wait on; it fails the test after
// Wait.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// DiscardLog is a logger that writes nowhere.
func DiscardLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
