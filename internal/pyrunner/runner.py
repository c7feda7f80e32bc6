# Resident Python runner of the Go ambari-agent.
#
# One warm interpreter per agent. It imports the stack library once (the
# modules named by --preload) and then only forks:
#
#   * for an alert request (script alerts, metric expressions, Kerberos HTTP)
#     a child runs the request and writes the answer to a pipe;
#   * for a stack script (status checks, commands, hooks, custom actions) it
#     forks the script's child as a child of the agent (CLONE_PARENT): the
#     child tells the agent its pid, and the agent waits for it as for any
#     child of its own. The child makes itself look like
#     `python3 SCRIPT ARGS...` started by the agent.
#
# The runner itself never runs request or script code and never calls into
# the preloaded modules, so every child starts from modules in the state a
# fresh import leaves them. See doc.go for the protocol.

# Nothing but sys may be imported before this line: BASE_MODULES is what a
# fresh interpreter holds when it starts a script.
import sys

BASE_MODULES = frozenset(sys.modules)

import os  # noqa: E402  (in BASE_MODULES)
import _signal  # noqa: E402  (in BASE_MODULES)

# What a fresh interpreter started like this one has, recorded before this
# process changes any of it.
INITIAL_PATH = list(sys.path)
INITIAL_SIGNALS = {}
for _sig in range(1, _signal.NSIG):
    try:
        INITIAL_SIGNALS[_sig] = _signal.getsignal(_sig)
    except (ValueError, OSError):
        pass
INITIAL_MASK = _signal.pthread_sigmask(_signal.SIG_BLOCK, [])
INITIAL_STDIO = [(s.encoding, s.errors) if s is not None else (None, None)
                 for s in (sys.__stdin__, sys.__stdout__, sys.__stderr__)]
# -u or PYTHONUNBUFFERED (not in sys.flags): the interpreter made stdout
# write through.
BUFFERED_STDIO = not getattr(sys.__stdout__, "write_through", False)
RUNNER_PID = os.getpid()
PROTOCOL_FDS = []


