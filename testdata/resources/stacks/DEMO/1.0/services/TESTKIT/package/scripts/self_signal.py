"""Dies by the signal named in commandParams.signal (e.g. 15 or 9)."""

import json
import os
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    sig = int((json.load(f).get("commandParams") or {})["signal"])
print("about to die by signal %d" % sig, flush=True)
os.kill(os.getpid(), sig)
