package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// standIn writes and builds a stand-in for Ambari's ambari-agent package
// of the given Debian revision: the paths the Go agent uses from it
// (init script, data/version, ambari-sudo.sh, ambari-env.sh, the Python
// library dir) and a postinst that re-links /usr/sbin/ambari-agent to its
// init script on every install, as the real one does. Its init script
// says which revision answers.
func standIn(t *testing.T, revision string) string {
	t.Helper()
	tree := t.TempDir()
	files := map[string]struct {
		mode os.FileMode
		body string
	}{
		"DEBIAN/control": {0o644, "Package: ambari-agent\nVersion: " + testAmbariVersion + "-" + revision +
			"\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: stand-in for Ambari's ambari-agent\n"},
		"DEBIAN/postinst": {0o755, "#!/bin/sh\nset -e\nrm -f \"$DPKG_ROOT/usr/sbin/ambari-agent\"\n" +
			"ln -s /etc/init.d/ambari-agent \"$DPKG_ROOT/usr/sbin/ambari-agent\"\n"},
		"etc/init.d/ambari-agent":                             {0o755, "#!/bin/sh\necho \"python agent " + revision + "\"\n"},
		"var/lib/ambari-agent/data/version":                   {0o644, testAmbariVersion + "\n"},
		"var/lib/ambari-agent/ambari-sudo.sh":                 {0o755, "#!/bin/bash\nexec \"$@\"\n"},
		"var/lib/ambari-agent/ambari-env.sh":                  {0o700, "AMBARI_PASSPHRASE=\"DEV\"\n"},
		"usr/lib/ambari-agent/lib/ambari_agent/__init__.py":   {0o644, ""},
		"usr/lib/ambari-agent/lib/resource_management/x.py":   {0o644, ""},
		"var/lib/ambari-agent/tmp/.keep":                      {0o644, ""},
		"var/lib/ambari-agent/keys/.keep":                     {0o644, ""},
		"usr/sbin/.keep":                                      {0o644, ""},
		"var/lib/ambari-agent/cache/.keep":                    {0o644, ""},
		"usr/share/doc/ambari-agent/README":                   {0o644, "stand-in\n"},
		"var/lib/ambari-agent/cred/lib/.keep":                 {0o644, ""},
		"etc/ambari-agent/conf/.keep":                         {0o644, ""},
		"var/log/ambari-agent/.keep":                          {0o644, ""},
		"var/run/ambari-agent/.keep":                          {0o644, ""},
		"usr/lib/ambari-agent/lib/ambari_commons/__init__.py": {0o644, ""},
	}
	for rel, f := range files {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
	}
	deb := filepath.Join(t.TempDir(), "ambari-agent_"+revision+".deb")
	run(t, "dpkg-deb", "--root-owner-group", "-b", tree, deb)
	return deb
}

// The .deb installed into a throwaway root next to the stand-in:
// /usr/sbin/ambari-agent runs the Go agent, also after the stand-in is
// upgraded, and the stand-in's again once the Go package is removed.
func TestDebTakesOverAndGivesBack(t *testing.T) {
	buildPackages(t)
	if os.Geteuid() != 0 {
		t.Skip("dpkg --root needs root to set file owners")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatal("dpkg is not installed")
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	// Maintainer scripts run outside the root with $DPKG_ROOT set: the
	// throwaway root has no shell to chroot into.
	dpkg := func(args ...string) string {
		t.Helper()
		return run(t, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--log=/dev/null"}, args...)...)
	}
	// agent runs /usr/sbin/ambari-agent as the root would: its absolute
	// link resolved inside the root, the Go binary inside the root.
	agent := func(args ...string) string {
		t.Helper()
		link := filepath.Join(root, "usr/sbin/ambari-agent")
		target, err := os.Readlink(link)
		if err != nil {
			t.Fatalf("/usr/sbin/ambari-agent: %v", err)
		}
		cmd := exec.Command(filepath.Join(root, target), args...)
		cmd.Env = append(os.Environ(), "AMBARI_AGENT_BIN="+filepath.Join(root, "usr/sbin/ambari-agent-go"),
			"AMBARI_AGENT_CONF_DIR="+filepath.Join(root, "etc/ambari-agent/conf"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ambari-agent %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goAgent := func(when string) {
		t.Helper()
		out := agent("--version", "--home", root)
		want := testAmbariVersion + "\nambari-agent-go " + testVersion + " (build " + testHash + ")\n"
		if !strings.HasSuffix(out, want) {
			t.Errorf("%s: /usr/sbin/ambari-agent --version printed %q, want the Go agent's %q", when, out, want)
		}
	}

	dpkg("-i", standIn(t, "1"))
	if out := agent(); out != "python agent 1\n" {
		t.Fatalf("stand-in installed: %q", out)
	}
	dpkg("-i", built.deb)
	goAgent("after install")
	if b, _ := os.ReadFile(filepath.Join(root, "etc/init.d/ambari-agent.distrib")); string(b) != "#!/bin/sh\necho \"python agent 1\"\n" {
		t.Errorf("the Python init script was not kept aside: %q", b)
	}
	for dir, mode := range map[string]os.FileMode{"tmp": os.ModeSticky | 0o777, "keys": 0o700, "data": 0o700} {
		st, err := os.Stat(filepath.Join(root, "var/lib/ambari-agent", dir))
		if err != nil || st.Mode()&(os.ModeSticky|os.ModePerm) != mode {
			t.Errorf("/var/lib/ambari-agent/%s: %v %v, want %v", dir, st.Mode(), err, mode)
		}
	}

	dpkg("-i", standIn(t, "2"))
	goAgent("after upgrading ambari-agent")
	if b, _ := os.ReadFile(filepath.Join(root, "etc/init.d/ambari-agent.distrib")); !strings.Contains(string(b), "python agent 2") {
		t.Errorf("the upgraded Python init script did not go aside: %q", b)
	}

	dpkg("-r", "ambari-agent-go")
	if out := agent(); out != "python agent 2\n" {
		t.Errorf("after removing ambari-agent-go, /usr/sbin/ambari-agent runs %q", out)
	}
	if out := run(t, "dpkg-divert", "--root="+root, "--list"); strings.TrimSpace(out) != "" {
		t.Errorf("diversions left: %s", out)
	}
	for _, p := range []string{"usr/sbin/ambari-agent-go", "etc/init.d/ambari-agent.distrib", "usr/lib/systemd/system/ambari-agent.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s is left after removal", p)
		}
	}
}
