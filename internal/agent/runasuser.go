package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
)

// sudoCheckTimeout bounds `sudo -S -l`; a sudo that asks for a password
// gets an empty one and fails after its own delay.
const sudoCheckTimeout = 20 * time.Second

// SudoAllowed reports whether the caller may run the control commands:
// root, or a user to whom sudo lists any rights without a password. This
// is the control script's `echo "" | sudo -S -l` check: Ambari's
// documented sudoers entry for a non-root agent (NOPASSWD rights on a list
// of commands) passes it, where `sudo -n true` would not, `true` not being
// on that list.
func SudoAllowed() bool {
	if os.Geteuid() == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), sudoCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sudo", "-S", "-l")
	cmd.Stdin = strings.NewReader("\n")
	return cmd.Run() == nil
}

// SudoScript is ambari-sudo.sh, which the ambari-agent package installs
// in the agent's working directory: sudo for a non-root caller, the
// command itself for root.
func SudoScript(cfg *config.Config) string {
	return filepath.Join(cfg.WorkDir(), "ambari-sudo.sh")
}

// RunAsUser returns the account named by [agent] run_as_user, or nil when
// the key is unset. An account that does not exist is an error naming it
// and the ini file.
func RunAsUser(cfg *config.Config) (*user.User, error) {
	name := strings.TrimSpace(cfg.Agent.RunAsUser)
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("run_as_user %q (%s) does not exist on this host", name, cfg.File)
	}
	return u, nil
}

// TakeOwnership gives u the directories and files the agent writes,
// through ambari-sudo.sh, as the control script does before it starts a
// non-root agent: keys, pid and log dirs, data and cache dirs, the
// credential dir and ambari-env.sh. Missing directories the agent needs
// are created; the tmp dir keeps mode 1777. Paths that do not exist and
// that the agent does not create are skipped (the control script ignores
// every failure here; this stops at the first real one).
func TakeOwnership(cfg *config.Config, u *user.User) error {
	if err := checkSudoScript(cfg); err != nil {
		return err
	}
	script := SudoScript(cfg)
	group := u.Gid
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		group = g.Name
	}
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), sudoCheckTimeout)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Stdin = strings.NewReader("")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("%s %s: %s", script, strings.Join(args, " "), firstLine(msg))
		}
		return nil
	}
	home := func(p string) string { return config.HomePath(cfg.Home, p) }
	owner := u.Username
	for _, d := range []struct {
		path      string
		create    bool
		recursive bool
		withGroup bool
	}{
		{cfg.Security.KeysDir, true, true, false},
		{cfg.Agent.PidDir, true, true, false},
		{cfg.Agent.LogDir, true, true, true},
		{cfg.Agent.Prefix, true, true, false},
		{cfg.Agent.CacheDir, true, true, false},
		{home(AgentLibDir), false, false, false},
		{home(credDir), false, false, false},
		{EnvFile(cfg), false, false, false},
	} {
		if d.path == "" {
			continue
		}
		if _, err := os.Stat(d.path); err != nil {
			if !d.create {
				continue
			}
			if err := run("mkdir", "-p", d.path); err != nil {
				return err
			}
		}
		args := []string{"chown"}
		if d.recursive {
			args = append(args, "-R")
		}
		who := owner
		if d.withGroup {
			who += ":" + group
		}
		if err := run(append(args, who, d.path)...); err != nil {
			return err
		}
	}
	// Every user's stack scripts write here; only the package (root) can
	// set its mode when the agent itself is not root.
	if st, err := os.Stat(cfg.TmpDir()); err != nil || st.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		if err := run("mkdir", "-p", cfg.TmpDir()); err != nil {
			return err
		}
		if err := run("chmod", "1777", cfg.TmpDir()); err != nil {
			return err
		}
	}
	return nil
}

// checkSudoScript fails when ambari-sudo.sh cannot be run.
func checkSudoScript(cfg *config.Config) error {
	script := SudoScript(cfg)
	if st, err := os.Stat(script); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is missing or not executable: the ambari-agent package installs it, and a non-root agent needs it", script)
	}
	return nil
}

// Paths the package installs, placed under --home like every other.
const (
	AgentLibDir = "/usr/lib/ambari-agent"
	credDir     = "/var/lib/ambari-agent/cred"
)

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// PrepareStart is what `start` does before it launches the daemon, as the
// control script does: refuse an unknown run_as_user, give a non-root
// caller the agent's directories through ambari-sudo.sh, and read
// ambari-env.sh (whose passphrase and Python settings the daemon
// inherits). Each failure is one line naming the user or file; nothing
// has been started.
func PrepareStart(cfg *config.Config) error {
	u, err := RunAsUser(cfg)
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 && u != nil && u.Uid != "0" {
		// The daemon gives u the directories before it drops root.
		if err := checkSudoScript(cfg); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		me, err := user.Current()
		if err != nil {
			return fmt.Errorf("cannot look up the current user: %w", err)
		}
		if err := TakeOwnership(cfg, me); err != nil {
			return err
		}
	}
	return ApplyEnvFile(cfg)
}

// PrepareDaemon is what `run` does first. Started by root (systemd, or
// `start` as root) with a run_as_user other than root, it gives that user
// the agent's directories, drops root and executes itself again with args
// as that user: it returns only on failure. Otherwise it reads
// ambari-env.sh.
func PrepareDaemon(cfg *config.Config, args []string) error {
	u, err := RunAsUser(cfg)
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 && u != nil && u.Uid != "0" {
		if err := TakeOwnership(cfg, u); err != nil {
			return err
		}
		return becomeUser(u, args)
	}
	return ApplyEnvFile(cfg)
}

// becomeUser drops to u (its groups, gid and uid) and replaces the
// process image with this binary, so nothing started as root lives on.
// The pid stays the same, which a supervisor watching it needs.
func becomeUser(u *user.User, args []string) error {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("run_as_user %s: %w", u.Username, err)
	}
	var groups []int
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil {
				groups = append(groups, g)
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("run_as_user %s: %w", u.Username, err)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("run_as_user %s: setgroups: %w", u.Username, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("run_as_user %s: setgid: %w", u.Username, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("run_as_user %s: setuid: %w", u.Username, err)
	}
	os.Setenv("HOME", u.HomeDir)
	os.Setenv("USER", u.Username)
	os.Setenv("LOGNAME", u.Username)
	err = syscall.Exec(exe, append([]string{exe}, args...), os.Environ())
	return fmt.Errorf("run_as_user %s: exec %s: %w", u.Username, exe, err)
}
