package orchestrator

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestResolvePython(t *testing.T) {
	dir := t.TempDir()
	if got, _ := resolvePython("/opt/py/bin/python3", filepath.Join(dir, "none")); got != "/opt/py/bin/python3" {
		t.Errorf("$PYTHON ignored: %s", got)
	}
	abs := filepath.Join(dir, "abs-wrap")
	os.Symlink("/usr/bin/python3.9", abs)
	if got, _ := resolvePython("", abs); got != "/usr/bin/python3.9" {
		t.Errorf("absolute link: %s", got)
	}
	rel := filepath.Join(dir, "rel-wrap")
	os.Symlink("python3.11", rel)
	if got, _ := resolvePython("", rel); got != filepath.Join(dir, "python3.11") {
		t.Errorf("relative link: %s", got)
	}
	want, _ := exec.LookPath("python3")
	if got, err := resolvePython("", filepath.Join(dir, "none")); err != nil || got != want {
		t.Errorf("PATH fallback: %s %v", got, err)
	}
}

func TestEnvironment(t *testing.T) {
	e := newEnvironment([]string{"A=1", "PYTHONPATH=/x:/lib1", "AGENT_ENCRYPTION_KEY=old"}, []string{"/lib1", "/lib2"})
	if got := e.get(""); !reflect.DeepEqual(got, []string{"A=1", "AGENT_ENCRYPTION_KEY=old", "PYTHONPATH=/lib2:/x:/lib1"}) {
		t.Errorf("base %v", got)
	}
	if got := e.get("k"); !reflect.DeepEqual(got, []string{"A=1", "PYTHONPATH=/lib2:/x:/lib1", "AGENT_ENCRYPTION_KEY=k"}) {
		t.Errorf("with key %v", got)
	}
	if got := newEnvironment([]string{"A=1"}, []string{"/lib"}).get(""); !reflect.DeepEqual(got, []string{"A=1", "PYTHONPATH=/lib"}) {
		t.Errorf("no PYTHONPATH before: %v", got)
	}
}

