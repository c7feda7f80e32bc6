package orchestrator

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// After a command has run, the data dir is 0750 and every file the
// command left in it is 0600, whatever the umask: they hold or repeat
// passwords.
func TestCommandFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	e := newEnv(t, nil)
	h := header(t, 43, "TESTKIT", "TESTKIT_DUMP", "START", testkitParams("dump_env.py", 60, nil), nil)
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("exit %d, err %v, stderr %q", res.ExitCode, res.Err, res.Stderr)
	}
	if len(res.StructuredOut) == 0 {
		t.Fatal("the script wrote no structured output")
	}
	if m := mode(t, e.data); m != 0o750 {
		t.Errorf("data dir mode %o, want 750", m)
	}
	for _, f := range []string{"command-43.json", "output-43.txt", "errors-43.txt", "structured-out-43.json"} {
		if m := mode(t, filepath.Join(e.data, f)); m != 0o600 {
			t.Errorf("%s mode %o, want 600", f, m)
		}
	}
	// A status check leaves nothing behind.
	st := e.orch.Status(context.Background(), StatusRequest{ClusterID: clusterID, ServiceName: "DEMO", ComponentName: "DEMO_CLIENT"})
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	left, _ := filepath.Glob(filepath.Join(e.data, "status_*"))
	if len(left) != 0 {
		t.Errorf("status check files left: %v", left)
	}
}

// The status check files and temporary files a crashed run left are removed
// at start; task files an older version left world-readable are narrowed;
// files of stack scripts are left alone.
func TestLeftoversRemovedAtStart(t *testing.T) {
	var data string
	files := map[string]os.FileMode{
		"status_command_0b6e.json":          0o600,
		"status_command_stdout_17.txt":      0o644,
		"status_command_stderr_17.txt":      0o644,
		"status_structured-out-17.json":     0o644,
		".command-9.json.tmp-12345":         0o600,
		"output-9.txt":                      0o644,
		"structured-out-9.json":             0o664,
		"command-9.json":                    0o600,
		"repo_version_history.csv":          0o644,
		".hdfs_resource_ignore":             0o644,
		"status_command_unrelated_dir/keep": 0o644,
	}
	newEnv(t, func(c *Config) {
		data = c.Prefix
		for name, m := range files {
			p := filepath.Join(data, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("{}"), m); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, m); err != nil {
				t.Fatal(err)
			}
		}
	})
	want := map[string]os.FileMode{ // 0: removed
		"status_command_0b6e.json":          0,
		"status_command_stdout_17.txt":      0,
		"status_command_stderr_17.txt":      0,
		"status_structured-out-17.json":     0,
		".command-9.json.tmp-12345":         0,
		"output-9.txt":                      0o600,
		"structured-out-9.json":             0o600,
		"command-9.json":                    0o600,
		"repo_version_history.csv":          0o644,
		".hdfs_resource_ignore":             0o644,
		"status_command_unrelated_dir/keep": 0o644,
	}
	for name, m := range want {
		st, err := os.Stat(filepath.Join(data, name))
		switch {
		case m == 0 && err == nil:
			t.Errorf("%s survived the start", name)
		case m != 0 && err != nil:
			t.Errorf("%s: %v", name, err)
		case m != 0 && st.Mode().Perm() != m:
			t.Errorf("%s mode %o, want %o", name, st.Mode().Perm(), m)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}
