package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// jmxBean is one JMX bean query and the attributes read from it.
type jmxBean struct {
	name  string
	attrs []string
}

// collectorSource is what METRIC and AMS sources share: the reporting
// thresholds, the collector's URI structure (nil when absent) and the
// type's own section ("jmx", "ams"; nil when the source has none).
type collectorSource struct {
	thresholds *pyvalue.Dict
	uri        *uriSpec
	section    *pyvalue.Dict
}

// read reads src's shared part and, when src has the section, hands it to
// readSection.
func (c *collectorSource) read(src *pyvalue.Dict, section string, readSection func(*pyvalue.Dict) error) error {
	c.thresholds, _ = dictGet(src, "reporting").(*pyvalue.Dict)
	if v, ok := src.Get("uri"); ok {
		var err error
		if c.uri, err = parseURISpec(v); err != nil {
			return err
		}
	}
	c.section, _ = dictGet(src, section).(*pyvalue.Dict)
	if c.section == nil {
		return nil
	}
	return readSection(c.section)
}

// endpoint resolves source.uri to the collector's address: the host from
// the URI (this host when it has none or names 0.0.0.0), the port from the
// URI or defaultPort, and whether to use SSL.
func (c *collectorSource) endpoint(r *run, defaultPort int) (ssl bool, host string, port int, err error) {
	if c.section == nil {
		return false, "", 0, errors.New("Could not determine result. Specific metric collector is not defined.")
	}
	if c.uri == nil {
		return false, "", 0, errors.New("Could not determine result. URL(s) were not defined.")
	}
	au, err := r.cfg.uriFromStructure(c.uri, r.host(), r.publicHost())
	if err != nil {
		return false, "", 0, err
	}
	host, ok := hostFromURL(au.uri)
	if !ok || strings.Contains(host, "0.0.0.0") {
		host = r.host()
	}
	port, ok = portFromURL(pyvalue.From(au.uri))
	if !ok {
		port = defaultPort
	}
	return au.ssl, host, port, nil
}

// result judges value against the thresholds; args are the texts' arguments.
func (c *collectorSource) result(value any, args []any) (string, []any, error) {
	state, err := thresholdState(c.thresholds, value)
	if err != nil {
		return "", nil, err
	}
	return state, args, nil
}

// metricCheck is a METRIC alert: JMX attributes over HTTP, an optional
// Python value expression, thresholds.
type metricCheck struct {
	collectorSource
	beans      []jmxBean // grouped by bean, in order of first appearance
	expression *string
}

func newMetricCheck(src *pyvalue.Dict) (*metricCheck, error) {
	c := &metricCheck{}
	if err := c.read(src, "jmx", c.readJMX); err != nil {
		return nil, err
	}
	return c, nil
}

// readJMX reads source.jmx: the bean attributes and the value expression.
func (c *metricCheck) readJMX(jmx *pyvalue.Dict) error {
	list, ok := dictGet(jmx, "property_list").([]any)
	if !ok {
		return errors.New("jmx.property_list is missing")
	}
	index := map[string]int{}
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return fmt.Errorf("jmx.property_list item %s is not a string", pyvalue.Repr(item))
		}
		parts := strings.Split(s, "/")
		if len(parts) < 2 {
			return fmt.Errorf("jmx.property_list item %q has no attribute", s)
		}
		i, seen := index[parts[0]]
		if !seen {
			i = len(c.beans)
			index[parts[0]] = i
			c.beans = append(c.beans, jmxBean{name: parts[0]})
		}
		c.beans[i].attrs = append(c.beans[i].attrs, parts[1])
	}
	if v, ok := dictGet(jmx, "value").(string); ok {
		c.expression = &v
	}
	return nil
}

func (c *metricCheck) defaultText(string) string { return "{0}" }

