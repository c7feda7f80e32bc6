package alerts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// kinitTimerParameter is the script parameter carrying alert_kinit_timeout.
const kinitTimerParameter = "kerberos.kinit.timer"

// scriptCheck is a SCRIPT alert: a Python module's execute() run by the
// helper with the Python agent's calling convention.
type scriptCheck struct {
	path       any // source.path
	parameters *pyDict
}

func newScriptCheck(src *pyDict) (*scriptCheck, error) {
	c := &scriptCheck{path: dictGet(src, "path"), parameters: newPyDict()}
	if params, ok := dictGet(src, "parameters").([]any); ok {
		for _, p := range params {
			pd, ok := p.(*pyDict)
			if !ok {
				continue
			}
			name, okN := pd.get("name")
			value, okV := pd.get("value")
			if !okN || !okV {
				continue
			}
			c.parameters.set(pyStr(name), value)
		}
	}
	return c, nil
}

func (c *scriptCheck) defaultText(string) string { return "{0}" }

// scriptDirs are the cache sub-directories searched for a relative path,
// in the Python agent's order.
var scriptDirs = []string{"stacks", "common-services", "host_scripts", "extensions"}

// resolveScript is ScriptAlert._load_source's search.
func (m *Manager) resolveScript(path string) (string, error) {
	candidate := path
	if !exists(candidate) && m.cfg.CacheDir != "" {
		for _, d := range scriptDirs {
			candidate = filepath.Join(m.cfg.CacheDir, d, path)
			if exists(candidate) {
				break
			}
		}
	}
	if fi, err := os.Stat(candidate); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("Unable to find '%s' as an absolute path or part of %s or %s", path,
			filepath.Join(m.cfg.CacheDir, "stacks"), filepath.Join(m.cfg.CacheDir, "host_scripts"))
	}
	return candidate, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (c *scriptCheck) collect(ctx context.Context, r *run) (string, []any, error) {
	path, ok := c.path.(string)
	if !ok {
		return "", nil, errors.New("The attribute 'path' must be specified")
	}
	resolved, err := r.m.resolveScript(path)
	if err != nil {
		return "", nil, err
	}
	if !strings.HasSuffix(resolved, ".py") {
		r.m.log.WithField("alert", r.name()).Errorf("[Alert][%s] Unable to execute script %s", r.name(), resolved)
		return StateUnknown, []any{"Unable to execute script " + path}, nil
	}
	full, err := r.cfg.get()
	if err != nil {
		return "", nil, err
	}
	if r.m.python == nil {
		return "", nil, errors.New("no Python helper to run the alert script")
	}
	params := newPyDict()
	for _, k := range c.parameters.keys {
		params.set(k, c.parameters.vals[k])
	}
	params.set(kinitTimerParameter, r.m.cfg.KinitTimeout.Milliseconds())
	args := map[string]any{
		"path": resolved, "name": r.name(), "configurations": full, "parameters": rawPy{params},
		"host_name": r.host(), "tmp_dir": r.m.cfg.AgentTmpDir, "no_proxy": !r.m.cfg.UseSystemProxy,
		"https_protocol": r.m.cfg.TLSProtocol, "ca_cert_path": r.m.cfg.CACertPath,
	}
	timeout := r.m.cfg.ScriptTimeout
	if timeout <= 0 {
		timeout = time.Duration(r.a.def.intervalMinutes()) * r.m.cfg.Minute
	}
	out, err := r.m.python.Call(ctx, "script_alert", args, timeout)
	if err != nil {
		return "", nil, helperError(err, "the alert script "+resolved)
	}
	v, err := parsePyJSON(out)
	if err != nil {
		return "", nil, fmt.Errorf("alert script result: %w", err)
	}
	d, _ := v.(*pyDict)
	stateV := dictGet(d, "state")
	state, ok := stateV.(string)
	if !ok {
		return "", nil, fmt.Errorf("'%s' object has no attribute 'lower'", pyTypeName(stateV))
	}
	texts, _ := dictGet(d, "args").([]any)
	if state == StateCritical {
		r.m.log.WithField("alert", r.name()).Errorf("[Alert][%s] Failed with result %s: %s", r.name(), state, pyRepr(texts))
	}
	return state, texts, nil
}

// rawPy marshals a Python value with appendPyJSON (keeps dict order and
// numbers as Python would see them).
type rawPy struct{ v any }

func (r rawPy) MarshalJSON() ([]byte, error) {
	b := appendPyJSON(nil, r.v)
	if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Infinity") {
		// encoding/json rejects those tokens; a string keeps the value visible.
		return appendPyJSON(nil, pyStr(r.v)), nil
	}
	return b, nil
}
