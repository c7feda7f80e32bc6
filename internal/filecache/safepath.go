package filecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafePath is returned (wrapped) when a path taken from a command or an
// archive would lead outside the directory it must stay in.
var ErrUnsafePath = errors.New("path escapes its base directory")

// ErrAgentDir is returned (wrapped) when a path taken from a command would
// lead into, or replace, one of the agent's own directories.
var ErrAgentDir = errors.New("the agent's own directories cannot be used by commands")

// CheckNotAgentDir refuses path when it is, lies inside or holds one of
// dirs, the agent's own directories (its cluster caches, keys, data and
// tmp): a cache directory replaced there would overwrite the agent's state,
// and a script run from there would run what the agent wrote. Paths are
// compared both as written and with symbolic links resolved. Empty entries
// of dirs are ignored.
func CheckNotAgentDir(path string, dirs []string) error {
	p := filepath.Clean(path)
	rp := resolveExisting(p)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		d = filepath.Clean(d)
		rd := resolveExisting(d)
		switch {
		case within(d, p) || within(rd, rp):
			return fmt.Errorf("%s lies in the agent's own directory %s: %w", path, d, ErrAgentDir)
		case within(p, d) || within(rp, rd):
			return fmt.Errorf("%s holds the agent's own directory %s: %w", path, d, ErrAgentDir)
		}
	}
	return nil
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of path and appends the rest; path as it is when that fails.
func resolveExisting(path string) string {
	existing, rest := path, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return path
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return path
	}
	return filepath.Join(real, rest)
}

// SafeJoin joins root and rel and makes sure the result stays inside root:
// rel must be relative, must not climb out with "..", and no symbolic link
// along the existing part of the joined path may point outside root. root
// itself may be (or sit behind) a symbolic link. The returned path is the
// lexical join, not the resolved one, so that it reads as the operator
// expects in logs and argv.
func SafeJoin(root, rel string) (string, error) {
	if rel == "" {
		return "", fmt.Errorf("empty path under %s: %w", root, ErrUnsafePath)
	}
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("absolute path %q under %s: %w", rel, root, ErrUnsafePath)
	}
	clean := filepath.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q climbs out of %s: %w", rel, root, ErrUnsafePath)
	}
	joined := filepath.Join(root, clean)
	if err := checkResolvedWithin(root, joined); err != nil {
		return "", fmt.Errorf("path %q under %s: %w", rel, root, err)
	}
	return joined, nil
}

// checkResolvedWithin resolves symbolic links in the longest existing prefix
// of target and reports ErrUnsafePath when that lands outside root. The part
// of target that does not exist yet cannot contain links, so checking the
// existing prefix is enough.
func checkResolvedWithin(root, target string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Nothing exists yet, so nothing can point elsewhere.
			return nil
		}
		return fmt.Errorf("resolve %s: %w", root, err)
	}
	existing, rest := target, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	realExisting, err := filepath.EvalSymlinks(existing)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A dangling link: refuse rather than guess where it leads.
			return fmt.Errorf("dangling symbolic link %s: %w", existing, ErrUnsafePath)
		}
		return fmt.Errorf("resolve %s: %w", existing, err)
	}
	if !within(realRoot, filepath.Join(realExisting, rest)) {
		return fmt.Errorf("resolves to %s outside %s: %w", filepath.Join(realExisting, rest), realRoot, ErrUnsafePath)
	}
	return nil
}

// within reports whether path is root or lies below it (both cleaned).
func within(root, path string) bool {
	if path == root {
		return true
	}
	if root == "/" {
		return strings.HasPrefix(path, "/")
	}
	return strings.HasPrefix(path, root+"/")
}
