"""Writes commandParams.lines numbered lines to stdout (and every tenth line
to stderr too), for output-size tests."""

import json
import sys

args = [a for a in sys.argv[1:] if a != "-o"]
with open(args[1]) as f:
    params = json.load(f).get("commandParams") or {}
for i in range(int(params.get("lines", "100000"))):
    sys.stdout.write("line %d of chatty output\n" % i)
    if i % 10 == 0:
        sys.stderr.write("err %d\n" % i)
