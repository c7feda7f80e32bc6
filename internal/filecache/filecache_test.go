package filecache

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// resourceServer serves <prefix>/<dir>/.hash and <prefix>/<dir>/archive.zip
// like the Ambari server's resources endpoint, from in-memory directories.
type resourceServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	hashes   map[string]string
	archives map[string][]byte
	status   int           // when non-zero, every request fails with it
	gate     chan struct{} // when non-nil, .hash requests block until it is closed
	requests []string
	hashHits atomic.Int32
}

func newResourceServer(t *testing.T, useTLS bool) *resourceServer {
	rs := &resourceServer{t: t, hashes: map[string]string{}, archives: map[string][]byte{}}
	h := http.HandlerFunc(rs.serve)
	if useTLS {
		rs.srv = httptest.NewTLSServer(h)
	} else {
		rs.srv = httptest.NewServer(h)
	}
	t.Cleanup(rs.srv.Close)
	return rs
}

func (rs *resourceServer) url() string { return rs.srv.URL + "/resources" }

func (rs *resourceServer) serve(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	rs.requests = append(rs.requests, r.URL.EscapedPath())
	status, gate := rs.status, rs.gate
	rs.mu.Unlock()
	if status != 0 {
		http.Error(w, "broken", status)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/resources/")
	switch {
	case strings.HasSuffix(p, "/.hash"):
		rs.hashHits.Add(1)
		if gate != nil {
			<-gate
		}
		rs.mu.Lock()
		h, ok := rs.hashes[strings.TrimSuffix(p, "/.hash")]
		rs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(h + "\n"))
	case strings.HasSuffix(p, "/archive.zip"):
		rs.mu.Lock()
		a, ok := rs.archives[strings.TrimSuffix(p, "/archive.zip")]
		rs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(a)
	default:
		http.NotFound(w, r)
	}
}

func (rs *resourceServer) publish(dir, hash string, archive []byte) {
	rs.mu.Lock()
	rs.hashes[dir] = hash
	rs.archives[dir] = archive
	rs.mu.Unlock()
}

func (rs *resourceServer) takeRequests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.requests
	rs.requests = nil
	return r
}

type entry struct {
	name    string
	body    string
	mode    os.FileMode
	symlink bool
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch {
		case e.symlink:
			hdr.SetMode(os.ModeSymlink | 0o777)
		case e.mode != 0:
			hdr.SetMode(e.mode)
		default:
			hdr.SetMode(0o644)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.name, "/") {
			w.Write([]byte(e.body))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const pkg = "stacks/DEMO/1.0/services/DEMO/package"

func TestProvideDownloadsOncePerRegistration(t *testing.T) {
	rs := newResourceServer(t, false)
	rs.publish(pkg, "h1", makeZip(t,
		entry{name: "scripts/"},
		entry{name: "scripts/demo.py", body: "print('v1')\n"},
		entry{name: "templates/a.j2", body: "x"},
	))
	cacheDir := t.TempDir()
	c := New(Config{CacheDir: cacheDir})
	ctx := context.Background()

	got, err := c.Provide(ctx, rs.url(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cacheDir, pkg); got != want {
		t.Fatalf("path = %s, want %s", got, want)
	}
	if s := testutil.ReadFile(t, filepath.Join(got, "scripts/demo.py")); s != "print('v1')\n" {
		t.Fatalf("script content %q", s)
	}
	if s := testutil.ReadFile(t, filepath.Join(got, ".hash")); s != "h1" {
		t.Fatalf(".hash = %q", s)
	}
	st, _ := os.Stat(filepath.Join(got, ".hash"))
	if st.Mode().Perm() != 0o644 {
		t.Fatalf(".hash mode %v", st.Mode())
	}
	wantReqs := []string{"/resources/" + pkg + "/.hash", "/resources/" + pkg + "/archive.zip"}
	if r := rs.takeRequests(); strings.Join(r, " ") != strings.Join(wantReqs, " ") {
		t.Fatalf("requests = %v, want %v", r, wantReqs)
	}

	// Checked already: no traffic until the next registration.
	if _, err := c.Provide(ctx, rs.url(), pkg); err != nil {
		t.Fatal(err)
	}
	if r := rs.takeRequests(); len(r) != 0 {
		t.Fatalf("second provide made requests %v", r)
	}

	// Re-registration with an unchanged hash: one hash check, no archive.
	c.Reset()
	if _, err := c.Provide(ctx, rs.url(), pkg); err != nil {
		t.Fatal(err)
	}
	if r := rs.takeRequests(); len(r) != 1 || !strings.HasSuffix(r[0], "/.hash") {
		t.Fatalf("after reset requests = %v", r)
	}

	// The server's copy changed: the old tree is replaced as a whole.
	rs.publish(pkg, "h2", makeZip(t, entry{name: "scripts/demo.py", body: "print('v2')\n"}))
	c.Reset()
	if _, err := c.Provide(ctx, rs.url(), pkg); err != nil {
		t.Fatal(err)
	}
	if s := testutil.ReadFile(t, filepath.Join(got, "scripts/demo.py")); s != "print('v2')\n" {
		t.Fatalf("script content after update %q", s)
	}
	if _, err := os.Stat(filepath.Join(got, "templates/a.j2")); !os.IsNotExist(err) {
		t.Fatalf("stale file survived the update: %v", err)
	}
	if s := testutil.ReadFile(t, filepath.Join(got, ".hash")); s != "h2" {
		t.Fatalf(".hash = %q", s)
	}
	assertNoLeftovers(t, filepath.Dir(got))
}

func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary %s left in %s", e.Name(), dir)
		}
	}
}

