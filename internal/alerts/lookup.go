package alerts

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// configKeyRE is the Python agent's CONFIG_KEY_REGEXP.
var configKeyRE = regexp.MustCompile(`\{\{(\S+?)\}\}`)

// configLookup fetches a cluster's configuration dictionary at most once
// per check run, and only when a placeholder needs it: a PORT check with a
// constant URI keeps working before the configuration caches arrive (Python
// builds the dictionary first and fails such checks with a KeyError).
type configLookup struct {
	fetch func() (map[string]any, error)
	m     map[string]any
	err   error
	done  bool
}

func (c *configLookup) get() (map[string]any, error) {
	if !c.done {
		c.done = true
		if c.fetch == nil {
			c.err = fmt.Errorf("no configuration source")
		} else {
			c.m, c.err = c.fetch()
		}
	}
	return c.m, c.err
}

// lookupPath is BaseAlert.get_configuration_value: "type/key" means
// /configurations/type/key, "/a/b" is a path from the root. A JSON null is
// a miss, as Python's None is.
func lookupPath(root map[string]any, key string) (any, bool) {
	if !strings.HasPrefix(key, "/") {
		key = "/configurations/" + key
	}
	var cur any = root
	for _, part := range strings.Split(key, "/") {
		if part == "" {
			continue
		}
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[part]
			if !ok {
				return nil, false
			}
			cur = v
		case *pyvalue.Dict:
			v, ok := m.Get(part)
			if !ok {
				return nil, false
			}
			cur = v
		default:
			return nil, false
		}
	}
	if cur == nil {
		return nil, false
	}
	return cur, true
}

// resolve is BaseAlert._get_configuration_value: a value without
// placeholders is a constant; every {{key}} is replaced by its
// configuration value; any missing placeholder makes the whole value
// missing (ok false); a placeholder naming a whole dictionary returns that
// dictionary. err is set when the configuration itself is unavailable or
// the key is not a string (Python raises there too).
func (c *configLookup) resolve(key any) (value any, ok bool, err error) {
	if key == nil {
		return nil, false, nil
	}
	s, isStr := key.(string)
	if !isStr {
		return nil, false, fmt.Errorf("expected string or bytes-like object, got '%s'", pyvalue.TypeName(pyvalue.From(key)))
	}
	matches := configKeyRE.FindAllStringSubmatch(s, -1)
	if len(matches) == 0 {
		return s, true, nil
	}
	root, err := c.get()
	if err != nil {
		return nil, false, err
	}
	resolved := s
	for _, m := range matches {
		v, ok := lookupPath(root, m[1])
		if !ok {
			return nil, false, nil
		}
		switch v.(type) {
		case map[string]any, *pyvalue.Dict:
			return v, true, nil
		}
		resolved = strings.ReplaceAll(resolved, "{{"+m[1]+"}}", pyvalue.Str(pyvalue.From(v)))
	}
	return resolved, true, nil
}

// resolveString resolves key and returns the result when it is a string.
func (c *configLookup) resolveString(key any) (string, bool, error) {
	v, ok, err := c.resolve(key)
	if err != nil || !ok {
		return "", false, err
	}
	s, isStr := v.(string)
	return s, isStr, nil
}

// rfc3986RE is RFC 3986 appendix B, as ambari_commons.inet_utils uses it.
var rfc3986RE = regexp.MustCompile(`^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`)

// hostFromURL is inet_utils.get_host_from_url, quirks included: "h:8080" is
// parsed as scheme "h" (giving host "h"), a bare number is a port (no host),
// and anything that is not a string has no host.
func hostFromURL(uri any) (string, bool) {
	s, ok := uri.(string)
	if !ok {
		return "", false
	}
	p := rfc3986RE.FindStringSubmatch(s)
	hostPort := s
	switch {
	case p == nil:
	case p[2] == "":
		hostPort = p[5]
	case p[3] == "":
		hostPort = p[2]
	case strings.HasPrefix(p[3], "//"):
		hostPort = p[4]
	}
	if i := strings.IndexByte(hostPort, ':'); i >= 0 {
		return hostPort[:i], true
	}
	if pyvalue.IsDigits(hostPort) {
		return "", false
	}
	return hostPort, true
}

