package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ambariSudoers is Ambari's documented sudoers entry for a non-root agent
// (its core system commands), for user.
func ambariSudoers(user string) string {
	return fmt.Sprintf(`# Ambari: Core System Commands
%[1]s ALL=(ALL) NOPASSWD:SETENV: /usr/bin/yum,/usr/bin/zypper,/usr/bin/apt-get, /bin/mkdir, /usr/bin/test, /bin/ln, /bin/ls, /bin/chown, /bin/chmod, /bin/chgrp, /bin/cp, /usr/sbin/setenforce, /usr/bin/test, /usr/bin/stat, /bin/mv, /bin/sed, /bin/rm, /bin/kill, /bin/readlink, /usr/bin/pgrep, /bin/cat, /usr/bin/unzip, /bin/tar, /usr/bin/tee, /bin/touch, /usr/bin/mysql, /sbin/service mysqld *, /usr/bin/dpkg *, /bin/rpm *, /usr/sbin/hst *
Defaults exempt_group = %[1]s
Defaults !env_reset,env_delete-=PATH
Defaults: %[1]s !requiretty
`, user)
}

// testUser creates an unprivileged user with Ambari's sudoers entry and
// removes both when the test ends.
func testUser(t *testing.T) *user.User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create an unprivileged user and its sudoers entry")
	}
	for _, tool := range []string{"useradd", "userdel", "sudo", "visudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (.ci/run installs sudo and passwd)", tool)
		}
	}
	name := fmt.Sprintf("ambtest%d", os.Getpid()%100000)
	exec.Command("userdel", name).Run() // left by a test run that was killed
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/bin/bash", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	sudoers := filepath.Join("/etc/sudoers.d", name)
	if err := os.WriteFile(sudoers, []byte(ambariSudoers(name)), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sudoers) })
	if out, err := exec.Command("visudo", "-cf", sudoers).CombinedOutput(); err != nil {
		t.Fatalf("the sudoers entry does not parse: %v\n%s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// asUser runs the agent binary as u, with a login-like environment.
func asUser(t *testing.T, u *user.User, args ...string) (string, int) {
	t.Helper()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(agentBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "USER=" + u.Username, "LOGNAME=" + u.Username}
	cmd.Dir = "/"
	return combinedOutput(t, cmd)
}

// packagedHome lays out a home as the ambari-agent package leaves a host:
// root-owned directories, ambari-sudo.sh, a root-only ambari-env.sh, and
// run_as_user set in the ini. Every directory up to it is world-readable,
// so that another user can reach it.
func packagedHome(t *testing.T, runAs string) string {
	t.Helper()
	h := newHome(t, freePort(t))
	for d := h; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(filepath.Dir(agentBin), 0o755)
	for _, d := range []string{"var/lib/ambari-agent/data", "var/lib/ambari-agent/cache", "var/lib/ambari-agent/tmp", "var/lib/ambari-agent/cred",
		"var/log/ambari-agent", "var/run/ambari-agent"} {
		if err := os.MkdirAll(filepath.Join(h, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(h, "var/lib/ambari-agent/keys"), 0o700)
	// What the package's ambari-sudo.sh does: sudo unless root.
	writeFileMode(t, filepath.Join(h, "var/lib/ambari-agent/ambari-sudo.sh"),
		"#!/bin/bash\nif [ \"$EUID\" -ne 0 ]; then exec /usr/bin/sudo \"$@\"; fi\nexec \"$@\"\n", 0o755)
	writeFileMode(t, filepath.Join(h, "var/lib/ambari-agent/ambari-env.sh"), "AMBARI_PASSPHRASE=\"DEV\"\n", 0o700)
	ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
	b, _ := os.ReadFile(ini)
	os.WriteFile(ini, []byte(strings.Replace(string(b), "run_as_user=root", "run_as_user="+runAs, 1)), 0o644)
	return h
}

func writeFileMode(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}

func ownerOf(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// processUID is the real uid of a running process.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "Uid:"); ok {
			uid, _ := strconv.Atoi(strings.Fields(rest)[0])
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

func runningPid(t *testing.T, home string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "var/run/ambari-agent/ambari-agent.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// A non-root user with Ambari's documented sudoers entry runs start,
// status and stop itself; start gives it the agent's directories through
// ambari-sudo.sh, and the daemon runs as that user.
func TestNonRootRunAsUser(t *testing.T) {
	u := testUser(t)
	uid, _ := strconv.Atoi(u.Uid)
	h := packagedHome(t, u.Username)

	out, code := asUser(t, u, "start", "--home", h)
	if code != 0 {
		t.Fatalf("start as %s: exit %d\n%s", u.Username, code, out)
	}
	if strings.Contains(out, "non-sudoer") {
		t.Fatalf("the documented sudoers entry was refused:\n%s", out)
	}
	if got := processUID(t, runningPid(t, h)); got != uid {
		t.Errorf("the daemon runs as uid %d, want %d", got, uid)
	}
	for _, p := range []string{"var/log/ambari-agent", "var/run/ambari-agent", "var/lib/ambari-agent/data", "var/lib/ambari-agent/cache",
		"var/lib/ambari-agent/keys", "var/lib/ambari-agent/cred", "var/lib/ambari-agent/ambari-env.sh"} {
		if got := ownerOf(t, filepath.Join(h, p)); got != uid {
			t.Errorf("%s is owned by uid %d, want %d", p, got, uid)
		}
	}
	if st, _ := os.Stat(filepath.Join(h, "var/lib/ambari-agent/tmp")); st.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Errorf("tmp dir mode %v", st.Mode())
	}
	if out, code := asUser(t, u, "status", "--home", h); code != 0 {
		t.Errorf("status as %s: exit %d\n%s", u.Username, code, out)
	}
	if out, code := asUser(t, u, "stop", "--home", h); code != 0 {
		t.Errorf("stop as %s: exit %d\n%s", u.Username, code, out)
	}
	if out, code := asUser(t, u, "status", "--home", h); code != 3 {
		t.Errorf("status after stop: exit %d\n%s", code, out)
	}
}

// Started by root (as systemd starts it) with a non-root run_as_user, the
// daemon drops to that user, keeping its pid.
func TestRootStartDropsToRunAsUser(t *testing.T) {
	u := testUser(t)
	uid, _ := strconv.Atoi(u.Uid)
	h := packagedHome(t, u.Username)
	expectCode(t, 0, "start", "--home", h)
	pid := runningPid(t, h)
	if got := processUID(t, pid); got != uid {
		t.Errorf("the daemon runs as uid %d, want %d (run_as_user %s)", got, uid, u.Username)
	}
	if got := ownerOf(t, filepath.Join(h, "var/log/ambari-agent")); got != uid {
		t.Errorf("log dir owned by uid %d, want %d", got, uid)
	}
	expectCode(t, 0, "status", "--home", h)
	expectCode(t, 0, "stop", "--home", h)
}

// Bad input stops start with one line naming the user or the file, and
// nothing is started.
func TestStartRefusesBadSetup(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, h string) (want string)
		user  bool // run start as the unprivileged user
	}{
		{"unknown run_as_user", func(t *testing.T, h string) string {
			ini := filepath.Join(h, "etc/ambari-agent/conf/ambari-agent.ini")
			b, _ := os.ReadFile(ini)
			os.WriteFile(ini, []byte(strings.Replace(string(b), "run_as_user=root", "run_as_user=no-such-user-here", 1)), 0o644)
			return `run_as_user "no-such-user-here"`
		}, false},
		{"unreadable ambari-env.sh", func(t *testing.T, h string) string {
			p := filepath.Join(h, "var/lib/ambari-agent/ambari-env.sh")
			os.MkdirAll(p, 0o755) // a directory cannot be read, even by root
			return p
		}, false},
		{"missing ambari-sudo.sh", func(t *testing.T, h string) string {
			p := filepath.Join(h, "var/lib/ambari-agent/ambari-sudo.sh")
			os.Remove(p)
			return p
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h, out string
			var code int
			if tc.user {
				u := testUser(t)
				h = packagedHome(t, u.Username)
				want := tc.setup(t, h)
				out, code = asUser(t, u, "start", "--home", h)
				checkRefused(t, h, out, code, want)
				return
			}
			h = newHome(t, freePort(t))
			want := tc.setup(t, h)
			out, code = agentCmd(t, "start", "--home", h)
			checkRefused(t, h, out, code, want)
		})
	}
}

func checkRefused(t *testing.T, h, out string, code int, want string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("start succeeded:\n%s", out)
	}
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ERROR") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], want) {
		t.Errorf("want one ERROR line naming %q, got:\n%s", want, out)
	}
	if strings.Contains(out, "Starting ambari-agent") {
		t.Errorf("the daemon was launched:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(h, "var/run/ambari-agent/ambari-agent.pid")); err == nil {
		t.Error("a pid file was written")
	}
}

// The init.d script, run by root, runs the control commands as
// run_as_user.
func TestInitScriptRunsAsRunAsUser(t *testing.T) {
	u := testUser(t)
	uid, _ := strconv.Atoi(u.Uid)
	h := packagedHome(t, u.Username)
	initScript := func(args ...string) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{"../../init/ambari-agent"}, args...)...)
		cmd.Env = append(os.Environ(), "AMBARI_AGENT_BIN="+agentBin, "AMBARI_AGENT_CONF_DIR="+filepath.Join(h, "etc/ambari-agent/conf"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("init script %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	initScript("start", "--home", h)
	if got := processUID(t, runningPid(t, h)); got != uid {
		t.Errorf("the daemon runs as uid %d, want %d", got, uid)
	}
	if got := ownerOf(t, filepath.Join(h, "var/run/ambari-agent/ambari-agent.pid")); got != uid {
		t.Errorf("the pid file is owned by uid %d, want %d", got, uid)
	}
	initScript("status", "--home", h)
	initScript("stop", "--home", h)
	expectCode(t, 3, "status", "--home", h)
}
