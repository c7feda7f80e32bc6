#!/usr/bin/env python3
"""Status and version script of the test stack.

Follows the stack script contract: argv is the command name, the command
JSON file, the package directory, the structured-output file, the log level,
the tmp dir, the TLS protocol and the CA path. Its behaviour comes from
<package>/state/<ROLE>, one line of words:

    running|stopped|client|broken [sleep=SECONDS] [version=V] [vexit=N]

running exits 0; stopped raises the stack's ComponentIsNotRunning (exit 1);
client says ClientComponentHasNoStatus (exit 1); broken fails with another
error (exit 2). sleep delays the answer. GET_VERSION writes version=V to
the structured output and exits vexit (0 when a version is given, else 1).
Every run appends its command name to <package>/state/<ROLE>.calls as soon
as it has read its state, so a test that sees the line knows the state the
run will answer with.
"""
import json
import os
import sys
import time


def main():
    command, json_path, base_dir, structured_out = sys.argv[1:5]
    with open(json_path) as f:
        role = json.load(f)["role"]
    state_dir = os.path.join(base_dir, "state")
    try:
        with open(os.path.join(state_dir, role)) as f:
            words = f.read().split()
    except FileNotFoundError:
        words = []
    with open(os.path.join(state_dir, role + ".calls"), "a") as f:
        f.write(command + "\n")
    state = words[0] if words else "stopped"
    opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if "sleep" in opts:
        time.sleep(float(opts["sleep"]))

    if command == "GET_VERSION":
        if "version" in opts:
            with open(structured_out, "w") as f:
                json.dump({"version": opts["version"]}, f)
        code = int(opts.get("vexit", "0" if "version" in opts else "1"))
        if code:
            sys.stderr.write("cannot tell the version of %s\n" % role)
        return code

    if state == "running":
        return 0
    if state == "client":
        sys.stderr.write("resource_management.core.exceptions.ClientComponentHasNoStatus\n")
        return 1
    if state == "stopped":
        sys.stderr.write("resource_management.core.exceptions.ComponentIsNotRunning\n")
        return 1
    sys.stderr.write("Traceback (most recent call last):\nRuntimeError: %s is %s\n" % (role, state))
    return 2


if __name__ == "__main__":
    sys.exit(main())
