package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default locations, before any --home prefix.
const (
	DefaultConfDir = "/etc/ambari-agent/conf"
	ConfFileName   = "ambari-agent.ini"
	// AgentRoot is the agent's working directory and the parent of the tmp dir
	// handed to every stack script. Not configurable in the Python agent.
	AgentRoot = "/var/lib/ambari-agent"
)

// ConfDirEnv names the environment variable that overrides where
// ambari-agent.ini is looked up (used by agent-multiplier style setups).
const ConfDirEnv = "AMBARI_AGENT_CONF_DIR"

// Config is everything the agent reads from ambari-agent.ini, typed, with
// defaults applied and --home applied to every path.
type Config struct {
	// File is the ini file these values came from ("" when defaults only).
	File string
	// Home is the --home prefix ("" for none).
	Home string

	Server    Server
	Agent     Agent
	Security  Security
	Network   Network
	Heartbeat Heartbeat
	Logging   Logging
	Python    Python
}

// Server is the [server] section.
type Server struct {
	// Hostname is the raw value. The WebSocket URL uses it as is; only the
	// startup reachability probe splits it as a comma-separated list
	// (see Hostnames), exactly as the Python agent does.
	Hostname       string
	URLPort        int
	SecuredURLPort int
	// ConnectRetryDelay separates attempts of the startup /ca probe.
	ConnectRetryDelay time.Duration
	// MaxReconnectRetryDelay caps the exponential backoff between
	// registration attempts. The Python agent ships this key but never
	// reads it (it retries every 10 s forever); here it is the cap.
	MaxReconnectRetryDelay time.Duration
	// HostnameScript, when set, prints the server host list.
	HostnameScript string
}

