package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStockShapes(t *testing.T) {
	c, err := Load("testdata/stock-shapes.ini", "")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"server hostname kept raw", c.Server.Hostname, "ambari.example.com, backup.example.com"},
		{"server list", strings.Join(c.Server.Hostnames(), "|"), "ambari.example.com|backup.example.com"},
		{"connect_retry_delay", c.Server.ConnectRetryDelay, 7 * time.Second},
		{"loglevel debug is case-insensitive", c.Agent.LogLevel, "DEBUG"},
		{"cleanup interval raised to an hour", c.Agent.DataCleanupInterval, time.Hour},
		{"cleanup max age", c.Agent.DataCleanupMaxAge, 2592000 * time.Second},
		{"spaces around = and mixed-case key", c.Agent.DataCleanupMaxSizeMB, 100},
		{"colon delimiter and key case", c.Agent.PingPort, 8671},
		{"tolerate TRUE", c.Agent.TolerateDownloadFailures, true},
		{"parallel_execution=1", c.Agent.ParallelExecution, true},
		{"send_alert_changes_only=0 still means changes only", c.Agent.SendAlertChangesOnly, true},
		{"ignore_mount_points", strings.Join(c.Agent.IgnoreMountPoints, "|"), "/mnt/custom1|/mnt/custom2"},
		{"semicolon inside a value is not a comment", c.Agent.PublicHostnameScript, "echo public; echo ignored"},
		{"retention policy lower-cased", c.Agent.CommandFileRetentionPolicy, "remove_on_success"},
		{"ca_cert_path", c.Security.CACertPath, "/etc/pki/ca.pem"},
		{"ssl_verify_cert=0", c.Security.SSLVerifyCert, false},
		{"proxy false", c.Network.UseSystemProxySettings, false},
		{"state interval", c.Heartbeat.StateInterval, 30 * time.Second},
		{"value after a multi-line value", c.Heartbeat.LogMaxSymbolsSize, 1000},
		{"log_out_files present without value", c.Logging.LogOutFiles, true},
		{"multi-line list", strings.Join(c.Python.LibDirs, "|"), "/usr/lib/ambari-agent/lib|/opt/extra/lib"},
		{"default kept for absent key", c.Agent.StatusCommandsRunInterval, 20 * time.Second},
		{"absent alert_reports_interval", c.Agent.AlertReportsInterval, 5 * time.Second},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// The shipped file of this project must parse, and so must the Python