// portFromURL is get_port_from_url followed by int(): the first ":<1-5
// digits>" followed by "/" or the end, else the whole value when numeric.
func portFromURL(uri any) (int, bool) {
	switch t := uri.(type) {
	case int64:
		return int(t), true
	case float64:
		return int(t), true
	case json.Number:
		n, err := t.Int64()
		return int(n), err == nil
	case string:
		if strings.TrimSpace(t) == "" {
			return 0, false
		}
		for i := 0; i < len(t); i++ {
			if t[i] != ':' {
				continue
			}
			j := i + 1
			for j < len(t) && t[j] >= '0' && t[j] <= '9' {
				j++
			}
			if n := j - i - 1; n >= 1 && n <= 5 && (j == len(t) || t[j] == '/') {
				p, _ := strconv.Atoi(t[i+1 : j])
				return p, true
			}
		}
		if pyvalue.IsDigits(t) {
			p, err := strconv.Atoi(t)
			return p, err == nil
		}
	}
	return 0, false
}

// pathRE is get_path_from_url's expression.
var pathRE = regexp.MustCompile(`^((.+)://)?(([a-zA-Z0-9]|\.|-)*)(:([\d]{2,}))?/(.*)$`)

// pathFromURL is get_path_from_url: the part after the first "/" following
// the authority, if the value has that shape.
func pathFromURL(s string) (string, bool) {
	m := pathRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[7], true
}

// uriSpec is the "uri" object of WEB, METRIC and AMS definitions. Values
// are kept as given (strings with placeholders, or numbers).
type uriSpec struct {
	acceptableCodes                                             []any
	http, https, httpsProperty, httpsPropertyValue, defaultPort any
	kerberosKeytab, kerberosPrincipal                           any
	haNameservice, haAliasKey, haHTTPPattern, haHTTPSPattern    any
	hasHA                                                       bool
	connectionTimeout                                           float64
}

// defaultConnectionTimeout is the WEB/METRIC/AMS default, in seconds.
const defaultConnectionTimeout = 5.0

func parseURISpec(v any) (*uriSpec, error) {
	d, ok := v.(*pyvalue.Dict)
	if !ok {
		return nil, fmt.Errorf("source.uri must be an object")
	}
	u := &uriSpec{connectionTimeout: defaultConnectionTimeout}
	get := func(k string) any { x, _ := d.Get(k); return x }
	if l, ok := get("acceptable_codes").([]any); ok {
		u.acceptableCodes = l
	}
	u.http, u.https = get("http"), get("https")
	u.httpsProperty, u.httpsPropertyValue = get("https_property"), get("https_property_value")
	u.defaultPort = get("default_port")
	u.kerberosKeytab, u.kerberosPrincipal = get("kerberos_keytab"), get("kerberos_principal")
	if ha, ok := get("high_availability").(*pyvalue.Dict); ok {
		u.haNameservice, _ = ha.Get("nameservice")
		u.haAliasKey, _ = ha.Get("alias_key")
		u.haHTTPPattern, _ = ha.Get("http_pattern")
		u.haHTTPSPattern, _ = ha.Get("https_pattern")
	}
	u.hasHA = u.haNameservice != nil || u.haAliasKey != nil
	if t := get("connection_timeout"); t != nil {
		f, ok := pyFloat(t)
		if !ok {
			return nil, fmt.Errorf("could not convert connection_timeout to float: %s", pyvalue.Repr(t))
		}
		u.connectionTimeout = f
	}
	return u, nil
}

// pyFloat is float(v) for numbers and numeric strings.
func pyFloat(v any) (float64, bool) {
	if f, ok := pyvalue.Number(v); ok {
		return f, true
	}
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	return 0, false
}

// alertURI is the resolved URI and whether it is the HTTPS one. uri is a
// string, or the raw default_port.
type alertURI struct {
	uri any
	ssl bool
}

