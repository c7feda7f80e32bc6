package orchestrator

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/procinfo"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// A command left running by an earlier agent process is found by the
// identity recorded when it started and killed with its process tree; a
// daemon it started that left the tree lives on, and an identity that no
// longer matches stops nothing.
func TestReapOrphan(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pidsFile := filepath.Join(e.tmp, "pids")
	h := header(t, 102, "TESTKIT", "X", "START",
		testkitParams("sleep_tree.py", 600, map[string]any{"pids_file": pidsFile, "daemon": "true"}), nil)
	started := make(chan procinfo.Identity, 4)
	req := e.request(h)
	req.OnProcessStarted = func(pid int) {
		id, err := procinfo.Identify(pid)
		if err != nil {
			t.Errorf("identify the script: %v", err)
		}
		started <- id
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() { done <- e.orch.Run(ctx, req) }()
	pids := parsePids(t, waitFile(t, pidsFile))
	daemon := parsePids(t, waitFile(t, pidsFile+".daemon"))
	killLater(t, append(pids, daemon...)...)
	id := <-started
	if id.PID != pids[0] || id.PGID != pids[0] {
		t.Fatalf("recorded %+v, script pid %d", id, pids[0])
	}
	// The agent stops; the command is left running.
	stop()
	if res := <-done; !errors.Is(res.Err, ErrStopped) {
		t.Fatalf("run: %+v", res)
	}

	// A later agent process, with its own orchestrator.
	e2 := newEnv(t, nil)
	reused := id
	reused.StartTime++
	if e2.orch.ReapOrphan(reused) {
		t.Fatal("reaped a process whose start time differs")
	}
	for _, p := range pids {
		if !processAlive(p) {
			t.Fatalf("process %d killed for an identity that did not match", p)
		}
	}
	if !e2.orch.ReapOrphan(id) {
		t.Fatal("the command still running was not reaped")
	}
	// kill returns once the tree is gone (zombies of init count as gone).
	for _, p := range pids {
		if processAlive(p) {
			t.Errorf("process %d of the command still runs", p)
		}
	}
	if !processAlive(daemon[0]) {
		t.Error("the daemon that left the command's tree was killed")
	}
	if !e2.logged("still running; stopping its process tree") {
		t.Error("the reap is not logged")
	}
	if e2.orch.ReapOrphan(id) {
		t.Error("a command already stopped was reaped again")
	}
	if s := strings.TrimSpace(testutil.ReadFile(t, e.orch.TaskFiles(protocol.ExecutionCommand, "102").Out)); s != "tree ready" {
		t.Errorf("output %q", s)
	}
}
