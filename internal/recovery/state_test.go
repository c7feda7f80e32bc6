package recovery

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newPersistent builds a manager over path with the docs/behaviour.md §8.3 example limits and
// a DATANODE that needs starting.
func newPersistent(t *testing.T, path string, at int64, backoff bool) *harness {
	t.Helper()
	h := newHarness(t, at)
	h.cfg.StateFile = path
	h.cfg.Backoff = backoff
	h.cfg.Jitter = func() float64 { return 0 }
	h.env(autoStart("2", "5", "1", "4"))
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	h.start().ObserveLiveStatus("DATANODE", "INSTALLED")
	return h
}

// The window limit survives an agent restart: two attempts at 1000 and
// 1071, restart, and the new manager still refuses at 1150 (a fresh one
// would start at once), then allows at 1400 as the old one would.
func TestCountersSurviveRestart(t *testing.T) {
	path := stateFileIn(t)
	h := newPersistent(t, path, 900, false)
	for _, at := range []int64{1000, 1071} {
		if n := len(h.commandsAt(at)); n != 1 {
			t.Fatalf("t=%d: %d commands", at, n)
		}
	}

	h2 := newPersistent(t, path, 1100, false)
	c, ok := h2.m.Counters("DATANODE")
	if !ok || c.Count != 2 || c.LifetimeCount != 2 || c.LastAttemptUnix != 1071 || c.LastResetUnix != 1000 {
		t.Fatalf("restored counters %+v ok=%v", c, ok)
	}
	if got := h2.commandsAt(1150); len(got) != 0 {
		t.Fatalf("restarted manager ignored the window limit: %v", got)
	}
	if got := h2.commandsAt(1400); len(got) != 1 {
		t.Fatalf("t=1400: %v", got)
	}

	// The lifetime count carries over while attempts are recent: one more
	// restart, one more attempt (the 4th), then the limit holds.
	h3 := newPersistent(t, path, 1450, false)
	if got := h3.commandsAt(1461); len(got) != 1 {
		t.Fatalf("t=1461: %v", got)
	}
	h4 := newPersistent(t, path, 1500, false)
	if c, _ := h4.m.Counters("DATANODE"); c.LifetimeCount != 4 || !c.LifetimeLimitReached {
		t.Fatalf("lifetime not carried over: %+v", c)
	}
	if got := h4.commandsAt(1800); len(got) != 0 {
		t.Fatalf("restart gave a fresh lifetime budget: %v", got)
	}

	// A restart more than a window after the last attempt starts over, as
	// the Python agent does on every restart.
	h5 := newPersistent(t, path, 1461+301, false)
	if _, ok := h5.m.Counters("DATANODE"); ok {
		t.Fatal("stale counters restored")
	}
	if got := h5.commandsAt(1800); len(got) != 1 {
		t.Fatalf("fresh lifetime after a quiet window: %v", got)
	}
}

func TestStateFileFormat(t *testing.T) {
	path := stateFileIn(t)
	h := newPersistent(t, path, 900, false)
	h.commandsAt(1000)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("state file is not JSON: %v", err)
	}
	want := `{"version":1,"windowSeconds":300,"components":{"DATANODE":{"count":1,"lastAttempt":1000,"lastReset":1000,"lifetimeCount":1,"streak":1}}}`
	if string(b) != want {
		t.Fatalf("state file\n%s\nwant\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("dir holds %d entries", len(ents))
	}
}

func TestCorruptStateFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "{not json",
		"wrong version": `{"version":99,"components":{"DATANODE":{"count":2,"lastAttempt":1071,"lastReset":1000,"lifetimeCount":2}}}`,
		"wrong types":   `{"version":1,"components":{"DATANODE":{"count":"two"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := stateFileIn(t)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			h := newPersistent(t, path, 1100, false)
			if !strings.Contains(h.logs.String(), "recovery counters file is damaged") {
				t.Fatalf("no warning; log:\n%s", h.logs.String())
			}
			if _, ok := h.m.Counters("DATANODE"); ok {
				t.Fatal("counters restored from a damaged file")
			}
			if got := h.commandsAt(1150); len(got) != 1 {
				t.Fatalf("fresh manager refused: %v", got)
			}
			b, _ := os.ReadFile(path)
			var f stateFile
			if err := json.Unmarshal(b, &f); err != nil || f.Components["DATANODE"].LifetimeCount != 1 {
				t.Fatalf("state file not rewritten: %s", b)
			}
		})
	}
}

// Nonsense values in an otherwise valid file are skipped one by one, and
// a time in the future is brought back to now.
func TestStateFileSanity(t *testing.T) {
	path := stateFileIn(t)
	content := `{"version":1,"windowSeconds":300,"components":{
		"A":{"count":-1,"lastAttempt":1000,"lifetimeCount":1},
		"DATANODE":{"count":1,"lastAttempt":999999,"lastReset":999999,"lifetimeCount":1},
		"":{"count":1,"lastAttempt":1000,"lifetimeCount":1}}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newPersistent(t, path, 1100, false)
	if _, ok := h.m.Counters("A"); ok {
		t.Fatal("negative count restored")
	}
	c, ok := h.m.Counters("DATANODE")
	if !ok || c.LastAttemptUnix != 1100 || c.LastResetUnix != 1100 {
		t.Fatalf("future times not clamped: %+v", c)
	}
	if got := h.commandsAt(1161); len(got) != 1 {
		t.Fatalf("recovery blocked after a clock jump: %v", got)
	}
}

func TestUnwritableStateFile(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newPersistent(t, filepath.Join(blocker, StateFileName), 900, false)
	if got := h.commandsAt(1000); len(got) != 1 {
		t.Fatalf("commands %v", got)
	}
	if got := h.commandsAt(1004); len(got) != 0 {
		t.Fatal("limits not kept in memory after a failed save")
	}
	if !strings.Contains(h.logs.String(), "could not save the recovery counters") {
		t.Fatal("failed save not logged")
	}
}

// With the backoff on, a component that keeps failing waits longer and
// longer; the gaps and the streak survive a restart; a quiet window ends
// the streak.
func TestBackoffThroughCommands(t *testing.T) {
	path := stateFileIn(t)
	h := newHarness(t, 900)
	h.cfg.StateFile = path
	h.cfg.Backoff = true
	h.cfg.Jitter = func() float64 { return 0.5 }
	h.env(autoStart("10", "60", "1", "50"))
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	m := h.start()
	m.ObserveLiveStatus("DATANODE", "INSTALLED")

	// Gaps after 1, 2, 3 failures: 135, 270, 540 s (see TestBackoffGaps).
	for _, s := range []struct {
		at   int64
		want int
	}{{1000, 1}, {1061, 0}, {1135, 0}, {1136, 1}, {1406, 0}, {1407, 1}, {1947, 0}} {
		if got := h.commandsAt(s.at); len(got) != s.want {
			t.Fatalf("t=%d: %d commands, want %d", s.at, len(got), s.want)
		}
	}
	h2 := newHarness(t, 1947)
	h2.cfg = h.cfg
	h2.cfg.Now = h2.clock.Now
	m2 := h2.start()
	m2.ObserveLiveStatus("DATANODE", "INSTALLED")
	if got := h2.commandsAt(1947); len(got) != 0 {
		t.Fatal("backoff forgotten across a restart")
	}
	if got := h2.commandsAt(1948); len(got) != 1 {
		t.Fatal("t=1948: no attempt after the backoff gap")
	}
	// A quiet window: the streak starts over, the next gap is 135 s again.
	for _, s := range []struct {
		at   int64
		want int
	}{{1948 + 3601, 1}, {1948 + 3601 + 135, 0}, {1948 + 3601 + 136, 1}} {
		if got := h2.commandsAt(s.at); len(got) != s.want {
			t.Fatalf("t=%d: %d commands, want %d", s.at, len(got), s.want)
		}
	}
}

// Without the backoff, the same component is retried every retry gap.
func TestNoBackoffByDefault(t *testing.T) {
	h := newHarness(t, 900)
	h.env(autoStart("10", "60", "1", "50"))
	h.params([]comp{{"HDFS", "DATANODE", "STARTED"}}, nil)
	h.start().ObserveLiveStatus("DATANODE", "INSTALLED")
	for i, at := range []int64{1000, 1061, 1122, 1183} {
		if got := h.commandsAt(at); len(got) != 1 {
			t.Fatalf("attempt %d at %d refused", i, at)
		}
	}
}
