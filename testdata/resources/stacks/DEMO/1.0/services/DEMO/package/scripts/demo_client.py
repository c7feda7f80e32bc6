"""DEMO_CLIENT: a client component. It installs a config file and has no live
state, so its status always says ClientComponentHasNoStatus (exit 1)."""

import os
import sys

from demo_common import ClientComponentHasNoStatus, Command, install_dir

COMPONENT = "DEMO_CLIENT"


def install(cmd):
    configure(cmd)
    cmd.put_structured_out({"version": cmd.version})


def configure(cmd):
    home = install_dir(cmd, COMPONENT)
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "client.conf"), "w") as f:
        f.write("message=%s\n" % cmd.configuration("demo-env", "message", "hello"))
    print("Configured %s in %s" % (COMPONENT, home))


def status(cmd):
    raise ClientComponentHasNoStatus("%s has no status" % COMPONENT)


def get_version(cmd):
    cmd.put_structured_out({"version": cmd.version})


if __name__ == "__main__":
    Command(sys.argv).run({
        "install": install, "configure": configure, "status": status, "get_version": get_version,
    })
