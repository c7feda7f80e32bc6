"""Fails commandParams.fail_times times, then succeeds. The attempt count is
kept in commandParams.state_file."""

import json
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
state, fail_times = params["state_file"], int(params.get("fail_times", "1"))
try:
    with open(state) as f:
        attempt = int(f.read()) + 1
except (OSError, ValueError):
    attempt = 1
with open(state, "w") as f:
    f.write(str(attempt))
if attempt <= fail_times:
    print("attempt %d fails" % attempt)
    print("attempt %d: failing on purpose" % attempt, file=sys.stderr)
    sys.exit(1)
print("attempt %d succeeds" % attempt)
