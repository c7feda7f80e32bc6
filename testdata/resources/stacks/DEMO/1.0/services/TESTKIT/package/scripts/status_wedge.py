"""STATUS wedges while the file commandParams.wedge_file exists: the script
turns into a process named yum that sleeps. The agent never kills a package
manager (stopping one mid-transaction corrupts its database), so the check
outlives its timeout, as a status script stuck behind a package manager's
lock does. The process keeps an empty file named after its pid in
commandParams.pids_dir so a test can end it. Every other run succeeds."""

import json
import os
import shutil
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
if args[0].upper() == "STATUS" and os.path.exists(params["wedge_file"]):
    pids = params["pids_dir"]
    yum = os.path.join(pids, "bin", "yum")
    if not os.path.exists(yum):
        os.makedirs(os.path.dirname(yum), exist_ok=True)
        shutil.copy(shutil.which("sleep"), yum + ".tmp")
        os.rename(yum + ".tmp", yum)
    open(os.path.join(pids, str(os.getpid())), "w").close()
    os.execv(yum, ["yum", "600"])
print("%s done" % args[0])
