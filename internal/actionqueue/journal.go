package actionqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
	"github.com/ambari-go/ambari-agent/internal/procinfo"
)

// The report journal keeps every task's latest report on disk from the
// moment it is produced until the server acknowledged the final one, so
// that neither a lost link nor an agent restart loses a report (the Python
// agent keeps them in memory only, AMBARI-25589).
//
// Layout: <prefix>/reports/task-<taskId>.json, one file per task holding
// its latest state, replaced atomically (temp file, fsync, rename, fsync of
// the directory). One file per task was chosen over an append-only log:
// a task's reports are mostly replaced (IN_PROGRESS, then final), an
// acknowledged task is dropped with one unlink, nothing needs compaction,
// the bound on tasks bounds the files, and a torn write can only ever
// affect a temp file. The cost, two fsyncs per state change, is small next
// to starting a process.
//
// The names stay clear of the data cleaner's patterns (docs/behaviour.md §3.8:
// output-N.txt, command-N.json, ...), which are anchored at the start of a
// file name, and the files are 0600 in a 0700 directory: reports carry
// script output, which may hold secrets.

const (
	journalDirName = "reports"
	journalPrefix  = "task-"
	journalSuffix  = ".json"
	journalVersion = 1
)

// journalRecord is one task's journaled state.
type journalRecord struct {
	Version int `json:"version"`
	// Seq orders the reports of all tasks as they were produced.
	Seq         uint64 `json:"seq"`
	CommandType string `json:"commandType"`
	// The output files, tailed into the report written after a restart.
	OutFile           string `json:"outFile,omitempty"`
	ErrFile           string `json:"errFile,omitempty"`
	StructuredOutFile string `json:"structuredOutFile,omitempty"`
	// CustomCommand is commandParams.custom_command, for that report.
	CustomCommand string `json:"customCommand,omitempty"`
	// Report is the report as sent; for a queued task, the report's
	// template fields only.
	Report json.RawMessage `json:"report"`
	// Queued marks a task the server handed over that has not started
	// yet: the server counts it as delivered from the acknowledgement on,
	// so an agent restart must not lose it either.
	Queued bool `json:"queued,omitempty"`
	// Process is the running script of an IN_PROGRESS task (its process
	// group leader): what the next agent process stops if it still runs.
	Process *procinfo.Identity `json:"process,omitempty"`
}

type journal struct {
	dir string
}

// openJournal creates <prefix>/reports if needed and removes temp files a
// crash left behind.
func openJournal(prefix string) (*journal, error) {
	dir := filepath.Join(prefix, journalDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create report journal %s: %w", dir, err)
	}
	// An existing directory may be more open than it should be.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("report journal %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read report journal %s: %w", dir, err)
	}
	for _, de := range ents {
		if atomicfile.IsTemp(de.Name()) {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
	return &journal{dir: dir}, nil
}

func (j *journal) path(taskID int64) string {
	return filepath.Join(j.dir, journalPrefix+strconv.FormatInt(taskID, 10)+journalSuffix)
}

// write replaces the task's record atomically and durably.
func (j *journal) write(taskID int64, rec *journalRecord) error {
	rec.Version = journalVersion
	data, err := marshal(rec)
	if err != nil {
		return fmt.Errorf("journal task %d: %w", taskID, err)
	}
	if err := atomicfile.Write(j.path(taskID), data, 0o600); err != nil {
		return fmt.Errorf("journal task %d: %w", taskID, err)
	}
	return nil
}

// remove forgets a task. The directory is not synced: a removal undone by
// a crash only resends a report the server already has, which it
// tolerates.
func (j *journal) remove(taskID int64) error {
	if err := os.Remove(j.path(taskID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("drop journaled task %d: %w", taskID, err)
	}
	return nil
}

// loadedRecord is a journal file read at start.
type loadedRecord struct {
	taskID int64
	rec    journalRecord
}

// load reads all records, oldest first. Unreadable files are reported in
// bad and removed.
func (j *journal) load() (recs []loadedRecord, bad []error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, []error{fmt.Errorf("read report journal: %w", err)}
	}
	for _, de := range ents {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(name, journalPrefix) || !strings.HasSuffix(name, journalSuffix) {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, journalPrefix), journalSuffix), 10, 64)
		if err != nil {
			continue
		}
		p := filepath.Join(j.dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			bad = append(bad, fmt.Errorf("journaled task %d: %w", id, err))
			continue
		}
		var rec journalRecord
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil || len(rec.Report) == 0 {
			if err == nil {
				err = errors.New("no report")
			}
			bad = append(bad, fmt.Errorf("journaled task %d: %w", id, err))
			os.Remove(p)
			continue
		}
		recs = append(recs, loadedRecord{taskID: id, rec: rec})
	}
	sort.Slice(recs, func(a, b int) bool { return recs[a].rec.Seq < recs[b].rec.Seq })
	return recs, bad
}
