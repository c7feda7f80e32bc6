package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// amsCheck is an AMS alert: a window of Ambari Metrics data points, a
// per-point Python expression, an aggregate, thresholds.
type amsCheck struct {
	collectorSource
	metricList   []string
	interval     any // minutes, int or float as written
	appID        any
	minimumValue any
	value        *string
	compute      *string
}

// defaultAMSPort is used when the URI has no port.
const defaultAMSPort = 6188

func newAMSCheck(src *pyvalue.Dict) (*amsCheck, error) {
	c := &amsCheck{}
	if err := c.read(src, "ams", c.readAMS); err != nil {
		return nil, err
	}
	return c, nil
}

// readAMS reads source.ams: the metrics, the window, the per-point
// expression and the aggregate.
func (c *amsCheck) readAMS(ams *pyvalue.Dict) error {
	for _, k := range []string{"metric_list", "interval", "app_id", "minimum_value"} {
		if _, ok := ams.Get(k); !ok {
			return fmt.Errorf("ams.%s is missing", k)
		}
	}
	list, ok := dictGet(ams, "metric_list").([]any)
	if !ok {
		return errors.New("ams.metric_list is not a list")
	}
	for _, m := range list {
		c.metricList = append(c.metricList, pyvalue.Str(m))
	}
	c.interval = dictGet(ams, "interval")
	if _, ok := pyvalue.Number(c.interval); !ok {
		return errors.New("ams.interval is not a number")
	}
	c.appID = dictGet(ams, "app_id")
	c.minimumValue = dictGet(ams, "minimum_value")
	if v, ok := dictGet(ams, "value").(string); ok {
		c.value = &v
	}
	if v, ok := dictGet(ams, "compute").(string); ok {
		c.compute = &v
	}
	return nil
}

func (c *amsCheck) defaultText(string) string { return "{0}" }

func (c *amsCheck) collect(ctx context.Context, r *run) (string, []any, error) {
	// AMS is plain HTTP only (the SSL flag is ignored, as in Python).
	_, host, port, err := c.endpoint(r, defaultAMSPort)
	if err != nil {
		return "", nil, err
	}
	metrics, status, err := c.load(ctx, r, host, port)
	if err != nil {
		return "", nil, err
	}
	if len(metrics) == 0 {
		if status != 200 && status != 307 {
			code := "None"
			if status != 0 {
				code = strconv.Itoa(status)
			}
			return StateUnknown, []any{"HTTP " + code + " response (metrics unavailable)"}, nil
		}
		return "", nil, fmt.Errorf("[Alert][%s] Unable to extract JSON from HTTP response", r.name())
	}
	result, err := c.computeValue(ctx, r, metrics)
	if err != nil {
		return "", nil, err
	}
	return c.result(result, []any{result})
}

// load queries the timeline API (always plain HTTP, as in Python) and
// returns the metrics' data-point dictionaries in metric_list order.
// status 0 means no HTTP response.
func (c *amsCheck) load(ctx context.Context, r *run, host string, port int) ([]any, int, error) {
	now := r.m.cfg.Now().Unix() * 1000
	var start string
	switch iv := c.interval.(type) {
	case int64:
		start = strconv.FormatInt(now-60*1000*iv, 10)
	default:
		f, _ := pyvalue.Number(iv)
		start = pyvalue.FloatRepr(float64(now) - 60*1000*f)
	}
	// Parameter order as Python's dict gives it to urlencode.
	q := []string{
		"metricNames=" + url.QueryEscape(strings.Join(c.metricList, ",")),
		"appId=" + url.QueryEscape(pyvalue.Str(c.appID)),
		"hostname=" + url.QueryEscape(r.host()),
		"startTime=" + url.QueryEscape(start),
		"endTime=" + strconv.FormatInt(now, 10),
		"precision=seconds",
		"grouped=true",
	}
	u := fmt.Sprintf("http://%s/ws/v1/timeline/metrics?%s",
		netJoin(host, port), strings.Join(q, "&"))
	ctx, cancel := context.WithTimeout(ctx, secondsDuration(c.uri.connectionTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, nil
	}
	resp, err := r.m.client.Do(req)
	if err != nil {
		return nil, 0, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJMXBytes))
	resp.Body.Close()
	if err != nil {
		return nil, resp.StatusCode, nil
	}
	doc, err := pyvalue.ParseJSON(body)
	if err != nil {
		return nil, resp.StatusCode, nil
	}
	top, ok := doc.(*pyvalue.Dict)
	if !ok {
		return nil, 0, fmt.Errorf("%s indices must be integers or slices, not str", pyvalue.TypeName(doc))
	}
	list, ok := top.Get("metrics")
	if !ok {
		return nil, 0, errors.New("'metrics'")
	}
	items, _ := list.([]any)
	byName := map[string]any{}
	for _, it := range items {
		d, ok := it.(*pyvalue.Dict)
		if !ok {
			continue
		}
		name, okN := d.Get("metricname")
		points, okP := d.Get("metrics")
		if !okN {
			return nil, 0, errors.New("'metricname'")
		}
		if !okP {
			return nil, 0, errors.New("'metrics'")
		}
		byName[pyvalue.Str(name)] = points
	}
	var metrics []any
	for _, name := range c.metricList {
		if p, ok := byName[name]; ok {
			metrics = append(metrics, p)
		}
	}
	return metrics, resp.StatusCode, nil
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// computeValue runs the per-point expression, the minimum filter and the
// aggregate in the Python helper.
func (c *amsCheck) computeValue(ctx context.Context, r *run, metrics []any) (any, error) {
	args := pyvalue.NewDict()
	args.Set("value", optionalString(c.value))
	args.Set("compute", optionalString(c.compute))
	args.Set("minimum_value", pyvalue.From(c.minimumValue))
	args.Set("metrics", metrics)
	return r.callPython(ctx, "ams", "the AMS computation", args)
}

// optionalString is *s, or None.
func optionalString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
