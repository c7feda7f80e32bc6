"""Starts a child, which starts a grandchild, then sleeps far past any
timeout. The three pids go to commandParams.pids_file (one per line, script
first) once all are running.

commandParams: pids_file, spare_yum ("true": the grandchild is a copy of
sleep named yum, which the agent's tree kill must leave alone),
ignore_term ("true": the script ignores SIGTERM, so only SIGKILL ends it),
daemon ("true": first start a daemon that leaves the command's process tree
by a double fork and setsid, as a service's start script does; its pid goes
to pids_file + ".daemon").
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time


def child(pids_file, spare_yum):
    sleep = shutil.which("sleep")
    if spare_yum == "true":
        yum = os.path.join(os.path.dirname(pids_file), "yum")
        shutil.copy(sleep, yum)
        sleep = yum
    grandchild = subprocess.Popen([sleep, "1000"])
    with open(pids_file + ".child", "w") as f:
        f.write("%d\n%d\n" % (os.getpid(), grandchild.pid))
    time.sleep(1000)


def daemon(pids_file):
    if os.fork() > 0:
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    with open(pids_file + ".daemon.tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pids_file + ".daemon.tmp", pids_file + ".daemon")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.execvp("sleep", ["sleep", "1000"])


def main():
    args = [a for a in sys.argv[1:] if a != "-o"]
    with open(args[1]) as f:
        params = json.load(f).get("commandParams") or {}
    pids_file = params["pids_file"]
    if params.get("ignore_term") == "true":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if params.get("daemon") == "true":
        daemon(pids_file)
        os.wait()  # the first fork exits at once
        while not os.path.exists(pids_file + ".daemon"):
            time.sleep(0.05)
    # A fork, not a fresh interpreter: the tree is ready in milliseconds even
    # on a loaded machine, well inside the shortest timeout a test gives it.
    if os.fork() == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            child(pids_file, params.get("spare_yum", "false"))
        finally:
            os._exit(0)
    while not os.path.exists(pids_file + ".child"):
        time.sleep(0.05)
    time.sleep(0.05)
    with open(pids_file + ".child") as f:
        others = f.read()
    with open(pids_file + ".tmp", "w") as f:
        f.write("%d\n%s" % (os.getpid(), others))
    os.rename(pids_file + ".tmp", pids_file)
    print("tree ready", flush=True)
    time.sleep(1000)


if __name__ == "__main__":
    main()
