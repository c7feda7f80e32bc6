package packaging

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const (
	testVersion       = "1.2.3"
	testHash          = "0123456789abcdef"
	testAmbariVersion = "2.7.8.0.0"
)

// built are the packages, made once for all tests.
var built struct {
	once     sync.Once
	err      error
	dir      string // holds the binaries and packages
	builder  string // the packaging/build program
	binary   string
	deb, rpm string
}

// buildPackages builds the agent and the packages as `make package` does.
func buildPackages(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"dpkg-deb", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run installs it", tool)
			}
			t.Skipf("needs %s to inspect the packages (apt-get install dpkg rpm)", tool)
		}
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "ambari-agent-go-pkg")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		built.binary = filepath.Join(dir, "ambari-agent")
		built.builder = filepath.Join(dir, "pkgbuild")
		ldflags := fmt.Sprintf("-s -w -X github.com/ambari-go/ambari-agent/internal/version.Version=%s -X github.com/ambari-go/ambari-agent/internal/version.Hash=%s", testVersion, testHash)
		for _, args := range [][]string{
			{"build", "-trimpath", "-ldflags", ldflags, "-o", built.binary, "./cmd/ambari-agent"},
			{"build", "-o", built.builder, "./packaging/build"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
		out, err := runBuilder(testVersion, testAmbariVersion, filepath.Join(dir, "dist"))
		if err != nil {
			built.err = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		for _, p := range strings.Fields(out) {
			switch filepath.Ext(p) {
			case ".deb":
				built.deb = p
			case ".rpm":
				built.rpm = p
			}
		}
		if built.deb == "" || built.rpm == "" {
			built.err = fmt.Errorf("build made no .deb or no .rpm: %s", out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func runBuilder(version, ambariVersion, out string) (string, error) {
	cmd := exec.Command(built.builder, "-version", version, "-ambari-version", ambariVersion,
		"-binary", built.binary, "-out", out)
	cmd.Dir = ".."
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stderr.String(), err
	}
	return stdout.String(), nil
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A package without a release version or an Ambari version is refused.
func TestBuildRefusedWithoutVersion(t *testing.T) {
	buildPackages(t)
	for _, tc := range []struct{ version, ambari, want string }{
		{"", testAmbariVersion, "refusing to build a package with version"},
		{"0123abc-dirty", testAmbariVersion, "refusing to build a package with version"},
		{testVersion, "", "refusing to build a package with Ambari version"},
	} {
		out := t.TempDir()
		msg, err := runBuilder(tc.version, tc.ambari, out)
		if err == nil {
			t.Errorf("version %q, Ambari %q: built", tc.version, tc.ambari)
			continue
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("version %q, Ambari %q: %s", tc.version, tc.ambari, msg)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("version %q, Ambari %q: left %v", tc.version, tc.ambari, entries)
		}
	}
}

// entry is one line of a package's file list.
type entry struct{ mode, owner string }

// debFiles parses `dpkg-deb -c`: "-rwxr-xr-x root/root 123 date time ./path".
func debFiles(t *testing.T, deb string) map[string]entry {
	files := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", l)
		}
		files[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = entry{f[0], f[1]}
	}
	return files
}

// rpmFiles parses `rpm -qlvp`: "-rwxr-xr-x 1 root root 123 date path".
func rpmFiles(t *testing.T, rpm string) map[string]entry {
	files := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qlvp", rpm)), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 {
			t.Fatalf("rpm -qlvp line %q", l)
		}
		files[strings.TrimSuffix(f[len(f)-1], "/")] = entry{f[0], f[2] + "/" + f[3]}
	}
	return files
}

func checkFiles(t *testing.T, kind string, got map[string]entry, want map[string]string) {
	t.Helper()
	for path, mode := range want {
		e, ok := got[path]
		if !ok {
			t.Errorf("%s: %s missing", kind, path)
			continue
		}
		if e.mode != mode || e.owner != "root/root" {
			t.Errorf("%s: %s is %s %s, want %s root/root", kind, path, e.mode, e.owner, mode)
		}
	}
	for path, e := range got {
		if _, ok := want[path]; !ok && !strings.HasPrefix(e.mode, "d") {
			t.Errorf("%s: unexpected file %s", kind, path)
		}
	}
}

func TestDebContents(t *testing.T) {
	buildPackages(t)
	fields := run(t, "dpkg-deb", "-f", built.deb, "Package", "Version", "Architecture", "Depends")
	for _, want := range []string{
		"Package: ambari-agent-go",
		"Version: " + testVersion + "-1",
		"Architecture: amd64",
		"Depends: ambari-agent (>= " + testAmbariVersion + "~), ambari-agent (<< " + testAmbariVersion + ".~)",
	} {
		if !strings.Contains(fields, want+"\n") {
			t.Errorf("control lacks %q:\n%s", want, fields)
		}
	}
	checkFiles(t, "deb", debFiles(t, built.deb), map[string]string{
		"/usr/sbin/ambari-agent-go":                    "-rwxr-xr-x",
		"/etc/init.d/ambari-agent":                     "-rwxr-xr-x",
		"/usr/lib/systemd/system/ambari-agent.service": "-rw-r--r--",
		"/usr/share/doc/ambari-agent-go/LICENSE":       "-rw-r--r--",
		"/usr/share/doc/ambari-agent-go/NOTICE":        "-rw-r--r--",
	})

	// The dependency holds exactly the ambari-agent packages of that
	// Ambari version, whatever their Debian revision.
	dep := []string{testAmbariVersion + "~", testAmbariVersion + ".~"}
	for v, ok := range map[string]bool{
		testAmbariVersion: true, testAmbariVersion + "-1": true, testAmbariVersion + "-1234": true,
		"2.7.7.0.0-1": false, "2.7.8.0.1-1": false, testAmbariVersion + ".1-1": false, "2.7.9.0.0": false,
	} {
		in := exec.Command("dpkg", "--compare-versions", v, "ge", dep[0]).Run() == nil &&
			exec.Command("dpkg", "--compare-versions", v, "lt", dep[1]).Run() == nil
		if in != ok {
			t.Errorf("ambari-agent %s satisfies the dependency: %v, want %v", v, in, ok)
		}
	}

	ctl := t.TempDir()
	run(t, "dpkg-deb", "-e", built.deb, ctl)
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		p := filepath.Join(ctl, s)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v", s, st.Mode())
		}
		run(t, "sh", "-n", p)
	}
	preinst, _ := os.ReadFile(filepath.Join(ctl, "preinst"))
	postrm, _ := os.ReadFile(filepath.Join(ctl, "postrm"))
	if !regexp.MustCompile(`dpkg-divert --package ambari-agent-go --rename \\\s+--divert /etc/init.d/ambari-agent.distrib --add /etc/init.d/ambari-agent`).Match(preinst) {
		t.Errorf("preinst does not divert the Python init script:\n%s", preinst)
	}
	if !regexp.MustCompile(`dpkg-divert --package ambari-agent-go --rename \\\s+--divert /etc/init.d/ambari-agent.distrib --remove /etc/init.d/ambari-agent`).Match(postrm) {
		t.Errorf("postrm does not remove the diversion:\n%s", postrm)
	}
}

