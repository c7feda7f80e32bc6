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

func TestCheckNotAgentDir(t *testing.T) {
	// cache_dir set to the agent's home: its own directories sit beside
	// the stacks.
	root := t.TempDir()
	for _, d := range []string{"cluster_cache", "data", "keys", "tmp", "stacks/DEMO"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink(filepath.Join(root, "cluster_cache"), filepath.Join(root, "stacks", "cc"))
	os.Symlink("../../keys", filepath.Join(root, "stacks", "DEMO", "k"))
	agentDirs := []string{filepath.Join(root, "cluster_cache"), filepath.Join(root, "data"), filepath.Join(root, "keys"), filepath.Join(root, "tmp"), ""}
	cases := map[string]bool{ // rel -> refused
		"stacks/DEMO/package": false,
		"stacks":              false,
		"custom_actions":      false,
		"cluster_cache":       true,
		"cluster_cache/x/y":   true,
		"data":                true,
		"keys/ca.key":         true,
		"tmp/":                true,
		".":                   true, // holds them all
		"stacks/cc":           true, // a link into the cluster caches
		"stacks/cc/new":       true,
		"stacks/DEMO/k":       true,
	}
	for rel, refused := range cases {
		p, err := SafeJoin(root, rel)
		if err != nil {
			t.Fatalf("SafeJoin(%q): %v", rel, err)
		}
		err = CheckNotAgentDir(p, agentDirs)
		if refused != errors.Is(err, ErrAgentDir) {
			t.Errorf("%s: %v, refused %v", rel, err, refused)
		}
	}
}
