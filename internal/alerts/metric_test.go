package alerts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// jmxServer serves /jmx?qry=<bean> from a bean table; values can change
// between requests.
type jmxServer struct {
	*httptest.Server
	beans    atomic.Value // map[string]map[string]any
	requests atomic.Int64
}

func newJMXServer(t *testing.T, beans map[string]map[string]any) *jmxServer {
	s := &jmxServer{}
	s.beans.Store(beans)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/jmx" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.RawQuery
		name := strings.TrimPrefix(q, "qry=")
		b, ok := s.beans.Load().(map[string]map[string]any)[name]
		if !ok {
			w.Write([]byte(`{"beans": []}`))
			return
		}
		bean := map[string]any{"name": name}
		for k, v := range b {
			bean[k] = v
		}
		json.NewEncoder(w).Encode(map[string]any{"beans": []any{bean}})
	}))
	t.Cleanup(s.Close)
	return s
}

const fsBean = "Hadoop:service=NameNode,name=FSNamesystem"

func metricDef(uri string, value string, reporting map[string]any) map[string]any {
	jmx := map[string]any{"property_list": []any{fsBean + "/CapacityUsed", fsBean + "/CapacityRemaining"}}
	if value != "" {
		jmx["value"] = value
	}
	return def(4, "namenode_hdfs_capacity_utilization", 1, map[string]any{
		"type": "METRIC", "uri": map[string]any{"http": uri, "connection_timeout": 2.0},
		"jmx": jmx, "reporting": reporting,
	})
}

var capacityReporting = map[string]any{
	"ok":       map[string]any{"text": "Capacity Used:[{2:.0f}%, {0}], Capacity Remaining:[{1}]"},
	"warning":  map[string]any{"text": "Capacity Used:[{2:.0f}%, {0}], Capacity Remaining:[{1}]", "value": 75},
	"critical": map[string]any{"text": "Capacity Used:[{2:.0f}%, {0}], Capacity Remaining:[{1}]", "value": 80},
	"units":    "%",
}

func TestMetricJMXWithExpressionAndThresholds(t *testing.T) {
	srv := newJMXServer(t, map[string]map[string]any{fsBean: {"CapacityUsed": 25, "CapacityRemaining": 75}})
	e := newEnv(t, nil)
	uri := strings.TrimPrefix(srv.URL, "http://")
	d := metricDef(uri, "{0}/({0} + {1}) * 100.0", capacityReporting)
	cases := []struct {
		used, remaining any
		state, text     string
	}{
		{25, 75, StateOK, "Capacity Used:[25%, 25], Capacity Remaining:[75]"},
		{76, 24, StateWarning, "Capacity Used:[76%, 76], Capacity Remaining:[24]"},
		{90.5, 9.5, StateCritical, "Capacity Used:[90%, 90.5], Capacity Remaining:[9.5]"},
	}
	for _, c := range cases {
		srv.beans.Store(map[string]map[string]any{fsBean: {"CapacityUsed": c.used, "CapacityRemaining": c.remaining}})
		r := e.evalDef("127.0.0.1", d)
		if r.State != c.state || r.Text != c.text {
			t.Errorf("used %v remaining %v: got %s %q, want %s %q", c.used, c.remaining, r.State, r.Text, c.state, c.text)
		}
	}
	// One request per bean, not per attribute.
	before := srv.requests.Load()
	e.evalDef("127.0.0.1", d)
	if n := srv.requests.Load() - before; n != 1 {
		t.Errorf("%d requests for one bean", n)
	}
}

func TestMetricFailures(t *testing.T) {
	srv := newJMXServer(t, map[string]map[string]any{fsBean: {"CapacityUsed": 0, "CapacityRemaining": 0}})
	e := newEnv(t, nil)
	uri := strings.TrimPrefix(srv.URL, "http://")
	notJMX := httptest.NewServer(http.NotFoundHandler())
	defer notJMX.Close()
	plain := map[string]any{
		"ok":       map[string]any{"text": "used {0}"},
		"warning":  map[string]any{"text": "used {0}", "value": 75},
		"critical": map[string]any{"text": "used {0}", "value": 80},
	}
	cases := []struct {
		name        string
		d           map[string]any
		state, text string
	}{
		{"division by zero in the expression", metricDef(uri, "{0}/({0} + {1}) * 100.0", capacityReporting),
			StateUnknown, "division by zero"},
		{"no value expression: first value compared", metricDef(uri, "", plain), StateOK, "used 0"},
		// As in Python: without an expression {2} is None, which "{2:.0f}"
		// cannot format.
		{"no value expression, text needs it", metricDef(uri, "", capacityReporting),
			StateUnknown, "There is a problem with the alert definition: unsupported format string passed to NoneType.__format__"},
		{"endpoint without JMX", metricDef(strings.TrimPrefix(notJMX.URL, "http://"), "", capacityReporting),
			StateUnknown, "[Alert][namenode_hdfs_capacity_utilization] Unable to extract JSON from JMX response"},
		{"thresholds missing", metricDef(uri, "", nil),
			StateUnknown, "'>=' not supported between instances of 'NoneType' and 'NoneType'"},
	}
	for _, c := range cases {
		r := e.evalDef("127.0.0.1", c.d)
		if r.State != c.state || r.Text != c.text {
			t.Errorf("%s: got %s %q", c.name, r.State, r.Text)
		}
	}

	missing := def(5, "m", 1, map[string]any{"type": "METRIC", "uri": map[string]any{"http": uri},
		"jmx": map[string]any{"property_list": []any{fsBean + "/NoSuchAttribute"}}, "reporting": capacityReporting})
	r := e.evalDef("127.0.0.1", missing)
	want := fmt.Sprintf("Unable to find NoSuchAttribute in JSON from http://%s/jmx?qry=%s ", uri, fsBean)
	if r.State != StateUnknown || r.Text != want {
		t.Errorf("missing attribute: got %s %q, want %q", r.State, r.Text, want)
	}
}

