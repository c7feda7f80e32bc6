package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// webCheck is a WEB alert: one GET, judged by its status code.
type webCheck struct {
	uri *uriSpec // nil: the definition has no uri
}

func newWebCheck(src *pyvalue.Dict) (*webCheck, error) {
	c := &webCheck{}
	if v, ok := src.Get("uri"); ok {
		u, err := parseURISpec(v)
		if err != nil {
			return nil, err
		}
		c.uri = u
	}
	return c, nil
}

func (c *webCheck) defaultText(state string) string {
	if state == StateCritical {
		return "Connection failed to {1}"
	}
	return "HTTP {0} response in {2:.4f} seconds"
}

func (c *webCheck) collect(ctx context.Context, r *run) (string, []any, error) {
	if c.uri == nil {
		return "", nil, errors.New("Could not determine result. URL(s) were not defined.")
	}
	au, err := r.cfg.uriFromStructure(c.uri, r.host(), r.publicHost())
	if err != nil {
		return "", nil, err
	}
	url := strings.ReplaceAll(buildWebURL(au, r.host()), "0.0.0.0", r.host())
	status, secs, errMsg, err := c.request(ctx, r, url)
	if err != nil {
		return "", nil, err
	}
	// Deliberate difference: Python divides the elapsed seconds by 1000
	// (mistaking them for milliseconds); real seconds are reported here.
	if status == 0 {
		return StateCritical, []any{int64(0), url, secs, errMsg}, nil
	}
	for _, code := range c.uri.acceptableCodes {
		if n, ok := pyvalue.Number(code); ok && n == float64(status) {
			return StateOK, []any{int64(status), url, secs}, nil
		}
	}
	if status < 400 {
		return StateOK, []any{int64(status), url, secs}, nil
	}
	return StateWarning, []any{int64(status), url, secs, errMsg}, nil
}

// buildWebURL is WebAlert._build_web_query: a URI that already is an
// http(s) URL is used as is; otherwise scheme from the SSL flag, host from
// the URI (this host if none), port from the URI (else 443/80), and the
// path if the URI has one.
func buildWebURL(au alertURI, host string) string {
	s := pyvalue.Str(pyvalue.From(au.uri))
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return s
	}
	path := ""
	if s != "" && s != "None" {
		path, _ = pathFromURL(s)
	}
	h, ok := hostFromURL(au.uri)
	if !ok {
		h = host
	}
	port, scheme := 80, "http"
	if au.ssl {
		port, scheme = 443, "https"
	}
	if p, ok := portFromURL(pyvalue.From(au.uri)); ok {
		port = p
	}
	if path != "" {
		return fmt.Sprintf("%s://%s:%d/%s", scheme, h, port, path)
	}
	return fmt.Sprintf("%s://%s:%d", scheme, h, port)
}

// request returns the HTTP status (0: no response) with the elapsed
// seconds and the error text (nil when none). err is only set when the
// check cannot be made at all (Kerberos library missing).
func (c *webCheck) request(ctx context.Context, r *run, url string) (int, float64, any, error) {
	kp, err := r.kerberosFor(c.uri)
	if err != nil {
		// Python catches everything around the request: status 0.
		return 0, 0, err.Error(), nil
	}
	if kp != nil {
		res, err := r.curlKrb(ctx, kp, url, "web_alert", true, c.uri.connectionTimeout)
		if err != nil {
			if errors.Is(err, errKerberosUnavailable) {
				return 0, 0, nil, err
			}
			return 0, 0, err.Error(), nil
		}
		code := 0
		switch v := res.Out.(type) {
		case int64:
			code = int(v)
		case string:
			code, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		return code, res.Seconds, res.Error, nil
	}
	return r.m.get(ctx, url, c.uri.connectionTimeout)
}

// get is a plain GET that does not read the body.
func (m *Manager) get(ctx context.Context, url string, timeout float64) (int, float64, any, error) {
	ctx, cancel := context.WithTimeout(ctx, secondsDuration(timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, fmt.Sprintf("unknown url type: %s", pyvalue.StrRepr(url)), nil
	}
	start := time.Now()
	resp, err := m.client.Do(req)
	secs := time.Since(start).Seconds()
	if err != nil {
		return 0, secs, urlErrorText(err), nil
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, secs, httpErrorText(resp), nil
	}
	return resp.StatusCode, secs, nil, nil
}

// httpErrorText is str(urllib.error.HTTPError).
func httpErrorText(resp *http.Response) string {
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	return fmt.Sprintf("HTTP Error %d: %s", resp.StatusCode, reason)
}

func secondsDuration(s float64) time.Duration {
	if s <= 0 {
		s = defaultConnectionTimeout
	}
	return time.Duration(s * float64(time.Second))
}
