package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// iniOptions make gopkg.in/ini.v1 read what Python's RawConfigParser reads:
// case-insensitive option names (section names stay case-sensitive),
// indented continuation lines joined with "\n", full-line '#'/';' comments
// only (a ';' after a value is part of the value), quotes kept, no
// interpolation (values are taken with Key.Value, never Key.String).
var iniOptions = ini.LoadOptions{
	InsensitiveKeys:            true,
	AllowPythonMultilineValues: true,
	IgnoreInlineComment:        true,
	PreserveSurroundedQuote:    true,
	KeyValueDelimiters:         "=:",
	// The Python agent warns and carries on with what it parsed before a
	// duplicate; here a duplicate section is merged and, for a duplicate
	// key, the first value wins (see firstValues), which is what the agent
	// had read at the point Python gave up.
	AllowNonUniqueSections: false,
	AllowShadows:           true,
}

// Error is a problem with one value (or one line) of the ini file.
type Error struct {
	File    string
	Line    int // 0 when unknown
	Section string
	Key     string
	Value   string
	Reason  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", loc, e.Reason)
	}
	return fmt.Sprintf("%s: [%s] %s = %q: %s", loc, e.Section, e.Key, e.Value, e.Reason)
}

// Load reads the ini file at path and returns the configuration, with home
// applied to every path. A missing file is an error wrapping os.ErrNotExist;
// callers that can work without a file use Defaults.
func Load(path, home string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data, home)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads ini text; name is used in error messages.
func Parse(name string, data []byte, home string) (*Config, error) {
	if err := checkSyntax(name, data); err != nil {
		return nil, err
	}
	r, err := newReaderErr(name, data)
	if err != nil {
		return nil, err
	}
	c := Defaults("")
	c.File = name
	c.Home = home
	r.bind(c)
	if len(r.errs) > 0 {
		sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].(*Error).Line < r.errs[j].(*Error).Line })
		return nil, errors.Join(r.errs...)
	}
	c.applyHome()
	return c, nil
}

// withoutComments drops whole-line comments and blank lines. Python's
// configparser skips a comment line even when it is indented inside a
// multi-line value, where ini.v1 would take it as a continuation.
func withoutComments(data []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || t[0] == ';' {
			continue
		}
		out.Write(line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// checkSyntax walks the lines like RawConfigParser and reports the first
// line it would refuse, with its number.
func checkSyntax(name string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	inSection, inValue := false, false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		indented := len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		switch {
		case trimmed == "":
			// A blank line ends nothing in configparser but is harmless.
		case trimmed[0] == '#' || trimmed[0] == ';':
		case indented && inValue:
			// continuation of the previous value
		case !indented && strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") && len(trimmed) > 2:
			inSection, inValue = true, false
		case !inSection:
			return &Error{File: name, Line: n, Reason: fmt.Sprintf("line %q comes before any [section] header", trimmed)}
		default:
			i := strings.IndexAny(trimmed, "=:")
			if i <= 0 {
				return &Error{File: name, Line: n, Reason: fmt.Sprintf("cannot parse line %q: expected key=value, a [section] header or a comment", trimmed)}
			}
			inValue = true
		}
	}
	return sc.Err()
}

func newReaderErr(name string, data []byte) (*reader, error) {
	f, err := ini.LoadSources(iniOptions, withoutComments(data))
	if err != nil {
		// checkSyntax accepts only what the reader accepts, so this is
		// unexpected; still give the operator the file name.
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &reader{file: f, name: name, data: data}, nil
}

func newReader(name string, data []byte) *reader {
	r, _ := newReaderErr(name, data)
	return r
}

type reader struct {
	file *ini.File
	name string
	data []byte
	errs []error
}

// raw returns the trimmed value of section/key and whether the key exists.
// With AllowShadows a repeated key keeps every value; the first one wins.
func (r *reader) raw(section, key string) (string, bool) {
	s, err := r.file.GetSection(section)
	if err != nil || !s.HasKey(key) {
		return "", false
	}
	k := s.Key(key)
	vals := k.ValueWithShadows()
	v := k.Value()
	if len(vals) > 0 {
		v = vals[0]
	}
	// Python strips each continuation line before joining with "\n".
	lines := strings.Split(v, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), true
}

func (r *reader) fail(section, key, value, reason string) {
	r.errs = append(r.errs, &Error{File: r.name, Line: r.lineOf(section, key), Section: section, Key: key, Value: value, Reason: reason})
}

// lineOf finds the line number of key in section; used only for errors.
func (r *reader) lineOf(section, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(r.data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	cur := ""
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = t[1 : len(t)-1]
			continue
		}
		if cur != section {
			continue
		}
		if i := strings.IndexAny(t, "=:"); i > 0 && strings.EqualFold(strings.TrimSpace(t[:i]), key) {
			return n
		}
	}
	return 0
}

func (r *reader) str(section, key string, dst *string) {
	if v, ok := r.raw(section, key); ok {
		*dst = v
	}
}

func (r *reader) integer(section, key string, dst *int) bool {
	v, ok := r.raw(section, key)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(section, key, v, "not an integer")
		return false
	}
	*dst = n
	return true
}

