"""DEMO_SERVER: a master component that runs a small HTTP daemon.

Configuration (type demo-env): server_port (0 = any free port), message,
install_dir (default <tmp dir>/demo-stack).
"""

import os
import signal
import sys
import time

from demo_common import (Command, ComponentIsNotRunning, install_dir, pid_alive,
                         read_pid, spawn_daemon)

COMPONENT = "DEMO_SERVER"


def paths(cmd):
    home = install_dir(cmd, COMPONENT)
    return {
        "home": home,
        "pid": os.path.join(home, "demo_server.pid"),
        "port": os.path.join(home, "demo_server.port"),
        "log": os.path.join(home, "demo_server.log"),
    }


def install(cmd):
    p = paths(cmd)
    os.makedirs(p["home"], exist_ok=True)
    with open(os.path.join(p["home"], "VERSION"), "w") as f:
        f.write(cmd.version)
    print("Installed %s %s in %s" % (COMPONENT, cmd.version, p["home"]))
    cmd.put_structured_out({"version": cmd.version})


def configure(cmd):
    p = paths(cmd)
    os.makedirs(p["home"], exist_ok=True)
    with open(os.path.join(p["home"], "demo.conf"), "w") as f:
        f.write("port=%s\nmessage=%s\n" % (cmd.configuration("demo-env", "server_port", "0"),
                                           cmd.configuration("demo-env", "message", "hello")))
    print("Configured %s" % COMPONENT)


def start(cmd):
    configure(cmd)
    p = paths(cmd)
    if pid_alive(read_pid(p["pid"])):
        print("%s is already running" % COMPONENT)
        return
    port = str(cmd.configuration("demo-env", "server_port", "0"))
    message = cmd.configuration("demo-env", "message", "hello from DEMO_SERVER")
    daemon = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_daemon.py")
    spawn_daemon([daemon, port, p["pid"], p["port"], message], p["log"], p["home"])
    for _ in range(100):
        pid = read_pid(p["pid"])
        if pid_alive(pid):
            with open(p["port"]) as f:
                print("Started %s, pid %d, port %s" % (COMPONENT, pid, f.read().strip()))
            cmd.put_structured_out({"version": cmd.version})
            return
        time.sleep(0.1)
    print("%s did not start; see %s" % (COMPONENT, p["log"]), file=sys.stderr)
    sys.exit(1)


def stop(cmd):
    p = paths(cmd)
    pid = read_pid(p["pid"])
    if not pid_alive(pid):
        print("%s is not running" % COMPONENT)
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    try:
        os.unlink(p["pid"])
    except OSError:
        pass
    print("Stopped %s (pid %d)" % (COMPONENT, pid))


def restart(cmd):
    stop(cmd)
    start(cmd)


def status(cmd):
    pid = read_pid(paths(cmd)["pid"])
    if not pid_alive(pid):
        raise ComponentIsNotRunning("%s is not running" % COMPONENT)


def get_version(cmd):
    cmd.put_structured_out({"version": cmd.version})


if __name__ == "__main__":
    Command(sys.argv).run({
        "install": install, "configure": configure, "start": start, "stop": stop,
        "restart": restart, "status": status, "get_version": get_version,
    })
