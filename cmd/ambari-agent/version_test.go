package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --version prints the Ambari version from <prefix>/version, which the
// agent registers with, then the build.
func TestVersionFromVersionFile(t *testing.T) {
	h := newHome(t, freePort(t))
	vf := filepath.Join(h, "var/lib/ambari-agent/data/version")
	os.MkdirAll(filepath.Dir(vf), 0o755)
	os.WriteFile(vf, []byte("2.7.8.0.0\n"), 0o644)
	out := expectCode(t, 0, "--version", "--home", h)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "2.7.8.0.0" || !strings.HasPrefix(lines[1], "ambari-agent-go ") || !strings.Contains(lines[1], "(build ") {
		t.Errorf("--version printed:\n%s", out)
	}
}

// Without <prefix>/version, start says plainly that a real server will
// refuse the registration and which file to create, and still starts
// (ambari-sim accepts any version).
func TestStartWarnsWithoutVersionFile(t *testing.T) {
	h := newHome(t, freePort(t))
	vf := filepath.Join(h, "var/lib/ambari-agent/data/version")
	out := expectCode(t, 0, "start", "--home", h)
	if !strings.Contains(out, "WARNING: "+vf+" is missing") || !strings.Contains(out, "a real Ambari server refuses") {
		t.Errorf("start without %s:\n%s", vf, out)
	}
	// The daemon logged it before it reported that it had started.
	log, _ := os.ReadFile(filepath.Join(h, "var/log/ambari-agent/ambari-agent.log"))
	if !strings.Contains(string(log), vf+" is missing") || !strings.Contains(string(log), "a real Ambari server refuses") {
		t.Errorf("the log does not say that %s is missing:\n%s", vf, log)
	}
	out = expectCode(t, 0, "--version", "--home", h)
	if !strings.Contains(out, vf+" is missing") {
		t.Errorf("--version without %s:\n%s", vf, out)
	}
}
