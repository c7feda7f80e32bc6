"""The after-INSTALL stack hook: runs after every INSTALL of any component.

Hooks follow the same contract as stack scripts; their base dir (argv[3]) is
the hook's own directory. This one records its run in <tmp dir>/demo-hooks.log
and in the task's structured output, which hooks and the script share.
"""

import json
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
command, json_path, base_dir, structured_out, log_level, tmp_dir = args[:6]
with open(json_path) as f:
    config = json.load(f)

line = "after-INSTALL %s %s" % (config.get("role"), config.get("taskId"))
with open(tmp_dir + "/demo-hooks.log", "a") as f:
    f.write(line + "\n")
print(line)

try:
    with open(structured_out) as f:
        out = json.load(f)
except (OSError, ValueError):
    out = {}
out.setdefault("hooks", []).append("after-INSTALL")
with open(structured_out, "w") as f:
    json.dump(out, f)
