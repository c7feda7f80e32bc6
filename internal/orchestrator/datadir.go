package orchestrator

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
)

// Modes of the data dir and of the files the agent writes in it. Command
// files hold passwords, and a script's output, errors and structured
// output often repeat them. Nothing but the agent and the scripts it runs
// as its own user reads these files: a script that switches to a service
// user (su, sudo -u) hands that user the values it needs as arguments or
// in files of its own; the data-dir files a stack script reads itself
// (.hdfs_resource_ignore, the datanode mount history) are read by the
// script while it runs as the agent's user. So none needs a wider mode.
const (
	dataDirMode  os.FileMode = 0o750
	dataFileMode os.FileMode = 0o600
)

// leftoverPrefixes name the per-run files of status and version checks.
// A check the agent stops is killed and its files removed; only a crash
// (SIGKILL, OOM, power loss) leaves them behind, with the configurations
// a status command file holds.
var leftoverPrefixes = []string{"status_command_", "status_structured-out-"}

// taskFilePrefixes name the per-task files of execution commands, which
// older versions wrote world-readable.
var taskFilePrefixes = []string{"command-", "auto_command-", "output-", "errors-", "structured-out-", "auto_structured-out-"}

// prepareDataDir runs once at start: it narrows the data dir to 0750 (the
// package creates it 0755), removes the files of status checks and the
// temporary files of interrupted writes an earlier run left, and narrows
// the task files an earlier version left readable by all to 0600. Failures
// are logged; the agent can still work.
func prepareDataDir(dir string, log *logrus.Entry) {
	st, err := os.Stat(dir)
	if err != nil {
		// The daemon creates it; a missing dir shows at the first command.
		log.WithError(err).Warn("Cannot inspect the data dir")
		return
	}
	if perm := st.Mode().Perm(); perm&^dataDirMode != 0 {
		if err := os.Chmod(dir, perm&dataDirMode); err != nil {
			log.WithError(err).Warnf("Cannot restrict the data dir %s to mode %o", dir, perm&dataDirMode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.WithError(err).Warn("Cannot list the data dir")
		return
	}
	removed := len(atomicfile.RemoveTemps(dir))
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case hasAnyPrefix(name, leftoverPrefixes):
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.WithError(err).WithField("file", path).Warn("Cannot remove a status check file left by an earlier run")
				continue
			}
			removed++
		case hasAnyPrefix(name, taskFilePrefixes):
			info, err := e.Info()
			if err == nil && info.Mode().Perm()&^dataFileMode != 0 {
				if err := os.Chmod(path, info.Mode().Perm()&dataFileMode); err != nil {
					log.WithError(err).WithField("file", path).Warn("Cannot restrict a command file")
				}
			}
		}
	}
	if removed > 0 {
		log.Infof("Removed %d temporary command files left in %s by an earlier run", removed, dir)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
