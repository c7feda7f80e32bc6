package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testdataDir(t testing.TB, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scriptDef(id int, name, path string, params map[string]any) map[string]any {
	var list []any
	for k, v := range params {
		list = append(list, map[string]any{"name": k, "value": v, "display_name": k})
	}
	return def(id, name, 1, map[string]any{"type": "SCRIPT", "path": path, "parameters": list})
}

func scriptEnv(t *testing.T, mutate func(*Config)) *testEnv {
	e := newEnv(t, func(c *Config) {
		c.CacheDir = testdataDir(t, "cache")
		c.PythonConfig.LibDirs = []string{testdataDir(t, "pylib")}
		c.KinitTimeout = 7 * time.Hour
		if mutate != nil {
			mutate(c)
		}
	})
	e.cfgs.setTypes("2", map[string]map[string]any{"test-site": {"port": "8020"}})
	return e
}

func TestScriptAlerts(t *testing.T) {
	e := scriptEnv(t, nil)
	cache := testdataDir(t, "cache")
	cases := []struct {
		name        string
		d           map[string]any
		state, text string
	}{
		{"tokens, parameters, host", scriptDef(1, "s", "alert_check.py", nil),
			StateOK, "port=8020 missing=False constant=constant-token host=h1 kinit=25200000 keys=2"},
		{"absolute path, SKIPPED passed through", scriptDef(1, "s", filepath.Join(cache, "host_scripts", "alert_check.py"),
			map[string]any{"state": "SKIPPED"}), StateSkipped, "port=8020 missing=False constant=constant-token host=h1 kinit=25200000 keys=2"},
		{"exception", scriptDef(1, "s", "alert_check.py", map[string]any{"state": "RAISE", "reason": "disk"}),
			StateUnknown, "the check failed: disk"},
		{"not a python file", scriptDef(1, "s", "alert_not_python.sh", nil),
			StateUnknown, "Unable to execute script alert_not_python.sh"},
		{"missing", scriptDef(1, "s", "nope/alert_nope.py", nil), StateUnknown,
			"Unable to find 'nope/alert_nope.py' as an absolute path or part of " + filepath.Join(cache, "stacks") +
				" or " + filepath.Join(cache, "host_scripts")},
		{"stack script: Script.config and Environment", scriptDef(1, "s", "TEST/1.0/services/SVC/package/alerts/alert_stack.py", nil),
			StateWarning, "cluster=c1 basedir=" + filepath.Join(cache, "stacks/TEST/1.0/services/SVC/package") +
				" tmp_dir=" + e.m.cfg.AgentTmpDir},
	}
	for _, c := range cases {
		r := e.evalDef("h1", c.d)
		if r.State != c.state || r.Text != c.text {
			t.Errorf("%s: got %s %q\nwant %s %q", c.name, r.State, r.Text, c.state, c.text)
		}
	}
}

// A script that never returns is stopped at its timeout and reported
// UNKNOWN, while other alerts keep their schedule; killing the helper in
// the middle of a script costs only that run.
func TestHungScriptAndHelperDeath(t *testing.T) {
	ln := listen(t, "127.0.0.1:0", nil)
	e := scriptEnv(t, func(c *Config) {
		c.Minute = 400 * time.Millisecond
		c.ScriptTimeout = 2 * time.Second
	})
	e.defs.set("CREATE", cluster(t, "2", "127.0.0.1", nil,
		def(1, "port_alert", 1, map[string]any{"type": "PORT", "uri": "127.0.0.1:" + portOf(ln)}),
		scriptDef(2, "hung_script", "alert_sleep.py", nil),
	))
	start := time.Now()
	e.start()

	ports := 0
	var hung Result
	deadline := time.After(30 * time.Second)
	for hung.Name == "" {
		select {
		case r := <-e.results:
			switch r.Name {
			case "port_alert":
				ports++
				if r.State != StateOK {
					t.Fatalf("port alert: %+v", r)
				}
			case "hung_script":
				hung = r
			}
		case <-deadline:
			t.Fatalf("no result from the hung script (%d port results)", ports)
		}
	}
	// First run at 400 ms, stopped 2 s later.
	if el := time.Since(start); el < 2400*time.Millisecond {
		t.Fatalf("hung script reported after %s", el)
	}
	if hung.State != StateUnknown || !strings.Contains(hung.Text, "alert_sleep.py did not finish in time") {
		t.Fatalf("hung script: %+v", hung)
	}
	if ports < 4 {
		t.Fatalf("only %d port results while the script hung", ports)
	}

	// Kill the helper while the next run of the script is in flight.
	pid := e.m.ownPython.Pid()
	if pid == 0 {
		t.Fatal("no helper running")
	}
	waitChildren(t, e, 1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := e.waitResult("hung_script", 30*time.Second)
	if r.State != StateUnknown || !strings.Contains(r.Text, "ended without a result") {
		t.Fatalf("script during helper death: %+v", r)
	}
	// The next script run gets a new helper.
	e.defs.set("UPDATE", cluster(t, "2", "127.0.0.1", nil,
		def(1, "port_alert", 1, map[string]any{"type": "PORT", "uri": "127.0.0.1:" + portOf(ln)}),
		scriptDef(3, "good_script", "alert_check.py", nil),
	))
	r = e.waitResult("good_script", 30*time.Second)
	if r.State != StateOK {
		t.Fatalf("script after helper restart: %+v", r)
	}
	if np := e.m.ownPython.Pid(); np == 0 || np == pid {
		t.Fatalf("helper pid %d after restart (was %d)", np, pid)
	}
}

// With the stack library present, Kerberos checks go through its
// curl_krb_request (here a stand-in that records its arguments).
func TestKerberosChecksUseStackLibrary(t *testing.T) {
	record := filepath.Join(t.TempDir(), "calls.jsonl")
	srv := newJMXServer(t, map[string]map[string]any{fsBean: {"CapacityUsed": 1, "CapacityRemaining": 3}})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer web.Close()
	e := scriptEnv(t, func(c *Config) { c.PythonConfig.Env = []string{"CURL_KRB_RECORD=" + record} })
	e.cfgs.setTypes("2", map[string]map[string]any{
		"cluster-env":   {"security_enabled": "true", "smokeuser": "ambari-qa"},
		"kerberos-env":  {"executable_search_paths": "/usr/bin, /usr/kerberos/bin"},
		"hdfs-site":     {"principal": "HTTP/_HOST@EXAMPLE.COM", "keytab": "/etc/security/keytabs/spnego.service.keytab"},
		"namenode-site": {"http": strings.TrimPrefix(srv.URL, "http://")},
	})
	uri := map[string]any{"http": web.URL, "kerberos_principal": "{{hdfs-site/principal}}",
		"kerberos_keytab": "{{hdfs-site/keytab}}", "connection_timeout": 3.5}
	r := e.evalDef("h1.example.com", webDef(uri, map[string]any{"ok": map[string]any{"text": "HTTP {0} {1}"}}))
	if r.State != StateOK || r.Text != "HTTP 200 "+web.URL {
		t.Fatalf("kerberized WEB: %+v", r)
	}
	md := metricDef("{{namenode-site/http}}", "{0}/({0} + {1}) * 100.0", capacityReporting)
	md["source"].(map[string]any)["uri"].(map[string]any)["kerberos_principal"] = "{{hdfs-site/principal}}"
	md["source"].(map[string]any)["uri"].(map[string]any)["kerberos_keytab"] = "{{hdfs-site/keytab}}"
	r = e.evalDef("h1.example.com", md)
	if r.State != StateOK || r.Text != "Capacity Used:[25%, 1], Capacity Remaining:[3]" {
		t.Fatalf("kerberized METRIC: %+v", r)
	}

	f, err := os.Open(record)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c map[string]any
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	if len(calls) != 2 {
		t.Fatalf("%d curl_krb_request calls: %v", len(calls), calls)
	}
	w := calls[0]
	if w["principal"] != "HTTP/h1.example.com@EXAMPLE.COM" || w["keytab"] != "/etc/security/keytabs/spnego.service.keytab" ||
		w["url"] != web.URL || w["prefix"] != "web_alert" || w["only_code"] != true || w["user"] != "ambari-qa" ||
		w["paths"] != "/usr/bin, /usr/kerberos/bin" || w["timeout"] != 3.0 || w["kinit_timer_ms"] != 25200000.0 {
		t.Errorf("WEB call: %v", w)
	}
	if w["kinits"] != 1.0 {
		t.Errorf("first call did not kinit: %v", w)
	}
	m := calls[1]
	if m["prefix"] != "metric_alert" || m["only_code"] != false ||
		!regexp.MustCompile(`^http://127\.0\.0\.1:\d+/jmx\?qry=`+regexp.QuoteMeta(fsBean)+`$`).MatchString(m["url"].(string)) {
		t.Errorf("METRIC call: %v", m)
	}
	// The helper parent keeps the library's kinit times across children.
	if m["kinits"] != 0.0 {
		t.Errorf("second call with the same principal ran kinit again: %v", m)
	}
}

// waitChildren waits until the helper runs at least n requests.
func waitChildren(t *testing.T, e *testEnv, n int) {
	t.Helper()
	for i := 0; i < 300; i++ {
		out, err := e.m.ownPython.Call(context.Background(), "ping", nil, 5*time.Second)
		if err == nil {
			var st struct{ Children int }
			if json.Unmarshal(out, &st) == nil && st.Children >= n {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the helper never ran %d requests at once", n)
}
