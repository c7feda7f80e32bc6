"""A custom action (roleCommand ACTIONEXECUTE), run from custom_actions/scripts.

commandParams: message (printed and echoed in the structured output),
fail ("true" makes the action fail with exit code 1).
"""

import json
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
command, json_path, base_dir, structured_out = args[:4]
with open(json_path) as f:
    config = json.load(f)

params = config.get("commandParams") or {}
host = (config.get("agentLevelParams") or {}).get("hostname")
message = params.get("message", "hello from demo_action")
print("%s on %s: %s" % (command, host, message))
with open(structured_out, "w") as f:
    json.dump({"action": config.get("role"), "host": host, "message": message}, f)
if params.get("fail") == "true":
    print("demo_action asked to fail", file=sys.stderr)
    sys.exit(1)
