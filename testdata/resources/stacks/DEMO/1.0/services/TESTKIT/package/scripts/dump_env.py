"""Records what the agent handed the script: argv, environment, working
directory, process group, session and open file descriptors, in the
structured output under "dump"."""

import json
import os
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
structured_out = args[3]

fd_dir = "/proc/self/fd"
fds = {}
for name in os.listdir(fd_dir):
    try:
        fds[name] = os.readlink(os.path.join(fd_dir, name))
    except OSError:
        pass  # the descriptor listdir itself used
env = {k: os.environ.get(k) for k in ("PYTHONPATH", "AGENT_ENCRYPTION_KEY", "TESTKIT_MARKER", "PATH")}

try:
    with open(structured_out) as f:
        out = json.load(f)
except (OSError, ValueError):
    out = {}
out["dump"] = {
    "argv": sys.argv, "cwd": os.getcwd(), "env": env, "fds": fds,
    "executable": sys.executable, "cmdline": open("/proc/self/cmdline").read().split("\0"), "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0), "ppid": os.getppid(),
}
with open(structured_out, "w") as f:
    json.dump(out, f)
print("dumped")
