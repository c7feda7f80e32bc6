package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/pyrunner"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// kerberosParams are the resolved settings of an SPNEGO request.
type kerberosParams struct {
	principal, keytab string
	searchPaths       any
	smokeuser         any
}

// kerberosFor returns the SPNEGO settings when the URI names a principal and
// a keytab that resolve and cluster-env/security_enabled is true; nil means
// a plain request.
func (r *run) kerberosFor(u *uriSpec) (*kerberosParams, error) {
	if u.kerberosPrincipal == nil || u.kerberosKeytab == nil {
		return nil, nil
	}
	principal, okP, err := r.cfg.resolveString(u.kerberosPrincipal)
	if err != nil {
		return nil, err
	}
	keytab, okK, err := r.cfg.resolveString(u.kerberosKeytab)
	if err != nil {
		return nil, err
	}
	if !okP || !okK {
		return nil, nil
	}
	sec, ok, err := r.cfg.resolve("{{cluster-env/security_enabled}}")
	if err != nil {
		return nil, err
	}
	if !ok || !strings.EqualFold(pyvalue.Str(pyvalue.From(sec)), "true") {
		return nil, nil
	}
	kp := &kerberosParams{principal: strings.ReplaceAll(principal, "_HOST", r.host()), keytab: keytab}
	if v, ok, _ := r.cfg.resolve("{{kerberos-env/executable_search_paths}}"); ok {
		kp.searchPaths = pyvalue.From(v)
	}
	if v, ok, _ := r.cfg.resolve("{{cluster-env/smokeuser}}"); ok {
		kp.smokeuser = pyvalue.From(v)
	}
	return kp, nil
}

// errKerberosUnavailable wraps the reason an SPNEGO request cannot be made.
var errKerberosUnavailable = errors.New("kerberos unavailable")

// kinitMargin is added to curl's own time limit for the helper call: kinit
// talks to the KDC first.
const kinitMargin = 60 * time.Second

type curlResult struct {
	Out     any
	Error   any
	Seconds float64
}

// curlKrb makes the request through the stack library's curl_krb_request
// in the Python helper, as the Python agent does. When that library is not
// installed the error wraps errKerberosUnavailable: without it there is no
// way to get a ticket the way the stack expects, and the check reports
// UNKNOWN with that reason instead of a misleading HTTP 401.
func (r *run) curlKrb(ctx context.Context, kp *kerberosParams, url, prefix string, onlyCode bool, connTimeout float64) (curlResult, error) {
	if r.m.python == nil {
		return curlResult{}, fmt.Errorf("%w: no Python helper", errKerberosUnavailable)
	}
	ct := int(connTimeout)
	args := map[string]any{
		"tmp_dir": r.m.cfg.AgentTmpDir, "keytab": kp.keytab, "principal": kp.principal, "url": url,
		"cache_file_prefix": prefix, "krb_exec_search_paths": kp.searchPaths,
		"return_only_http_code": onlyCode, "caller_label": r.name(), "user": kp.smokeuser,
		"connection_timeout": ct, "kinit_timer_ms": r.m.cfg.KinitTimeout.Milliseconds(),
		"ca_certs": r.m.cfg.CACertPath,
	}
	timeout := time.Duration(ct+2)*time.Second + kinitMargin
	out, err := r.m.python.Call(ctx, "curl_krb", args, timeout)
	if err != nil {
		var he *pyrunner.Error
		if errors.As(err, &he) && (he.Kind == pyrunner.KindUnavailable || he.Kind == pyrunner.KindStart) {
			return curlResult{}, fmt.Errorf("%w: the Kerberos (SPNEGO) request needs the stack library's "+
				"curl_krb_request in the Python helper: %s", errKerberosUnavailable, he.Message)
		}
		return curlResult{}, helperError(err, "the Kerberos curl request")
	}
	v, err := pyvalue.ParseJSON(out)
	if err != nil {
		return curlResult{}, fmt.Errorf("curl_krb_request result: %w", err)
	}
	d, _ := v.(*pyvalue.Dict)
	res := curlResult{Out: dictGet(d, "out"), Error: dictGet(d, "error")}
	res.Seconds, _ = pyvalue.Number(dictGet(d, "seconds"))
	return res, nil
}
