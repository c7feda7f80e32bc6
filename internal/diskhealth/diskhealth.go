// Package diskhealth makes a broken disk loud. Probe proves that a
// directory takes a new file (create, write, fsync, delete); the agent
// probes every directory it writes before it starts, so a read-only or
// full data dir fails `start` instead of yielding an agent that registers
// and then fails every command. Monitor holds the agent's "degraded" state
// while it runs: any write error in the data dir marks it, and a probe
// that succeeds again clears it.
package diskhealth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/logging"
)

// probeSize is what a probe writes: one page, so a full file system
// refuses it even where it still has room for an empty file.
const probeSize = 4096

// probePrefix names probe files; a crash may leave one behind, which the
// next start removes (ProbeAll).
const probePrefix = ".ambari-agent-probe-"

// Probe creates a file in dir, writes a page to it, syncs and deletes it.
// The error names the directory and the step that failed.
func Probe(dir string) error { return probe(dir, true) }

// ProbeQuick is Probe without the fsync, for checks on the command path:
// a full disk already refuses the write.
func ProbeQuick(dir string) error { return probe(dir, false) }

func probe(dir string, sync bool) (err error) {
	var b [8]byte
	rand.Read(b[:])
	path := filepath.Join(dir, probePrefix+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", dir, bare(err))
	}
	defer func() {
		if rerr := os.Remove(path); rerr != nil && err == nil {
			err = fmt.Errorf("cannot delete a file in %s: %w", dir, bare(rerr))
		}
	}()
	_, werr := f.Write(make([]byte, probeSize))
	var serr error
	if sync && werr == nil {
		serr = f.Sync()
	}
	cerr := f.Close()
	switch {
	case werr != nil:
		return fmt.Errorf("cannot write to %s: %w", dir, bare(werr))
	case serr != nil:
		return fmt.Errorf("cannot sync a file in %s: %w", dir, bare(serr))
	case cerr != nil:
		return fmt.Errorf("cannot write to %s: %w", dir, bare(cerr))
	}
	return nil
}

// bare drops the probe file's name from an error: the directory is what
// the operator needs to know.
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ProbeAll probes each directory in turn and returns the first failure.
// It is meant for the start, where it also removes the probe files an
// earlier crash may have left.
func ProbeAll(dirs ...string) error {
	for _, d := range dirs {
		if left, _ := filepath.Glob(filepath.Join(d, probePrefix+"*")); len(left) > 0 {
			for _, f := range left {
				os.Remove(f)
			}
		}
		if err := Probe(d); err != nil {
			return err
		}
	}
	return nil
}

// DefaultRecheck is how often a degraded agent probes its data dir again.
const DefaultRecheck = 30 * time.Second

// Monitor is the agent's degraded state. It is safe for concurrent use.
type Monitor struct {
	// Dir is the directory probed while degraded (the data dir).
	Dir string
	// Recheck is the probe interval while degraded; 0 = DefaultRecheck.
	Recheck time.Duration
	// Log is the component logger; nil discards.
	Log *logrus.Entry

	mu     sync.Mutex
	reason string
	since  time.Time
	// failures counts WriteFailed calls, so that a failure landing
	// during a successful probe is not cleared by it.
	failures uint64
	// wake tells Run that the state became degraded.
	wake chan struct{}
}

func (m *Monitor) log() *logrus.Entry { return logging.OrDiscard(m.Log) }

func (m *Monitor) wakeCh() chan struct{} {
	if m.wake == nil {
		m.wake = make(chan struct{}, 1)
	}
	return m.wake
}

// WriteFailed records a failed write in the data dir: the agent is
// degraded until a probe of Dir succeeds again. The first failure is
// logged as an error, the ones after it only at debug level.
func (m *Monitor) WriteFailed(err error) {
	if err == nil {
		return
	}
	m.mu.Lock()
	first := m.reason == ""
	m.reason = err.Error()
	m.failures++
	if first {
		m.since = time.Now()
	}
	wake := m.wakeCh()
	m.mu.Unlock()
	if first {
		m.log().WithError(err).Error("Cannot write to the data directory; the agent is degraded until it can again")
	} else {
		m.log().WithError(err).Debug("Another write to the data directory failed")
	}
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Degraded reports whether a write in the data dir failed and has not been
// shown to work since; reason is the last error.
func (m *Monitor) Degraded() (degraded bool, reason string, since time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reason != "", m.reason, m.since
}

// Run probes Dir every Recheck while degraded and clears the state once a
// probe succeeds. It returns when ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	wake := m.wakeCh()
	m.mu.Unlock()
	every := m.Recheck
	if every <= 0 {
		every = DefaultRecheck
	}
	t := time.NewTimer(every)
	t.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			// Failures may come faster than the recheck: the first one
			// arms the timer, the others leave it alone.
			if !armed {
				t.Reset(every)
				armed = true
			}
			continue
		case <-t.C:
			armed = false
		}
		m.mu.Lock()
		degraded, before := m.reason != "", m.failures
		m.mu.Unlock()
		if !degraded {
			continue
		}
		if err := Probe(m.Dir); err != nil {
			m.mu.Lock()
			m.reason = err.Error()
			m.mu.Unlock()
			t.Reset(every)
			armed = true
			continue
		}
		m.mu.Lock()
		if m.failures != before {
			m.mu.Unlock()
			t.Reset(every)
			armed = true
			continue
		}
		since := m.since
		m.reason, m.since = "", time.Time{}
		m.mu.Unlock()
		m.log().Infof("The data directory %s takes writes again; the agent is no longer degraded (degraded for %s)", m.Dir, time.Since(since).Round(time.Second))
	}
}
