package statusexec

import (
	"path/filepath"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/diskhealth/disktest"
)

// A full data dir makes every status check fail for the agent's own
// reason (it cannot write the check's command file): no status is
// reported, never "stopped" for a component that runs, and the checks are
// simply tried again; once the disk has room, statuses flow again.
func TestFullDiskNeverReportsStopped(t *testing.T) {
	st := newStack(t)
	st.topology("CREATE", cluster{id: "1", local: []string{"A", "B"}})
	st.metadata("1")
	st.setState("A", "running")
	st.setState("B", "client")
	h := startExecutor(t, st, nil)
	want(t, h.sender.next(t), "1/A/STATUS=STARTED", "1/B/STATUS=INSTALLED")

	dirs, _ := filepath.Glob(filepath.Join(st.root, "agent*", "data"))
	if len(dirs) != 1 {
		t.Fatalf("data dirs %v", dirs)
	}
	disktest.MountTmpfs(t, dirs[0], "256k")
	free := disktest.Fill(t, dirs[0])
	h.drainCycles()
	h.waitCycles(3)
	h.sender.none(t)
	if !h.logged("Status check gave no result") {
		t.Error("the failed checks are not logged")
	}

	free()
	st.setState("A", "stopped")
	want(t, h.sender.next(t), "1/A/STATUS=INSTALLED")
}