func TestProvideEmptyArchiveKeepsOldCopy(t *testing.T) {
	rs := newResourceServer(t, false)
	cacheDir := t.TempDir()
	local := filepath.Join(cacheDir, "stack-hooks")
	os.MkdirAll(filepath.Join(local, "before-INSTALL/scripts"), 0o755)
	os.WriteFile(filepath.Join(local, "before-INSTALL/scripts/hook.py"), []byte("old"), 0o644)
	rs.publish("stack-hooks", "new-hash", []byte(" \n\t"))

	c := New(Config{CacheDir: cacheDir})
	if _, err := c.Provide(context.Background(), rs.url(), "stack-hooks"); err != nil {
		t.Fatal(err)
	}
	if s := testutil.ReadFile(t, filepath.Join(local, "before-INSTALL/scripts/hook.py")); s != "old" {
		t.Fatalf("old copy changed: %q", s)
	}
	if _, err := os.Stat(filepath.Join(local, ".hash")); !os.IsNotExist(err) {
		t.Fatalf("hash written for an empty archive: %v", err)
	}
	rs.takeRequests()
	// Still counts as checked.
	c.Provide(context.Background(), rs.url(), "stack-hooks")
	if r := rs.takeRequests(); len(r) != 0 {
		t.Fatalf("requests after empty archive: %v", r)
	}
	assertNoLeftovers(t, cacheDir)
}

func TestProvideAutoUpdateDisabled(t *testing.T) {
	rs := newResourceServer(t, false)
	rs.publish(CustomActionsDir, "h", makeZip(t, entry{name: "scripts/a.py"}))
	cacheDir := t.TempDir()
	c := New(Config{CacheDir: cacheDir, AutoUpdate: func() bool { return false }})
	got, err := c.Provide(context.Background(), rs.url(), CustomActionsDir)
	if err != nil || got != filepath.Join(cacheDir, CustomActionsDir) {
		t.Fatalf("got %q, %v", got, err)
	}
	if r := rs.takeRequests(); len(r) != 0 {
		t.Fatalf("requests with updates disabled: %v", r)
	}
}

