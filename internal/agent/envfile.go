package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
)

// DefaultPassphrase is the two-way SSL passphrase used when neither the
// environment nor ambari-env.sh sets one; it is the server's own default,
// so certificate signing works out of the box.
const DefaultPassphrase = "DEV"

// envFileTimeout bounds sourcing ambari-env.sh: it is a few assignments.
const envFileTimeout = 10 * time.Second

// EnvFile is ambari-env.sh in the agent's working directory, which the
// control script sources before it starts the agent.
func EnvFile(cfg *config.Config) string { return filepath.Join(cfg.WorkDir(), "ambari-env.sh") }

// envFileScript sources the file given as $1 the way the control script
// does (with bash, in the caller's environment) and prints, NUL-separated,
// what the agent takes from it. A trailing "set"/"" marks whether PYTHON is
// set at all.
const envFileScript = `. "$1" </dev/null >/dev/null || exit 97
printf '%s\0' "${AMBARI_PASSPHRASE-}" "${PYTHON-}" "${PYTHONPATH-}" "${PYTHON+set}"`

// EnvSettings are the values the agent takes from ambari-env.sh.
type EnvSettings struct {
	Passphrase string // AMBARI_PASSPHRASE after sourcing, "" when unset
	Python     string
	PythonSet  bool
	PythonPath string
}

// ReadEnvFile sources ambari-env.sh with bash, in the current environment,
// and returns what it leaves in AMBARI_PASSPHRASE, PYTHON and PYTHONPATH.
// A missing file is not an error (nothing is read); a file that cannot be
// read or sourced is, with the file named.
func ReadEnvFile(path string) (*EnvSettings, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, bare(err))
	}
	// Opening a directory succeeds; reading it does not.
	_, err = f.Read(make([]byte, 1))
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cannot read %s: %w", path, bare(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), envFileTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "-c", envFileScript, "ambari-env.sh", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("cannot source %s: %s", path, msg)
	}
	v := strings.Split(stdout.String(), "\x00")
	if len(v) < 4 {
		return nil, fmt.Errorf("cannot source %s: unexpected output from bash", path)
	}
	return &EnvSettings{Passphrase: v[0], Python: v[1], PythonPath: v[2], PythonSet: v[3] == "set"}, nil
}

// ApplyEnvFile reads ambari-env.sh and sets this process's environment
// (which the daemon and every stack script inherit) as the control script
// leaves it: the passphrase from the environment if set there, else from
// the file, else DefaultPassphrase; PYTHON and PYTHONPATH as the file
// leaves them. Entries a second pass would add again (`start`, then the
// daemon it launches, both apply the file) are not repeated.
func ApplyEnvFile(cfg *config.Config) error {
	name := cfg.Security.PassphraseEnvVarName
	if name == "" {
		name = "AMBARI_PASSPHRASE"
	}
	s, err := ReadEnvFile(EnvFile(cfg))
	if err != nil {
		return err
	}
	if os.Getenv(name) == "" {
		pass := DefaultPassphrase
		if s != nil && s.Passphrase != "" {
			pass = s.Passphrase
		}
		os.Setenv(name, pass)
	}
	if s == nil {
		return nil
	}
	if s.PythonSet && s.Python != "" {
		os.Setenv("PYTHON", s.Python)
	}
	if pp := dedupPathList(s.PythonPath); pp != "" {
		os.Setenv("PYTHONPATH", pp)
	}
	return nil
}

// bare drops the operation and path an *fs.PathError repeats.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// dedupPathList drops empty and repeated entries of a colon-separated
// list, keeping the first of each.
func dedupPathList(list string) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range strings.Split(list, ":") {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return strings.Join(out, ":")
}
