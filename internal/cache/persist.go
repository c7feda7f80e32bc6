package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
)

// Files: <dir>/<name>.json (the clusters object, indent 2, clusters in the
// server's order) and <dir>/.<name>.hash (the raw hash, no newline): the
// Python agent's names and formats, readable by either agent.
//
// The configurations timestamp is not persisted, as in the Python agent:
// every registration fetches configurations and every reply, even the
// "unchanged" one, carries the timestamp; commands are subscribed only after
// that. A persisted timestamp could only be stale, and putting it into
// configurations.json would break the file's format for the Python agent.

const (
	fileMode = 0o600 // configurations hold secrets; only the agent reads these
	dirMode  = 0o755
)

func (c *Cache[S]) jsonPath() string { return filepath.Join(c.dir, c.name.jsonFile()) }
func (c *Cache[S]) hashPath() string { return filepath.Join(c.dir, c.name.hashFile()) }

// load reads the saved cache at start. Unreadable or malformed files give an
// empty cache with no hash (the server then sends a full copy), as in Python.
func (c *Cache[S]) load() S {
	empty := Snapshot{content: clusterSet{m: map[string]map[string]any{}}}
	if c.dir == "" {
		s, _ := c.build(empty, c.log)
		return s
	}
	for _, p := range atomicfile.RemoveTemps(c.dir) {
		c.log.WithField("file", p).Info("removed temp file left by an interrupted write")
	}
	base, err := c.readFiles()
	if err != nil {
		c.log.WithError(err).Warn("cannot load saved cache; starting empty")
		base = empty
	}
	s, err := c.build(base, c.log)
	if err != nil {
		// Python resets too when its indexes cannot be built from the file.
		c.log.WithError(err).Warn("saved cache is unusable; starting empty")
		s, _ = c.build(empty, c.log)
	}
	return s
}

func (c *Cache[S]) readFiles() (Snapshot, error) {
	s := Snapshot{content: clusterSet{m: map[string]map[string]any{}}}
	data, err := os.ReadFile(c.jsonPath())
	if errors.Is(err, fs.ErrNotExist) {
		// Deliberate difference: Python would pair a leftover hash with an
		// empty cache, and the server would then never resend the data. No
		// data means no hash.
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if !json.Valid(data) {
		return s, fmt.Errorf("%s: not valid JSON", c.jsonPath())
	}
	content, err := decodeClusters(data)
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.jsonPath(), err)
	}
	hash, err := os.ReadFile(c.hashPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, err
	default:
		s.hash, s.hasHash = string(hash), true
	}
	s.content = content
	return s, nil
}

// persist mirrors a snapshot to disk. Failures are logged, not returned: the
// in-memory cache already matches the server, and the order of the steps
// guarantees that the files on disk are never a newer JSON with an older
// hash or the other way round, so after a restart the agent at worst asks
// for a full copy.
func (c *Cache[S]) persist(s *Snapshot) {
	if c.dir == "" {
		return
	}
	if err := c.save(s); err != nil {
		c.log.WithError(err).Error("cannot save cache; the agent will fetch a full copy after a restart")
	}
}

// save removes the hash first (a crash now leaves "no hash": full resync),
// then replaces the JSON, then writes the new hash. Each step is atomic.
//
// Deliberate differences from Python: writes are atomic (temp file, fsync,
// rename, fsync dir) where Python rewrites in place, and the hash file is
// always written where Python skips it on the first write of a fresh host
// (which costs that host one needless full resync after its first restart).
func (c *Cache[S]) save(s *Snapshot) error {
	if err := os.MkdirAll(c.dir, dirMode); err != nil {
		return err
	}
	if err := os.Remove(c.hashPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	atomicfile.SyncDir(c.dir)
	data, err := encodeClusters(s.content)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := atomicfile.Write(c.jsonPath(), data, fileMode); err != nil {
		return err
	}
	if !s.hasHash {
		return nil
	}
	return atomicfile.Write(c.hashPath(), []byte(s.hash), fileMode)
}

// encodeClusters writes the clusters object with indent 2 in the clusters'
// order, as Python's json.dump(indent=2) of its ordered dict does.
func encodeClusters(s clusterSet) ([]byte, error) {
	if len(s.ids) == 0 {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, id := range s.ids {
		key, err := marshal(id, "")
		if err != nil {
			return nil, err
		}
		val, err := marshal(s.m[id], "  ")
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", id, err)
		}
		buf.WriteString("  ")
		buf.Write(key)
		buf.WriteString(": ")
		buf.Write(val)
		if i < len(s.ids)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
