package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.digitalxero.dev/rpm"
)

// standInRPM builds a stand-in for Ambari's ambari-agent RPM of the given
// release: its init script says which release answers, and its %post
// re-links /usr/sbin/ambari-agent to it, as the real package's install
// helper does on every install and upgrade.
func standInRPM(t *testing.T, release string) string {
	t.Helper()
	b := rpm.NewPackage().WithName("ambari-agent").WithVersion(testAmbariVersion).WithRelease(release).
		WithSummary("stand-in for Ambari's ambari-agent").WithDescription("stand-in").WithLicense("Apache-2.0").
		WithArch("noarch").WithOS("linux")
	initScript := "#!/bin/sh\n[ \"$1\" = status ] && exit 3\necho \"python agent " + release + "\"\n"
	b.WithFile("/etc/rc.d/init.d/ambari-agent", []byte(initScript)).WithMode(0o755).Add()
	b.WithFile("/var/lib/ambari-agent/data/version", []byte(testAmbariVersion+"\n")).WithMode(0o644).Add()
	b.WithFile("/var/lib/ambari-agent/ambari-sudo.sh", []byte("#!/bin/bash\nexec \"$@\"\n")).WithMode(0o755).Add()
	b.WithFile("/var/lib/ambari-agent/ambari-env.sh", []byte("AMBARI_PASSPHRASE=\"DEV\"\n")).WithMode(0o700).Add()
	b.Postin().WithScript("rm -f /usr/sbin/ambari-agent\nln -s /etc/init.d/ambari-agent /usr/sbin/ambari-agent\n").Done()
	pkg, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := pkg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ambari-agent-"+release+".rpm")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// shellRoot makes a throwaway root in which rpm can run scriptlets
// (chrooted): /bin/sh and the few commands the scripts use, with their
// libraries, copied from this host, and /etc/init.d -> rc.d/init.d as on
// RPM systems.
func shellRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "usr/sbin", "lib", "lib64", "etc/rc.d/init.d", "tmp", "var/lib/ambari-agent/tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink("rc.d/init.d", filepath.Join(root, "etc/init.d"))
	copyIn := func(path string) {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, real} {
			dst := filepath.Join(root, p)
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.WriteFile(dst, b, 0o755); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	for _, cmd := range []string{"sh", "ln", "rm", "mkdir", "chmod", "cat"} {
		path, err := exec.LookPath(cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		path, _ = filepath.Abs(path)
		copyIn(path)
		copyIn(filepath.Join("/bin", cmd))
		out, err := exec.Command("ldd", path).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", path, err)
		}
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				copyIn(f)
			}
		}
	}
	return root
}

// The .rpm installed with rpm --root next to the stand-in: its trigger
// keeps /usr/sbin/ambari-agent on the Go agent after ambari-agent is
// upgraded; removing it points the command back at the Python agent.
func TestRPMTriggerKeepsTheCommand(t *testing.T) {
	buildPackages(t)
	if os.Geteuid() != 0 {
		t.Skip("rpm --root runs scriptlets chrooted, which needs root")
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Fatal("ldd is not installed")
	}
	root := shellRoot(t)
	rpmIn := func(args ...string) {
		t.Helper()
		run(t, "rpm", append([]string{"--root", root}, args...)...)
	}
	link := func() string {
		t.Helper()
		target, err := os.Readlink(filepath.Join(root, "usr/sbin/ambari-agent"))
		if err != nil {
			t.Fatalf("/usr/sbin/ambari-agent: %v", err)
		}
		return target
	}
	rpmIn("--initdb")
	rpmIn("-i", standInRPM(t, "1"))
	if got := link(); got != "/etc/init.d/ambari-agent" {
		t.Fatalf("stand-in installed: /usr/sbin/ambari-agent -> %s", got)
	}
	// bash is not in the throwaway root's database.
	rpmIn("-i", "--nodeps", built.rpm)
	if got := link(); got != "/usr/lib/ambari-agent-go/ambari-agent" {
		t.Errorf("after install: /usr/sbin/ambari-agent -> %s", got)
	}
	rpmIn("-U", standInRPM(t, "2"))
	if got := link(); got != "/usr/lib/ambari-agent-go/ambari-agent" {
		t.Errorf("after upgrading ambari-agent: /usr/sbin/ambari-agent -> %s", got)
	}
	if st, err := os.Stat(filepath.Join(root, "var/lib/ambari-agent/tmp")); err != nil || st.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Errorf("tmp dir: %v %v", st.Mode(), err)
	}
	rpmIn("-e", "ambari-agent-go")
	if got := link(); got != "/etc/init.d/ambari-agent" {
		t.Errorf("after removing ambari-agent-go: /usr/sbin/ambari-agent -> %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/rc.d/init.d/ambari-agent")); !strings.Contains(string(b), "python agent 2") {
		t.Errorf("the Python init script changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/sbin/ambari-agent-go")); err == nil {
		t.Error("/usr/sbin/ambari-agent-go is left after removal")
	}
}