func (r *reader) nonNegative(section, key string, dst *int) {
	old := *dst
	if r.integer(section, key, dst) && *dst < 0 {
		r.fail(section, key, strconv.Itoa(*dst), "must not be negative")
		*dst = old
	}
}

// seconds reads an integer number of seconds; 0 is allowed (it disables
// the loops that accept it).
func (r *reader) seconds(section, key string, dst *time.Duration) {
	n := int(*dst / time.Second)
	if r.integer(section, key, &n) {
		if n < 0 {
			r.fail(section, key, strconv.Itoa(n), "must not be negative")
			return
		}
		*dst = time.Duration(n) * time.Second
	}
}

func (r *reader) port(section, key string, dst *int) {
	n := *dst
	if r.integer(section, key, &n) {
		if n < 0 || n > 65535 {
			r.fail(section, key, strconv.Itoa(n), "not a TCP port (0-65535)")
			return
		}
		*dst = n
	}
}

// loopbackPort reads a port on which the agent listens on 127.0.0.1 only:
// "9100" or "127.0.0.1:9100". Another address is refused, since what is
// served there (pprof, health) is for the host's own operator.
func (r *reader) loopbackPort(section, key string, dst *int) {
	v, ok := r.raw(section, key)
	if !ok || v == "" {
		return
	}
	if host, port, found := strings.Cut(v, ":"); found || strings.Contains(v, "]") {
		if host != "127.0.0.1" && host != "localhost" {
			r.fail(section, key, v, "the agent serves it on 127.0.0.1 only; give a port number (or 127.0.0.1:PORT)")
			return
		}
		v = port
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		r.fail(section, key, v, "not a TCP port (0-65535)")
		return
	}
	*dst = n
}

// boolTrue is Python's `value.lower() == "true"`, used for several keys.
func (r *reader) boolTrue(section, key string, dst *bool) {
	if v, ok := r.raw(section, key); ok {
		*dst = strings.EqualFold(v, "true")
	}
}

// boolOne is Python's `int(value) == 1`.
func (r *reader) boolOne(section, key string, dst *bool) {
	n := 0
	if r.integer(section, key, &n) {
		*dst = n == 1
	}
}

func (r *reader) list(section, key string, dst *[]string) {
	v, ok := r.raw(section, key)
	if !ok {
		return
	}
	var out []string
	for _, item := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == '\n' }) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	*dst = out
}

