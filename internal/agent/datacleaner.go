package agent

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/sirupsen/logrus"
)

// cleanablePattern matches the names of files the data cleaner may delete.
// Like DataCleaner.py it is anchored at the start only (so rotated backups
// such as output-12.txt.0 qualify) and its dots match any character.
var cleanablePattern = regexp.MustCompile(`^(auto_command-\d+.json|auto_errors-\d+.txt|auto_output-\d+.txt|auto_structured-out-\d+.json|errors-\d+.txt|output-\d+.txt|site-\d+.pp|structured-out-\d+.json|command-\d+.json)`)

// DataCleaner prunes old command files from the data dir (Python:
// DataCleaner.py): first everything older than MaxAge, then the oldest
// until the rest fits in MaxSize bytes.
type DataCleaner struct {
	Dir      string
	Interval time.Duration
	MaxAge   time.Duration
	MaxSize  int64
	Log      *logrus.Entry
	// now is replaceable in tests.
	now func() time.Time
}

// Run cleans at once and then every Interval until ctx is done. The Python
// thread never stops; this one stops with the agent.
func (d *DataCleaner) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			d.Clean()
			t.Reset(d.Interval)
		}
	}
}

type cleanFile struct {
	path  string
	size  int64
	mtime time.Time
}

// Clean runs one pass.
func (d *DataCleaner) Clean() {
	now := time.Now()
	if d.now != nil {
		now = d.now()
	}
	var files []cleanFile
	filepath.WalkDir(d.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			d.Log.WithError(err).Debug("data cleaner: cannot read")
			return nil
		}
		if e.IsDir() || !cleanablePattern.MatchString(e.Name()) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		if now.Sub(info.ModTime()) > d.MaxAge {
			if err := os.Remove(p); err != nil {
				d.Log.WithError(err).Warnf("data cleaner: cannot delete %s", p)
			}
			return nil
		}
		files = append(files, cleanFile{p, info.Size(), info.ModTime()})
		return nil
	})
	var total int64
	for _, f := range files {
		total += f.size
	}
	if total <= d.MaxSize {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	for _, f := range files {
		if total <= d.MaxSize {
			return
		}
		if err := os.Remove(f.path); err != nil {
			d.Log.WithError(err).Warnf("data cleaner: cannot delete %s", f.path)
			continue
		}
		total -= f.size
	}
	if total > d.MaxSize {
		d.Log.Warnf("data cleaner: %s still holds %d bytes of command files, above the %d byte limit", d.Dir, total, d.MaxSize)
	}
}
