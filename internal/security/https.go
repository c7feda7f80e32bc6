package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/sirupsen/logrus"
)

// DefaultTimeout bounds one HTTPS call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// TwoWaySSLProperty is the /connection_info key that turns client
// certificates on.
const TwoWaySSLProperty = "security.server.two_way_ssl"

// Config is what the calls of this package need from ambari-agent.ini and
// the environment.
type Config struct {
	Server  string // [server] hostname (one host)
	URLPort int    // [server] url_port: calls go to https://<Server>:<URLPort>
	KeysDir string // [security] keysdir
	// Hostname is this agent's host name: the file names <host>.key,
	// <host>.csr, <host>.crt and the CSR subject OU.
	Hostname string
	// Passphrase is the value of the environment variable named by
	// [security] passphrase_env_var_name; the caller resolves it.
	Passphrase       string
	VerifyServerCert bool   // [security] ssl_verify_cert != "0"
	CACertPath       string // [security] ca_cert_path
	// Timeout bounds each HTTPS call (connect, TLS, request, response).
	// Default 10 s.
	Timeout time.Duration
	Log     *logrus.Entry
}

func (cfg Config) baseURL() string {
	return "https://" + net.JoinHostPort(cfg.Server, strconv.Itoa(cfg.URLPort))
}

func (cfg Config) log() *logrus.Entry {
	return logging.OrDiscard(cfg.Log)
}

// File paths in keysdir. ca.crt is fixed: [security] server_crt is read by
// the Python agent but never used for the path.
func (cfg Config) caFile() string   { return filepath.Join(cfg.KeysDir, "ca.crt") }
func (cfg Config) keyFile() string  { return filepath.Join(cfg.KeysDir, cfg.Hostname+".key") }
func (cfg Config) csrFile() string  { return filepath.Join(cfg.KeysDir, cfg.Hostname+".csr") }
func (cfg Config) certFile() string { return filepath.Join(cfg.KeysDir, cfg.Hostname+".crt") }

// httpClient is a client for one batch of calls to the one-way port: no
// proxy, no redirects, no kept-alive connections, bounded in time, TLS per
// serverTLS.
func (cfg Config) httpClient() (*http.Client, error) {
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
			TLSClientConfig:       tlsCfg,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			DisableKeepAlives:     true,
		},
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// call makes one request and returns the status and up to limit bytes of
// the body.
func (cfg Config) call(ctx context.Context, method, path, contentType string, body io.Reader, limit int64) (int, []byte, error) {
	client, err := cfg.httpClient()
	if err != nil {
		return 0, nil, err
	}
	url := cfg.baseURL() + path
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read response: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

// ProbeServer checks that the server answers GET /ca with HTTP 200, the
// agent's startup test that the server is up. The body is ignored.
func ProbeServer(ctx context.Context, cfg Config) error {
	status, _, err := cfg.call(ctx, http.MethodGet, "/ca", "", nil, 64<<10)
	if err != nil {
		return fmt.Errorf("probe server: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("probe server: GET %s/ca: HTTP status %d", cfg.baseURL(), status)
	}
	return nil
}

// TwoWaySSL asks the server whether it requires client certificates
// (GET /connection_info). The answer is true only when the value of
// security.server.two_way_ssl is a JSON string equal to "true" in any case.
// Any failure means false; the error says why, for the log.
func TwoWaySSL(ctx context.Context, cfg Config) (bool, error) {
	status, body, err := cfg.call(ctx, http.MethodGet, "/connection_info", "", nil, 64<<10)
	if err != nil {
		return false, fmt.Errorf("two-way SSL discovery: %w", err)
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("two-way SSL discovery: GET %s/connection_info: HTTP status %d", cfg.baseURL(), status)
	}
	var info map[string]any
	if err := json.Unmarshal(body, &info); err != nil {
		return false, fmt.Errorf("two-way SSL discovery: bad JSON from /connection_info: %w", err)
	}
	v, ok := info[TwoWaySSLProperty].(string)
	if !ok {
		return false, errors.New("two-way SSL discovery: /connection_info has no string " + TwoWaySSLProperty)
	}
	return strings.ToLower(v) == "true", nil
}