func TestRPMContents(t *testing.T) {
	buildPackages(t)
	info := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}\n", built.rpm)
	if want := "ambari-agent-go " + testVersion + " 1 x86_64 Apache-2.0\n"; info != want {
		t.Errorf("rpm header %q, want %q", info, want)
	}
	checkFiles(t, "rpm", rpmFiles(t, built.rpm), map[string]string{
		"/usr/sbin/ambari-agent-go":                    "-rwxr-xr-x",
		"/usr/lib/ambari-agent-go":                     "drwxr-xr-x",
		"/usr/lib/ambari-agent-go/ambari-agent":        "-rwxr-xr-x",
		"/usr/lib/systemd/system/ambari-agent.service": "-rw-r--r--",
		"/usr/share/doc/ambari-agent-go":               "drwxr-xr-x",
		"/usr/share/doc/ambari-agent-go/LICENSE":       "-rw-r--r--",
		"/usr/share/doc/ambari-agent-go/NOTICE":        "-rw-r--r--",
	})
	requires := run(t, "rpm", "-qp", "--requires", built.rpm)
	if !strings.Contains(requires, "ambari-agent = "+testAmbariVersion+"\n") {
		t.Errorf("requires:\n%s", requires)
	}
	triggers := run(t, "rpm", "-qp", "--triggers", built.rpm)
	if !strings.Contains(triggers, "triggerin scriptlet (using /bin/sh) -- ambari-agent\n") ||
		!strings.Contains(triggers, "ln -sfn /usr/lib/ambari-agent-go/ambari-agent /usr/sbin/ambari-agent\n") {
		t.Errorf("no trigger re-pointing /usr/sbin/ambari-agent after ambari-agent installs:\n%s", triggers)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", built.rpm)
	for _, want := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet",
		"ln -sfn /etc/init.d/ambari-agent /usr/sbin/ambari-agent"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("scripts lack %q", want)
		}
	}
	for _, tag := range []string{"PREIN", "POSTIN", "PREUN", "POSTUN"} {
		body := run(t, "rpm", "-qp", "--qf", "%{"+tag+"}", built.rpm)
		f := filepath.Join(t.TempDir(), tag)
		os.WriteFile(f, []byte(body), 0o644)
		run(t, "sh", "-n", f)
	}
}