func (c *metricCheck) collect(ctx context.Context, r *run) (string, []any, error) {
	ssl, host, port, err := c.endpoint(r, 80)
	if err != nil {
		return "", nil, err
	}
	values, code, err := c.loadJMX(ctx, r, ssl, host, port)
	if err != nil {
		return "", nil, err
	}
	if len(values) == 0 {
		if code == 200 || code == 307 {
			return StateUnknown, []any{fmt.Sprintf("HTTP %d response (metrics unavailable)", code)}, nil
		}
		return "", nil, fmt.Errorf("[Alert][%s] Unable to extract JSON from JMX response", r.name())
	}
	var computed any
	if c.expression != nil {
		if computed, err = r.evalExpression(ctx, *c.expression, values); err != nil {
			return "", nil, err
		}
	}
	args := append(values, computed)
	compared := computed
	if compared == nil {
		compared = values[0]
	}
	return c.result(compared, args)
}

// expressionTimeout bounds a value expression (they are one-liners, but
// arbitrary Python).
const expressionTimeout = 30 * time.Second

// evalExpression runs a METRIC value expression in the Python helper.
func (r *run) evalExpression(ctx context.Context, expr string, values []any) (any, error) {
	args := pyvalue.NewDict()
	args.Set("expression", expr)
	args.Set("values", values)
	return r.callPython(ctx, "eval", "the value expression", args)
}

// callPython runs op in the Python helper with args and reads its result in
// Python's JSON dialect; what names the work in errors.
func (r *run) callPython(ctx context.Context, op, what string, args *pyvalue.Dict) (any, error) {
	if r.m.python == nil {
		return nil, fmt.Errorf("no Python helper for %s", what)
	}
	out, err := r.m.python.Call(ctx, op, json.RawMessage(pyvalue.AppendJSON(nil, args)), expressionTimeout)
	if err != nil {
		return nil, helperError(err, what)
	}
	return pyvalue.ParseJSON(out)
}

// thresholdState is MetricAlert._get_result: when critical >= warning
// higher values are worse, otherwise lower ones; an "ok" threshold, when
// given, bounds the OK range (outside it: UNKNOWN). Comparisons follow
// Python's rules, so a missing threshold or a non-numeric value is an error.
func thresholdState(reporting *pyvalue.Dict, value any) (string, error) {
	find := func(state string) any {
		e, _ := dictGet(reporting, state).(*pyvalue.Dict)
		return dictGet(e, "value")
	}
	okV, warn, crit := find("ok"), find("warning"), find("critical")
	// Python raises at the first failing comparison; later ones are moot.
	var cmpErr error
	cmp := func(a any, op string, b any) bool {
		if cmpErr != nil {
			return false
		}
		res, err := pyvalue.Compare(a, op, b)
		cmpErr = err
		return res
	}
	worse, better := ">=", "<"
	if !cmp(crit, ">=", warn) {
		worse, better = "<=", ">"
	}
	var state string
	switch {
	case cmp(value, worse, crit):
		state = StateCritical
	case cmp(value, worse, warn):
		state = StateWarning
	case okV == nil:
		state = StateOK
	case cmp(value, worse, okV) && cmp(value, better, warn):
		state = StateOK
	default:
		state = StateUnknown
	}
	if cmpErr != nil {
		return "", cmpErr
	}
	return state, nil
}

