package recovery

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
)

// StateFileName is the file in the agent's data dir ([agent] prefix) that
// keeps the attempt counters across restarts. The Python agent keeps them in
// memory only.
const StateFileName = "recovery_state.json"

// StatePath returns the state file for a data dir.
func StatePath(prefix string) string { return filepath.Join(prefix, StateFileName) }

const stateVersion = 1

// maxSavedComponents bounds what a (damaged or foreign) state file can make
// us hold; a host runs a few dozen components at most.
const maxSavedComponents = 4096

// stateFile is the on-disk form. It is small: one record per component that
// ever needed recovery.
type stateFile struct {
	Version int `json:"version"`
	// WindowSeconds is the window in force when the file was written; it
	// decides at the next start which records are still current.
	WindowSeconds int64                    `json:"windowSeconds"`
	Components    map[string]savedCounters `json:"components"`
}

type savedCounters struct {
	Count         int   `json:"count"`
	LastAttempt   int64 `json:"lastAttempt"`
	LastReset     int64 `json:"lastReset"`
	LifetimeCount int   `json:"lifetimeCount"`
	Streak        int   `json:"streak,omitempty"`
	BackoffGap    int64 `json:"backoffGap,omitempty"`
}

// encodeStateLocked serialises the counters (CPU only, no I/O) and returns
// the bytes with their generation for saveState. Nil when not persisting.
func (m *Manager) encodeStateLocked(logs *pendingLogs) ([]byte, uint64) {
	if m.cfg.StateFile == "" {
		return nil, 0
	}
	f := stateFile{Version: stateVersion, WindowSeconds: m.lim.limits.windowSec(),
		Components: make(map[string]savedCounters, len(m.counted))}
	for _, name := range m.counted {
		c := m.components[name].counter
		if c.lifetimeCount == 0 && c.lastAttempt == 0 {
			continue // never attempted: nothing worth remembering
		}
		f.Components[name] = savedCounters{Count: c.count, LastAttempt: c.lastAttempt, LastReset: c.lastReset,
			LifetimeCount: c.lifetimeCount, Streak: c.streak, BackoffGap: c.backoffGap}
	}
	b, err := json.Marshal(f)
	if err != nil { // cannot happen for these types
		logs.add(logrus.ErrorLevel, "", "encode recovery state", logrus.Fields{"error": err.Error()})
		return nil, 0
	}
	m.gen++
	return b, m.gen
}

// saveState writes the state file unless a newer generation was already
// written. It runs without m.mu; a failure is logged and the counters stay
// in force in memory.
func (m *Manager) saveState(b []byte, gen uint64) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if gen <= m.saved {
		return
	}
	err := os.MkdirAll(filepath.Dir(m.cfg.StateFile), 0o755)
	if err == nil {
		err = atomicfile.Write(m.cfg.StateFile, b, 0o600)
	}
	if err != nil {
		m.log.WithError(err).Warn("could not save the recovery counters; they will not survive a restart")
		return
	}
	m.saved = gen
}

// loadState restores the counters of the previous run. Records whose last
// attempt is more than one window old are dropped: the component has been
// quiet for a whole window, so its window counters would reset anyway, and
// its lifetime count starts over as it would with the Python agent. Records
// with a recent attempt keep everything, lifetime count included, so a
// component that crash-loops across agent restarts does not get a fresh
// lifetime budget from each restart. Called from New, before anything else
// can see the manager.
func (m *Manager) loadState(logs *pendingLogs) {
	path := m.cfg.StateFile
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		logs.add(logrus.WarnLevel, "", "cannot read the recovery counters; starting with fresh ones",
			logrus.Fields{"path": path, "error": err.Error()})
		return
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != stateVersion || len(f.Components) > maxSavedComponents {
		reason := "unsupported version or too many entries"
		if err != nil {
			reason = err.Error()
		}
		logs.add(logrus.WarnLevel, "", "recovery counters file is damaged; starting with fresh ones",
			logrus.Fields{"path": path, "error": reason})
		return
	}
	window := f.WindowSeconds
	if window <= 0 {
		window = DefaultLimits.windowSec()
	}
	now := m.now().Unix()
	names := make([]string, 0, len(f.Components))
	for name := range f.Components {
		names = append(names, name)
	}
	sort.Strings(names) // a stable order for Status and Commands
	kept := 0
	for _, name := range names {
		s := f.Components[name]
		if name == "" || s.Count < 0 || s.LifetimeCount < 0 || s.Streak < 0 || s.BackoffGap < 0 {
			continue
		}
		// A clock that went backwards must not block recovery until it
		// catches up again.
		if s.LastAttempt > now {
			s.LastAttempt = now
		}
		if s.LastReset > now {
			s.LastReset = now
		}
		if now-s.LastAttempt > window {
			continue
		}
		c := m.componentLocked(name)
		c.counted = true
		m.counted = append(m.counted, name)
		c.counter = counter{count: s.Count, lastAttempt: s.LastAttempt, lastReset: s.LastReset,
			lifetimeCount: s.LifetimeCount, streak: s.Streak, backoffGap: s.BackoffGap}
		kept++
	}
	if kept > 0 {
		logs.add(logrus.InfoLevel, "", "recovery counters restored", logrus.Fields{"components": kept})
	}
}
