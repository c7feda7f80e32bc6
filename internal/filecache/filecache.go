package filecache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/sirupsen/logrus"
)

// Names of the cache sub-directories the agent provides (docs/behaviour.md §6).
const (
	CustomActionsDir = "custom_actions"
	HostScriptsDir   = "host_scripts"
)

const (
	hashFileName    = ".hash"
	archiveFileName = "archive.zip"

	defaultTimeout           = 10 * time.Second
	defaultMaxArchiveBytes   = 1 << 30
	defaultMaxExtractedBytes = 4 << 30
	maxHashBytes             = 64 << 10

	invalidateTries = 5
	invalidateSleep = 250 * time.Millisecond
)

// Config holds what the cache needs from the agent configuration.
type Config struct {
	// CacheDir is [agent] cache_dir.
	CacheDir string
	// AgentDirs are the agent's own directories besides
	// <CacheDir>/cluster_cache ([agent] prefix, [security] keysdir, the
	// tmp dir): no directory is provided in them (CheckNotAgentDir).
	AgentDirs []string
	// AutoUpdate reports [agentConfig] agent.auto.cache.update; false turns
	// every download check off. It changes with metadata updates, hence a
	// function. nil means enabled.
	AutoUpdate func() bool
	// TolerateDownloadFailures is [agent] tolerate_download_failures: when
	// true a failed check logs a warning and the local copy is used.
	TolerateDownloadFailures bool
	// TLS is used for https URLs. nil means the [security] default: no
	// certificate verification (the caller builds a verifying config when
	// ca_cert_path is set).
	TLS *tls.Config
	// Timeout bounds connecting, waiting for response headers and every
	// single read of a body (the Python agent's socket timeout). 0 = 10 s.
	Timeout time.Duration
	// MaxArchiveBytes bounds a downloaded archive so a broken server cannot
	// fill the disk. 0 = 1 GiB.
	MaxArchiveBytes int64
	// MaxExtractedBytes bounds the unpacked size of one archive. 0 = 4 GiB.
	MaxExtractedBytes int64
	// Log receives warnings; nil discards.
	Log *logrus.Entry
}

