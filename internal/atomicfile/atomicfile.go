// Package atomicfile replaces files so that a crash or a full disk leaves
// either the old content or the new one, never a truncated file: the data
// goes to a temporary file in the same directory, is flushed to disk, and
// is renamed over the target; the directory is then flushed too.
//
// The agent keeps several files other programs or a later start read back
// (cluster caches, the command report journal, recovery counters, keys and
// certificates, hostcheck.result, ambari-agent.ini after reset); they all
// go through Write.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempSuffix marks the temporary files Write creates, as
// .<target name>.tmp-<random>, so leftovers of an interrupted write can be
// recognised (IsTemp) and removed.
const tempSuffix = ".tmp-"

// Write replaces path with data, with permissions perm. The temporary file
// gets perm before any data is written, so a secret never exists with a
// wider mode.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	SyncDir(dir)
	return nil
}

// SyncDir makes renames and removals in dir durable. Some filesystems
// refuse to fsync a directory; what was renamed or removed has been, so
// that is not reported as an error.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// IsTemp reports whether a file name is a temporary file left by an
// interrupted Write.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempSuffix)
}

// RemoveTemps deletes the temporary files an interrupted Write left in dir
// and returns their paths.
func RemoveTemps(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() && IsTemp(e.Name()) {
			p := filepath.Join(dir, e.Name())
			if os.Remove(p) == nil {
				removed = append(removed, p)
			}
		}
	}
	return removed
}