func TestProvideFailures(t *testing.T) {
	rs := newResourceServer(t, false)
	rs.status = http.StatusInternalServerError
	cacheDir := t.TempDir()

	strict := New(Config{CacheDir: cacheDir})
	_, err := strict.Provide(context.Background(), rs.url(), HostScriptsDir)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Dir != filepath.Join(cacheDir, HostScriptsDir) {
		t.Fatalf("err = %v, want *Error for the directory", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Fatalf("error does not name the HTTP status: %v", err)
	}

	tolerant := New(Config{CacheDir: cacheDir, TolerateDownloadFailures: true})
	got, err := tolerant.Provide(context.Background(), rs.url(), HostScriptsDir)
	if err != nil || got != filepath.Join(cacheDir, HostScriptsDir) {
		t.Fatalf("tolerant provide = %q, %v", got, err)
	}
	rs.takeRequests()
	// A tolerated failure is not "checked": the next command retries.
	tolerant.Provide(context.Background(), rs.url(), HostScriptsDir)
	if r := rs.takeRequests(); len(r) != 1 {
		t.Fatalf("retry requests = %v", r)
	}

	// No server at all (empty jdk_location): an error, not a panic.
	if _, err := strict.Provide(context.Background(), "", HostScriptsDir); err == nil {
		t.Fatal("provide without a server URL succeeded")
	}
}

func TestProvideConcurrentCallersShareOneCheck(t *testing.T) {
	rs := newResourceServer(t, false)
	rs.publish(pkg, "h", makeZip(t, entry{name: "scripts/x.py", body: "x"}))
	rs.gate = make(chan struct{})
	c := New(Config{CacheDir: t.TempDir()})

	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Provide(context.Background(), rs.url(), pkg)
			errs <- err
		}()
	}
	// Wait until the one check reached the server, give the others time to
	// queue behind it, then let it finish.
	for rs.hashHits.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(rs.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rs.hashHits.Load(); n != 1 {
		t.Fatalf("%d hash checks for concurrent callers, want 1", n)
	}
}

func TestProvideRefusesHostileArchives(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot":  {{name: "scripts/ok.py"}, {name: "../../evil.py", body: "x"}},
		"inner":    {{name: "scripts/../../evil.py", body: "x"}},
		"absolute": {{name: "/tmp/evil.py", body: "x"}},
		"symlink":  {{name: "scripts/link", body: "/etc/passwd", symlink: true}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			rs := newResourceServer(t, false)
			rs.publish(pkg, "h", makeZip(t, entries...))
			cacheDir := t.TempDir()
			local := filepath.Join(cacheDir, pkg)
			os.MkdirAll(local, 0o755)
			os.WriteFile(filepath.Join(local, "keep.py"), []byte("old"), 0o644)

			c := New(Config{CacheDir: cacheDir})
			_, err := c.Provide(context.Background(), rs.url(), pkg)
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			if s := testutil.ReadFile(t, filepath.Join(local, "keep.py")); s != "old" {
				t.Fatalf("old copy lost: %q", s)
			}
			for _, p := range []string{filepath.Join(cacheDir, "evil.py"), filepath.Join(filepath.Dir(cacheDir), "evil.py")} {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s was written", p)
				}
			}
			assertNoLeftovers(t, filepath.Dir(local))
		})
	}
}

func TestProvideRefusesUnsafeDirectories(t *testing.T) {
	rs := newResourceServer(t, false)
	cacheDir := t.TempDir()
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(cacheDir, "stacks"))
	c := New(Config{CacheDir: cacheDir})
	for _, sub := range []string{"../x", "/etc", "stacks/HDP/package", "a/../../b", "", "."} {
		if _, err := c.Provide(context.Background(), rs.url(), sub); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("Provide(%q) err = %v, want ErrUnsafePath", sub, err)
		}
	}
	if r := rs.takeRequests(); len(r) != 0 {
		t.Fatalf("unsafe directories caused requests %v", r)
	}
}

