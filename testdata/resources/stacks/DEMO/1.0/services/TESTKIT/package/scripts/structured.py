"""Writes the structured output chosen by commandParams.mode: "none" (no
file), "invalid" (not JSON) or "valid" ({"answer": 42}); then exits with
commandParams.exit_code (default 0)."""

import json
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
mode = params.get("mode", "valid")
if mode == "invalid":
    with open(args[3], "w") as f:
        f.write("{not json")
elif mode == "valid":
    with open(args[3], "w") as f:
        json.dump({"answer": 42}, f)
print("structured output mode %s" % mode)
sys.exit(int(params.get("exit_code", "0")))