// Hostnames returns the server host list of [server] hostname: split at
// commas, trimmed, lower-cased, empty items dropped.
func (s Server) Hostnames() []string {
	var out []string
	for _, h := range strings.Split(s.Hostname, ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// Agent is the [agent] section.
type Agent struct {
	LogDir string
	PidDir string
	// Prefix is the data dir (command files, outputs, version file). It has
	// no usable default: like the Python agent's pre-start check, Validate
	// refuses a file without it.
	Prefix string
	// LogLevel is "DEBUG" or "INFO"; "" when the key is absent, in which
	// case the -v flag decides.
	LogLevel string

	// DataCleanupInterval is 0 when the data cleaner is off (key absent or
	// <= 0); otherwise at least one hour.
	DataCleanupInterval time.Duration
	DataCleanupMaxAge   time.Duration
	// DataCleanupMaxSizeMB is in units of 1,000,000 bytes, as in Python.
	DataCleanupMaxSizeMB int

	// PingPort 0 lets the kernel choose.
	PingPort int
	// HTTPPort serves /healthz, /metrics and /debug/pprof/ on 127.0.0.1;
	// 0 = off. New key: the Python agent has no such endpoint.
	HTTPPort int
	CacheDir string
	// TolerateDownloadFailures lets commands run from the local cache copy
	// when the server's archive cannot be fetched.
	TolerateDownloadFailures bool
	RunAsUser                string

	// ParallelExecution runs retry-enabled commands concurrently.
	ParallelExecution bool
	// ParallelExecutionLimit bounds those concurrent commands. New key: the
	// Python agent starts one thread per command without limit.
	ParallelExecutionLimit int

	AlertReportsInterval      time.Duration
	CommandReportsInterval    time.Duration
	StatusCommandsRunInterval time.Duration
	// StatusCommandsConcurrency bounds how many status scripts run at once
	// in one cycle. New key: the Python agent runs them one by one.
	StatusCommandsConcurrency int
	AlertGracePeriod          time.Duration
	// SendAlertChangesOnly: the Python agent converts the value with
	// bool(str), so every non-empty value, "0" included, means true, and
	// the shipped "send_alert_changes_only=0" runs every deployed agent in
	// changes-only mode. Servers and operators are tuned to that traffic,
	// so it is kept: only an empty value turns it off.
	SendAlertChangesOnly bool
	AlertKinitTimeout    time.Duration

	SystemResourceOverrides string
	IgnoreMountPoints       []string
	HostnameScript          string
	PublicHostnameScript    string
	// UlimitOpenFiles raises the hard NOFILE limit when > 0.
	UlimitOpenFiles int
	// CommandFileRetentionPolicy is "keep", "remove" or "remove_on_success".
	CommandFileRetentionPolicy string

	// RecoveryBackoff adds an exponential backoff with jitter between
	// recovery attempts of one component, on top of the server's retry gap.
	// New key; off by default to behave like the Python agent.
	RecoveryBackoff bool
}

// Security is the [security] section.
type Security struct {
	KeysDir              string
	ServerCrt            string
	PassphraseEnvVarName string
	// SSLVerifyCert is true for any value other than "0", as in Python.
	// Unlike Python (whose patched default context verified nothing unless
	// ca_cert_path was set) it turns on real verification of the server
	// certificate, host name included.
	SSLVerifyCert      bool
	CredentialLibDir   string
	CredentialConfDir  string
	CredentialShellCmd string
	ForceHTTPSProtocol string
	CACertPath         string
	// ServerCertPinning is "" (off) or "tofu": trust on first use, the
	// server certificate's public key is pinned at the first successful
	// registration and a different one is refused afterwards. New key.
	ServerCertPinning string
}

// Network is the [network] section.
type Network struct {
	UseSystemProxySettings bool
}

// Heartbeat is the [heartbeat] section.
type Heartbeat struct {
	StateInterval time.Duration
	// LogMaxSymbolsSize caps stdout/stderr in command reports; 0 = no cap.
	LogMaxSymbolsSize int
}

// Logging is the [logging] section.
type Logging struct {
	SyslogEnabled      bool
	LogCommandExecutes bool
	// LogOutFiles appends -o to every script argv; the Python agent tests
	// only whether the key exists.
	LogOutFiles bool
	// Format is "text" (the Python layout) or "json". New key.
	Format string
}

// Python is the [python] section: how stack scripts are run.
type Python struct {
	// Executable is the interpreter for stack scripts ("" = $PYTHON, then
	// the target of /usr/bin/ambari-python-wrap, then python3). New key.
	Executable string
	// LibDirs are prepended to PYTHONPATH so scripts import
	// resource_management, ambari_commons and ambari_agent. New key; the
	// Python agent's control script hard-codes /usr/lib/ambari-agent/lib.
	LibDirs          []string
	CustomActionsDir string
	// ResidentRunner forks every stack script from one warm interpreter
	// that has the stack library imported, instead of starting python3 for
	// each (see internal/pyrunner). New key; default true.
	ResidentRunner bool
	// PreloadModules are the modules that warm interpreter imports once;
	// missing ones are skipped. New key; default DefaultPreloadModules.
	PreloadModules []string
}

// DefaultPreloadModules are what stack scripts import (measured on the
// stack library's own services and hooks): the whole of resource_management
// that its package imports, the functions and resources scripts import on
// top, ambari_commons and the JSON and template libraries.
var DefaultPreloadModules = []string{
	"resource_management",
	"resource_management.libraries.script.script",
	"resource_management.libraries.script.hook",
	"resource_management.libraries.functions",
	"resource_management.libraries.functions.default",
	"resource_management.libraries.functions.format",
	"resource_management.libraries.functions.version",
	"resource_management.libraries.functions.check_process_status",
	"resource_management.libraries.functions.stack_features",
	"resource_management.libraries.functions.show_logs",
	"resource_management.libraries.functions.expect",
	"resource_management.libraries.functions.is_empty",
	"resource_management.libraries.functions.get_not_managed_resources",
	"resource_management.libraries.functions.security_commons",
	"resource_management.core.logger",
	"resource_management.core.resources.system",
	"resource_management.core.source",
	"resource_management.core.shell",
	"resource_management.core.exceptions",
	"ambari_commons",
	"ambari_commons.constants",
	"ambari_commons.os_family_impl",
	"ambari_commons.os_check",
	"ambari_commons.shell",
	"ambari_commons.network",
	"ambari_commons.repo_manager",
	"ambari_simplejson",
	"ambari_jinja2",
}

// Defaults returns the configuration used for keys absent from the file,
// with home applied to every path.
//
// Where the Python agent's built-in default is a /tmp path (prefix,
// cache_dir, keysdir in its "resolved" view), the shipped package value is
// used instead: key material and command files with passwords do not
// belong in a world-writable place.
func Defaults(home string) *Config {
	c := &Config{
		Home: home,
		Server: Server{
			Hostname:               "localhost",
			URLPort:                8440,
			SecuredURLPort:         8441,
			ConnectRetryDelay:      10 * time.Second,
			MaxReconnectRetryDelay: 30 * time.Second,
		},
		Agent: Agent{
			LogDir:                     "/var/log/ambari-agent",
			PidDir:                     "/var/run/ambari-agent",
			DataCleanupMaxAge:          86400 * time.Second,
			DataCleanupMaxSizeMB:       10000,
			PingPort:                   8670,
			CacheDir:                   "/var/lib/ambari-agent/cache",
			ParallelExecutionLimit:     5,
			AlertReportsInterval:       5 * time.Second,
			CommandReportsInterval:     5 * time.Second,
			StatusCommandsRunInterval:  20 * time.Second,
			StatusCommandsConcurrency:  4,
			AlertGracePeriod:           5 * time.Second,
			SendAlertChangesOnly:       true,
			AlertKinitTimeout:          14400000 * time.Millisecond,
			SystemResourceOverrides:    "/etc/resource_overrides",
			CommandFileRetentionPolicy: "keep",
		},
		Security: Security{
			KeysDir:              "/var/lib/ambari-agent/keys",
			ServerCrt:            "ca.crt",
			PassphraseEnvVarName: "AMBARI_PASSPHRASE",
			CredentialLibDir:     "/var/lib/ambari-agent/cred/lib",
			CredentialConfDir:    "/var/lib/ambari-agent/cred/conf",
			CredentialShellCmd:   "org.apache.hadoop.security.alias.CredentialShell",
			ForceHTTPSProtocol:   "PROTOCOL_TLSv1_2",
		},
		Network:   Network{UseSystemProxySettings: true},
		Heartbeat: Heartbeat{StateInterval: 60 * time.Second, LogMaxSymbolsSize: 900000},
		Logging:   Logging{Format: "text"},
		Python: Python{
			LibDirs:          []string{"/usr/lib/ambari-agent/lib"},
			CustomActionsDir: "/var/lib/ambari-agent/resources/custom_actions",
			ResidentRunner:   true,
			PreloadModules:   append([]string(nil), DefaultPreloadModules...),
		},
	}
	c.applyHome()
	return c
}

// Locate returns the ini file to read: $AMBARI_AGENT_CONF_DIR/ambari-agent.ini
// when set, else <home>/etc/ambari-agent/conf/ambari-agent.ini, else
// /etc/ambari-agent/conf/ambari-agent.ini.
func Locate(home string) string {
	if dir := os.Getenv(ConfDirEnv); dir != "" {
		return filepath.Join(dir, ConfFileName)
	}
	return filepath.Join(HomePath(home, DefaultConfDir), ConfFileName)
}

// HomePath places an absolute path under home, unless home is empty, the
// path is relative or empty, or it already lies inside home.
func HomePath(home, p string) string {
	if home == "" || p == "" || !filepath.IsAbs(p) {
		return p
	}
	h := filepath.Clean(home)
	if p == h || strings.HasPrefix(p, h+string(filepath.Separator)) {
		return p
	}
	return filepath.Join(h, p)
}

func (c *Config) applyHome() {
	// Every directory the agent writes is its own per home.
	for _, p := range []*string{
		&c.Agent.LogDir, &c.Agent.PidDir, &c.Agent.Prefix, &c.Agent.CacheDir,
		&c.Security.KeysDir, &c.Security.CredentialConfDir,
	} {
		*p = HomePath(c.Home, *p)
	}
	// Paths naming what the operator installed on the host stay as
	// written: ca_cert_path, system_resource_overrides, credential_lib_dir
	// (the Hadoop jars), the Python lib dirs and the hostname scripts are
	// shared by every agent of the host.
}

// PidFile is <piddir>/ambari-agent.pid.
func (c *Config) PidFile() string { return filepath.Join(c.Agent.PidDir, "ambari-agent.pid") }

// LogFile is <logdir>/ambari-agent.log.
func (c *Config) LogFile() string { return filepath.Join(c.Agent.LogDir, "ambari-agent.log") }

// AlertsLogFile is <logdir>/ambari-alerts.log.
func (c *Config) AlertsLogFile() string { return filepath.Join(c.Agent.LogDir, "ambari-alerts.log") }

// OutFile is <logdir>/ambari-agent.out, the daemon's stdout and stderr.
func (c *Config) OutFile() string { return filepath.Join(c.Agent.LogDir, "ambari-agent.out") }

// ClusterCacheDir is <cache_dir>/cluster_cache.
func (c *Config) ClusterCacheDir() string { return filepath.Join(c.Agent.CacheDir, "cluster_cache") }

// WorkDir is the agent's working directory and that of every stack script.
func (c *Config) WorkDir() string { return HomePath(c.Home, AgentRoot) }

// TmpDir is the scratch dir passed to every stack script.
func (c *Config) TmpDir() string { return filepath.Join(c.WorkDir(), "tmp") }

// VersionFile is <prefix>/version, read at registration as agentVersion.
func (c *Config) VersionFile() string { return filepath.Join(c.Agent.Prefix, "version") }

// Validate reports what makes the configuration unusable for running the
// agent (as opposed to stop/status, which only need the pid file).
func (c *Config) Validate() error {
	if c.Agent.Prefix == "" {
		return fmt.Errorf("%s: [agent] prefix is not set (the data directory, e.g. /var/lib/ambari-agent/data)", c.fileName())
	}
	if strings.TrimSpace(c.Server.Hostname) == "" {
		return fmt.Errorf("%s: [server] hostname is empty", c.fileName())
	}
	return nil
}

func (c *Config) fileName() string {
	if c.File == "" {
		return "configuration"
	}
	return c.File
}