func TestMetricRefreshHeaderRedirect(t *testing.T) {
	active := newJMXServer(t, map[string]map[string]any{fsBean: {"CapacityUsed": 10, "CapacityRemaining": 90}})
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Refresh", "3; url="+active.URL+"/somewhere-else")
		w.Write([]byte("this is the standby"))
	}))
	defer standby.Close()
	e := newEnv(t, nil)
	r := e.evalDef("127.0.0.1", metricDef(strings.TrimPrefix(standby.URL, "http://"), "{0} * 1.0", capacityReporting))
	if r.State != StateOK || r.Text != "Capacity Used:[10%, 10], Capacity Remaining:[90]" {
		t.Fatalf("got %+v", r)
	}
}

func TestThresholdDirections(t *testing.T) {
	rep := func(ok, warn, crit any) *pyvalue.Dict {
		d := pyvalue.NewDict()
		for k, v := range map[string]any{"ok": ok, "warning": warn, "critical": crit} {
			if v != nil {
				e := pyvalue.NewDict()
				e.Set("value", v)
				d.Set(k, e)
			}
		}
		return d
	}
	cases := []struct {
		ok, warn, crit any
		value          any
		want           string
	}{
		{nil, int64(75), int64(80), int64(74), StateOK},
		{nil, int64(75), int64(80), 75.0, StateWarning},
		{nil, int64(75), int64(80), int64(80), StateCritical},
		{int64(10), int64(75), int64(80), int64(5), StateUnknown},
		{int64(10), int64(75), int64(80), int64(10), StateOK},
		// Lower is worse.
		{nil, int64(20), int64(10), int64(21), StateOK},
		{nil, int64(20), int64(10), int64(20), StateWarning},
		{nil, int64(20), int64(10), int64(10), StateCritical},
		{int64(50), int64(20), int64(10), int64(60), StateUnknown},
		{int64(50), int64(20), int64(10), int64(50), StateOK},
		{nil, int64(20), int64(10), true, StateCritical},
	}
	for _, c := range cases {
		got, err := thresholdState(rep(c.ok, c.warn, c.crit), c.value)
		if err != nil || got != c.want {
			t.Errorf("ok %v warn %v crit %v value %v: got %s %v, want %s", c.ok, c.warn, c.crit, c.value, got, err, c.want)
		}
	}
	if _, err := thresholdState(rep(nil, int64(1), int64(2)), "text"); err == nil ||
		err.Error() != "'>=' not supported between instances of 'str' and 'int'" {
		t.Errorf("string value: %v", err)
	}
}

func TestAMSAlert(t *testing.T) {
	var lastQuery atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastQuery.Store(r.URL.RawQuery)
		w.Write([]byte(`{"metrics": [
			{"metricname": "regionserver.Server.totalRequestCount", "metrics": {"1000": 10, "2000": 20, "3000": 30, "4000": 0.5}},
			{"metricname": "other", "metrics": {"1000": 99}}]}`))
	}))
	defer srv.Close()
	e := newEnv(t, nil)
	uri := strings.TrimPrefix(srv.URL, "http://")
	mk := func(u string) map[string]any {
		return def(6, "ams_alert", 1, map[string]any{"type": "AMS",
			"uri": map[string]any{"http": u, "connection_timeout": 2.0},
			"ams": map[string]any{"metric_list": []any{"regionserver.Server.totalRequestCount"}, "interval": 5,
				"app_id": "hbase", "minimum_value": 1, "value": "{0}", "compute": "mean"},
			"reporting": map[string]any{
				"ok":       map[string]any{"text": "mean {0}"},
				"warning":  map[string]any{"text": "warn {0}", "value": 25},
				"critical": map[string]any{"text": "crit {0}", "value": 50},
			}})
	}
	r := e.evalDef("h1", mk(uri))
	if r.State != StateOK || r.Text != "mean 20.0" {
		t.Fatalf("got %+v", r)
	}
	q, _ := lastQuery.Load().(string)
	if !strings.HasPrefix(q, "metricNames=regionserver.Server.totalRequestCount&appId=hbase&hostname=h1&startTime=") ||
		!strings.HasSuffix(q, "&precision=seconds&grouped=true") {
		t.Fatalf("query %s", q)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	r = e.evalDef("h1", mk(strings.TrimPrefix(closed.URL, "http://")))
	if r.State != StateUnknown || r.Text != "HTTP None response (metrics unavailable)" {
		t.Fatalf("unreachable: %+v", r)
	}
}
