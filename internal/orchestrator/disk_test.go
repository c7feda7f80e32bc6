package orchestrator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/diskhealth/disktest"
)

// On a full data dir a status check gives no status at all (never
// "stopped" for a component that runs), a command says why it failed, and
// output the script could not write is reported as such, not as "None".
// Every such failure reaches Config.OnWriteError.
func TestFullDataDir(t *testing.T) {
	var (
		mu     sync.Mutex
		errs   []error
		params = map[string]any{"script": "scripts/demo_server.py", "script_type": "PYTHON", "command_timeout": "60",
			"service_package_folder": demoPkg}
	)
	e := newEnv(t, func(c *Config) {
		c.OnWriteError = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	})
	disktest.MountTmpfs(t, e.data, "512k")
	run := func(task int, command string) Result {
		return e.orch.Run(context.Background(), e.request(header(t, task, "DEMO", "DEMO_SERVER", command, params, nil)))
	}
	t.Cleanup(func() {
		// Room for the STOP's files even when the test failed with the
		// disk full, so that the demo server never outlives the test.
		os.Remove(filepath.Join(e.data, "filler"))
		run(299, "STOP")
	})
	for i, c := range []string{"INSTALL", "START"} {
		if res := run(200+i, c); res.ExitCode != 0 {
			t.Fatalf("%s: exit %d %q %q", c, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	status := func(component string) (int, error) {
		code, _, _, err := e.orch.RunStatus(context.Background(), clusterID, "DEMO", component, CommandStatus)
		return code, err
	}
	if code, err := status("DEMO_SERVER"); code != 0 || err != nil {
		t.Fatalf("status of the running server with room on the disk: %d %v", code, err)
	}

	free := disktest.Fill(t, e.data)
	for _, comp := range []string{"DEMO_SERVER", "DEMO_CLIENT"} {
		code, err := status(comp)
		if !errors.Is(err, ErrAgentWrite) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("status of %s on a full disk: exit %d, err %v; want no verdict", comp, code, err)
		}
	}
	// A script that wrote nothing on the full disk: its outputs say why
	// (the report would otherwise read "None").
	var empty Result
	e.orch.checkOutputWritten(&runSpec{out: filepath.Join(e.data, "output-211.txt")}, &empty)
	if want := unwrittenPrefix + "cannot write to " + e.data + ": no space left on device"; empty.Stdout != want || empty.Stderr != want {
		t.Errorf("empty outputs on a full disk: %q, %q", empty.Stdout, empty.Stderr)
	}
	res := run(210, "START")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "no space left on device") {
		t.Errorf("command on a full disk: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	mu.Lock()
	n := len(errs)
	mu.Unlock()
	if n < 3 {
		t.Errorf("%d write errors reported, want one per failure: %v", n, errs)
	}
	free()
	if code, err := status("DEMO_SERVER"); code != 0 || err != nil {
		t.Fatalf("status once the disk has room again: %d %v", code, err)
	}

	// A script whose output fills the disk: what it could write is
	// reported, followed by why the rest is missing.
	chatty := header(t, 220, "TESTKIT", "X", "START", testkitParams("chatty.py", 60, map[string]any{"lines": "200000"}), nil)
	res = e.orch.Run(context.Background(), e.request(chatty))
	for name, text := range map[string]string{"stdout": res.Stdout, "stderr": res.Stderr} {
		if want := "\n\n" + unwrittenPrefix + "cannot write to " + e.data + ": no space left on device"; !strings.HasSuffix(text, want) {
			t.Errorf("%s of a command that filled the disk ends %q", name, tail(text))
		}
	}
	if !strings.HasPrefix(res.Stdout, "line 0 of chatty output") {
		t.Errorf("stdout starts %q; what was written is lost", res.Stdout[:min(len(res.Stdout), 40)])
	}
}

func tail(s string) string {
	if len(s) > 200 {
		return "..." + s[len(s)-200:]
	}
	return s
}