// uriFromStructure is BaseAlert._get_uri_from_structure (docs/behaviour.md §9.3).
func (c *configLookup) uriFromStructure(u *uriSpec, host, publicHost string) (alertURI, error) {
	if u.hasHA {
		au, ok, err := c.uriFromHA(u, host, publicHost)
		if err != nil {
			return alertURI{}, err
		}
		if ok {
			return au, nil
		}
	}
	var httpURI, httpsURI any
	var haveHTTP, haveHTTPS bool
	var err error
	if u.http != nil {
		if httpURI, haveHTTP, err = c.resolve(u.http); err != nil {
			return alertURI{}, err
		}
	}
	if u.https != nil {
		if httpsURI, haveHTTPS, err = c.resolve(u.https); err != nil {
			return alertURI{}, err
		}
	}
	if !haveHTTP && !haveHTTPS {
		if u.defaultPort != nil {
			return alertURI{uri: u.defaultPort}, nil
		}
		return alertURI{}, fmt.Errorf("Could not determine result. Either the http or https URI must be specified.")
	}
	if haveHTTPS {
		if !haveHTTP {
			return alertURI{uri: httpsURI, ssl: true}, nil
		}
		ssl, err := c.sslEnabled(u)
		if err != nil {
			return alertURI{}, err
		}
		if ssl {
			return alertURI{uri: httpsURI, ssl: true}, nil
		}
	}
	return alertURI{uri: httpURI}, nil
}

// sslEnabled: https_property resolves to a value equal to the resolved
// https_property_value.
func (c *configLookup) sslEnabled(u *uriSpec) (bool, error) {
	if u.httpsProperty == nil {
		return false, nil
	}
	prop, ok, err := c.resolve(u.httpsProperty)
	if err != nil || !ok {
		return false, err
	}
	var want any
	if u.httpsPropertyValue != nil {
		var okv bool
		if want, okv, err = c.resolve(u.httpsPropertyValue); err != nil {
			return false, err
		}
		if !okv {
			want = nil
		}
	}
	return pyvalue.Equal(pyvalue.From(prop), pyvalue.From(want)), nil
}

const (
	haNameserviceParam = "{{ha-nameservice}}"
	haAliasParam       = "{{alias}}"
)

// uriFromHA is BaseAlert._get_uri_from_ha_structure: find the HA alias
// whose address names this host. ok false means "not an HA setup".
func (c *configLookup) uriFromHA(u *uriSpec, host, publicHost string) (alertURI, bool, error) {
	aliasKey, ok := u.haAliasKey.(string)
	if !ok {
		return alertURI{}, false, nil
	}
	type nsAliases struct {
		ns      string
		hasNS   bool
		aliases string
	}
	var groups []nsAliases
	haveNS := false
	if u.haNameservice != nil {
		nsValue, ok, err := c.resolveString(u.haNameservice)
		if err != nil {
			return alertURI{}, false, err
		}
		if !ok {
			return alertURI{}, false, nil
		}
		haveNS = true
		for _, ns := range strings.Split(nsValue, ",") {
			if ns == "" {
				continue
			}
			v, ok, err := c.resolve(strings.ReplaceAll(aliasKey, haNameserviceParam, ns))
			if err != nil {
				return alertURI{}, false, err
			}
			if s, isStr := v.(string); ok && isStr && s != "" {
				groups = append(groups, nsAliases{ns: ns, hasNS: true, aliases: s})
			}
		}
		if len(groups) == 0 {
			return alertURI{}, false, nil
		}
	} else {
		v, ok, err := c.resolveString(aliasKey)
		if err != nil {
			return alertURI{}, false, err
		}
		if !ok {
			return alertURI{}, false, nil
		}
		groups = append(groups, nsAliases{aliases: v})
	}
	ssl, err := c.sslEnabled(u)
	if err != nil {
		return alertURI{}, false, err
	}
	pattern := u.haHTTPPattern
	if ssl {
		pattern = u.haHTTPSPattern
	}
	p, ok := pattern.(string)
	if !ok {
		return alertURI{}, false, nil
	}
	if strings.Contains(p, haNameserviceParam) && !haveNS {
		return alertURI{}, false, nil
	}
	lhost, lpublic := strings.ToLower(host), strings.ToLower(publicHost)
	for _, g := range groups {
		for _, alias := range strings.Split(g.aliases, ",") {
			key := p
			if g.hasNS {
				key = strings.ReplaceAll(key, haNameserviceParam, g.ns)
			}
			key = strings.ReplaceAll(key, haAliasParam, strings.TrimSpace(alias))
			v, ok, err := c.resolveString(key)
			if err != nil {
				return alertURI{}, false, err
			}
			if !ok {
				continue
			}
			lv := strings.ToLower(v)
			if strings.Contains(lv, lhost) || strings.Contains(lv, lpublic) {
				return alertURI{uri: v, ssl: ssl}, true, nil
			}
		}
	}
	return alertURI{}, false, nil
}
