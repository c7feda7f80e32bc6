package alerts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// kinitTimerParameter is the script parameter carrying alert_kinit_timeout.
const kinitTimerParameter = "kerberos.kinit.timer"

// scriptCheck is a SCRIPT alert: a Python module's execute() run by the
// helper with the Python agent's calling convention.
type scriptCheck struct {
	path       any // source.path
	parameters *pyvalue.Dict
}

func newScriptCheck(src *pyvalue.Dict) (*scriptCheck, error) {
	c := &scriptCheck{path: dictGet(src, "path"), parameters: pyvalue.NewDict()}
	if params, ok := dictGet(src, "parameters").([]any); ok {
		for _, p := range params {
			pd, ok := p.(*pyvalue.Dict)
			if !ok {
				continue
			}
			name, okN := pd.Get("name")
			value, okV := pd.Get("value")
			if !okN || !okV {
				continue
			}
			c.parameters.Set(pyvalue.Str(name), value)
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
	params := pyvalue.NewDict()
	for _, k := range c.parameters.Keys() {
		v, _ := c.parameters.Get(k)
		params.Set(k, v)
	}
	params.Set(kinitTimerParameter, r.m.cfg.KinitTimeout.Milliseconds())
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
	v, err := pyvalue.ParseJSON(out)
	if err != nil {
		return "", nil, fmt.Errorf("alert script result: %w", err)
	}
	d, _ := v.(*pyvalue.Dict)
	stateV := dictGet(d, "state")
	state, ok := stateV.(string)
	if !ok {
		return "", nil, fmt.Errorf("'%s' object has no attribute 'lower'", pyvalue.TypeName(stateV))
	}
	texts, _ := dictGet(d, "args").([]any)
	if state == StateCritical {
		r.m.log.WithField("alert", r.name()).Errorf("[Alert][%s] Failed with result %s: %s", r.name(), state, pyvalue.Repr(texts))
	}
	return state, texts, nil
}

// rawPy marshals a Python value with pyvalue.AppendJSON (keeps dict order and
// numbers as Python would see them).
type rawPy struct{ v any }

func (r rawPy) MarshalJSON() ([]byte, error) {
	b := pyvalue.AppendJSON(nil, r.v)
	if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Infinity") {
		// encoding/json rejects those tokens; a string keeps the value visible.
		return pyvalue.AppendJSON(nil, pyvalue.Str(r.v)), nil
	}
	return b, nil
}