// loadJMX is MetricAlert._load_jmx: one request per bean, values appended
// in bean order. A failed request or unreadable JSON only leaves that
// bean's values out; code is the HTTP status learned on the Kerberos path
// (0 otherwise).
func (c *metricCheck) loadJMX(ctx context.Context, r *run, ssl bool, host string, port int) ([]any, int, error) {
	kp, err := r.kerberosFor(c.uri)
	if err != nil {
		return nil, 0, err
	}
	scheme := "http"
	if ssl {
		scheme = "https"
	}
	var values []any
	code := 0
	for _, bean := range c.beans {
		u := fmt.Sprintf("%s://%s:%d/jmx?qry=%s", scheme, host, port, bean.name)
		var content []byte
		if kp != nil {
			res, err := r.curlKrb(ctx, kp, u, "metric_alert", false, c.uri.connectionTimeout)
			if errors.Is(err, errKerberosUnavailable) {
				return nil, 0, err
			}
			if err == nil {
				content = []byte(pyvalue.Str(res.Out))
			}
		} else {
			content = r.m.fetchJMX(ctx, u, c.uri.connectionTimeout)
		}
		doc, data, ok := firstBean(content)
		if ok {
			for _, attr := range bean.attrs {
				if _, present := data.Get(attr); !present {
					for _, b := range doc {
						bd, ok := b.(*pyvalue.Dict)
						if !ok {
							continue
						}
						if n, _ := dictGet(bd, "name").(string); n == bean.name {
							if _, has := bd.Get(attr); !has {
								return nil, 0, fmt.Errorf("Unable to find %s in JSON from %s ", attr, u)
							}
							data = bd
						}
					}
				}
				v, present := data.Get(attr)
				if !present {
					return nil, 0, fmt.Errorf("%s", pyvalue.StrRepr(attr)) // Python's KeyError
				}
				values = append(values, v)
			}
		}
		if !ok && kp != nil {
			res, err := r.curlKrb(ctx, kp, u, "metric_alert", true, c.uri.connectionTimeout)
			if err == nil {
				if n, isInt := res.Out.(int64); isInt {
					code = int(n)
				}
			}
		}
	}
	return values, code, nil
}

// firstBean parses a JMX response: the "beans" list and its first element.
func firstBean(content []byte) ([]any, *pyvalue.Dict, bool) {
	if len(content) == 0 {
		return nil, nil, false
	}
	v, err := pyvalue.ParseJSON(content)
	if err != nil {
		return nil, nil, false
	}
	top, ok := v.(*pyvalue.Dict)
	if !ok {
		return nil, nil, false
	}
	beans, ok := dictGet(top, "beans").([]any)
	if !ok || len(beans) == 0 {
		return nil, nil, false
	}
	first, ok := beans[0].(*pyvalue.Dict)
	if !ok {
		return nil, nil, false
	}
	return beans, first, true
}

// maxJMXBytes bounds one JMX response.
const maxJMXBytes = 32 << 20

// maxRefreshHops bounds Refresh-header redirects (Python has no bound).
const maxRefreshHops = 10

// fetchJMX GETs a JMX URL and returns the body of a 2xx answer (nil on
// any failure, as Python swallows them). A 200 answer carrying a
// "Refresh: N; url=..." header (a standby NameNode or ResourceManager
// pointing at the active one) is followed by re-requesting the same path
// and query at the host and port the header names.
func (m *Manager) fetchJMX(ctx context.Context, u string, timeout float64) []byte {
	ctx, cancel := context.WithTimeout(ctx, secondsDuration(timeout))
	defer cancel()
	for hop := 0; hop <= maxRefreshHops; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil
		}
		resp, err := m.client.Do(req)
		if err != nil {
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxJMXBytes))
		resp.Body.Close()
		if err != nil || resp.StatusCode < 200 || resp.StatusCode >= 300 {
			return nil
		}
		if resp.StatusCode != http.StatusOK {
			return body
		}
		next, ok := refreshTarget(req.URL, resp.Header.Get("Refresh"))
		if !ok {
			return body
		}
		u = next
	}
	return nil
}

// refreshTarget parses a Refresh header and returns the original URL with
// its host and port swapped for the target's.
func refreshTarget(orig *url.URL, header string) (string, bool) {
	if header == "" {
		return "", false
	}
	kv := header
	if i := strings.IndexByte(header, ';'); i >= 0 {
		kv = header[i+1:]
	}
	eq := strings.IndexByte(kv, '=')
	if eq < 0 || !strings.EqualFold(strings.TrimSpace(kv[:eq]), "url") {
		return "", false
	}
	target, err := url.Parse(strings.TrimSpace(kv[eq+1:]))
	if err != nil || target.Host == "" {
		return "", false
	}
	next := *orig
	next.Host = target.Host
	return next.String(), true
}