// Secrets are masked in every form log_command_executes can copy to the
// log: Python reprs, JSON and key=value, for any password, passwd, secret
// or credential key.
func TestHidePasswords(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"python repr", `{u'password': u'changeIT!', 'user': 'x'}`, `{u'password': u'[PROTECTED]', 'user': 'x'}`},
		{"python repr dotted keys", `'db_password': 'abc', 'ssl.keystore.password':'q'`, `'db_password': '[PROTECTED]', 'ssl.keystore.password':'[PROTECTED]'`},
		{"python repr value with spaces", `'admin_password': 'two words', 'n': 1`, `'admin_password': '[PROTECTED]', 'n': 1`},
		{"python repr escaped quote", `{'password': 'it\'s', 'user': 'x'}`, `{'password': '[PROTECTED]', 'user': 'x'}`},
		{"python repr double-quoted", `{'ranger_password': "it's", 'u': 'x'}`, `{'ranger_password': "[PROTECTED]", 'u': 'x'}`},
		{"python repr number", `{'keystore_password': 123456}`, `{'keystore_password': [PROTECTED]}`},
		{"json", `{"db_password": "hunter2", "db_user": "ambari"}`, `{"db_password": "[PROTECTED]", "db_user": "ambari"}`},
		{"json escaped quote", `{"password":"a\"b","x":1}`, `{"password":"[PROTECTED]","x":1}`},
		{"json number", `{"trust.password": 1234, "port": 8080}`, `{"trust.password": [PROTECTED], "port": 8080}`},
		{"json upper case", `"javax.jdo.option.ConnectionPassword": "pw"`, `"javax.jdo.option.ConnectionPassword": "[PROTECTED]"`},
		{"json secret", `{"oauth.client.secret": "s3"}`, `{"oauth.client.secret": "[PROTECTED]"}`},
		{"json secret in the middle", `{"hadoop.http.authentication.signature.secret.file": "/etc/x"}`, `{"hadoop.http.authentication.signature.secret.file": "[PROTECTED]"}`},
		{"json credential", `{"ldap.credential": "c"}`, `{"ldap.credential": "[PROTECTED]"}`},
		{"json passwd", `{"passwd": "p"}`, `{"passwd": "[PROTECTED]"}`},
		{"json nested object left", `{"credentials": {"user": "u"}}`, `{"credentials": {"user": "u"}}`},
		{"key=value", `password=plain`, `password=[PROTECTED]`},
		{"key=value in a line", `connecting with user=admin password=s3cret host=db`, `connecting with user=admin password=[PROTECTED] host=db`},
		{"java property", `java -Djavax.net.ssl.trustStorePassword=changeit -Xmx1g`, `java -Djavax.net.ssl.trustStorePassword=[PROTECTED] -Xmx1g`},
		{"env var", "DB_PASSWORD=abc\nPATH=/bin", "DB_PASSWORD=[PROTECTED]\nPATH=/bin"},
		{"spaced and quoted", `ssl.secret = "a b c"; next`, `ssl.secret = "[PROTECTED]"; next`},
		{"url query", `GET /login?user=a&password=b&x=1`, `GET /login?user=a&password=[PROTECTED]&x=1`},
		{"already masked", `'password': '[PROTECTED]'`, `'password': '[PROTECTED]'`},
		{"no secret", `{'user': 'x', "port": 1, a=b}`, `{'user': 'x', "port": 1, a=b}`},
		{"prose", `Setting the password for user hdfs`, `Setting the password for user hdfs`},
		{"lines", "start\n{\"password\": \"p\"}\nmiddle SECRET=s\n\nend password=", "start\n{\"password\": \"[PROTECTED]\"}\nmiddle SECRET=[PROTECTED]\n\nend password="},
		{"non-ASCII before", "Überprüfung İ: \"db_password\": \"x\" ok", "Überprüfung İ: \"db_password\": \"[PROTECTED]\" ok"},
	} {
		if got := HidePasswords(c.in); got != c.want {
			t.Errorf("%s: HidePasswords(%q)\n = %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

func TestSplitOnChunks(t *testing.T) {
	for _, c := range []struct {
		text string
		max  int
		want []string
	}{
		{"a\nb\nc", 4, []string{"a\nb", "c"}},
		{"abcdefgh\nx", 3, []string{"", "abc", "def", "gh", "x"}},
		{"short", 100, []string{"short"}},
	} {
		if got := splitOnChunks(c.text, c.max); !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitOnChunks(%q, %d) = %q, want %q", c.text, c.max, got, c.want)
		}
	}
}

func TestLogCommandOutput(t *testing.T) {
	cmd := map[string]any{"taskId": 5, "role": "R", "roleCommand": "START", "commandParams": map[string]any{}}
	e := newEnv(t, func(c *Config) { c.LogCommandExecutes = true })
	e.orch.LogCommandOutput(cmd, "line 'password': 'hunter2'\n\nCommand completed successfully!\n", "")
	var msgs []string
	for _, entry := range e.logHook.AllEntries() {
		msgs = append(msgs, entry.Message)
	}
	all := strings.Join(msgs, "\n")
	if strings.Contains(all, "hunter2") || !strings.Contains(all, "'password': '[PROTECTED]'") ||
		!strings.Contains(all, "Begin command output log for command with id = 5, role = R, roleCommand = START") {
		t.Errorf("log:\n%s", all)
	}
	if strings.Contains(all, "Begin command stderr") {
		t.Error("empty stderr logged")
	}

	e.logHook.Reset()
	cmd["commandParams"] = map[string]any{"log_output": "false"}
	e.orch.LogCommandOutput(cmd, "x", "y")
	off := newEnv(t, nil)
	off.orch.LogCommandOutput(map[string]any{"taskId": 1}, "x", "y")
	if len(e.logHook.AllEntries()) != 0 || len(off.logHook.AllEntries()) != 0 {
		t.Error("output logged although disabled")
	}
}
