# Resident Python helper of the Go ambari-agent.
#
# The Go daemon cannot import Python, yet alert scripts, metric expressions
# and the stack library's Kerberos HTTP helper are Python. This process stays
# resident and forks one child per request, so a request that hangs or
# crashes only costs its own child, and modules imported once here (the stack
# library, resource_management) are shared by every child copy-on-write.
#
# Protocol (documented in doc.go): one JSON object per line.
#   request  {"id": N, "op": "...", "timeout": seconds, "args": {...}}
#   reply    {"id": N, "ok": true, "result": "<JSON text>"}
#            {"id": N, "ok": false, "kind": "...", "type": "...", "error": "...", "traceback": "..."}
# "result" is JSON text inside a string because results may hold NaN and
# Infinity, which only Python's JSON dialect allows.
# Reply id 0 is sent once at start: the ready message.

import errno
import json
import logging
import os
import re
import selectors
import signal
import sys
import time
import traceback

LOG = logging.getLogger("ambari_agent.pyhelper")

MAX_CHILDREN = 64
MAX_RESULT_BYTES = 16 << 20
MAX_LINE_BYTES = 256 << 20

# What is importable is decided once, in the parent, so children inherit the
# modules instead of importing them on every run.
STACK = {}


def preimport():
    # Modules every child needs are imported once here; a child importing
    # them itself would pay for it on every request.
    import importlib.util  # noqa: F401
    import ssl  # noqa: F401
    import urllib.request  # noqa: F401
    try:
        import ctypes
        STACK["libc"] = ctypes.CDLL(None, use_errno=True)
    except Exception:
        pass
    try:
        from resource_management.libraries.script.script import Script
        from resource_management.core.environment import Environment
        STACK["Script"] = Script
        STACK["Environment"] = Environment
    except Exception as e:  # the stack library is optional
        STACK["resource_management_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        from resource_management.libraries.functions import curl_krb_request as crk
        STACK["curl_krb_request"] = crk
    except Exception as e:
        STACK["curl_krb_request_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        from ambari_commons import aggregate_functions
        STACK["aggregate_functions"] = aggregate_functions
    except Exception:
        pass


class Unavailable(Exception):
    """A request needs a library that cannot be imported."""


# ---------------------------------------------------------------- requests

CONFIG_KEY_RE = re.compile(r"{{(\S+?)}}")
REALCODE_RE = re.compile(r"(\{(\d+)\})")
SCRIPT_BASEDIR_RE = re.compile(r"((.*)services(.*)package)")


def config_path_value(configurations, key):
    if not key.startswith("/"):
        key = "/configurations/" + key
    cur = configurations
    try:
        for part in [p for p in key.split("/") if p]:
            cur = cur[part]
    except (KeyError, TypeError, IndexError):
        return None
    return cur


def resolve_token(configurations, key):
    """The alert framework's {{type/key}} substitution."""
    if key is None:
        return None
    placeholders = CONFIG_KEY_RE.findall(key)
    if not placeholders:
        return key
    resolved = key
    for placeholder in placeholders:
        value = config_path_value(configurations, placeholder)
        if value is None:
            return None
        if isinstance(value, dict):
            return value
        resolved = resolved.replace("{{%s}}" % placeholder, value)
    return resolved


def apply_network(args):
    """Proxy and TLS defaults the Python agent gives in-process alert code."""
    if args.get("no_proxy"):
        import urllib.request
        urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
    protocol = args.get("https_protocol") or "PROTOCOL_TLSv1_2"
    ca_certs = args.get("ca_cert_path") or None
    import ssl
    proto = getattr(ssl, protocol, None)
    if proto is None:
        return

    def default_context(*_a, **_kw):
        context = ssl.SSLContext(proto)
        if ca_certs:
            context.load_verify_locations(ca_certs)
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = False
        return context

    ssl._create_default_https_context = default_context


def load_module(name, path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def op_script_alert(args):
    apply_network(args)
    path = args["path"]
    script_dir = os.path.dirname(path)
    if script_dir not in sys.path:
        sys.path.insert(0, script_dir)
    module = load_module(args.get("name") or "alert_script", path)
    full = args.get("configurations") or {}
    configurations = {}
    try:
        tokens = module.get_tokens()
        if tokens is not None:
            for token in tokens:
                value = resolve_token(full, token)
                if value is not None:
                    configurations[token] = value
    except AttributeError:
        # A script without get_tokens() gets no tokens (same rule as the
        # Python agent, which also swallows AttributeErrors raised inside it).
        pass
    script = STACK.get("Script")
    if script is not None:
        script.config = full
    parameters = args.get("parameters") or {}
    host_name = args.get("host_name")
    match = SCRIPT_BASEDIR_RE.match(path)
    environment = STACK.get("Environment")
    if match and environment is not None:
        with environment(match.group(1), tmp_dir=args.get("tmp_dir"), logger=logging.getLogger("alerts")):
            result = module.execute(configurations, parameters, host_name)
    else:
        result = module.execute(configurations, parameters, host_name)
    return {"state": result[0], "args": list(result[1])}


# The expression is spliced in with str.replace: it may contain "%" or
# braces of its own.
CODE = "@CODE@"

VALUE_TEMPLATE = """
from __future__ import division

def f(args):
  return @CODE@
"""

AMS_VALUE_TEMPLATE = """
from __future__ import division

def f(args):
  l = []
  for k in args[0]:
    try:
      data_point = @CODE@
      l.append(data_point)
    except:
      continue
  return l
"""

AMS_COMPUTE_TEMPLATE = """
from __future__ import division

def f(args):
  func = @CODE@
  return func(args)
"""


def compile_function(template, code, extra=None):
    namespace = {"__name__": "ambari_alert_expression"}
    if extra:
        namespace.update(extra)
    exec(template.replace(CODE, code), namespace)
    return namespace["f"]


def op_eval(args):
    """METRIC source.jmx.value: {N} is the N-th collected value."""
    code = REALCODE_RE.sub(r"args[\g<2>]", args["expression"])
    return compile_function(VALUE_TEMPLATE, code)(args.get("values") or [])


def _mean(lst):
    if len(lst) < 1:
        return 0
    return sum(lst) / len(lst)


def _sample_standard_deviation(lst):
    if len(lst) < 2:
        return 0
    m = _mean(lst)
    return (sum((x - m) ** 2 for x in lst) / (len(lst) - 1)) ** 0.5


def _sample_standard_deviation_percentage(lst):
    try:
        return _sample_standard_deviation(lst) / _mean(lst) * 100
    except ZeroDivisionError:
        return 0


def aggregate_functions():
    lib = STACK.get("aggregate_functions")
    if lib is not None:
        return {n: getattr(lib, n) for n in
                ("mean", "sample_standard_deviation", "sample_standard_deviation_percentage", "count")}
    return {"mean": _mean, "sample_standard_deviation": _sample_standard_deviation,
            "sample_standard_deviation_percentage": _sample_standard_deviation_percentage, "count": len}


def op_ams(args):
    """AMS: per-timestamp value expression, minimum filter, aggregate."""
    metrics = args.get("metrics") or []
    data_points = None
    if args.get("value") is not None:
        code = REALCODE_RE.sub(r"args[\g<2>][k]", args["value"])
        data_points = compile_function(AMS_VALUE_TEMPLATE, code)(metrics)
        minimum = args.get("minimum_value")
        if minimum:
            data_points = [p for p in data_points if p > minimum]
    result = None
    if args.get("compute") is not None:
        result = compile_function(AMS_COMPUTE_TEMPLATE, args["compute"], aggregate_functions())(data_points)
    return result


def op_aggregate(args):
    funcs = aggregate_functions()
    name = args.get("function")
    if name not in funcs:
        raise ValueError("unknown aggregate function %r" % (name,))
    return funcs[name](args.get("values") or [])


class FileLock(object):
    """Serialises kinit across the forked children (the library's own lock
    is a thread lock, which does not cross processes)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def acquire(self, *a, **kw):
        import fcntl
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return True

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def op_curl_krb(args):
    crk = STACK.get("curl_krb_request")
    if crk is None:
        raise Unavailable("resource_management.libraries.functions.curl_krb_request is not importable: %s"
                          % STACK.get("curl_krb_request_error", "unknown error"))
    tmp_dir = args.get("tmp_dir") or "/var/lib/ambari-agent/tmp"
    lock = FileLock(os.path.join(tmp_dir, "curl_krb_cache", ".kinit.lock"))
    try:
        from resource_management.core import global_lock
        global_lock.get_lock = lambda lock_type: lock
        crk.global_lock = global_lock
    except Exception:
        pass
    out, error_msg, elapsed = crk.curl_krb_request(
        tmp_dir, args["keytab"], args["principal"], args["url"], args["cache_file_prefix"],
        args.get("krb_exec_search_paths"), bool(args.get("return_only_http_code")),
        args.get("caller_label") or "", args.get("user"),
        connection_timeout=args.get("connection_timeout") or 10,
        ca_certs=args.get("ca_certs") or "",
        kinit_timer_ms=args.get("kinit_timer_ms") or 14400000)
    # The library remembers when it last ran kinit per credential cache; the
    # parent keeps that memory for the next child.
    return {"out": out, "error": error_msg, "seconds": elapsed,
            "_kinit_times": dict(getattr(crk, "_KINIT_CACHE_TIMES", {}))}


OPS = {
    "script_alert": op_script_alert,
    "eval": op_eval,
    "ams": op_ams,
    "aggregate": op_aggregate,
    "curl_krb": op_curl_krb,
}


# ---------------------------------------------------------------- plumbing

def dumps(obj):
    return json.dumps(obj, default=str, allow_nan=True)


def failure(rid, kind, exc=None, message=None, tb=None):
    reply = {"id": rid, "ok": False, "kind": kind}
    if exc is not None:
        reply["type"] = type(exc).__name__
        reply["error"] = str(exc)
    if message is not None:
        reply["error"] = message
    if tb:
        reply["traceback"] = tb
    return reply


def set_parent_death_signal():
    libc = STACK.get("libc")
    if libc is None:
        return
    try:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_child(request, write_fd, parent_pid):
    """Runs in the forked child; never returns."""
    code = 0
    try:
        os.setpgid(0, 0)
        set_parent_death_signal()
        if os.getppid() != parent_pid:
            os._exit(1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        op = OPS[request["op"]]
        try:
            result = op(request.get("args") or {})
            reply = {"ok": True, "result": result}
        except Unavailable as e:
            reply = failure(None, "unavailable", e)
        except BaseException as e:  # scripts may even call sys.exit()
            reply = failure(None, "exception", e, tb=traceback.format_exc())
        try:
            data = dumps(reply).encode("utf-8")
        except Exception as e:
            data = dumps(failure(None, "exception", e, tb=traceback.format_exc())).encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(write_fd, view)
            view = view[n:]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


class Child(object):
    __slots__ = ("rid", "op", "pid", "fd", "buf", "deadline", "timeout", "done")

    def __init__(self, rid, op, pid, fd, deadline, timeout):
        self.rid, self.op, self.pid, self.fd = rid, op, pid, fd
        self.deadline, self.timeout = deadline, timeout
        self.buf = bytearray()
        self.done = False


class Helper(object):
    def __init__(self, proto_in, proto_out):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.sel = selectors.DefaultSelector()
        self.sel.register(proto_in, selectors.EVENT_READ, None)
        self.children = {}   # request id -> Child
        self.queue = []      # (request, deadline) waiting for a child slot
        self.inbuf = bytearray()
        self.pid = os.getpid()

    def send(self, reply):
        data = (dumps(reply) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(self.proto_out, view)
            view = view[n:]

    def reply_result(self, rid, op, raw):
        try:
            reply = json.loads(raw.decode("utf-8"))
        except Exception:
            self.send(failure(rid, "crashed", message="the %s process ended without a result" % op))
            return
        if reply.get("ok"):
            result = reply.get("result")
            if op == "curl_krb" and isinstance(result, dict):
                times = result.pop("_kinit_times", None)
                crk = STACK.get("curl_krb_request")
                if times and crk is not None:
                    crk._KINIT_CACHE_TIMES.update(times)
            self.send({"id": rid, "ok": True, "result": dumps(result)})
            return
        reply["id"] = rid
        self.send(reply)

    def handle_line(self, line):
        try:
            request = json.loads(line.decode("utf-8"))
            rid = request["id"]
            op = request["op"]
        except Exception as e:
            LOG.error("malformed request: %s", e)
            return
        if op == "ping":
            self.send({"id": rid, "ok": True, "result": dumps(self.status())})
            return
        if op == "cancel":
            target = (request.get("args") or {}).get("target")
            self.cancel(target, "canceled", "canceled by the agent")
            return
        if op not in OPS:
            self.send(failure(rid, "bad_request", message="unknown op %r" % (op,)))
            return
        timeout = request.get("timeout") or 0
        deadline = time.monotonic() + timeout if timeout > 0 else None
        if len(self.children) >= MAX_CHILDREN:
            self.queue.append((request, deadline))
            return
        self.start(request, deadline)

    def status(self):
        return {
            "pid": self.pid,
            "python": sys.version.split()[0],
            "resource_management": "Script" in STACK,
            "resource_management_error": STACK.get("resource_management_error"),
            "curl_krb_request": "curl_krb_request" in STACK,
            "children": len(self.children),
        }

    def start(self, request, deadline):
        rid, op = request["id"], request["op"]
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            self.send(failure(rid, "crashed", e))
            return
        if pid == 0:
            os.close(r)
            os.close(self.proto_in)
            os.close(self.proto_out)
            run_child(request, w, self.pid)
        os.close(w)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        child = Child(rid, op, pid, r, deadline, request.get("timeout") or 0)
        self.children[rid] = child
        self.sel.register(r, selectors.EVENT_READ, child)

    def finish(self, child):
        if child.done:
            return
        child.done = True
        try:
            self.sel.unregister(child.fd)
        except (KeyError, ValueError):
            pass
        os.close(child.fd)
        self.children.pop(child.rid, None)

    def kill(self, child):
        for target in (-child.pid, child.pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass

    def cancel(self, rid, kind, message):
        child = self.children.get(rid)
        if child is not None:
            self.kill(child)
            self.finish(child)
            self.send(failure(rid, kind, message=message))
            return
        for i, (request, _) in enumerate(self.queue):
            if request["id"] == rid:
                del self.queue[i]
                self.send(failure(rid, kind, message=message))
                return

    def reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def expire(self, now):
        for child in list(self.children.values()):
            if child.deadline is not None and now >= child.deadline:
                self.cancel(child.rid, "timeout", "timed out after %g seconds" % child.timeout)
        keep = []
        for request, deadline in self.queue:
            if deadline is not None and now >= deadline:
                self.send(failure(request["id"], "timeout", message="timed out waiting for a free slot"))
            else:
                keep.append((request, deadline))
        self.queue = keep
        while self.queue and len(self.children) < MAX_CHILDREN:
            request, deadline = self.queue.pop(0)
            self.start(request, deadline)

    def next_timeout(self):
        deadlines = [c.deadline for c in self.children.values() if c.deadline is not None]
        deadlines += [d for _, d in self.queue if d is not None]
        timeout = 1.0  # also the reaping period
        if deadlines:
            timeout = min(timeout, max(0.0, min(deadlines) - time.monotonic()))
        return timeout

    def run(self):
        self.send({"id": 0, "ok": True, "result": dumps(self.status())})
        while True:
            for key, _ in self.sel.select(self.next_timeout()):
                if key.data is None:
                    try:
                        data = os.read(self.proto_in, 1 << 16)
                    except InterruptedError:
                        continue
                    if not data:
                        return
                    self.inbuf += data
                    if len(self.inbuf) > MAX_LINE_BYTES:
                        LOG.error("request line too long; dropping input")
                        self.inbuf.clear()
                    while True:
                        i = self.inbuf.find(b"\n")
                        if i < 0:
                            break
                        line = bytes(self.inbuf[:i])
                        del self.inbuf[:i + 1]
                        if line.strip():
                            self.handle_line(line)
                    continue
                child = key.data
                if child.done:
                    continue
                try:
                    data = os.read(child.fd, 1 << 16)
                except InterruptedError:
                    continue
                if data:
                    child.buf += data
                    if len(child.buf) > MAX_RESULT_BYTES:
                        self.kill(child)
                        self.finish(child)
                        self.send(failure(child.rid, "exception", message="result larger than %d bytes" % MAX_RESULT_BYTES))
                    continue
                self.finish(child)
                self.reply_result(child.rid, child.op, bytes(child.buf))
            self.reap()
            self.expire(time.monotonic())

    def shutdown(self):
        for child in list(self.children.values()):
            self.kill(child)
        self.reap()


def main():
    level = logging.INFO
    if "--debug" in sys.argv[1:]:
        level = logging.DEBUG
    # Keep the protocol pipes away from fds 0 and 1: whatever a script
    # prints, reads or passes to subprocesses must never reach them.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    logging.basicConfig(stream=sys.stderr, level=level, format="%(levelname)s %(name)s - %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    preimport()
    helper = Helper(proto_in, proto_out)
    try:
        helper.run()
    except BrokenPipeError:
        pass
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
    finally:
        helper.shutdown()


if __name__ == "__main__":
    main()
