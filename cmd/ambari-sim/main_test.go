package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as ambari-sim when this is set, so that the
// command runs as a real process.
const asMain = "AMBARI_SIM_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1" || o.urlPort != 8440 || o.securedPort != 8441 || o.apiPort != 8080 || o.retryInterval != 15*time.Second {
		t.Errorf("defaults %+v", o)
	}
	o, err = parseArgs([]string{"--url-port=1", "--secured-url-port", "2", "-v", "--two-way-ssl", "--resources", "/r"})
	if err != nil || o.urlPort != 1 || o.securedPort != 2 || !o.verbose || !o.twoWay || o.resources != "/r" {
		t.Errorf("parsed %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"--url-port", "70000"}, {"-v", "-q"}, {"extra"}, {"--nope"}, {"--records", "0"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestHelpAndCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Examples:") {
		t.Errorf("--help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"--check", "--scenario", "../../configs/sim/demo.json"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), `scenario "demo"`) || !strings.Contains(out.String(), "step start_server after install") {
		t.Errorf("--check: %d %q %q", code, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"--scenario", "/nonexistent.json"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "nonexistent") {
		t.Errorf("missing scenario: %d %q", code, errOut.String())
	}
	if code := run([]string{"--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// The command as a process: it comes up on free ports, serves the control
// API and stops cleanly on SIGTERM.
func TestRunsUntilSignalled(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--scenario", "../../configs/sim/demo.json",
		"--url-port", "0", "--secured-url-port", "0", "--api-port", "0", "--resources", "../../testdata/resources")
	cmd.Env = append(os.Environ(), asMain+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	apiRE := regexp.MustCompile(`control API (http://\S+)/api/v1`)
	var api string
	var seen []string
	timeout := time.After(20 * time.Second)
	for api == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited early:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := apiRE.FindStringSubmatch(l); m != nil {
				api = m[1]
			}
		case <-timeout:
			t.Fatalf("no start line:\n%s", strings.Join(seen, "\n"))
		}
	}
	resp, err := http.Get(api + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var status map[string]any
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &status); err != nil || status["scenario"] != "demo" {
		t.Errorf("status %s", b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if !strings.Contains(strings.Join(rest, "\n"), "shutting down") {
		t.Errorf("no shutdown line in %q", rest)
	}
}