// agent's own file layout that operators upgrade from.
func TestShippedConfigParses(t *testing.T) {
	c, err := Load("../../configs/ambari-agent.ini", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.Prefix != "/var/lib/ambari-agent/data" || c.Agent.DataCleanupMaxSizeMB != 100 || c.Agent.PingPort != 8670 {
		t.Errorf("unexpected values from the shipped file: %+v", c.Agent)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestHomeAppliedToEveryPath(t *testing.T) {
	home := "/srv/agent7"
	c, err := Parse("x.ini", []byte("[agent]\nprefix=/var/lib/ambari-agent/data\ncache_dir=/srv/agent7/var/lib/ambari-agent/cache\n"), home)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{
		"prefix":    c.Agent.Prefix,
		"cache_dir": c.Agent.CacheDir,
		"logdir":    c.Agent.LogDir,
		"piddir":    c.Agent.PidDir,
		"keysdir":   c.Security.KeysDir,
		"pid file":  c.PidFile(),
		"tmp dir":   c.TmpDir(),
		"work dir":  c.WorkDir(),
	} {
		if !strings.HasPrefix(p, home+"/") {
			t.Errorf("%s = %s, not under the home", name, p)
		}
		if strings.Count(p, home) != 1 {
			t.Errorf("%s = %s: home applied twice", name, p)
		}
	}
	if Locate(home) != "/srv/agent7/etc/ambari-agent/conf/ambari-agent.ini" {
		t.Errorf("Locate(home) = %s", Locate(home))
	}
	t.Setenv(ConfDirEnv, "/elsewhere")
	if Locate(home) != "/elsewhere/ambari-agent.ini" {
		t.Errorf("AMBARI_AGENT_CONF_DIR not honoured: %s", Locate(home))
	}
}

func TestErrorsNameFileLineKeyAndValue(t *testing.T) {
	cases := []struct {
		name, ini string
		want      []string
	}{
		{"bad integer", "[agent]\nprefix=/d\n\nping_port = 86x0\n", []string{"x.ini:4", "[agent] ping_port", `"86x0"`, "not an integer"}},
		{"unparseable line", "[agent]\nprefix=/d\nthis line has no delimiter\n", []string{"x.ini:3", "this line has no delimiter"}},
		{"line before section", "prefix=/d\n[agent]\n", []string{"x.ini:1", "before any [section]"}},
		{"port out of range", "[server]\nurl_port=70000\n", []string{"x.ini:2", "[server] url_port", "70000"}},
		{"bad enum", "[agent]\ncommand_file_retention_policy=sometimes\n", []string{"x.ini:2", "command_file_retention_policy", "sometimes"}},
		{"bad pinning mode", "[security]\nserver_cert_pinning=always\n", []string{"x.ini:2", "server_cert_pinning", "always", "tofu"}},
		{"negative interval", "[agent]\nstatus_commands_run_interval=-5\n", []string{"x.ini:2", "status_commands_run_interval", "negative"}},
		{"http on every interface", "[agent]\nhttp_port=0.0.0.0:9100\n", []string{"x.ini:2", "[agent] http_port", "0.0.0.0:9100", "127.0.0.1 only"}},
		{"http on an IPv6 address", "[agent]\nhttp_port=[::]:9100\n", []string{"x.ini:2", "127.0.0.1 only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.ini", []byte(tc.ini), "")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHTTPPortOnLoopback(t *testing.T) {
	for v, want := range map[string]int{"9100": 9100, "127.0.0.1:9101": 9101, "localhost:9102": 9102, "0": 0} {
		c, err := Parse("x.ini", []byte("[agent]\nhttp_port="+v+"\n"), "")
		if err != nil || c.Agent.HTTPPort != want {
			t.Errorf("http_port=%s: %v %d", v, err, c.Agent.HTTPPort)
		}
	}
}

func TestMissingPrefixRefusedByValidate(t *testing.T) {
	c, err := Parse("x.ini", []byte("[server]\nhostname=h\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Fatalf("Validate = %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.ini"), "")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestSetServerHostnameEditsOneLine(t *testing.T) {
	src, err := os.ReadFile("../../configs/ambari-agent.ini")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ambari-agent.ini")
	if err := os.WriteFile(p, src, 0o640); err != nil {
		t.Fatal(err)
	}
	old, err := SetServerHostname(p, "new.example.com")
	if err != nil || old != "localhost" {
		t.Fatalf("old=%q err=%v", old, err)
	}
	after, _ := os.ReadFile(p)
	a, b := strings.Split(string(src), "\n"), strings.Split(string(after), "\n")
	if len(a) != len(b) {
		t.Fatalf("line count changed: %d -> %d", len(a), len(b))
	}
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
			if b[i] != "hostname=new.example.com" {
				t.Errorf("line %d became %q", i+1, b[i])
			}
		}
	}
	if diff != 1 {
		t.Errorf("%d lines changed, want 1", diff)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	c, err := Load(p, "")
	if err != nil || c.Server.Hostname != "new.example.com" {
		t.Fatalf("reload: %v %v", c, err)
	}
	// A hostname_script key in [agent] or a commented line is not touched.
	if _, err := SetServerHostname(p, "bad\nhost"); err == nil {
		t.Error("a host name with a newline was accepted")
	}
}

func TestServerCertPinning(t *testing.T) {
	for ini, want := range map[string]string{
		"[agent]\nprefix=/d\n":                             "",
		"[security]\nserver_cert_pinning=TOFU\n":           "tofu",
		"[security]\nserver_cert_pinning = off\n":          "",
		"[security]\nserver_cert_pinning=\n[agent]\nx=1\n": "",
	} {
		c, err := Parse("x.ini", []byte(ini), "")
		if err != nil {
			t.Fatalf("%q: %v", ini, err)
		}
		if c.Security.ServerCertPinning != want {
			t.Errorf("%q: server_cert_pinning %q, want %q", ini, c.Security.ServerCertPinning, want)
		}
	}
}

func TestResidentRunnerKeys(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (*Config, error) {
		p := filepath.Join(dir, "a.ini")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(p, "")
	}
	c, err := load("[agent]\nprefix=/x\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Python.ResidentRunner || strings.Join(c.Python.PreloadModules, ",") != strings.Join(DefaultPreloadModules, ",") {
		t.Errorf("defaults: resident %v preload %v", c.Python.ResidentRunner, c.Python.PreloadModules)
	}
	c, err = load("[python]\nresident_runner=False\npreload_modules=resource_management,\n  ambari_commons\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Python.ResidentRunner || strings.Join(c.Python.PreloadModules, "|") != "resource_management|ambari_commons" {
		t.Errorf("set: resident %v preload %v", c.Python.ResidentRunner, c.Python.PreloadModules)
	}
	if _, err := load("[python]\nresident_runner=sometimes\n"); err == nil || !strings.Contains(err.Error(), "resident_runner") {
		t.Errorf("bad value: %v", err)
	}
}
