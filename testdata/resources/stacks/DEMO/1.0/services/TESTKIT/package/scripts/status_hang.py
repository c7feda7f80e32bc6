"""STATUS hangs for commandParams.hang_seconds (default 60), then says
running; every other command succeeds at once.

While it hangs, a STATUS run keeps an empty file named after its pid in
commandParams.pids_dir (if given), so a test can end the runs the agent left
behind.
"""

import json
import os
import sys
import time

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
if args[0].upper() == "STATUS":
    mark = None
    if params.get("pids_dir"):
        mark = os.path.join(params["pids_dir"], str(os.getpid()))
        open(mark, "w").close()
    try:
        time.sleep(float(params.get("hang_seconds", "60")))
    finally:
        if mark:
            os.unlink(mark)
print("%s done" % args[0])
