// Package pyrunner runs the agent's one resident Python process: the
// runner.
//
// The Python agent executes alert scripts, metric expressions and the stack
// library's Kerberos HTTP helper inside its own interpreter, and starts
// python3 for every stack script (status checks, commands, hooks, custom
// actions). Almost all of a script's cost is that interpreter starting and
// importing the stack library. A Go agent keeps one long-lived python3
// that imports the library once ([python] preload_modules) and forks a
// child per request. The Python source is embedded (runner.py) and written
// to a private directory at start.
//
// # A forking runner
//
// The runner's main loop never runs request or script code and never calls
// into the modules it preloaded, so every child starts from modules in the
// state a fresh import leaves them (Script.config, logging handlers and
// levels, globals computed from os.environ: the runner is started with the
// scripts' environment, and replaced when that changes). It imports the
// preload modules before anything of its own, so a script's child can tell
// the runner's own modules apart and drop them from sys.modules. It is
// single-threaded, so forking is safe. So:
//
//   - a hung or crashing request only costs its own child;
//   - the preloaded modules are shared by every child copy-on-write
//     instead of being imported per run (gc.freeze keeps the collector from
//     dirtying their pages);
//   - nothing a request or script does (monkeypatching, chdir, sys.path,
//     signals to its own process group) reaches the runner or a later run.
//
// # Stack scripts
//
// Runner.Start sends the script's command line, environment, working
// directory and umask, with three descriptors (stdout, stderr, and one end
// of a socket pair only the agent holds the other end of), over a
// SOCK_SEQPACKET socket (the runner's fd 3). The runner forks the
// script's child with clone(CLONE_PARENT), so that the child is the
// agent's, not the runner's; the child writes "pid N" to the run's socket
// and the agent waits for it by pid like for a fresh interpreter. The
// child waits for the agent's go-ahead byte before it runs anything: if
// the agent gave up (no pid within Config.NoAnswer) it kills the runner,
// and a child that still reports its pid is told to exit (the socket is
// closed) and reaped; the agent runs a fresh interpreter instead, never
// both.
//
// The child then makes itself what `python3 SCRIPT ARGS...` started by the
// agent would be: its own process group in the agent's session, stdin on
// /dev/null, stdout and stderr on the output files, every other descriptor
// closed, the environment replaced wholesale (C environ and os.environ),
// cwd, umask, signal dispositions and mask as the runner's interpreter had
// them at start, sys.argv and sys.orig_argv, sys.path recomputed (the
// script's real directory first, then what the interpreter computed from
// PYTHONPATH and its prefix), the runner's own modules and the import
// caches dropped, the standard streams rebuilt as the interpreter builds
// them, a new __main__. The script's code runs at the runner's top level,
// after its stack has unwound; uncaught exceptions are printed without the
// runner's frame; SystemExit, an uncaught exception (1) and
// KeyboardInterrupt (death by SIGINT) end it as they end a fresh
// interpreter; on the way out its threads are waited for, atexit handlers
// run, open files and the standard streams are flushed (120 if stdout
// cannot be). Known differences: the hash seed is the runner's, the
// script's frame has the runner's module frame as f_back, /proc/PID/cmdline
// shows the runner's command line, and objects alive at exit are not
// finalised (Python does not promise that either).
//
// Why CLONE_PARENT: the script's exit status belongs to its parent. As
// the agent's own child it reaches the agent even when the runner dies or
// is replaced mid-run, the process tree is the one a fresh interpreter
// makes (daemons a command double-forks go to init, and the agent adopts
// nothing), and there is one fork per run. A child subreaper would have
// made the agent the parent of every such daemon, to be reaped without
// stealing the statuses os/exec waits for. Where the clone call is not
// known (an architecture outside runner.py's table) the runner runs no
// scripts and they start fresh.
//
// Every failure falls back: Start returns an error wrapping ErrUnavailable
// without starting anything when the runner is off, not running (it is
// started in the background, with backoff after failures), did not answer
// (it is killed), could not preload (an import raised), or is stale (a
// preloaded module's file or the interpreter changed on disk, checked at
// most once a second; or the scripts' environment changed) — it is then
// replaced in the background. The caller runs a fresh interpreter. The
// reason is logged once per outage.
//
// Stdin and stdout of the runner carry only the alert protocol: at start
// the runner moves them to private descriptors, points fd 0 at /dev/null
// and fd 1 at stderr, so nothing a request prints or spawns can corrupt or
// read the protocol. Stderr is the runner's log ("LEVEL name - message"),
// copied into the agent's log.
//
// If the runner stops answering alert calls (no reply within a call's
// timeout plus Config.Grace), or its pipes break, it is killed; the calls
// in flight fail with KindCrashed or KindTimeout and the next call starts a
// new one. Alert children die with it (PR_SET_PDEATHSIG); stack scripts do
// not. There is never more than one runner per Runner value (a replaced one
// lives on only until its alert calls are answered), and the agent creates
// one Runner, for alerts and scripts.
//
// # Protocol
//
// UTF-8 JSON, one object per line. Requests (agent to runner):
//
//	{"id": 7, "op": "script_alert", "timeout": 60, "args": {...}}
//
// id is a positive integer chosen by the agent; timeout is in seconds (0: no
// limit), counted from when the runner reads the request. Replies (runner
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
// starts, before any request, the runner sends a ready message with id 0
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
// Environment: Config.Environ (the agent passes its scripts' environment),
// else the agent's own with the configured library directories (default
// /usr/lib/ambari-agent/lib) put in front of PYTHONPATH.
package pyrunner
