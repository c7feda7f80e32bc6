package orchestrator

import (
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/filecache"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// serveResources serves dir like the Ambari server's /resources: a .hash and
// an archive.zip for every directory.
func serveResources(t *testing.T, dir string) (url string, requests func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/resources/")
		sub, file := filepath.Dir(p), filepath.Base(p)
		root := filepath.Join(dir, sub)
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			http.NotFound(w, r)
			return
		}
		switch file {
		case ".hash":
			w.Write([]byte("hash-of-" + sub))
		case "archive.zip":
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(root, path)
				f, _ := zw.Create(filepath.ToSlash(rel))
				data, _ := os.ReadFile(path)
				f.Write(data)
				return nil
			})
			zw.Close()
			w.Write(buf.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/resources", func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

func TestRunDownloadsScriptsFromTheServer(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "cache")
	var files *filecache.Cache
	e := newEnv(t, func(c *Config) {
		files = filecache.New(filecache.Config{CacheDir: empty})
		c.CacheDir = empty
		c.FileCache = files
	})
	url, requests := serveResources(t, e.cache)
	h := header(t, 400, "TESTKIT", "X", "INSTALL", testkitParams("dump_env.py", 60, nil),
		map[string]any{"ambariLevelParams": map[string]any{"jdk_location": url}})
	res := e.orch.Run(context.Background(), e.request(h))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stdout)
	}
	got := strings.Join(requests(), " ")
	for _, want := range []string{
		"/resources/host_scripts/.hash", "/resources/host_scripts/archive.zip",
		"/resources/" + testkitPkg + "/archive.zip", "/resources/stack-hooks/archive.zip",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no request for %s in %s", want, got)
		}
	}
	// The downloaded hooks ran around the downloaded script.
	if testutil.ReadFile(t, filepath.Join(e.tmp, "demo-hooks.log")) != "before-INSTALL X 400\nafter-INSTALL X 400\n" {
		t.Error("hooks from the server did not run")
	}
	if dump := res.StructuredOut["dump"].(map[string]any); dump["argv"].([]any)[0] != filepath.Join(empty, testkitPkg, "scripts/dump_env.py") {
		t.Errorf("script path %v", dump["argv"])
	}
	// Checked once per registration.
	h["taskId"] = 401
	e.orch.Run(context.Background(), e.request(h))
	if r := requests(); len(r) != 0 {
		t.Errorf("second command downloaded again: %v", r)
	}
}