// Error is a failed check of one directory (the Python agent's
// CachingException). It is returned only when download failures are not
// tolerated.
type Error struct {
	Dir string // full local path of the directory
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("update cache directory %s: %v", e.Dir, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Cache provides directories of the resources tree. It is safe for
// concurrent use.
type Cache struct {
	cfg    Config
	log    *logrus.Entry
	client *http.Client
	// agentDirs are cfg.AgentDirs and the cluster caches.
	agentDirs []string

	mu sync.Mutex
	// inflight holds one channel per directory being checked right now;
	// it is closed when the check ends so that waiters can go on.
	inflight map[string]chan struct{}
	// checked holds directories already checked since the last Reset. It is
	// bounded by the number of distinct directories the server uses.
	checked map[string]struct{}
	// generation is bumped by Reset so that a check that started before a
	// re-registration does not count as done after it.
	generation uint64
}

// New returns a cache with cfg's defaults filled in.
func New(cfg Config) *Cache {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MaxArchiveBytes <= 0 {
		cfg.MaxArchiveBytes = defaultMaxArchiveBytes
	}
	if cfg.MaxExtractedBytes <= 0 {
		cfg.MaxExtractedBytes = defaultMaxExtractedBytes
	}
	log := cfg.Log
	log = logging.OrDiscard(log)
	tlsConf := cfg.TLS
	if tlsConf == nil {
		// [security] default: no verification unless ca_cert_path is set.
		tlsConf = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // matches the agent's documented default
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	transport := &http.Transport{
		Proxy:                 nil, // downloads always ignore proxy settings
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Cache{
		cfg:       cfg,
		log:       log,
		client:    &http.Client{Transport: transport},
		agentDirs: append(slices.Clone(cfg.AgentDirs), filepath.Join(cfg.CacheDir, cache.DirName)),
		inflight:  make(map[string]chan struct{}),
		checked:   make(map[string]struct{}),
	}
}

// Reset forgets which directories were checked. The agent calls it on every
// registration so that each directory is checked again once.
func (c *Cache) Reset() {
	c.mu.Lock()
	c.checked = make(map[string]struct{})
	c.generation++
	c.mu.Unlock()
}

// Provide makes sure <cache_dir>/sub is current and returns its path.
// serverURL is the command's ambariLevelParams.jdk_location (e.g.
// http://server:8080/resources). A caller that finds another check of the
// same directory in flight waits for it and gets the path whatever its
// outcome. ctx only bounds this call; it is not stored.
func (c *Cache) Provide(ctx context.Context, serverURL, sub string) (string, error) {
	if filepath.Clean(sub) == "." {
		// Replacing "." would wipe the whole cache, cluster caches included.
		return "", fmt.Errorf("cache directory %q: %w", sub, ErrUnsafePath)
	}
	full, err := SafeJoin(c.cfg.CacheDir, sub)
	if err != nil {
		return "", err
	}
	if err := CheckNotAgentDir(full, c.agentDirs); err != nil {
		return "", fmt.Errorf("cache directory %q: %w", sub, err)
	}
	if c.cfg.AutoUpdate != nil && !c.cfg.AutoUpdate() {
		return full, nil
	}

	c.mu.Lock()
	if wait, busy := c.inflight[full]; busy {
		c.mu.Unlock()
		select {
		case <-wait:
			return full, nil
		case <-ctx.Done():
			return "", fmt.Errorf("wait for cache directory %s: %w", full, ctx.Err())
		}
	}
	if _, done := c.checked[full]; done {
		c.mu.Unlock()
		return full, nil
	}
	done := make(chan struct{})
	c.inflight[full] = done
	gen := c.generation
	c.mu.Unlock()

	err = c.update(ctx, serverURL, filepath.Clean(sub), full)

	c.mu.Lock()
	if err == nil && gen == c.generation {
		c.checked[full] = struct{}{}
	}
	delete(c.inflight, full)
	close(done)
	c.mu.Unlock()

	if err != nil {
		cerr := &Error{Dir: full, Err: err}
		if c.cfg.TolerateDownloadFailures {
			c.log.WithError(cerr).Warn("Error occurred during cache update; tolerate_download_failures is set, continuing with the current cache")
			return full, nil
		}
		return "", cerr
	}
	return full, nil
}

// update compares hashes and replaces the directory when they differ.
func (c *Cache) update(ctx context.Context, serverURL, sub, full string) error {
	remoteHash, err := c.fetchHash(ctx, buildURL(serverURL, sub, hashFileName))
	if err != nil {
		return err
	}
	if local := readLocalHash(full); local != "" && local == remoteHash {
		return nil
	}
	archiveURL := buildURL(serverURL, sub, archiveFileName)
	archive, blank, err := c.download(ctx, archiveURL, full)
	if err != nil {
		return err
	}
	defer os.Remove(archive)
	if blank {
		c.log.WithField("url", archiveURL).Warn("Skipping empty archive; the cached copy will be used")
		return nil
	}
	if err := c.replace(full, archive, remoteHash); err != nil {
		return err
	}
	c.log.WithField("dir", full).Info("Updated cache directory")
	return nil
}

// buildURL mirrors "<prefix>/<url-encoded dir>/<file>".
func buildURL(prefix, dir, file string) string {
	return prefix + "/" + (&url.URL{Path: filepath.ToSlash(dir)}).EscapedPath() + "/" + file
}

func readLocalHash(dir string) string {
	f, err := os.Open(filepath.Join(dir, hashFileName))
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, maxHashBytes)).ReadString('\n')
	return strings.TrimSpace(line)
}

func (c *Cache) fetchHash(ctx context.Context, u string) (string, error) {
	var buf bytes.Buffer
	if _, err := c.get(ctx, u, &buf, maxHashBytes); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

// download streams the archive into a temporary file next to the cache and
// reports whether the body was blank (empty or only whitespace), which the
// server sends when it has no archive.
func (c *Cache) download(ctx context.Context, u, full string) (path string, blank bool, err error) {
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return "", false, fmt.Errorf("create %s: %w", filepath.Dir(full), err)
	}
	f, err := os.CreateTemp(filepath.Dir(full), ".archive-*.zip")
	if err != nil {
		return "", false, fmt.Errorf("create temporary archive: %w", err)
	}
	ws := &whitespaceTracker{w: f, blank: true}
	_, err = c.get(ctx, u, ws, c.cfg.MaxArchiveBytes)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write temporary archive: %w", cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", false, err
	}
	return f.Name(), ws.blank, nil
}

// get copies the body of u into w, failing on a non-2xx status, on a body
// larger than limit and on any read that stalls longer than the timeout.
func (c *Cache) get(ctx context.Context, u string, w io.Writer, limit int64) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("can not download file from url %s: %w", u, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("can not download file from url %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, fmt.Errorf("can not download file from url %s: HTTP status %s", u, resp.Status)
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("can not download file from url %s: %d bytes exceed the limit of %d", u, resp.ContentLength, limit)
	}
	stall := time.AfterFunc(c.cfg.Timeout, cancel)
	defer stall.Stop()
	body := &stallReader{r: resp.Body, timer: stall, timeout: c.cfg.Timeout}
	n, err := io.Copy(w, io.LimitReader(body, limit+1))
	if err != nil {
		if ctx.Err() != nil && !stall.Stop() {
			err = fmt.Errorf("no data for %s: %w", c.cfg.Timeout, err)
		}
		return n, fmt.Errorf("can not download file from url %s: %w", u, err)
	}
	if n > limit {
		return n, fmt.Errorf("can not download file from url %s: body exceeds the limit of %d bytes", u, limit)
	}
	return n, nil
}

// stallReader re-arms a timer on every read so that a body is cut off only
// when the server stops sending, not when a large download takes long.
type stallReader struct {
	r       io.Reader
	timer   *time.Timer
	timeout time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.timeout)
	}
	return n, err
}

