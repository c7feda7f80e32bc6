package filecache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSafeJoin(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root, "stacks/DEMO"), 0o755)
	os.Symlink(outside, filepath.Join(root, "escape"))
	os.Symlink(filepath.Join(root, "stacks"), filepath.Join(root, "inside"))
	os.Symlink(filepath.Join(root, "missing"), filepath.Join(root, "dangling"))
	// The root itself behind a link is fine.
	linkedRoot := filepath.Join(t.TempDir(), "cache")
	os.Symlink(root, linkedRoot)

	cases := []struct {
		root, rel string
		want      string // "" = refused
	}{
		{root, "stacks/DEMO/package", filepath.Join(root, "stacks/DEMO/package")},
		{root, "stacks/./DEMO//x", filepath.Join(root, "stacks/DEMO/x")},
		{root, "stacks/../custom_actions", filepath.Join(root, "custom_actions")},
		{root, "inside/DEMO", filepath.Join(root, "inside/DEMO")},
		{linkedRoot, "stacks/DEMO", filepath.Join(linkedRoot, "stacks/DEMO")},
		{root, "..", ""},
		{root, "../x", ""},
		{root, "a/../../x", ""},
		{root, "/etc/passwd", ""},
		{root, "", ""},
		{root, "escape", ""},
		{root, "escape/deeper/not/there", ""},
		{root, "dangling/x", ""},
	}
	for _, c := range cases {
		got, err := SafeJoin(c.root, c.rel)
		if c.want == "" {
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("SafeJoin(%q) = %q, %v; want ErrUnsafePath", c.rel, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("SafeJoin(%q) = %q, %v; want %q", c.rel, got, err, c.want)
		}
	}
}
