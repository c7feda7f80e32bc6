package hostinfo

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Stack service accounts looked for at registration.
var stackUsers = []string{"hive", "ambari-qa", "oozie", "hbase", "hcat", "mapred", "hdfs", "zookeeper", "flume",
	"sqoop", "sqoop2", "hue", "yarn", "tez", "storm", "falcon", "kafka", "knox", "ams", "hadoop", "spark",
	"accumulo", "atlas", "mahout", "ranger", "kms", "zeppelin"}

// Directories searched for leftovers of earlier stack installs, and the names
// looked for in each. "hadoop*" is a literal name, not a pattern: the Python
// agent joins it as is.
var (
	stackBaseDirs = []string{"/etc", "/var/run", "/var/log", "/usr/lib", "/var/lib", "/var/tmp", "/tmp", "/var",
		"/hadoop", "/usr/hdp"}
	stackProjectNames = []string{"hadoop*", "hadoop", "hbase", "hcatalog", "hive", "oozie", "sqoop", "hue",
		"zookeeper", "mapred", "hdfs", "flume", "storm", "hive-hcatalog", "tez", "falcon", "ambari_qa",
		"hadoop_deploy", "rrdcached", "hcat", "ambari-qa", "sqoop-ambari-qa", "sqoop-ambari_qa", "webhcat",
		"hadoop-hdfs", "hadoop-yarn", "hadoop-mapreduce", "knox", "yarn", "hive-webhcat", "kafka", "mahout", "spark",
		"pig", "phoenix", "ranger", "accumulo", "ambari-metrics-collector", "ambari-metrics-monitor", "atlas",
		"zeppelin"}
	stackExactDirs = []string{"/kafka-logs"}
)

const (
	thpFileUbuntu = "/sys/kernel/mm/transparent_hugepage/enabled"
	thpFileRedhat = "/sys/kernel/mm/redhat_transparent_hugepage/enabled"
)

// AgentEnv runs the host checks. The cheap variant (registration false) is
// the agentEnv of every host status report; the registration variant adds the
// service accounts and leftover stack folders. The caller writes a
// registration result to hostcheck.result with WriteHostCheckResult, as the
// Python agent does at every registration. Every check is bounded: a hung one
// leaves its field stale or empty.
func (h *HostInfo) AgentEnv(ctx context.Context, registration bool) protocol.AgentEnv {
	osi := h.osInfo()
	env := protocol.AgentEnv{
		Umask:               h.umaskString(),
		TransparentHugePage: h.transparentHugePage(osi),
		// [quirk] Always empty: the Python agent wraps its name filter in
		// literal quotes, so no /etc/alternatives entry ever matches.
		Alternatives:         []protocol.Alternative{},
		ExistingUsers:        []protocol.ExistingUser{},
		StackFoldersAndFiles: []protocol.StackFolder{},
	}
	checks := []func(){
		func() { env.HostHealth.LiveServices = []protocol.LiveService{h.ntpService(ctx, osi)} },
		func() { env.FirewallRunning, env.FirewallName = h.firewall(ctx, osi) },
		func() { env.ReverseLookup = h.reverseLookup(ctx) },
		func() { env.HasUnlimitedJcePolicy = h.unlimitedJCE(ctx) },
	}
	if registration {
		checks = append(checks, func() {
			env.ExistingUsers = h.existingUsers(ctx)
			env.StackFoldersAndFiles = h.stackFolders(ctx, env.ExistingUsers)
		})
	}
	h.forEachBounded(checks...)
	// Taken last, as the server uses it to judge how fresh the report is.
	env.HostHealth.AgentTimeStampAtReporting = time.Now().UnixMilli()
	return env
}

// HostStatus is the body of a /reports/host_status message.
func (h *HostInfo) HostStatus(ctx context.Context) protocol.HostStatus {
	var st protocol.HostStatus
	h.forEachBounded(
		func() { st.AgentEnv = h.AgentEnv(ctx, false) },
		func() { st.Mounts = h.Mounts(ctx) },
	)
	return st
}

