package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// Alert states. SKIPPED only comes from scripts; the server decides what it
// means.
const (
	StateOK       = "OK"
	StateWarning  = "WARNING"
	StateCritical = "CRITICAL"
	StateUnknown  = "UNKNOWN"
	StateSkipped  = "SKIPPED"
)

// Result is one alert result as /reports/alerts_status carries it.
type Result struct {
	Name         string `json:"name"`
	ClusterID    string `json:"clusterId"`
	Timestamp    int64  `json:"timestamp"`
	DefinitionID int64  `json:"definitionId"`
	State        string `json:"state"`
	Text         string `json:"text"`

	// uuid ties the result to its scheduled job, so unscheduling a
	// definition drops its unsent result.
	uuid string
}

// clusterInfo is the cluster part of a definition's context.
type clusterInfo struct {
	id, name, host, publicHost string
}

// alert is a definition compiled for execution.
type alert struct {
	def     Definition
	cluster clusterInfo
	source  *pyvalue.Dict
	// texts are source.reporting.<state>.text by lower-case state.
	texts map[string]string
	check checker
}

// checker is one alert type.
type checker interface {
	// collect runs the check and returns the state and the text arguments.
	// An error is what an exception is in the Python agent: the result
	// becomes UNKNOWN with the error text.
	collect(ctx context.Context, r *run) (state string, args []any, err error)
	// defaultText is the type's text for a state the definition has none for.
	defaultText(state string) string
}

// run is one execution of one alert.
type run struct {
	m   *Manager
	a   *alert
	cfg configLookup
}

func (r *run) host() string { return r.a.cluster.host }

func (r *run) publicHost() string {
	if r.a.cluster.publicHost != "" {
		return r.a.cluster.publicHost
	}
	return r.a.cluster.host
}

func (r *run) name() string { return r.a.def.Name }

// errUnsupportedType marks source types the agent leaves to the server.
var errUnsupportedType = errors.New("evaluated by the server")

// compileAlert turns a definition into an executable alert.
func (m *Manager) compileAlert(c clusterInfo, d Definition) (*alert, error) {
	v, err := pyvalue.ParseJSON(d.Source)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	src, ok := v.(*pyvalue.Dict)
	if !ok {
		return nil, fmt.Errorf("source is not an object")
	}
	a := &alert{def: d, cluster: c, source: src, texts: map[string]string{}}
	if rep, ok := dictGet(src, "reporting").(*pyvalue.Dict); ok {
		for _, state := range rep.Keys() {
			if e, ok := dictGet(rep, state).(*pyvalue.Dict); ok {
				if t, ok := dictGet(e, "text").(string); ok {
					a.texts[state] = t
				}
			}
		}
	}
	typ, _ := dictGet(src, "type").(string)
	switch typ {
	case "PORT":
		a.check, err = newPortCheck(src)
	case "WEB":
		a.check, err = newWebCheck(src)
	case "METRIC":
		a.check, err = newMetricCheck(src)
	case "AMS":
		a.check, err = newAMSCheck(src)
	case "SCRIPT":
		a.check, err = newScriptCheck(src)
		// Script results are rendered texts: every reporting text is {0}.
		for _, s := range []string{"ok", "warning", "critical", "unknown"} {
			a.texts[s] = "{0}"
		}
	case "RECOVERY":
		a.check, err = newRecoveryCheck(src, d)
	default:
		return nil, errUnsupportedType
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func dictGet(d *pyvalue.Dict, k string) any {
	if d == nil {
		return nil
	}
	v, _ := d.Get(k)
	return v
}

// evaluate runs one alert and renders its result (docs/behaviour.md §9.2).
func (m *Manager) evaluate(ctx context.Context, a *alert) (res Result) {
	r := &run{m: m, a: a}
	r.cfg.fetch = func() (map[string]any, error) {
		if m.cfg.Configurations == nil {
			return nil, fmt.Errorf("no configuration for cluster %s", a.cluster.id)
		}
		return m.cfg.Configurations.ClusterConfiguration(a.cluster.id)
	}
	state, args, err := m.safeCollect(ctx, r)
	var template string
	if err != nil {
		m.log.WithField("alert", a.def.Name).Warnf("[Alert][%s] Unable to execute alert. %v", a.def.Name, err)
		state, args, template = StateUnknown, []any{err.Error()}, "{0}"
	} else if t, ok := a.texts[strings.ToLower(state)]; ok {
		template = t
	} else {
		template = a.check.defaultText(state)
	}
	state, text := renderText(state, template, args)
	if m.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		m.log.WithField("alert", a.def.Name).Debugf("[Alert][%s] result = %s: %s", a.def.Name, state, text)
	}
	return Result{
		Name:         a.def.Name,
		ClusterID:    a.cluster.id,
		Timestamp:    m.cfg.Now().UnixMilli(),
		DefinitionID: a.def.DefinitionID,
		State:        state,
		Text:         text,
		uuid:         a.def.UUID,
	}
}

// safeCollect turns a panic in a check into an error.
func (m *Manager) safeCollect(ctx context.Context, r *run) (state string, args []any, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.log.WithField("alert", r.a.def.Name).Errorf("alert check panicked: %v", p)
			state, args, err = "", nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return r.a.check.collect(ctx, r)
}

// problemPrefix starts the text of a result whose template cannot be
// rendered.
const problemPrefix = "There is a problem with the alert definition: "

// renderText formats the template like BaseAlert.collect: Python str.format;
// on a ValueError every "d}" becomes "s}" and the arguments are stringified
// for a second try; any remaining error makes the result UNKNOWN. NULs are
// removed.
func renderText(state, template string, args []any) (string, string) {
	text, err := pyvalue.Format(template, args)
	if err != nil && pyvalue.IsValueError(err) {
		strs := make([]any, len(args))
		for i, a := range args {
			strs[i] = pyvalue.Str(a)
		}
		text, err = pyvalue.Format(strings.ReplaceAll(template, "d}", "s}"), strs)
	}
	if err != nil {
		state, text = StateUnknown, problemPrefix+err.Error()
	}
	return state, strings.ReplaceAll(text, "\x00", "")
}

// helperError turns a Python helper failure into the error an alert
// reports: a Python exception reads as str(exception), like in the Python
// agent; everything else says what happened to the helper.
func helperError(err error, what string) error {
	var he *pyrunner.Error
	if !errors.As(err, &he) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch he.Kind {
	case pyrunner.KindException:
		return errors.New(he.Message)
	case pyrunner.KindTimeout:
		return fmt.Errorf("%s did not finish in time and was stopped (%s)", what, he.Message)
	case pyrunner.KindCanceled:
		return fmt.Errorf("%s was canceled", what)
	case pyrunner.KindCrashed:
		return fmt.Errorf("%s ended without a result (%s)", what, he.Message)
	default:
		return fmt.Errorf("%s: %s", what, he.Message)
	}
}
