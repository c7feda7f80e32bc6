package orchestrator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ambari-go/ambari-agent/internal/diskhealth"
)

// ErrAgentWrite marks a result that says nothing about the command or the
// component: the agent could not write its own files (the command file,
// the output files) in the data dir, because the disk is full or read-only,
// say. A status check failing so gives no status at all, and is tried
// again next cycle; reporting the component as stopped (as the Python
// agent does) could set off an auto restart of a component that runs.
var ErrAgentWrite = errors.New("agent could not write its files")

// unwrittenPrefix starts the text that replaces (or ends) an output the
// agent could not write, so the server shows why instead of "None".
const unwrittenPrefix = "agent could not write output: "

// writeErrnos are the errors of a write that fail because of the disk, not
// because of what was written.
var writeErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO, syscall.EPERM, syscall.EACCES}

// localWriteError reports whether err is a failed write of a file in the
// data dir for one of writeErrnos.
func (o *Orchestrator) localWriteError(err error) bool {
	if err == nil {
		return false
	}
	var path string
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		path = pe.Path
	case errors.As(err, &le):
		path = le.New
	default:
		return false
	}
	if !within(o.cfg.Prefix, path) {
		return false
	}
	for _, n := range writeErrnos {
		if errors.Is(err, n) {
			return true
		}
	}
	return false
}

func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// writeFailed tells the agent (Config.OnWriteError) that a write in the
// data dir failed.
func (o *Orchestrator) writeFailed(err error) {
	if o.cfg.OnWriteError == nil {
		o.log.WithError(err).Warn("Cannot write to the data directory")
		return
	}
	o.log.WithError(err).Debug("Cannot write to the data directory")
	o.cfg.OnWriteError(err)
}

// noteWriteError reports a result's error if it is a failed write in the
// data dir.
func (o *Orchestrator) noteWriteError(err error) {
	if o.localWriteError(err) {
		o.writeFailed(err)
	}
}

// statusNoVerdict returns the error that turns a status check's result
// into no result: the agent could not write its files, before the script
// ran or, for a script that failed, while it ran (the data dir takes no
// file now; the script may have died of it: Python exits 120 when it
// cannot flush its output).
func (o *Orchestrator) statusNoVerdict(res Result) error {
	if res.Err != nil {
		if o.localWriteError(res.Err) {
			o.writeFailed(res.Err)
			return fmt.Errorf("%w: %w", ErrAgentWrite, res.Err)
		}
		return nil
	}
	if res.ExitCode == 0 {
		return nil
	}
	if err := diskhealth.ProbeQuick(o.cfg.Prefix); err != nil {
		o.writeFailed(err)
		return fmt.Errorf("%w: %w", ErrAgentWrite, err)
	}
	return nil
}

// checkOutputWritten marks the outputs of a command's script when the data
// dir takes no file after it ran: what the script wrote may be lost, and
// an empty output would read as "None".
func (o *Orchestrator) checkOutputWritten(s *runSpec, res *Result) {
	if s.status {
		return // statusNoVerdict decides
	}
	dir := filepath.Dir(s.out)
	err := diskhealth.ProbeQuick(dir)
	if err == nil {
		return
	}
	if within(o.cfg.Prefix, dir) {
		o.writeFailed(err)
	}
	note := unwrittenPrefix + err.Error()
	for _, text := range []*string{&res.Stdout, &res.Stderr} {
		if *text == "" {
			*text = note
		} else {
			*text += "\n\n" + note
		}
	}
}
