// Package pyhelper runs the agent's one resident Python process.
//
// The Python agent executes alert scripts, metric expressions and the stack
// library's Kerberos HTTP helper inside its own interpreter. A Go agent
// cannot, so it keeps one long-lived python3 process (started lazily on the
// first call, restarted on the first call after it died) that does that work
// on request. The Python source is embedded (helper.py) and written to a
// private directory at start.
//
// # Concurrency: a forking runner
//
// The helper's main loop never runs request code. For every request it
// forks a child, which runs the request and writes its answer to a pipe; the
// parent relays answers, enforces per-request timeouts by killing the
// child's process group, and relays cancellations. So:
//
//   - a hung or crashing script only costs its own child; other requests
//     keep running in their own children;
//   - modules imported once in the parent (resource_management, the
//     Kerberos helper, aggregate functions) are shared copy-on-write by
//     every child instead of being imported per run;
//   - module-level state a request changes (Script.config, an installed
//     urllib opener, a patched TLS context) never leaks into the next one;
//   - the same mechanism can later run stack status checks.
//
// The alternative, running requests one at a time in the parent with a
// timeout, would let one slow script delay every other alert and would
// need a whole-process restart (and re-import) after each timeout.
//
// Stdin and stdout of the helper carry only the protocol: at start the
// helper moves them to private descriptors, points fd 0 at /dev/null and fd
// 1 at stderr, so nothing a script prints or spawns can corrupt or read the
// protocol. Stderr is the helper's log (Python logging, "LEVEL name -
// message"), copied into the agent's log.
//
// If the helper itself stops answering (no reply within a call's timeout
// plus Config.Grace), or its pipes break, it is killed; the calls in flight
// fail with KindCrashed or KindTimeout and the next call starts a new one.
// Children die with their parent (PR_SET_PDEATHSIG). There is never more
// than one helper per Helper value, and the agent creates one Helper.
//
// # Protocol
//
// UTF-8 JSON, one object per line. Requests (agent to helper):
//
//	{"id": 7, "op": "script_alert", "timeout": 60, "args": {...}}
//
// id is a positive integer chosen by the agent; timeout is in seconds (0: no
// limit), counted from when the helper reads the request. Replies (helper
// to agent), exactly one per request except for "cancel":
//
//	{"id": 7, "ok": true, "result": "<JSON text>"}
//	{"id": 7, "ok": false, "kind": "exception", "type": "KeyError", "error": "'x'", "traceback": "..."}
//
// result is JSON text inside a string because results are Python values
// and may hold NaN or Infinity, which only Python's JSON dialect allows
// (likewise request args may use that dialect). kind is one of exception,
// timeout, canceled, crashed (the child ended without an answer),
// unavailable (a needed library is not importable) or bad_request. When it
// starts, before any request, the helper sends a ready message with id 0
// whose result is {"pid", "python", "resource_management", ...}.
//
// Operations:
//
//	ping          {} -> the ready message's status object (answered by the parent).
//	cancel        {"target": id} -> no reply of its own; request id is
//	              answered with kind "canceled" and its child killed.
//	script_alert  {"path", "name", "configurations", "parameters",
//	              "host_name", "tmp_dir", "no_proxy", "https_protocol",
//	              "ca_cert_path"} -> {"state", "args"}. Loads the module at
//	              path under name (the script's directory first on
//	              sys.path), calls get_tokens() if present and resolves each
//	              token against configurations (the cluster's command-style
//	              dictionary) into the configurations argument, sets
//	              resource_management's Script.config to that dictionary
//	              when importable, and calls execute(configurations,
//	              parameters, host_name), inside
//	              Environment(basedir=<path up to ...services...package>,
//	              tmp_dir=tmp_dir) when the path has that shape.
//	              no_proxy makes urllib ignore proxy variables;
//	              https_protocol/ca_cert_path set the default TLS context
//	              as the Python agent does.
//	eval          {"expression", "values"} -> value. A METRIC value
//	              expression: {N} is values[N], true division.
//	ams           {"value", "compute", "minimum_value", "metrics"} -> value.
//	              The AMS per-timestamp expression over the metric dicts,
//	              the minimum filter and the aggregate function.
//	aggregate     {"function", "values"} -> value (mean,
//	              sample_standard_deviation,
//	              sample_standard_deviation_percentage, count).
//	curl_krb      {"tmp_dir", "keytab", "principal", "url",
//	              "cache_file_prefix", "krb_exec_search_paths",
//	              "return_only_http_code", "caller_label", "user",
//	              "connection_timeout", "kinit_timer_ms", "ca_certs"} ->
//	              {"out", "error", "seconds"}: the stack library's
//	              curl_krb_request (SPNEGO via kinit + curl). Kind
//	              "unavailable" when that library is not installed. kinit
//	              is serialised across children with a file lock and the
//	              library's last-kinit times are kept in the parent.
//
// Environment: the helper inherits the agent's environment with the
// configured library directories (default /usr/lib/ambari-agent/lib) put in
// front of PYTHONPATH.
package pyrunner
