package orchestrator

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// pythonWrap is the package's link to the interpreter the agent runs with.
const pythonWrap = "/usr/bin/ambari-python-wrap"

// ResolvePython picks the interpreter for stack scripts the way the Python
// agent's control script picks its own: $PYTHON, else the target of
// /usr/bin/ambari-python-wrap, else python3 from PATH.
func ResolvePython() (string, error) {
	return resolvePython(os.Getenv("PYTHON"), pythonWrap)
}

func resolvePython(env, wrap string) (string, error) {
	if env != "" {
		return env, nil
	}
	if target, err := os.Readlink(wrap); err == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(wrap), target)
		}
		return target, nil
	}
	if st, err := os.Stat(wrap); err == nil && st.Mode().IsRegular() {
		return wrap, nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("no python interpreter: $PYTHON unset, %s missing, python3 not in PATH: %w", wrap, err)
	}
	return p, nil
}

// Python is the interpreter the orchestrator runs scripts with; other
// Python helpers of the agent use the same one.
func (o *Orchestrator) Python() string { return o.cfg.Python }

// SetResident makes scripts run forked from r whenever it can take them;
// call it before the first run.
func (o *Orchestrator) SetResident(r ResidentRunner) { o.cfg.Resident = r }

// ScriptEnviron is the environment scripts get now (the agent's, with the
// Python library dirs on PYTHONPATH and the encryption key once the server
// sent one). The resident runner starts with it.
func (o *Orchestrator) ScriptEnviron() []string {
	key := ""
	if o.cfg.EncryptionKey != nil {
		key = o.cfg.EncryptionKey()
	}
	return o.env.get(key)
}
