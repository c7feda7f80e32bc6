package hostinfo

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Mounts that never count as data disks.
var (
	ignoredDevices    = map[string]bool{"proc": true, "tmpfs": true, "cgroup": true, "mqueue": true, "shm": true}
	ignoredRootMounts = map[string]bool{"proc": true, "dev": true, "sys": true, "boot": true, "home": true}
)

// dfTimeout is agent.check.mounts.timeout: "0", absent or unparsable -> 10 s.
func (h *HostInfo) dfTimeout() time.Duration {
	v, ok := h.agentConfig(keyMountsTimeout)
	if !ok || v == "0" {
		return DefaultMountsTimeout
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 {
		h.log.WithField("value", v).Warn("bad agent.check.mounts.timeout, using 10 s")
		return DefaultMountsTimeout
	}
	return time.Duration(n * float64(time.Second))
}

// dfArgv is the disk usage command: `timeout <T> df -kPT`, plus -l unless the
// server asked for remote mounts too.
func (h *HostInfo) dfArgv(t time.Duration) []string {
	secs := strconv.FormatFloat(t.Seconds(), 'f', -1, 64)
	argv := []string{"timeout", secs, "df", "-kPT"}
	if v, _ := h.agentConfig(keyCheckRemoteMounts); !strings.EqualFold(v, "true") {
		argv = append(argv, "-l")
	}
	return argv
}

// Mounts is the disk list of host status reports and the hardware profile:
// df's mounts that are data disks the agent user can write to, minus
// [agent] ignore_mount_points. A df stuck on a dead mount costs at most
// agent.check.mounts.timeout (plus a second); then the list is whatever df
// printed before it was killed, possibly empty.
func (h *HostInfo) Mounts(ctx context.Context) []protocol.Mount {
	t := h.dfTimeout()
	argv := h.dfArgv(t)
	if _, err := exec.LookPath("timeout"); err != nil {
		// No coreutils timeout (minimal images): our own limit still applies.
		argv = argv[2:]
	}
	// The timeout utility fires first and leaves us df's partial output; our
	// own limit is the backstop for a df that ignores it.
	res, err := h.commandProbe(ctx, "df", t+2*time.Second, argv...)
	switch {
	case err != nil:
		h.log.WithError(err).Warn("Checking disk usage failed")
	case res.code == 124: // the timeout utility's "timed out"
		h.log.WithField("timeout", t).Warn("df timed out, disk list may be incomplete")
	}
	return h.filterMounts(ctx, parseDF([]byte(res.stdout)))
}

// filterMounts keeps the mounts of docs/behaviour.md §10.1 and logs the others.
func (h *HostInfo) filterMounts(ctx context.Context, all []protocol.Mount) []protocol.Mount {
	blacklist := splitIgnoreList(h.cfg.IgnoreMountPoints)
	kept := make([]protocol.Mount, 0, len(all))
	var ignored []string
	for _, m := range all {
		if h.keepMount(ctx, m, blacklist) {
			kept = append(kept, m)
		} else {
			ignored = append(ignored, m.MountPoint)
		}
	}
	if len(ignored) > 0 {
		list := strings.Join(ignored, ", ")
		// Host status runs every minute: say it at info level only when the
		// list changes.
		h.ignoredMu.Lock()
		changed := list != h.lastIgnored
		h.lastIgnored = list
		h.ignoredMu.Unlock()
		entry := h.log.WithField("mounts", list)
		if changed {
			entry.Info("Some mount points were ignored")
		} else {
			entry.Debug("Some mount points were ignored")
		}
	}
	return kept
}

func (h *HostInfo) keepMount(ctx context.Context, m protocol.Mount, blacklist []string) bool {
	if ignoredDevices[m.Device] {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(m.MountPoint), "/"), "/")
	if ignoredRootMounts[first] {
		return false
	}
	if isBlacklisted(blacklist, m.MountPoint) {
		return false
	}
	// The checks below touch the mount itself, which hangs on a dead remote
	// file system: each is bounded, and a hung one drops the mount.
	ok, err := runProbe(ctx, h.probes, "mount:"+m.MountPoint, h.cfg.MountCheckTimeout, false,
		func(ctx context.Context) (bool, error) { return h.usableMount(ctx, m.MountPoint) })
	if err != nil {
		h.log.WithError(err).WithField("mountpoint", m.MountPoint).Warn("Exception happened while checking mount")
		return false
	}
	return ok
}

// usableMount: writable by the agent user and not a regular file (Docker
// bind-mounts single files).
func (h *HostInfo) usableMount(ctx context.Context, mountPoint string) (bool, error) {
	p := h.hostPath(mountPoint)
	if !h.writable(ctx, p) {
		return false, nil
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return false, nil
	}
	return true, nil
}

// writable mirrors the Python check: access(W_OK) as root; otherwise
// `ambari-sudo.sh test -w`, since a non-root agent runs stack commands through
// sudo. Without ambari-sudo.sh we fall back to access(W_OK) as the agent user
// instead of dropping every mount.
func (h *HostInfo) writable(ctx context.Context, p string) bool {
	if os.Geteuid() != 0 {
		if sudo, err := exec.LookPath("ambari-sudo.sh"); err == nil {
			res, err := runCommand(ctx, sudo, "test", "-w", p)
			return err == nil && res.code == 0
		}
	}
	return unix.Access(p, unix.W_OK) == nil
}

// splitIgnoreList splits ignore_mount_points into trimmed non-empty entries.
func splitIgnoreList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// isBlacklisted reports whether an entry of the blacklist is a prefix of the
// mount point by whole path elements: /mnt/data hides /mnt/data and
// /mnt/data/x but not /mnt/database.
func isBlacklisted(blacklist []string, mountPoint string) bool {
	if mountPoint == "" {
		return false
	}
	mp := strings.Split(mountPoint, "/")
	for _, entry := range blacklist {
		el := strings.Split(entry, "/")
		if len(el) > len(mp) {
			continue
		}
		match := true
		for i := range el {
			if el[i] != mp[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