// whitespaceTracker passes writes through and remembers whether anything
// but ASCII whitespace went by.
type whitespaceTracker struct {
	w     io.Writer
	blank bool
}

func (t *whitespaceTracker) Write(p []byte) (int, error) {
	if t.blank && len(bytes.TrimSpace(p)) > 0 {
		t.blank = false
	}
	return t.w.Write(p)
}

// replace unpacks the archive into a staging directory, writes the hash there
// and swaps it in for the old copy.
func (c *Cache) replace(full, archive, hash string) error {
	staging, err := os.MkdirTemp(filepath.Dir(full), "."+filepath.Base(full)+".staging-")
	if err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(staging)
		}
	}()
	if err := os.Chmod(staging, 0o755); err != nil {
		return fmt.Errorf("chmod staging directory: %w", err)
	}
	if err := unzip(archive, staging, c.cfg.MaxExtractedBytes); err != nil {
		return fmt.Errorf("can not unpack zip file to directory %s: %w", full, err)
	}
	hashFile := filepath.Join(staging, hashFileName)
	if err := os.WriteFile(hashFile, []byte(hash), 0o644); err != nil {
		return fmt.Errorf("can not write to file %s: %w", filepath.Join(full, hashFileName), err)
	}
	if err := os.Chmod(hashFile, 0o644); err != nil {
		return fmt.Errorf("can not write to file %s: %w", filepath.Join(full, hashFileName), err)
	}
	if err := removeWithRetries(full); err != nil {
		return fmt.Errorf("can not invalidate cache directory %s: %w", full, err)
	}
	if err := os.Rename(staging, full); err != nil {
		return fmt.Errorf("can not invalidate cache directory %s: %w", full, err)
	}
	keep = true
	return nil
}

// removeWithRetries deletes path (a directory tree or a plain file). It
// retries because a script may create files (e.g. *.pyc) while the tree is
// being removed.
func removeWithRetries(path string) error {
	var err error
	for try := 0; try < invalidateTries; try++ {
		if err = os.RemoveAll(path); err == nil {
			return nil
		}
		time.Sleep(invalidateSleep)
	}
	return err
}

var errTooLarge = errors.New("archive unpacks to more than the allowed size")