def log(level, message):
    # Not the logging module: it is preloaded for the scripts and must stay
    # as a fresh import leaves it.
    try:
        os.write(2, ("%s ambari_agent.pyrunner - %s\n" % (level, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def parse_args(argv):
    preload, debug = [], False
    i = 0
    while i < len(argv):
        if argv[i] == "--preload" and i + 1 < len(argv):
            preload = [m.strip() for m in argv[i + 1].split(",") if m.strip()]
            i += 1
        elif argv[i] == "--debug":
            debug = True
        i += 1
    return preload, debug


PRELOAD, DEBUG = parse_args(sys.argv[1:])
PRELOAD_MISSING = []
PRELOAD_ERROR = None


def preload():
    """Imports the preload modules. A missing one is skipped; any other
    failure disables stack scripts (they run in fresh interpreters)."""
    global PRELOAD_ERROR
    for name in PRELOAD:
        try:
            __import__(name)
        except ModuleNotFoundError as e:
            missing = getattr(e, "name", None) or ""
            if missing and (name == missing or name.startswith(missing + ".")):
                PRELOAD_MISSING.append(name)
                continue
            PRELOAD_ERROR = "import %s: %s: %s" % (name, type(e).__name__, e)
            return
        except BaseException as e:  # noqa: B902  (a library may even sys.exit)
            PRELOAD_ERROR = "import %s: %s: %s" % (name, type(e).__name__, e)
            return


preload()
PRELOADED = frozenset(sys.modules) - BASE_MODULES

# The runner's own imports come after the preload, so that what the preload
# imported is told apart from what only the runner uses: scripts' children
# drop the latter from sys.modules.
import ctypes  # noqa: E402
import errno  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

MAX_CHILDREN = 64
MAX_RESULT_BYTES = 16 << 20
MAX_LINE_BYTES = 256 << 20
EXEC_FD = 3  # the socket stack script requests arrive on, with their fds
MAX_SCRIPT_REQUEST = 256 << 10  # the agent sends nothing bigger

STACK = {}
# The Kerberos helper's last-kinit times, kept here rather than in the
# preloaded module, which must stay as imported.
KINIT_TIMES = {}


def stack_modules():
    mods = sys.modules
    script = mods.get("resource_management.libraries.script.script")
    env = mods.get("resource_management.core.environment")
    if script is not None and env is not None:
        STACK["Script"] = script.Script
        STACK["Environment"] = env.Environment
    else:
        STACK["resource_management_error"] = "not preloaded"
    crk = mods.get("resource_management.libraries.functions.curl_krb_request")
    if crk is not None:
        STACK["curl_krb_request"] = crk
    agg = mods.get("ambari_commons.aggregate_functions")
    if agg is not None:
        STACK["aggregate_functions"] = agg


def module_files():
    """[path, mtime_ns, size, ino] of every preloaded module's file, so the
    agent can replace the runner when a library changes on disk."""
    out = []
    for name in sorted(PRELOADED):
        f = getattr(sys.modules.get(name), "__file__", None)
        if not f:
            continue
        try:
            st = os.stat(f)
        except OSError:
            continue
        out.append([f, st.st_mtime_ns, st.st_size, st.st_ino])
    return out


class Unavailable(Exception):
    """A request needs a library that cannot be imported."""


# ---------------------------------------------------------------- requests

def stack_get(key):
    """A stack library object for an alert request: preloaded, else imported
    by the request's child itself (None when it is not installed)."""
    if key in STACK:
        return STACK[key]
    try:
        if key == "Script":
            from resource_management.libraries.script.script import Script as value
        elif key == "Environment":
            from resource_management.core.environment import Environment as value
        elif key == "curl_krb_request":
            from resource_management.libraries.functions import curl_krb_request as value
        elif key == "aggregate_functions":
            from ambari_commons import aggregate_functions as value
        else:
            return None
    except Exception as e:
        STACK[key + "_error"] = "%s: %s" % (type(e).__name__, e)
        return None
    STACK[key] = value
    return value


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
    script = stack_get("Script")
    if script is not None:
        script.config = full
    parameters = args.get("parameters") or {}
    host_name = args.get("host_name")
    match = SCRIPT_BASEDIR_RE.match(path)
    environment = stack_get("Environment")
    if match and environment is not None:
        import logging  # in the request's child: the runner never touches it
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
    lib = stack_get("aggregate_functions")
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
    crk = stack_get("curl_krb_request")
    if crk is None:
        raise Unavailable("resource_management.libraries.functions.curl_krb_request is not importable: %s"
                          % STACK.get("curl_krb_request_error", "unknown error"))
    tmp_dir = args.get("tmp_dir") or "/var/lib/ambari-agent/tmp"
    lock = FileLock(os.path.join(tmp_dir, "curl_krb_cache", ".kinit.lock"))
    cache_times = getattr(crk, "_KINIT_CACHE_TIMES", None)
    if isinstance(cache_times, dict):
        cache_times.update(KINIT_TIMES)
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
    # runner keeps that memory (outside the library) for the next child.
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


LIBC = []


def set_parent_death_signal():
    try:
        if not LIBC:
            import ctypes
            LIBC.append(ctypes.CDLL(None, use_errno=True))
        LIBC[0].prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# clone(2) numbers where its first argument is the flags (the others are
# all zero here, so their order does not matter).
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120, "ppc64": 120,
             "i686": 120, "i586": 120, "i386": 120}
CLONE_PARENT = 0x00008000
FORK_TO_AGENT = []
SCRIPTS_ERROR = None


def setup_fork_to_agent():
    """Prepares fork_to_agent(); without it the runner runs no stack
    scripts (the agent starts fresh interpreters)."""
    global SCRIPTS_ERROR
    try:
        number = SYS_CLONE[os.uname().machine]
        libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL stays held
        clone = libc.syscall
        clone.restype = ctypes.c_long
        clone.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 5
        api = ctypes.pythonapi
        FORK_TO_AGENT[:] = [number, clone, api.PyOS_BeforeFork, api.PyOS_AfterFork_Child,
                            api.PyOS_AfterFork_Parent]
    except Exception as e:
        SCRIPTS_ERROR = "cannot fork scripts as the agent's children on %s: %s: %s" % (
            os.uname().machine, type(e).__name__, e)


def fork_to_agent():
    """os.fork(), except that the child is the agent's (this process's
    parent's) child, not ours: clone(CLONE_PARENT). The agent then waits
    for it itself, so its exit status reaches the agent whatever becomes of
    the runner, and the process tree is the one a fresh interpreter makes.
    The runner is single-threaded, which makes the bare system call as safe
    as fork(); the interpreter's own fork hooks run around it as os.fork()
    runs them."""
    number, clone, before, after_child, after_parent = FORK_TO_AGENT
    before()
    pid = clone(number, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        after_child()
        return 0
    err = ctypes.get_errno()
    after_parent()
    if pid < 0:
        raise OSError(err, os.strerror(err))
    return pid


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def run_child(request, write_fd, parent_pid):
    """An alert request's child; never returns."""
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
        write_all(write_fd, data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


# ---------------------------------------------------------------- stack scripts

class RunScript(BaseException):
    """Raised in a script's child to leave the runner's stack: the script's
    module code then runs at the runner's top level (see the end of this
    file), so the interpreter's own exit handling applies to it."""

    def __init__(self, code, module):
        BaseException.__init__(self)
        self.code = code
        self.module = module


def close_fds_except(keep):
    keep = sorted(set(fd for fd in keep if fd >= 3))
    low = 3
    for fd in keep:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def make_stdio(fd, name, encoding, errors):
    """A standard stream built the way the interpreter builds it at start."""
    import io
    write = fd != 0
    buffered = BUFFERED_STDIO
    buffering = 0 if (write and not buffered) else -1
    buf = io.open(fd, "wb" if write else "rb", buffering, None, None, None, False)
    raw = buf.raw if buffering else buf
    raw.name = name
    line_buffering = buffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(buf, encoding, errors, "\n", line_buffering, not buffered)
    stream.mode = "w" if write else "r"
    return stream


def script_child(request, run_fd, out_fd, err_fd):
    """Turns this child (the agent's, see fork_to_agent) into
    `python3 SCRIPT ARGS...` as the agent would start it, then raises
    RunScript. Exits at once when the agent does not give the go-ahead (it
    fell back to a fresh interpreter)."""
    try:
        # A process group of its own before the agent learns the pid, so
        # that a tree kill finds it there.
        os.setpgid(0, 0)
        write_all(run_fd, b"pid %d\n" % os.getpid())
        # Nothing of the runner's (its protocol pipes, the request socket)
        # stays open here: the agent notices the runner's death by them.
        close_fds_except([run_fd, out_fd, err_fd])
        argv = request["argv"]
        script = argv[1]
        for sig in CHANGED_SIGNALS:
            try:
                signal.signal(sig, INITIAL_SIGNALS[sig])
            except (KeyError, OSError, ValueError, TypeError):
                pass
        signal.set_wakeup_fd(-1)
        signal.pthread_sigmask(signal.SIG_SETMASK, INITIAL_MASK)

        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (null, out_fd, err_fd):
            if fd > 2:
                os.close(fd)

        if "umask" in request:
            os.umask(request["umask"])
        os.chdir(request["cwd"])
        # Usually the runner's own environment already: then nothing is
        # rewritten (both os.environ and the C environ are as the runner
        # started, which it never changes).
        environ = os.environ
        wanted = {}
        for entry in request["env"]:
            key, sep, value = entry.partition("=")
            if sep and key:
                wanted[environ.encodekey(key)] = environ.encodevalue(value)
        if environ._data != wanted:
            for key in list(environ):
                del environ[key]
            for key, value in wanted.items():
                environ[environ.decodekey(key)] = environ.decodevalue(value)

        sys.argv = list(argv[1:])
        if hasattr(sys, "orig_argv"):
            sys.orig_argv = list(argv)
        path = list(INITIAL_PATH)
        if path and not getattr(sys.flags, "safe_path", False):
            path[0] = os.path.dirname(os.path.realpath(script))
        sys.path[:] = path
        # The runner's own directory is not the script's; the finders of
        # the other entries stay (they notice directory changes).
        if INITIAL_PATH and INITIAL_PATH[0] not in path:
            sys.path_importer_cache.pop(INITIAL_PATH[0], None)

        # Forget what only the runner imported; a later import loads it
        # afresh, as in a fresh interpreter.
        for name in RUNNER_ONLY:
            module = sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            if parent and getattr(sys.modules.get(parent), child, None) is module:
                try:
                    delattr(sys.modules[parent], child)
                except AttributeError:
                    pass

        keep = [sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__]
        sys.stdin = sys.__stdin__ = make_stdio(0, "<stdin>", *INITIAL_STDIO[0])
        sys.stdout = sys.__stdout__ = make_stdio(1, "<stdout>", *INITIAL_STDIO[1])
        sys.stderr = sys.__stderr__ = make_stdio(2, "<stderr>", *INITIAL_STDIO[2])
        KEEP_ALIVE.extend(keep)

        import builtins
        from _frozen_importlib_external import SourceFileLoader
        main = type(sys)("__main__")
        main.__loader__ = SourceFileLoader("__main__", script)
        main.__annotations__ = {}
        main.__builtins__ = builtins
        main.__file__ = script
        main.__cached__ = None
        with open(script, "rb") as f:
            source = f.read()

        go = os.read(run_fd, 1)
        if go != b"g":
            os._exit(0)
        os.close(run_fd)
        close_fds_except([])
    except BaseException as e:
        try:
            os.write(2, ("ambari-agent runner: cannot start %s: %s: %s\n"
                         % (request.get("argv"), type(e).__name__, e)).encode("utf-8", "replace"))
        except Exception:
            pass
        os._exit(1)
    sys.modules["__main__"] = main
    # Compiled after the go-ahead, as the interpreter would: a syntax error
    # is the script's own failure.
    raise RunScript((source, script), main)


KEEP_ALIVE = []
# What only the runner imported, computed once it has imported everything
# (it imports nothing afterwards; requests import in their children).
# Precomputed: every object a child touches costs it a copied page.
RUNNER_ONLY = []
# The signals whose disposition the runner changes; the others are still as
# the interpreter set them at start.
CHANGED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


class Child(object):
    __slots__ = ("rid", "op", "pid", "fd", "buf", "deadline", "timeout", "done")

    def __init__(self, rid, op, pid, fd, deadline, timeout):
        self.rid, self.op, self.pid, self.fd = rid, op, pid, fd
        self.deadline, self.timeout = deadline, timeout
        self.buf = bytearray()
        self.done = False


class Runner(object):
    def __init__(self, proto_in, proto_out, exec_sock):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.exec_sock = exec_sock
        self.sel = selectors.DefaultSelector()
        self.sel.register(proto_in, selectors.EVENT_READ, None)
        if exec_sock is not None:
            self.sel.register(exec_sock.fileno(), selectors.EVENT_READ, "exec")
        self.children = {}     # request id -> Child
        self.queue = []        # (request, deadline) waiting for a child slot
        self.inbuf = bytearray()
        self.pid = os.getpid()

    def send(self, reply):
        write_all(self.proto_out, (dumps(reply) + "\n").encode("utf-8"))

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
                if times:
                    KINIT_TIMES.update(times)
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
            log("ERROR", "malformed request: %s" % e)
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
            "executable": sys.executable,
            "resource_management": "Script" in STACK,
            "resource_management_error": STACK.get("resource_management_error"),
            "curl_krb_request": "curl_krb_request" in STACK,
            "children": len(self.children),
            "scripts": self.exec_sock is not None and PRELOAD_ERROR is None and SCRIPTS_ERROR is None,
            "preload_error": PRELOAD_ERROR or SCRIPTS_ERROR,
            "preload_missing": PRELOAD_MISSING,
            "preloaded": len(PRELOADED),
            "files": module_files(),
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
            run_child(request, w, self.pid)
        os.close(w)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        child = Child(rid, op, pid, r, deadline, request.get("timeout") or 0)
        self.children[rid] = child
        self.sel.register(r, selectors.EVENT_READ, child)

    def start_script(self):
        """One stack script request: JSON plus three fds (the run's socket
        to the agent, stdout, stderr)."""
        try:
            data, ancdata, _, _ = self.exec_sock.recvmsg(MAX_SCRIPT_REQUEST, socket.CMSG_SPACE(3 * 4))
        except InterruptedError:
            return
        except BlockingIOError:
            return
        fds = []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, usable, 4))
        if not data:
            raise EOFError("exec socket closed")
        try:
            if len(fds) != 3:
                log("ERROR", "stack script request with %d descriptors" % len(fds))
                return
            request = json.loads(data.decode("utf-8"))
            if fork_to_agent() == 0:
                script_child(request, fds[0], fds[1], fds[2])  # raises RunScript
        except Exception as e:
            # The run's socket closes unanswered: the agent falls back.
            log("ERROR", "cannot start a stack script: %s: %s" % (type(e).__name__, e))
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

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
        if not self.children and not self.queue:
            return None  # idle: nothing to reap or expire
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
                        log("ERROR", "request line too long; dropping input")
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
                if key.data == "exec":
                    try:
                        self.start_script()
                    except EOFError:
                        return
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
        # Alert children go with the runner; stack scripts do not (they are
        # the agent's children).
        for child in list(self.children.values()):
            self.kill(child)
        self.reap()


def main():
    # Keep the protocol pipes away from fds 0 and 1: whatever a request
    # prints, reads or passes to subprocesses must never reach them.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    exec_sock = None
    try:
        exec_sock = socket.socket(fileno=EXEC_FD)
    except OSError:
        pass  # started without it: alerts only
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if PRELOAD_ERROR:
        log("ERROR", "preloading failed, stack scripts run in fresh interpreters: %s" % PRELOAD_ERROR)
    if exec_sock is not None:
        setup_fork_to_agent()
        if SCRIPTS_ERROR:
            log("ERROR", "stack scripts run in fresh interpreters: %s" % SCRIPTS_ERROR)
    stack_modules()
    RUNNER_ONLY.extend(sorted(set(sys.modules) - BASE_MODULES - PRELOADED, reverse=True))
    # Objects that exist now are never collected: children then do not
    # dirty the pages that hold them just by collecting garbage.
    gc.freeze()
    runner = Runner(proto_in, proto_out, exec_sock)
    try:
        runner.run()
    except BrokenPipeError:
        pass
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
    finally:
        if os.getpid() == RUNNER_PID:
            runner.shutdown()


def exit_status(e):
    """The exit status of an uncaught SystemExit, as the interpreter
    computes it (printing a non-integer code)."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def finish_script(code):
    """What the interpreter does on its way out that a script can observe:
    wait for its non-daemon threads, run atexit handlers, flush the files
    it left open and the standard streams (120 when stdout cannot be
    flushed). Then exit without tearing down the heap: freeing the
    preloaded modules object by object would copy most of the runner's
    pages for nothing. __del__ methods of objects still alive at exit are
    not called, which the language allows."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:
            pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    import io
    std = {id(s) for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}
    for obj in gc.get_objects():
        if isinstance(obj, (io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)) and id(obj) not in std:
            try:
                if not obj.closed:
                    obj.flush()
            except BaseException:
                pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except BaseException:
            if stream is sys.stdout:
                code = 120
    return code


if __name__ == "__main__":
    _job = None
    try:
        main()
    except RunScript as _r:
        _job = _r
    if _job is not None:
        # A stack script's child: from here on this is the script's
        # interpreter. Its code runs at the top level of this file.
        _source, _path = _job.code
        _globals = _job.module.__dict__
        del _job
        _code, _sigint = 0, False
        try:
            exec(compile(_source, _path, "exec", dont_inherit=True), _globals)
        except SystemExit as _e:
            _code = exit_status(_e)
        except BaseException as _e:
            # Printed without this file's frame, as the interpreter prints
            # it; then status 1, or death by SIGINT for KeyboardInterrupt.
            if _e.__traceback__ is not None:
                _e.__traceback__ = _e.__traceback__.tb_next
            try:
                sys.last_type, sys.last_value, sys.last_traceback = type(_e), _e, _e.__traceback__
                sys.excepthook(type(_e), _e, _e.__traceback__)
            except BaseException:
                pass
            _code, _sigint = 1, isinstance(_e, KeyboardInterrupt)
        _code = finish_script(_code)
        if _sigint:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(_code)