func TestProvideReplacesPlainFileAndEncodesURL(t *testing.T) {
	rs := newResourceServer(t, false)
	sub := "stacks/My Stack/1.0"
	rs.publish(sub, "h", makeZip(t, entry{name: "a.txt", body: "a"}))
	cacheDir := t.TempDir()
	os.MkdirAll(filepath.Join(cacheDir, "stacks/My Stack"), 0o755)
	os.WriteFile(filepath.Join(cacheDir, sub), []byte("not a dir"), 0o644)
	c := New(Config{CacheDir: cacheDir})
	got, err := c.Provide(context.Background(), rs.url(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if s := testutil.ReadFile(t, filepath.Join(got, "a.txt")); s != "a" {
		t.Fatalf("a.txt = %q", s)
	}
	r := rs.takeRequests()
	if len(r) == 0 || r[0] != "/resources/stacks/My%20Stack/1.0/.hash" {
		t.Fatalf("requests %v", r)
	}
}

func TestProvideBoundsArchiveSize(t *testing.T) {
	rs := newResourceServer(t, false)
	big := makeZip(t, entry{name: "big.bin", body: strings.Repeat("0123456789", 10000)})
	rs.publish(pkg, "h", big)
	c := New(Config{CacheDir: t.TempDir(), MaxArchiveBytes: int64(len(big) - 1)})
	if _, err := c.Provide(context.Background(), rs.url(), pkg); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized archive: err = %v", err)
	}
	// The archive is small but unpacks to more than allowed.
	c = New(Config{CacheDir: t.TempDir(), MaxExtractedBytes: 1000})
	if _, err := c.Provide(context.Background(), rs.url(), pkg); !errors.Is(err, errTooLarge) {
		t.Fatalf("zip bomb: err = %v", err)
	}
}

func TestProvideStalledDownloadTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.hash") {
			w.Write([]byte("h"))
			return
		}
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("PK"))
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := New(Config{CacheDir: t.TempDir(), Timeout: 200 * time.Millisecond})
	_, err := c.Provide(context.Background(), srv.URL, pkg)
	if err == nil || !strings.Contains(err.Error(), "no data for") {
		t.Fatalf("stalled download: err = %v", err)
	}
}

func TestProvideTLS(t *testing.T) {
	rs := newResourceServer(t, true)
	rs.publish(pkg, "h", makeZip(t, entry{name: "a.txt", body: "a"}))

	// Default: no certificate verification.
	c := New(Config{CacheDir: t.TempDir()})
	if _, err := c.Provide(context.Background(), rs.url(), pkg); err != nil {
		t.Fatalf("default TLS: %v", err)
	}

	// A verifying config with the wrong CA fails.
	c = New(Config{CacheDir: t.TempDir(), TLS: &tls.Config{RootCAs: x509.NewCertPool()}})
	if _, err := c.Provide(context.Background(), rs.url(), pkg); err == nil {
		t.Fatal("untrusted server certificate accepted")
	}

	// A verifying config with the server's CA succeeds.
	pool := x509.NewCertPool()
	pool.AddCert(rs.srv.Certificate())
	c = New(Config{CacheDir: t.TempDir(), TLS: &tls.Config{RootCAs: pool}})
	if _, err := c.Provide(context.Background(), rs.url(), pkg); err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
}

// A server naming the agent's saved cluster caches (or another directory of
// its own) as a cache directory gets an error; nothing is downloaded and the
// directory is left as it was.
func TestProvideRefusesAgentDirectories(t *testing.T) {
	root := t.TempDir()
	cacheDir := filepath.Join(root, "cache")
	saved := filepath.Join(cacheDir, "cluster_cache", "configurations.json")
	os.MkdirAll(filepath.Dir(saved), 0o755)
	os.WriteFile(saved, []byte(`{"2": {}}`), 0o600)
	os.MkdirAll(filepath.Join(cacheDir, "keys"), 0o700)
	c := New(Config{CacheDir: cacheDir, AgentDirs: []string{filepath.Join(cacheDir, "keys")}})
	for _, sub := range []string{"cluster_cache", "cluster_cache/", "keys", "stacks/../cluster_cache"} {
		_, err := c.Provide(context.Background(), "http://127.0.0.1:1/resources", sub)
		if !errors.Is(err, ErrAgentDir) {
			t.Errorf("Provide(%q): %v, want ErrAgentDir", sub, err)
		}
	}
	if b, err := os.ReadFile(saved); err != nil || string(b) != `{"2": {}}` {
		t.Errorf("saved cluster cache changed: %q %v", b, err)
	}
}
