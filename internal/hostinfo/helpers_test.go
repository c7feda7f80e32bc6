package hostinfo

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// writeFile creates path (and its parents) with data.
func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// fakeBin puts a fresh directory first on PATH and returns it; scripts
// written there shadow the host's tools (systemctl, df, ...) for this test.
func fakeBin(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// script writes an executable shell script.
func script(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	writeFile(t, p, "#!/bin/sh\n"+body+"\n", 0o755)
	return p
}

// testLog returns a logger that writes into the test output.
func testLog(t testing.TB) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(l).WithField("component", "hostinfo")
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// staticAgentConfig returns an AgentConfig accessor for a fixed map.
func staticAgentConfig(m map[string]string) func() map[string]string {
	return func() map[string]string { return m }
}

// jsonKeys returns the sorted keys of a JSON object.
func jsonKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// pythonFacts asks the host's Python for the facts the Python agent derives
// from its standard library, to compare with ours.
func pythonFacts(t *testing.T) map[string]any {
	t.Helper()
	const prog = `
import json, os, platform, time, getpass, socket
fqdn = socket.getfqdn().lower()
try:
    ip = socket.gethostbyname(fqdn)
except OSError:
    ip = ""
u = os.umask(0); os.umask(u)
print(json.dumps({"cpu": os.cpu_count(), "release": platform.release(), "system": platform.system(),
  "machine": platform.machine(), "tz": time.tzname[time.daylight - 1], "user": getpass.getuser(),
  "fqdn": fqdn, "ip": ip, "umask": str(u)}))
`
	out, err := exec.Command("python3", "-c", prog).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("python3 output %q: %v", out, err)
	}
	return m
}

// waitGone waits until pid no longer exists.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscallKill0(pid); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d still running", pid)
}

// syscallKill0 fails once pid is gone or a zombie (a container's init may
// never reap it).
func syscallKill0(pid int) error {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return err
	}
	// state follows the parenthesised command name
	if i := bytes.LastIndexByte(data, ')'); i > 0 && i+2 < len(data) && data[i+2] == 'Z' {
		return errors.New("zombie")
	}
	return nil
}
