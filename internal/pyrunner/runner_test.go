package pyrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func newTestRunner(t *testing.T) *Runner {
	t.Helper()
	h := New(Config{LibDirs: []string{}})
	t.Cleanup(func() { h.Close() })
	return h
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const okScript = `
def get_tokens():
    return ('{{site/port}}', '{{site/missing}}')

def execute(configurations={}, parameters={}, host_name=None):
    return ('OK', ['port=%s params=%s host=%s n=%d' % (configurations.get('{{site/port}}'),
            parameters.get('p'), host_name, len(configurations))])
`

const sleepScript = `
import time
def execute(configurations={}, parameters={}, host_name=None):
    time.sleep(3600)
`

func scriptArgs(path string) map[string]any {
	return map[string]any{
		"path": path, "name": "test_alert",
		"configurations": map[string]any{"configurations": map[string]any{"site": map[string]any{"port": "8080"}}},
		"parameters":     map[string]any{"p": "v"},
		"host_name":      "h1",
	}
}

func TestScriptAlertCallingConvention(t *testing.T) {
	h := newTestRunner(t)
	dir := t.TempDir()
	p := writeScript(t, dir, "ok_alert.py", okScript)
	out, err := h.Call(context.Background(), "script_alert", scriptArgs(p), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		State string
		Args  []string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if r.State != "OK" || len(r.Args) != 1 || r.Args[0] != "port=8080 params=v host=h1 n=1" {
		t.Fatalf("result %+v", r)
	}
}

func TestTimeoutKillsOnlyThatCall(t *testing.T) {
	h := newTestRunner(t)
	dir := t.TempDir()
	slow := writeScript(t, dir, "slow.py", sleepScript)
	ok := writeScript(t, dir, "ok_alert.py", okScript)

	var wg sync.WaitGroup
	wg.Add(1)
	var slowErr error
	go func() {
		defer wg.Done()
		_, slowErr = h.Call(context.Background(), "script_alert", scriptArgs(slow), 1500*time.Millisecond)
	}()
	// While the slow script hangs, other calls are answered.
	for i := 0; i < 5; i++ {
		if _, err := h.Call(context.Background(), "script_alert", scriptArgs(ok), 30*time.Second); err != nil {
			t.Fatalf("call %d during a hung script: %v", i, err)
		}
	}
	pid := h.Pid()
	wg.Wait()
	var he *Error
	if !errors.As(slowErr, &he) || he.Kind != KindTimeout {
		t.Fatalf("hung script: got %v, want a timeout error", slowErr)
	}
	if h.Pid() != pid {
		t.Fatalf("helper restarted (pid %d -> %d); only the child should have been killed", pid, h.Pid())
	}
}

func TestCallCanceledByContext(t *testing.T) {
	h := newTestRunner(t)
	slow := writeScript(t, t.TempDir(), "slow.py", sleepScript)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := h.Call(ctx, "script_alert", scriptArgs(slow), time.Hour)
	var he *Error
	if !errors.As(err, &he) || he.Kind != KindCanceled {
		t.Fatalf("got %v, want canceled", err)
	}
	// The helper is still usable.
	if _, err := h.Call(context.Background(), "eval", map[string]any{"expression": "{0} + 1", "values": []int{1}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestHelperKilledMidFlightRestarts(t *testing.T) {
	h := newTestRunner(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	slow := writeScript(t, dir, "slow.py", fmt.Sprintf(`
import time
def execute(configurations={}, parameters={}, host_name=None):
    open(%q, "w").close()
    time.sleep(3600)
`, started))
	done := make(chan error, 1)
	go func() {
		_, err := h.Call(context.Background(), "script_alert", scriptArgs(slow), time.Hour)
		done <- err
	}()
	// The call is in flight once its script runs.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script of the call never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := h.Pid()
	if pid == 0 {
		t.Fatal("no helper pid while a call runs")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var he *Error
		if !errors.As(err, &he) || he.Kind != KindCrashed {
			t.Fatalf("in-flight call: got %v, want crashed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight call did not end when the helper died")
	}
	out, err := h.Call(context.Background(), "eval", map[string]any{"expression": "{0} * 2", "values": []int{21}}, 10*time.Second)
	if err != nil {
		t.Fatalf("call after helper death: %v", err)
	}
	if strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("got %s", out)
	}
	if np := h.Pid(); np == 0 || np == pid {
		t.Fatalf("pid after restart %d (was %d)", np, pid)
	}
}

func TestExpressionsAndErrors(t *testing.T) {
	h := newTestRunner(t)
	ctx := context.Background()
	cases := []struct {
		op   string
		args string
		want string
		kind string
		typ  string
	}{
		{"eval", `{"expression": "{0}/({0} + {1}) * 100.0", "values": [1, 3]}`, "25.0", "", ""},
		{"eval", `{"expression": "{0} / {1}", "values": [1, 2]}`, "0.5", "", ""},
		{"eval", `{"expression": "{0} % 7", "values": [23]}`, "2", "", ""},
		{"eval", `{"expression": "{0} / {1}", "values": [1, 0]}`, "", KindException, "ZeroDivisionError"},
		{"eval", `{"expression": "{0} * 2", "values": [NaN]}`, "NaN", "", ""},
		{"eval", `{"expression": "{0} +", "values": [1]}`, "", KindException, "SyntaxError"},
		{"ams", `{"value": "{0} + {1}", "compute": "mean", "minimum_value": 0, "metrics": [{"1": 1, "2": 3}, {"1": 1, "2": 1}]}`, "3.0", "", ""},
		{"ams", `{"value": "{0}", "compute": "count", "minimum_value": 2, "metrics": [{"1": 1, "2": 3, "3": 5}]}`, "2", "", ""},
		{"aggregate", `{"function": "sample_standard_deviation", "values": [2, 4, 4, 4, 5, 5, 7, 9]}`, "2.138089935299395", "", ""},
		{"nope", `{}`, "", KindBadRequest, ""},
		{"curl_krb", `{"url": "http://127.0.0.1:1/", "keytab": "k", "principal": "p", "cache_file_prefix": "x"}`, "", KindUnavailable, ""},
	}
	for _, c := range cases {
		out, err := h.Call(ctx, c.op, json.RawMessage(c.args), 10*time.Second)
		if c.kind == "" {
			if err != nil || strings.TrimSpace(string(out)) != c.want {
				t.Errorf("%s %s: got %s, %v; want %s", c.op, c.args, out, err, c.want)
			}
			continue
		}
		var he *Error
		if !errors.As(err, &he) || he.Kind != c.kind || (c.typ != "" && he.Type != c.typ) {
			t.Errorf("%s %s: got %s, %v; want %s %s", c.op, c.args, out, err, c.kind, c.typ)
		}
	}
}

func TestScriptOutputDoesNotCorruptProtocol(t *testing.T) {
	h := newTestRunner(t)
	p := writeScript(t, t.TempDir(), "noisy.py", `
import os, subprocess, sys
def execute(configurations={}, parameters={}, host_name=None):
    print('{"id": 1, "ok": true, "result": "\"forged\""}')
    sys.stdout.flush()
    subprocess.call(['echo', 'from a subprocess'])
    data = sys.stdin.read()
    return ('WARNING', ['read %d bytes from stdin' % len(data)])
`)
	out, err := h.Call(context.Background(), "script_alert", scriptArgs(p), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"WARNING"`) || !strings.Contains(string(out), "read 0 bytes") {
		t.Fatalf("got %s", out)
	}
}

func TestStartFailureIsReported(t *testing.T) {
	h := New(Config{Python: filepath.Join(t.TempDir(), "no-such-python"), RetryDelay: time.Hour})
	defer h.Close()
	_, err := h.Call(context.Background(), "eval", json.RawMessage(`{"expression":"1","values":[]}`), time.Second)
	var he *Error
	if !errors.As(err, &he) || he.Kind != KindStart {
		t.Fatalf("got %v", err)
	}
	// Within the retry delay the error comes back without a new attempt.
	_, err2 := h.Call(context.Background(), "eval", json.RawMessage(`{}`), time.Second)
	if err2 != err {
		t.Fatalf("second call: %v", err2)
	}
}

func TestCloseStopsHelperAndChildren(t *testing.T) {
	h := New(Config{LibDirs: []string{}})
	slow := writeScript(t, t.TempDir(), "slow.py", `
import os, time
def execute(configurations={}, parameters={}, host_name=None):
    open(os.environ['MARK'], 'w').write(str(os.getpid()))
    time.sleep(3600)
`)
	mark := filepath.Join(t.TempDir(), "pid")
	h.cfg.Env = []string{"MARK=" + mark}
	go h.Call(context.Background(), "script_alert", scriptArgs(slow), time.Hour)
	var child int
	for i := 0; i < 400 && child == 0; i++ {
		time.Sleep(25 * time.Millisecond)
		if b, err := os.ReadFile(mark); err == nil && len(b) > 0 {
			child = atoi(string(b))
		}
	}
	if child == 0 {
		t.Fatal("script did not start")
	}
	pid := h.Pid()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{pid, child} {
		gone := false
		for i := 0; i < 200 && !gone; i++ {
			gone = syscall.Kill(p, 0) != nil
			if !gone {
				time.Sleep(25 * time.Millisecond)
			}
		}
		if !gone {
			t.Errorf("process %d still alive after Close", p)
		}
	}
	if _, err := h.Call(context.Background(), "ping", nil, time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestWedgedHelperIsReplaced(t *testing.T) {
	h := New(Config{LibDirs: []string{}, Grace: 500 * time.Millisecond})
	defer h.Close()
	ctx := context.Background()
	if _, err := h.Call(ctx, "ping", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pid := h.Pid()
	// A stopped helper reads nothing and answers nothing.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	_, err := h.Call(ctx, "eval", json.RawMessage(`{"expression":"1","values":[]}`), 500*time.Millisecond)
	var he *Error
	if !errors.As(err, &he) || he.Kind != KindTimeout {
		t.Fatalf("call to a stopped helper: %v", err)
	}
	out, err := h.Call(ctx, "eval", json.RawMessage(`{"expression":"{0} + 1","values":[1]}`), 10*time.Second)
	if err != nil || strings.TrimSpace(string(out)) != "2" {
		t.Fatalf("after replacing the helper: %s %v", out, err)
	}
	if np := h.Pid(); np == pid {
		t.Fatal("the stopped helper is still in use")
	}
}

// A fixed runner directory is kept by Close and reused by the next
// runner; an earlier version's file is dropped; a directory others may
// write to is refused.
func TestFixedDirIsReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pyrunner")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := writeScript(t, dir, "ambari_agent_pyrunner_000000000000.py", "raise SystemExit(9)\n")
	for i := 0; i < 2; i++ {
		h := New(Config{LibDirs: []string{}, Dir: dir})
		if _, err := h.Call(context.Background(), "ping", nil, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.py"))
		if len(files) != 1 || files[0] == stale {
			t.Fatalf("runner directory holds %v", files)
		}
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	h := New(Config{LibDirs: []string{}, Dir: open, RetryDelay: time.Hour})
	defer h.Close()
	_, err := h.Call(context.Background(), "ping", nil, 30*time.Second)
	var he *Error
	if !errors.As(err, &he) || he.Kind != KindStart || !strings.Contains(he.Message, "closed to others") {
		t.Fatalf("runner in a world-writable directory: %v", err)
	}
}