func (r *reader) bind(c *Config) {
	const srv, agt, sec, net, hb, lg, py = "server", "agent", "security", "network", "heartbeat", "logging", "python"

	r.str(srv, "hostname", &c.Server.Hostname)
	r.port(srv, "url_port", &c.Server.URLPort)
	r.port(srv, "secured_url_port", &c.Server.SecuredURLPort)
	r.seconds(srv, "connect_retry_delay", &c.Server.ConnectRetryDelay)
	r.seconds(srv, "max_reconnect_retry_delay", &c.Server.MaxReconnectRetryDelay)
	r.str(srv, "hostname_script", &c.Server.HostnameScript)

	a := &c.Agent
	r.str(agt, "logdir", &a.LogDir)
	r.str(agt, "piddir", &a.PidDir)
	r.str(agt, "prefix", &a.Prefix)
	if v, ok := r.raw(agt, "loglevel"); ok {
		// Python: DEBUG selects debug, anything else INFO.
		a.LogLevel = "INFO"
		if strings.EqualFold(v, "DEBUG") {
			a.LogLevel = "DEBUG"
		}
	}
	// The cleaner runs only when the key is present and positive; its
	// limits are clamped as in DataCleaner.py.
	interval := 0
	if r.integer(agt, "data_cleanup_interval", &interval) && interval > 0 {
		a.DataCleanupInterval = time.Duration(max(interval, 3600)) * time.Second
	}
	if v, ok := r.raw(agt, "data_cleanup_max_age"); ok && v != "" {
		n := 0
		if r.integer(agt, "data_cleanup_max_age", &n) {
			a.DataCleanupMaxAge = time.Duration(max(n, 86400)) * time.Second
		}
	}
	if v, ok := r.raw(agt, "data_cleanup_max_size_mb"); ok && v != "" {
		n := 0
		if r.integer(agt, "data_cleanup_max_size_mb", &n) {
			if n <= 0 {
				r.fail(agt, "data_cleanup_max_size_MB", v, "must be positive")
			} else {
				a.DataCleanupMaxSizeMB = min(n, 10000)
			}
		}
	}
	r.port(agt, "ping_port", &a.PingPort)
	r.loopbackPort(agt, "http_port", &a.HTTPPort)
	r.str(agt, "cache_dir", &a.CacheDir)
	r.boolTrue(agt, "tolerate_download_failures", &a.TolerateDownloadFailures)
	r.str(agt, "run_as_user", &a.RunAsUser)
	r.boolOne(agt, "parallel_execution", &a.ParallelExecution)
	r.nonNegative(agt, "parallel_execution_limit", &a.ParallelExecutionLimit)
	if a.ParallelExecutionLimit == 0 {
		a.ParallelExecutionLimit = 1
	}
	r.seconds(agt, "alert_reports_interval", &a.AlertReportsInterval)
	r.seconds(agt, "command_reports_interval", &a.CommandReportsInterval)
	r.seconds(agt, "status_commands_run_interval", &a.StatusCommandsRunInterval)
	r.nonNegative(agt, "status_commands_concurrency", &a.StatusCommandsConcurrency)
	if a.StatusCommandsConcurrency == 0 {
		a.StatusCommandsConcurrency = 1
	}
	r.seconds(agt, "alert_grace_period", &a.AlertGracePeriod)
	if v, ok := r.raw(agt, "send_alert_changes_only"); ok {
		a.SendAlertChangesOnly = v != ""
	}
	ms := int(a.AlertKinitTimeout / time.Millisecond)
	if r.integer(agt, "alert_kinit_timeout", &ms) {
		a.AlertKinitTimeout = time.Duration(ms) * time.Millisecond
	}
	r.str(agt, "system_resource_overrides", &a.SystemResourceOverrides)
	r.list(agt, "ignore_mount_points", &a.IgnoreMountPoints)
	r.str(agt, "hostname_script", &a.HostnameScript)
	r.str(agt, "public_hostname_script", &a.PublicHostnameScript)
	r.nonNegative(agt, "ulimit.open.files", &a.UlimitOpenFiles)
	if v, ok := r.raw(agt, "command_file_retention_policy"); ok {
		switch p := strings.ToLower(v); p {
		case "keep", "remove", "remove_on_success":
			a.CommandFileRetentionPolicy = p
		default:
			r.fail(agt, "command_file_retention_policy", v, "must be keep, remove or remove_on_success")
		}
	}
	r.boolTrue(agt, "recovery_backoff", &a.RecoveryBackoff)

	s := &c.Security
	r.str(sec, "keysdir", &s.KeysDir)
	r.str(sec, "server_crt", &s.ServerCrt)
	r.str(sec, "passphrase_env_var_name", &s.PassphraseEnvVarName)
	if v, ok := r.raw(sec, "ssl_verify_cert"); ok {
		s.SSLVerifyCert = v != "0"
	}
	r.str(sec, "credential_lib_dir", &s.CredentialLibDir)
	r.str(sec, "credential_conf_dir", &s.CredentialConfDir)
	r.str(sec, "credential_shell_cmd", &s.CredentialShellCmd)
	r.str(sec, "force_https_protocol", &s.ForceHTTPSProtocol)
	r.str(sec, "ca_cert_path", &s.CACertPath)
	if v, ok := r.raw(sec, "server_cert_pinning"); ok {
		switch p := strings.ToLower(v); p {
		case "", "off", "0":
			s.ServerCertPinning = ""
		case "tofu":
			s.ServerCertPinning = p
		default:
			r.fail(sec, "server_cert_pinning", v, "must be tofu or off")
		}
	}

	r.boolTrue(net, "use_system_proxy_settings", &c.Network.UseSystemProxySettings)

	r.seconds(hb, "state_interval_seconds", &c.Heartbeat.StateInterval)
	if c.Heartbeat.StateInterval == 0 {
		c.Heartbeat.StateInterval = 60 * time.Second
	}
	r.nonNegative(hb, "log_max_symbols_size", &c.Heartbeat.LogMaxSymbolsSize)

	r.boolOne(lg, "syslog_enabled", &c.Logging.SyslogEnabled)
	r.boolOne(lg, "log_command_executes", &c.Logging.LogCommandExecutes)
	_, c.Logging.LogOutFiles = r.raw(lg, "log_out_files")
	if v, ok := r.raw(lg, "log_format"); ok {
		switch f := strings.ToLower(v); f {
		case "text", "json":
			c.Logging.Format = f
		default:
			r.fail(lg, "log_format", v, "must be text or json")
		}
	}

	r.str(py, "executable", &c.Python.Executable)
	r.list(py, "lib_dirs", &c.Python.LibDirs)
	r.str(py, "custom_actions_dir", &c.Python.CustomActionsDir)
	r.boolWord(py, "resident_runner", &c.Python.ResidentRunner)
	if _, ok := r.raw(py, "preload_modules"); ok {
		c.Python.PreloadModules = []string{}
		r.list(py, "preload_modules", &c.Python.PreloadModules)
	}
}

// boolWord reads a new key's yes/no value (true/false, yes/no, on/off,
// 1/0, any case); anything else is an error.
func (r *reader) boolWord(section, key string, dst *bool) {
	v, ok := r.raw(section, key)
	if !ok {
		return
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		*dst = true
	case "false", "no", "off", "0":
		*dst = false
	default:
		r.fail(section, key, v, "must be true or false")
	}
}
