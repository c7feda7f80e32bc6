package hostinfo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

// nameCache holds the host names, resolved once per process like the Python
// agent's module globals.
type nameCache struct {
	mu      sync.Mutex
	host    string
	public  string
	servers []string
}

// Hostname is this host's name as registered with the server: the output of
// [agent] hostname_script when it succeeds, else the resolved FQDN; always
// lower-case. Resolved once and cached for the process lifetime.
func (h *HostInfo) Hostname(ctx context.Context) string {
	h.names.mu.Lock()
	defer h.names.mu.Unlock()
	if h.names.host != "" {
		return h.names.host
	}
	name := ""
	if script := strings.TrimSpace(h.cfg.HostnameScript); script != "" {
		out, err := h.runScript(ctx, "hostname_script", script)
		if err != nil {
			h.log.WithError(err).WithField("script", script).Warn("hostname_script failed, using the FQDN")
		} else {
			name = out
			h.log.WithField("hostname", name).Info("Read hostname using agent:hostname_script")
		}
	}
	if name == "" {
		name = h.fqdn(ctx)
	}
	name = strings.ToLower(name)
	if ctx.Err() == nil {
		// A canceled caller got a degraded answer; let the next one retry.
		h.names.host = name
	}
	return name
}

// PublicHostname is the name the server shows to users: [agent]
// public_hostname_script (through a shell), else the EC2 metadata service,
// else the FQDN; lower-case, cached for the process lifetime.
func (h *HostInfo) PublicHostname(ctx context.Context) string {
	h.names.mu.Lock()
	defer h.names.mu.Unlock()
	if h.names.public != "" {
		return h.names.public
	}
	name := ""
	if script := strings.TrimSpace(h.cfg.PublicHostnameScript); script != "" {
		out, err := h.runScript(ctx, "public_hostname_script", "/bin/sh", "-c", script)
		if err != nil {
			h.log.WithError(err).Warn("public_hostname_script failed")
		} else {
			name = out
		}
	}
	if name == "" && h.cfg.EC2MetadataURL != "-" {
		// The Python 3 agent skips this lookup by accident (it passes a str
		// body to urlopen and the exception is swallowed); the Python 2 agent
		// and the documentation do it, so we do.
		out, err := runProbe(ctx, h.probes, "ec2_public_hostname", defaultEC2MetadataTimeout, false,
			func(ctx context.Context) (string, error) { return fetchMetadata(ctx, h.cfg.EC2MetadataURL) })
		if err != nil {
			h.log.WithError(err).Debug("no public hostname from the EC2 metadata service")
		}
		name = out
	}
	if name == "" {
		name = h.fqdn(ctx)
	}
	name = strings.ToLower(name)
	if ctx.Err() == nil {
		h.names.public = name
	}
	return name
}

// ServerHostnames is the list of Ambari server names: the comma-separated
// output of [server] hostname_script when it succeeds, else [server] hostname
// split the same way; lower-cased and trimmed. Cached once non-empty.
func (h *HostInfo) ServerHostnames(ctx context.Context) []string {
	h.names.mu.Lock()
	defer h.names.mu.Unlock()
	if len(h.names.servers) > 0 {
		return append([]string(nil), h.names.servers...)
	}
	var names []string
	if script := strings.TrimSpace(h.cfg.ServerHostnameScript); script != "" {
		out, err := h.runScript(ctx, "server_hostname_script", script)
		if err != nil {
			h.log.WithError(err).Info("Unable to execute hostname_script for server hostname")
		} else {
			names = splitCSVLower(out)
		}
	}
	if len(names) == 0 {
		names = splitCSVLower(h.cfg.ServerHostname)
	}
	if ctx.Err() == nil {
		h.names.servers = names
	}
	return append([]string(nil), names...)
}

// splitCSVLower splits a comma list, lower-cased and trimmed. Empty items are
// kept, as the Python agent keeps them.
func splitCSVLower(s string) []string {
	parts := strings.Split(strings.ToLower(s), ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// runScript runs a host name script bounded by ScriptTimeout and returns its
// trimmed stdout; a non-zero exit or empty output is an error.
func (h *HostInfo) runScript(ctx context.Context, key string, argv ...string) (string, error) {
	res, err := h.commandProbe(ctx, key, h.cfg.ScriptTimeout, argv...)
	if err != nil {
		return "", err
	}
	out := strings.TrimSpace(res.stdout)
	if res.code != 0 || out == "" {
		return "", fmt.Errorf("%s exited %d, stderr %q, stdout %q", argv[0], res.code,
			strings.TrimSpace(res.stderr), out)
	}
	return out, nil
}

// fetchMetadata GETs a cloud metadata URL and returns its trimmed body.
func fetchMetadata(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("metadata request: %w", err)
	}
	// No proxies: the metadata address is link-local.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("metadata request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("read metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metadata: HTTP %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), nil
}

// fqdn mirrors Python's socket.getfqdn(): resolve gethostname() forward, then
// reverse, and take the first name containing a dot (else the canonical
// reverse name). On any failure, or when the lookup exceeds LookupTimeout, the
// plain host name is the answer.
func (h *HostInfo) fqdn(ctx context.Context) string {
	name, err := os.Hostname()
	if err != nil {
		h.log.WithError(err).Warn("gethostname failed")
		return ""
	}
	out, err := runProbe(ctx, h.probes, "getfqdn", h.cfg.LookupTimeout, true, func(ctx context.Context) (string, error) {
		return lookupFQDN(ctx, name)
	})
	if err != nil || out == "" {
		h.log.WithError(err).WithField("hostname", name).Debug("FQDN lookup failed, using the host name")
		return name
	}
	return out
}

func lookupFQDN(ctx context.Context, name string) (string, error) {
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: no address", name)
	}
	names, err := net.DefaultResolver.LookupAddr(ctx, addrs[0])
	if err != nil {
		return "", fmt.Errorf("reverse lookup %s: %w", addrs[0], err)
	}
	return pickFQDN(names), nil
}

// pickFQDN chooses among reverse-lookup names as getfqdn does: the first with
// a dot, else the first. Go returns absolute names ("localhost."), so the
// trailing dot is dropped before looking for one.
func pickFQDN(names []string) string {
	if len(names) == 0 {
		return ""
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if strings.Contains(n, ".") {
			return n
		}
	}
	return strings.TrimSuffix(names[0], ".")
}

// resolveIPv4 is gethostbyname(): the first IPv4 address of name.
func (h *HostInfo) resolveIPv4(ctx context.Context, key, name string) (string, error) {
	return runProbe(ctx, h.probes, key, h.cfg.LookupTimeout, false, func(ctx context.Context) (string, error) {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", name)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", name, err)
		}
		if len(ips) == 0 {
			return "", fmt.Errorf("resolve %s: no IPv4 address", name)
		}
		return ips[0].String(), nil
	})
}
