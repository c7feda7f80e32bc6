"""Dumps what a stack script can observe about how it was started, as
JSON on stdout, then exits as commandParams-free argv asks: probe.py
[exit N | raise | os_exit N | signal N | hang | write-unflushed PATH].

Used by the fidelity test: run fresh and forked from the runner, the two
dumps must be equal."""
import sys

MODULES = sorted(sys.modules)
MAIN_KEYS = sorted(globals())
FRAME_NAME = __name__

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402


def fds():
    out = {}
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        if target.startswith("/"):
            target = os.path.basename(target)
        elif target.startswith("anon_inode:") or target.startswith("pipe:") or target.startswith("socket:"):
            target = target.split(":")[0]
        out[name] = target
    return out


def dispositions():
    out = {}
    for sig in range(1, signal.NSIG):
        try:
            h = signal.getsignal(sig)
        except (ValueError, OSError):
            continue
        if h == signal.SIG_DFL:
            h = "SIG_DFL"
        elif h == signal.SIG_IGN:
            h = "SIG_IGN"
        elif h is None:
            h = "None"
        else:
            h = getattr(h, "__name__", repr(h))
        out[str(sig)] = h
    return out


def rlimits():
    return {name: resource.getrlimit(getattr(resource, name))
            for name in sorted(dir(resource)) if name.startswith("RLIMIT_")}


def stdio():
    out = {}
    for name in ("stdin", "stdout", "stderr"):
        s = getattr(sys, name)
        out[name] = [s.encoding, s.errors, s.line_buffering, s.write_through, s.mode, s.name,
                     type(s.buffer).__name__, getattr(sys, "__%s__" % name) is s]
    return out


umask = os.umask(0)
os.umask(umask)
preload = set(os.environ.get("PROBE_PRELOAD_SET", "").split(","))
dump = {
    "argv": sys.argv,
    "orig_argv": getattr(sys, "orig_argv", None),
    "executable": sys.executable,
    "environ": dict(os.environ),
    "cwd": os.getcwd(),
    "fds": fds(),
    "umask": umask,
    "own_group": os.getpgid(0) == os.getpid(),
    "ppid": os.getppid(),
    "sid": os.getsid(0),
    "signals": dispositions(),
    "mask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "rlimits": rlimits(),
    "path": sys.path,
    "modules": [m for m in MODULES if m not in preload],
    "name": FRAME_NAME,
    "main_keys": MAIN_KEYS,
    "file": __file__,
    "flags": str(sys.flags),
    "stdio": stdio(),
    "path_hooks": len(sys.path_hooks),
    "meta_path": [type(m).__name__ if not isinstance(m, type) else m.__name__ for m in sys.meta_path],
    "exc_info": repr(sys.exc_info()),
}
sys.stdout.write(json.dumps(dump, sort_keys=True))
sys.stdout.write("\n")

action = sys.argv[1:]
if not action:
    pass
elif action[0] == "exit":
    sys.exit(int(action[1]))
elif action[0] == "exit_text":
    sys.exit("going away")
elif action[0] == "raise":
    raise KeyError("probe")
elif action[0] == "interrupt":
    raise KeyboardInterrupt()
elif action[0] == "os_exit":
    os._exit(int(action[1]))
elif action[0] == "signal":
    os.kill(os.getpid(), int(action[1]))
elif action[0] == "atexit":
    import atexit
    atexit.register(lambda: sys.stdout.write("atexit ran\n"))
    sys.stdout.write("buffered, not flushed")
elif action[0] == "unflushed":
    LEFT_OPEN = open(action[1], "w")
    LEFT_OPEN.write("written, never flushed or closed")
elif action[0] == "hang":
    import time
    open(action[1], "w").close()
    time.sleep(3600)
