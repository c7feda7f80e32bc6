package recovery

import (
	"errors"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// Mode is the recovery type from cluster-env. It decides which desired and
// current states the manager acts on and which command it sends (docs/behaviour.md §8.2).
type Mode int

const (
	// ModeFull recovers every transition between INIT, INSTALL_FAILED,
	// INSTALLED and STARTED. It is what the Python agent falls back to when
	// recovery is enabled without a recognised recovery_type (for example
	// recovery_enabled=true alone), not only for recovery_type=FULL.
	ModeFull Mode = iota
	// ModeAutoStart only starts INSTALLED components whose desired state is
	// STARTED.
	ModeAutoStart
	// ModeAutoInstallStart also re-installs components whose install failed.
	ModeAutoInstallStart
)

// String returns the cluster-env spelling of the mode.
func (m Mode) String() string {
	switch m {
	case ModeAutoStart:
		return "AUTO_START"
	case ModeAutoInstallStart:
		return "AUTO_INSTALL_START"
	default:
		return "FULL"
	}
}

// Component states the manager tracks (docs/behaviour.md §8.2).
const (
	StateInit          = "INIT"
	StateInstalled     = "INSTALLED"
	StateStarted       = "STARTED"
	StateInstallFailed = "INSTALL_FAILED"
)

// Limits are the per-component rate limits of docs/behaviour.md §8.3, in cluster-env units.
type Limits struct {
	MaxCount         int // attempts per window
	WindowMinutes    int // window length
	RetryGapMinutes  int // minimum time between two attempts
	LifetimeMaxCount int // attempts in a lifetime (see doc.go for what "lifetime" means here)
}

// DefaultLimits are the Python agent's built-in limits, used until
// cluster-env says otherwise and for keys that are absent or unparsable.
var DefaultLimits = Limits{MaxCount: 6, WindowMinutes: 60, RetryGapMinutes: 5, LifetimeMaxCount: 12}

func (l Limits) windowSec() int64 { return int64(l.WindowMinutes) * 60 }
func (l Limits) gapSec() int64    { return int64(l.RetryGapMinutes) * 60 }

// Errors of limit validation; any of them disables recovery and keeps the
// previous limits.
var (
	errMaxCount = errors.New("recovery_max_count must be greater than 0")
	errWindow   = errors.New("recovery_window_in_minutes must be greater than 0")
	errGap      = errors.New("recovery_retry_interval must be at least 1")
	errGapLong  = errors.New("recovery_retry_interval must be smaller than recovery_window_in_minutes")
	errLifetime = errors.New("recovery_lifetime_max_count must be at least 0 and at least recovery_max_count")
)

// validate applies the Python agent's rules, in its order.
func (l Limits) validate() error {
	switch {
	case l.MaxCount <= 0:
		return errMaxCount
	case l.WindowMinutes <= 0:
		return errWindow
	case l.RetryGapMinutes < 1:
		return errGap
	case l.RetryGapMinutes >= l.WindowMinutes:
		return errGapLong
	case l.LifetimeMaxCount < 0 || l.LifetimeMaxCount < l.MaxCount:
		return errLifetime
	}
	return nil
}

// settings is what one reading of cluster-env asks for.
type settings struct {
	enabled bool
	mode    Mode
	limits  Limits
}

// parseClusterEnv reads the recovery keys of cluster-env (nil: absent, which
// means disabled with default limits).
func parseClusterEnv(env map[string]string) settings {
	s := settings{mode: ModeFull, limits: DefaultLimits}
	if env == nil {
		return s
	}
	if t, ok := env["recovery_type"]; ok {
		switch t {
		case "AUTO_START":
			s.enabled, s.mode = true, ModeAutoStart
		case "AUTO_INSTALL_START":
			s.enabled, s.mode = true, ModeAutoInstallStart
		case "FULL":
			s.enabled = true
		}
	}
	if v, ok := env["recovery_enabled"]; ok {
		s.enabled = strings.ToLower(v) == "true"
	}
	readInt(env, "recovery_max_count", &s.limits.MaxCount)
	readInt(env, "recovery_window_in_minutes", &s.limits.WindowMinutes)
	readInt(env, "recovery_retry_interval", &s.limits.RetryGapMinutes)
	readInt(env, "recovery_lifetime_max_count", &s.limits.LifetimeMaxCount)
	return s
}

// readInt overwrites *dst only when the key holds an integer.
func readInt(env map[string]string, key string, dst *int) {
	if v, ok := env[key]; ok {
		if n, ok := pyvalue.ParseInt(v); ok {
			*dst = int(n)
		}
	}
}