// ntpGroup names the NTP service group for the OS and lists the service names
// tried, as the Python agent does.
func ntpGroup(osi osInfo) (name string, candidates []string) {
	switch {
	case osi.InFamily(FamilyRedhat):
		if osi.MajorInt() >= 7 {
			return "chronyd", []string{"ntpd", "chronyd"}
		}
		return "ntpd", []string{"ntpd", "chronyd"}
	case osi.InFamily(FamilySuse):
		return "ntpd or ntp", []string{"ntpd", "ntp"}
	case osi.InFamily(FamilyUbuntu):
		return "ntp or chrony", []string{"ntp", "chrony"}
	}
	return "ntpd", []string{"ntpd"}
}

// serviceStatusArgv asks systemd on RHEL 7+ and the service wrapper elsewhere.
func serviceStatusArgv(osi osInfo, svc string) []string {
	if osi.InFamily(FamilyRedhat) && osi.MajorInt() >= 7 {
		return []string{"systemctl", "status", svc}
	}
	return []string{"service", svc, "status"}
}

// ntpService reports the NTP group healthy if any candidate runs. The
// candidates are checked concurrently (status queries change nothing) and
// judged in order, so the answer is the Python agent's sequential one at the
// latency of the slowest query instead of their sum.
func (h *HostInfo) ntpService(ctx context.Context, osi osInfo) protocol.LiveService {
	name, candidates := ntpGroup(osi)
	results := make([]cmdResult, len(candidates))
	fns := make([]func(), len(candidates))
	for i, svc := range candidates {
		fns[i] = func() {
			res, err := h.commandProbe(ctx, "service:"+svc, h.cfg.ProbeTimeout, serviceStatusArgv(osi, svc)...)
			if err != nil {
				if !cannotRun(err) {
					h.log.WithError(err).WithField("service", svc).Warn("Checking service status failed")
				}
				res = cmdResult{stderr: err.Error(), code: 1}
			}
			results[i] = res
		}
	}
	h.forEachBounded(fns...)
	var outs, errs string
	for _, res := range results {
		if res.code == 0 {
			return protocol.LiveService{Name: name, Status: protocol.LiveServiceHealthy}
		}
		outs, errs = appendLine(outs, res.stdout), appendLine(errs, res.stderr)
	}
	desc := outs
	if desc == "" {
		desc = errs
	}
	return protocol.LiveService{Name: name, Status: protocol.LiveServiceUnhealthy, Desc: desc}
}

// appendLine joins as the Python agent does: a separator only once acc holds
// something.
func appendLine(acc, s string) string {
	if acc == "" {
		return s
	}
	return acc + "\n" + s
}

// firewallCheck is how one OS family tells whether its firewall is on.
type firewallCheck struct {
	name    string
	argv    []string
	running func(res cmdResult) bool
}

func firewallFor(osi osInfo) firewallCheck {
	switch {
	case osi.InFamily(FamilyUbuntu):
		return firewallCheck{name: "ufw", argv: []string{"ufw", "status"}, running: func(r cmdResult) bool {
			return r.code == 0 && !strings.Contains(r.stdout, "Status: inactive") &&
				strings.Contains(r.stdout, "Status: active")
		}}
	case osi.Type == "fedora" && osi.MajorInt() >= 18:
		return firewallCheck{name: "iptables", argv: []string{"systemctl", "is-active", "iptables"},
			running: func(r cmdResult) bool { return r.code == 0 && strings.Contains(r.stdout, "active") }}
	case osi.InFamily(FamilyRedhat):
		// firewalld is the default since RHEL 7; iptables is still checked for
		// hosts that kept it. Either one active means a firewall runs.
		return firewallCheck{name: "iptables", argv: []string{"systemctl", "is-active", "iptables", "firewalld"},
			running: func(r cmdResult) bool {
				for _, l := range strings.Split(r.stdout, "\n") {
					if strings.TrimSpace(l) == "active" {
						return true
					}
				}
				return false
			}}
	case osi.InFamily(FamilySuse):
		return firewallCheck{name: "rcSuSEfirewall2", argv: []string{"rcSuSEfirewall2", "status"},
			running: func(r cmdResult) bool {
				return r.code == 0 && !strings.Contains(r.stdout, "unused") && strings.Contains(r.stdout, "running")
			}}
	}
	return firewallCheck{name: "iptables", argv: []string{"/sbin/service", "iptables", "status"},
		running: func(r cmdResult) bool { return r.code == 0 && strings.Contains(r.stdout, "Table: filter") }}
}

