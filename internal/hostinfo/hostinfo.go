package hostinfo

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// agentConfig keys (server-sent, [agentConfig] in the Python agent) read here.
const (
	keyCheckRemoteMounts = "agent.check.remote.mounts"
	keyMountsTimeout     = "agent.check.mounts.timeout"
	keyJavaHome          = "java.home"
)

// Defaults for Config fields left zero.
const (
	DefaultRoot               = "/"
	DefaultJCEPolicyJar       = "/var/lib/ambari-agent/tools/jcepolicyinfo.jar"
	DefaultEC2MetadataURL     = "http://169.254.169.254/latest/meta-data/public-hostname"
	DefaultScriptTimeout      = 30 * time.Second
	DefaultProbeTimeout       = 5 * time.Second
	DefaultLookupTimeout      = 5 * time.Second
	DefaultMountsTimeout      = 10 * time.Second
	DefaultMountCheckTimeout  = 5 * time.Second
	DefaultProbeParallelism   = 4
	defaultEC2MetadataTimeout = 2 * time.Second
)

// Config is everything HostInfo needs from the agent configuration.
type Config struct {
	// Root prefixes every host path read (/proc, /sys, /etc, mount points,
	// stack folders) so tests can point at a fixture tree. Default "/".
	Root string
	// Prefix is [agent] prefix, the directory that receives hostcheck.result.
	Prefix string

	// HostnameScript is [agent] hostname_script: run without a shell or args.
	HostnameScript string
	// PublicHostnameScript is [agent] public_hostname_script: run through /bin/sh.
	PublicHostnameScript string
	// ServerHostname is the raw [server] hostname (possibly a comma list).
	ServerHostname string
	// ServerHostnameScript is [server] hostname_script.
	ServerHostnameScript string
	// EC2MetadataURL is asked for the public name when no script gives one.
	// Default DefaultEC2MetadataURL; "-" disables the lookup.
	EC2MetadataURL string

	// IgnoreMountPoints is the raw comma list of [agent] ignore_mount_points.
	IgnoreMountPoints string
	// SystemResourceOverrides is [agent] system_resource_overrides: a directory
	// of *.json files whose keys replace collected facts. Not under Root: it is
	// an operator-given path.
	SystemResourceOverrides string
	// JCEPolicyJar is the jar run by the unlimited-JCE check.
	JCEPolicyJar string

	// AgentConfig returns the server-sent agentConfig map (may be nil, may
	// return nil before the server sent it). Read on every use, so a change
	// from the server applies to the next report.
	AgentConfig func() map[string]string

	// ScriptTimeout bounds each host name script (the Python agent waits forever).
	ScriptTimeout time.Duration
	// ProbeTimeout bounds each external check (service status, firewall, JCE,
	// sestatus, ifconfig, user lookups, a folder scan). Default 5 s as in Python.
	ProbeTimeout time.Duration
	// LookupTimeout bounds each name resolution.
	LookupTimeout time.Duration
	// MountCheckTimeout bounds the writability check of one mount point.
	MountCheckTimeout time.Duration
	// ProbeParallelism bounds how many independent probes run at once.
	ProbeParallelism int

	Log *logrus.Entry
}

// HostInfo collects the facts the agent reports about its host. Safe for
// concurrent use.
type HostInfo struct {
	cfg    Config
	log    *logrus.Entry
	probes *probes

	names nameCache

	hwMu sync.Mutex
	hw   *protocol.HardwareProfile // computed once per process, on first request

	osOnce sync.Once
	os     osInfo

	umaskOnce sync.Once
	umask     string

	ignoredMu   sync.Mutex
	lastIgnored string // last logged list of ignored mount points
}

// New returns a HostInfo. It does no I/O: the caller decides when facts are
// collected.
func New(cfg Config) *HostInfo {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.JCEPolicyJar == "" {
		cfg.JCEPolicyJar = DefaultJCEPolicyJar
	}
	if cfg.EC2MetadataURL == "" {
		cfg.EC2MetadataURL = DefaultEC2MetadataURL
	}
	if cfg.ScriptTimeout <= 0 {
		cfg.ScriptTimeout = DefaultScriptTimeout
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.MountCheckTimeout <= 0 {
		cfg.MountCheckTimeout = DefaultMountCheckTimeout
	}
	if cfg.ProbeParallelism <= 0 {
		cfg.ProbeParallelism = DefaultProbeParallelism
	}
	log := cfg.Log
	log = logging.OrDiscard(log)
	return &HostInfo{cfg: cfg, log: log, probes: newProbes()}
}

// hostPath maps an absolute host path into Config.Root.
func (h *HostInfo) hostPath(p string) string {
	if h.cfg.Root == "/" {
		return p
	}
	return filepath.Join(h.cfg.Root, p)
}

// readHostFile reads a host file through Root.
func (h *HostInfo) readHostFile(p string) ([]byte, error) {
	return os.ReadFile(h.hostPath(p))
}

// agentConfig returns one server-sent agentConfig value.
func (h *HostInfo) agentConfig(key string) (string, bool) {
	if h.cfg.AgentConfig == nil {
		return "", false
	}
	m := h.cfg.AgentConfig()
	v, ok := m[key]
	return strings.TrimSpace(v), ok
}

// forEachBounded runs fns with at most ProbeParallelism at a time and waits
// for all. A panic in one is logged and does not affect the others.
func (h *HostInfo) forEachBounded(fns ...func()) {
	sem := make(chan struct{}, h.cfg.ProbeParallelism)
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					h.log.WithField("panic", r).Error("host check panicked")
				}
			}()
			f()
		}()
	}
	wg.Wait()
}
