package filecache

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// unzip extracts every entry of the archive under dir. All entry names are
// checked before anything is written, so a hostile archive leaves nothing
// behind. Like the Python agent, Unix permission bits are not restored:
// files get 0644 and directories 0755 (scripts are run through the
// interpreter, never executed directly).
func unzip(archive, dir string, maxBytes int64) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return err
	}
	defer zr.Close()

	for _, f := range zr.File {
		if err := checkEntry(f); err != nil {
			return err
		}
	}
	var total int64
	for _, f := range zr.File {
		target := filepath.Join(dir, filepath.FromSlash(path.Clean(f.Name)))
		if f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/") {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		n, err := extractFile(f, target, maxBytes-total)
		total += n
		if err != nil {
			return err
		}
	}
	return nil
}

// checkEntry refuses names and types that could write outside the target.
func checkEntry(f *zip.File) error {
	name := f.Name
	switch {
	case name == "":
		return fmt.Errorf("zip entry with an empty name: %w", ErrUnsafePath)
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name):
		return fmt.Errorf("zip entry %q has an absolute path: %w", name, ErrUnsafePath)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return fmt.Errorf("zip entry %q climbs out of the target directory: %w", name, ErrUnsafePath)
		}
	}
	mode := f.Mode()
	if mode&os.ModeSymlink != 0 {
		return fmt.Errorf("zip entry %q is a symbolic link: %w", name, ErrUnsafePath)
	}
	if !mode.IsRegular() && !mode.IsDir() {
		return fmt.Errorf("zip entry %q is not a regular file or directory (mode %v)", name, mode)
	}
	return nil
}

func extractFile(f *zip.File, target string, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("open zip entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("extract zip entry %q: %w", f.Name, err)
	}
	if n > budget {
		return n, fmt.Errorf("zip entry %q: %w", f.Name, errTooLarge)
	}
	return n, nil
}