// firewall reports whether the host firewall runs. A check that cannot run
// (command missing) says no; one that hangs keeps the last answer.
func (h *HostInfo) firewall(ctx context.Context, osi osInfo) (bool, string) {
	fw := firewallFor(osi)
	running, err := runProbe(ctx, h.probes, "firewall", h.cfg.ProbeTimeout, true, func(ctx context.Context) (bool, error) {
		res, err := runCommand(ctx, fw.argv...)
		if cannotRun(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return fw.running(res), nil
	})
	if err != nil {
		h.log.WithError(err).Warn("Unable to check firewall status")
	}
	return running, fw.name
}

// reverseLookup: gethostname() and getfqdn() resolve to the same address.
func (h *HostInfo) reverseLookup(ctx context.Context) bool {
	short, err := os.Hostname()
	if err != nil {
		return false
	}
	hostIP, err := h.resolveIPv4(ctx, "resolve_hostname", strings.ToLower(short))
	if err != nil {
		return false
	}
	fqdnIP, err := h.resolveIPv4(ctx, "resolve_getfqdn", strings.ToLower(h.fqdn(ctx)))
	if err != nil {
		return false
	}
	return hostIP == fqdnIP
}

// unlimitedJCE runs the JCE policy jar with the server-sent java.home; nil
// until the server sent one.
func (h *HostInfo) unlimitedJCE(ctx context.Context) *bool {
	javaHome, ok := h.agentConfig(keyJavaHome)
	if !ok {
		return nil
	}
	argv := []string{javaHome + "/bin/java", "-jar", h.cfg.JCEPolicyJar, "-tu"}
	unlimited, err := runProbe(ctx, h.probes, "jce", h.cfg.ProbeTimeout, true, func(ctx context.Context) (*bool, error) {
		res, err := runCommand(ctx, argv...)
		if cannotRun(err) {
			// No java there: false, as the shell's exit 127 is in Python.
			return new(bool), nil
		}
		if err != nil {
			return nil, err
		}
		ok := res.code == 0
		return &ok, nil
	})
	if err != nil {
		// A hung check keeps the last answer; with none yet it is unknown.
		h.log.WithError(err).Warn("Unable to get information about JCE")
	}
	return unlimited
}

// umaskString is the process umask in decimal, read once (as the Python agent
// caches it). /proc/self/status tells it without changing it; the fallback
// briefly sets it, which is racy, so it runs at most once.
func (h *HostInfo) umaskString() string {
	h.umaskOnce.Do(func() {
		mask := -1
		if data, err := os.ReadFile("/proc/self/status"); err == nil {
			if m, err := parseUmaskStatus(data); err == nil {
				mask = m
			}
		}
		if mask < 0 {
			mask = unix.Umask(0o022)
			unix.Umask(mask)
		}
		h.umask = strconv.Itoa(mask)
	})
	return h.umask
}

// transparentHugePage reads the THP mode where the OS family keeps it.
func (h *HostInfo) transparentHugePage(osi osInfo) string {
	var file string
	switch {
	case osi.InFamily(FamilyUbuntu):
		file = thpFileUbuntu
	case osi.InFamily(FamilyRedhat):
		file = thpFileRedhat
	default:
		return ""
	}
	data, err := h.readHostFile(file)
	if err != nil {
		return ""
	}
	return parseTHP(data)
}

// existingUsers returns the stack accounts present on the host, in the fixed
// order. On the real host it asks NSS through getent (so LDAP/SSSD accounts
// count, as with Python's pwd module); under a fixture root, or without
// getent, it reads <root>/etc/passwd.
func (h *HostInfo) existingUsers(ctx context.Context) []protocol.ExistingUser {
	users, err := runProbe(ctx, h.probes, "users", h.cfg.ProbeTimeout, true, func(ctx context.Context) (map[string]string, error) {
		if h.cfg.Root == "/" {
			argv := append([]string{"getent", "passwd"}, stackUsers...)
			res, err := runCommand(ctx, argv...)
			if err == nil {
				// getent exits 2 when some names are unknown: the rest is valid.
				return parsePasswd([]byte(res.stdout)), nil
			}
			if !cannotRun(err) {
				return nil, err
			}
		}
		data, err := h.readHostFile("/etc/passwd")
		if err != nil {
			return nil, err
		}
		return parsePasswd(data), nil
	})
	if err != nil {
		h.log.WithError(err).Warn("Checking users failed")
	}
	out := []protocol.ExistingUser{}
	for _, name := range stackUsers {
		if home, ok := users[name]; ok {
			out = append(out, protocol.ExistingUser{Name: name, HomeDir: home, Status: "Available"})
		}
	}
	return out
}

// stackFolders looks for leftover stack folders. Each base directory is its
// own bounded probe, so a dead mount under /hadoop costs only its own entries.
func (h *HostInfo) stackFolders(ctx context.Context, users []protocol.ExistingUser) []protocol.StackFolder {
	homes := make(map[string]bool, len(users))
	for _, u := range users {
		homes[u.HomeDir] = true
	}
	groups := make([][]protocol.StackFolder, len(stackBaseDirs)+1)
	fns := make([]func(), 0, len(groups))
	for i, base := range stackBaseDirs {
		fns = append(fns, func() {
			groups[i] = h.scanFolders(ctx, "folders:"+base, func(yield func(string)) {
				for _, name := range stackProjectNames {
					yield(base + "/" + name)
				}
			}, homes)
		})
	}
	fns = append(fns, func() {
		groups[len(stackBaseDirs)] = h.scanFolders(ctx, "folders:exact", func(yield func(string)) {
			for _, p := range stackExactDirs {
				yield(p)
			}
		}, nil)
	})
	h.forEachBounded(fns...)
	out := []protocol.StackFolder{}
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func (h *HostInfo) scanFolders(ctx context.Context, key string, paths func(func(string)), skip map[string]bool) []protocol.StackFolder {
	found, err := runProbe(ctx, h.probes, key, h.cfg.ProbeTimeout, true, func(context.Context) ([]protocol.StackFolder, error) {
		var found []protocol.StackFolder
		paths(func(p string) {
			if skip[p] {
				return
			}
			if t, ok := h.pathType(p); ok {
				found = append(found, protocol.StackFolder{Name: p, Type: t})
			}
		})
		return found, nil
	})
	if err != nil {
		h.log.WithError(err).Warn("Checking folders failed")
	}
	return found
}

// pathType classifies an existing path; ok is false when it does not exist
// (a dangling link counts as missing, as with os.path.exists).
func (h *HostInfo) pathType(p string) (string, bool) {
	hp := h.hostPath(p)
	if _, err := os.Stat(hp); err != nil {
		return "", false
	}
	fi, err := os.Lstat(hp)
	if err != nil {
		return "", false
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return "sym_link", true
	case fi.IsDir():
		return "directory", true
	case fi.Mode().IsRegular():
		return "file", true
	}
	return "unknown", true
}
