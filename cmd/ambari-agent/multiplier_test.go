package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The multiplier makes the homes from --home's template, starts every
// agent, leaves running ones alone on a second start, reports them, stops
// them, and refuses a home it did not make.
func TestMultiplierStartStatusStop(t *testing.T) {
	tpl := newHome(t, freePort(t))
	// Ping ports are 5000+index: pick a start whose ports are free now.
	start := freePort(t) - 5000
	for start < 1 || start+2+5000 > 65535 || !portsFree(t, start+5000, 3) {
		start = freePort(t) - 5000
	}
	conf := filepath.Join(tpl, "etc/ambari-agent/conf/agent-multiplier.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("start=%d\nnum=3\nprefix=Scale\n", start)), 0o644)
	root := t.TempDir()
	args := func(action string) []string {
		return []string{"multiplier", action, "--home", tpl, "--home-root", root, "--no-etc-hosts"}
	}
	hosts := []string{fmt.Sprintf("scale-%04d", start), fmt.Sprintf("scale-%04d", start+1), fmt.Sprintf("scale-%04d", start+2)}
	t.Cleanup(func() { agentCmd(t, args("stop")...) })

	out := expectCode(t, 0, args("start")...)
	if !strings.Contains(out, "started: 3") {
		t.Fatalf("start:\n%s", out)
	}
	for _, h := range hosts {
		name, err := os.ReadFile(filepath.Join(root, h, "etc/ambari-agent/conf/hostname.sh"))
		if err != nil || !strings.HasSuffix(string(name), "echo "+h) {
			t.Errorf("%s hostname.sh: %q %v", h, name, err)
		}
		expectCode(t, 0, "status", "--home", filepath.Join(root, h))
	}
	if out := expectCode(t, 0, args("start")...); !strings.Contains(out, "already running: 3") {
		t.Fatalf("second start:\n%s", out)
	}
	if out := expectCode(t, 0, args("status")...); !strings.Contains(out, "running: 3") {
		t.Fatalf("status:\n%s", out)
	}
	if out := expectCode(t, 0, args("stop")...); !strings.Contains(out, "stopped: 3") {
		t.Fatalf("stop:\n%s", out)
	}
	if out := expectCode(t, 1, args("status")...); !strings.Contains(out, "not running: 3") {
		t.Fatalf("status after stop:\n%s", out)
	}

	// Someone else's home under the root is not taken over.
	other := filepath.Join(root, hosts[1])
	os.Remove(filepath.Join(other, ".ambari-agent-multiplier"))
	out = expectCode(t, 1, args("start")...)
	if !strings.Contains(out, "started: 2") || !strings.Contains(out, "FAILED "+hosts[1]+": home "+other) || !strings.Contains(out, "--force") {
		t.Fatalf("start over a foreign home:\n%s", out)
	}
}

func portsFree(t *testing.T, first, n int) bool {
	for p := first; p < first+n; p++ {
		if !portFree(p) {
			return false
		}
	}
	return true
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// `multiplier run` runs every host in one process, which holds its own pid
// file (a second run over the same homes is refused) and each host's ping
// port (`start` of one of its hosts is refused); SIGTERM stops it all and
// removes the pid file. No server is needed: the agents keep trying to
// reach it.
func TestMultiplierRunOneProcess(t *testing.T) {
	tpl := newHome(t, freePort(t))
	start := freePort(t) - 5000
	for start < 1 || start+1+5000 > 65535 || !portsFree(t, start+5000, 2) {
		start = freePort(t) - 5000
	}
	conf := filepath.Join(tpl, "etc/ambari-agent/conf/agent-multiplier.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("start=%d\nnum=2\nprefix=one\n", start)), 0o644)
	root := t.TempDir()
	args := []string{"multiplier", "run", "--home", tpl, "--home-root", root, "--no-etc-hosts"}
	cmd := exec.Command(agentBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })

	hosts := []string{fmt.Sprintf("one-%04d", start), fmt.Sprintf("one-%04d", start+1)}
	pidFile := filepath.Join(root, "ambari-agent-multiplier.pid")
	deadline := time.Now().Add(time.Minute)
	for _, h := range hosts {
		log := filepath.Join(root, h, "var/log/ambari-agent/ambari-agent.log")
		for {
			b, _ := os.ReadFile(log)
			if strings.Contains(string(b), "Ping port listener started") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's agent did not start its ping port:\n%s\n%s", h, b, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("no pid file: %v", err)
	}
	if out := expectCode(t, 1, args...); !strings.Contains(out, "names running agent process") {
		t.Errorf("a second run over the same homes:\n%s", out)
	}
	if out := expectCode(t, 255, "start", "--home", filepath.Join(root, hosts[0])); !strings.Contains(out, "already used by another process") {
		t.Errorf("start of a host the run holds:\n%s", out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("multiplier run: %v\n%s", waitErr, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("multiplier run did not exit within 30 s of SIGTERM")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}
