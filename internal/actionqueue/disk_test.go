package actionqueue

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/diskhealth/disktest"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// writeErrors collects what Config.OnWriteError hears.
type writeErrors struct {
	mu   sync.Mutex
	errs []error
	ch   chan struct{}
}

func newWriteErrors() *writeErrors { return &writeErrors{ch: make(chan struct{}, 1)} }

func (w *writeErrors) add(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

func (w *writeErrors) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-w.ch:
	case <-time.After(waitTimeout):
		t.Fatal("no write error reported")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs[len(w.errs)-1]
}

// A command that ends while the journal's disk is full keeps its real
// outcome in memory, and its journal write is retried: once the disk has
// room, the outcome is on disk, so an agent crash after that reports it
// (not "outcome unknown").
func TestJournalRetriedAfterDiskFull(t *testing.T) {
	werrs := newWriteErrors()
	e := newEnv(t, "", func(c *Config) {
		c.OnWriteError = werrs.add
		c.journalRetry = 20 * time.Millisecond
	})
	reports := filepath.Join(e.data, journalDirName)
	disktest.MountTmpfs(t, reports, "256k")
	e.sender.setWithhold(true) // nothing is acknowledged: everything stays journaled
	e.start()
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{
		cmd(250, clusterID, map[string]string{"stdout_lines": "2", "wait_file": e.path("go")}),
	}}))
	e.waitJournal("the running command", func(j map[int]journalRecord) bool { return j[250].Process != nil })

	free := disktest.Fill(t, reports)
	e.touch("go")
	e.sender.waitReport(t, 250, protocol.StatusCompleted)
	if err := werrs.wait(t); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error reported: %v", err)
	}
	if j := e.journaled(); statusOf(j[250]) != protocol.StatusInProgress {
		t.Fatalf("journal on a full disk holds %s; the test proves nothing", statusOf(j[250]))
	}
	free()
	e.waitJournal("the outcome written once the disk has room", func(j map[int]journalRecord) bool {
		return statusOf(j[250]) == protocol.StatusCompleted
	})

	// The agent dies; the next one reports the real outcome.
	e.halt()
	e2 := newEnv(t, e.root, nil).start()
	e2.q.Registered()
	r := e2.sender.waitFor(t, "the report after the restart", func(all []map[string]any) bool { return len(all) > 0 })[0]
	if taskOf(r) != 250 || r["status"] != protocol.StatusCompleted || !strings.Contains(r["stdout"].(string), "line 2") {
		t.Errorf("after the restart the server got %v", r)
	}
}

// When the disk stays full, the retries end after the give-up time with an
// error in the log; the report is still sent and acknowledged.
func TestJournalRetriesGiveUp(t *testing.T) {
	werrs := newWriteErrors()
	e := newEnv(t, "", func(c *Config) {
		c.OnWriteError = werrs.add
		c.journalRetry = 10 * time.Millisecond
		c.journalGiveUp = 100 * time.Millisecond
	})
	reports := filepath.Join(e.data, journalDirName)
	disktest.MountTmpfs(t, reports, "256k")
	e.sender.setDown(true)
	e.start()
	disktest.Fill(t, reports)
	e.intake(message(clusterMsg{id: clusterID, commands: []map[string]any{cmd(251, clusterID, nil)}}))
	werrs.wait(t)
	deadline := time.Now().Add(waitTimeout)
	for !e.logged("Giving up journaling the command report") {
		if time.Now().After(deadline) {
			t.Fatal("the retries never gave up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.sender.setDown(false)
	e.q.Registered()
	e.sender.waitReport(t, 251, protocol.StatusCompleted)
}

// logged reports whether a log message contains text.
func (e *env) logged(text string) bool {
	for _, entry := range e.hook.AllEntries() {
		if strings.Contains(entry.Message, text) {
			return true
		}
	}
	return false
}
