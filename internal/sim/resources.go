package sim

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// resources serves the server's resources directory the way the agent's
// file cache expects it (docs/behaviour.md §6): for every sub-directory,
// <dir>/.hash (a content hash) and <dir>/archive.zip (the directory
// zipped), plus plain files. Archives are built on first request and kept
// until the directory's content changes; the hash depends only on file
// names, contents and the executable bit, so it survives restarts and
// rebuilds.
type resources struct {
	root string // absolute, for logs
	rt   *os.Root

	mu   sync.Mutex // serialises builds
	dirs map[string]*dirArchive
}

type dirArchive struct {
	fingerprint [32]byte // names, sizes, modes and mtimes: cheap change detection
	hash        string
	zip         []byte
}

func newResources(dir string) (*resources, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resources directory: %w", err)
	}
	rt, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("resources directory: %w", err)
	}
	return &resources{root: abs, rt: rt, dirs: map[string]*dirArchive{}}, nil
}

// entry is one file or directory of an archived directory.
type entry struct {
	rel  string // slash-separated, relative to the archived directory
	dir  bool
	mode fs.FileMode
	size int64
	mod  time.Time
}

// skipped are never archived: compiled Python and the archive's own files.
func skipped(rel string, d fs.DirEntry) bool {
	base := path.Base(rel)
	if d.IsDir() {
		return base == "__pycache__"
	}
	return strings.HasSuffix(base, ".pyc") || rel == ".hash" || rel == "archive.zip"
}

// scan lists the directory's entries in name order with a fingerprint.
func (r *resources) scan(dir string) ([]entry, [32]byte, error) {
	var entries []entry
	fsys := r.rt.FS()
	st, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, [32]byte{}, err
	}
	if !st.IsDir() {
		return nil, [32]byte{}, fmt.Errorf("%s: %w", dir, fs.ErrNotExist)
	}
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		if skipped(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := fs.Stat(fsys, p) // follows symlinks, inside the root only
		if err != nil {
			return err
		}
		if info.IsDir() && d.Type()&fs.ModeSymlink != 0 {
			return nil // a linked directory is not descended into
		}
		entries = append(entries, entry{rel: rel, dir: info.IsDir(), mode: info.Mode(), size: info.Size(), mod: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, [32]byte{}, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	h := sha256.New()
	var buf [8]byte
	for _, e := range entries {
		h.Write([]byte(e.rel))
		binary.LittleEndian.PutUint64(buf[:], uint64(e.size))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(e.mod.UnixNano()))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(e.mode))
		h.Write(buf[:])
	}
	var fp [32]byte
	copy(fp[:], h.Sum(nil))
	return entries, fp, nil
}

// zipEpoch is the modification time of every archive entry, so that equal
// content gives byte-identical archives.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// archive returns the current archive of dir, building it when the
// directory changed since the last build.
func (r *resources) archive(dir string) (*dirArchive, error) {
	entries, fp, err := r.scan(dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.dirs[dir]; a != nil && a.fingerprint == fp {
		return a, nil
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	content := sha1.New()
	fsys := r.rt.FS()
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.rel, Modified: zipEpoch, Method: zip.Deflate}
		if e.dir {
			hdr.Name += "/"
			hdr.Method = zip.Store
			hdr.SetMode(fs.ModeDir | 0o755)
			fmt.Fprintf(content, "D %s\n", e.rel)
			if _, err := zw.CreateHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		perm := fs.FileMode(0o644)
		if e.mode&0o111 != 0 {
			perm = 0o755
		}
		hdr.SetMode(perm)
		data, err := fs.ReadFile(fsys, path.Join(dir, e.rel))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(content, "F %s %o %d\n", e.rel, perm, len(data))
		content.Write(data)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	a := &dirArchive{fingerprint: fp, hash: hex.EncodeToString(content.Sum(nil)), zip: zbuf.Bytes()}
	r.dirs[dir] = a
	return a, nil
}

// ServeHTTP serves /resources/<path>.
func (r *resources) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rel := strings.TrimPrefix(req.URL.Path, "/resources")
	rel = strings.Trim(path.Clean("/"+rel), "/")
	if rel == "" {
		rel = "."
	}
	if !fs.ValidPath(rel) {
		http.NotFound(w, req)
		return
	}
	switch base := path.Base(rel); base {
	case ".hash", "archive.zip":
		a, err := r.archive(path.Dir(rel))
		if err != nil {
			resourceError(w, req, err)
			return
		}
		if base == ".hash" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, a.hash)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		http.ServeContent(w, req, "archive.zip", zipEpoch, bytes.NewReader(a.zip))
		return
	}
	f, err := r.rt.Open(rel)
	if err != nil {
		resourceError(w, req, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, req)
		return
	}
	http.ServeContent(w, req, st.Name(), st.ModTime(), f)
}

func resourceError(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, req)
		return
	}
	http.Error(w, "cannot read resource", http.StatusInternalServerError)
}
