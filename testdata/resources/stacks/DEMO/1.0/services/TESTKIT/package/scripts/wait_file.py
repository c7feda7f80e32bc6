"""A command that ends when a test says so: writes commandParams.started_file,
waits (at most 120 s) for commandParams.go_file to exist, then writes
commandParams.done_file and succeeds."""

import json
import os
import sys
import time

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
open(params["started_file"], "w").close()
deadline = time.time() + 120
while not os.path.exists(params["go_file"]):
    if time.time() > deadline:
        print("no go file", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
open(params["done_file"], "w").close()
