#!/usr/bin/env python3
"""Test script for the action queue, following the stack script contract:

    qtest.py <COMMAND> <command.json> <base dir> <structured-out> <LEVEL> <tmp> <proto> <ca> [-o]

Its behaviour comes from the command's commandParams:

  record          file to append "start|end <taskId> <attempt> <epoch ns>" lines to
  sleep           seconds to sleep before exiting
  exit_code       exit status (default 0)
  stdout_lines    number of numbered lines to print on stdout
  stderr_text     text to print on stderr
  structured      JSON text to write as the structured output
  wait_file       wait (up to 60 s) until this file exists before exiting
  child_pid_file  start a child "sleep 600" and write its pid here
  ignore_sigterm  "true": ignore SIGTERM (the kill must escalate)
"""
import json
import os
import signal
import subprocess
import sys
import time


def record(params, what, task, attempt):
    path = params.get("record")
    if path:
        with open(path, "a") as f:
            f.write("%s %s %s %d\n" % (what, task, attempt, time.time_ns()))


def main():
    command_name = sys.argv[1]
    with open(sys.argv[2]) as f:
        command = json.load(f)
    structured_path = sys.argv[4]
    params = command.get("commandParams", {})
    task = command.get("taskId")
    attempt = "retry" if command.get("agentLevelParams", {}).get("commandBeingRetried") == "true" else "first"
    record(params, "start", task, attempt)

    if params.get("ignore_sigterm") == "true":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if params.get("child_pid_file"):
        child = subprocess.Popen(["sleep", "600"])
        with open(params["child_pid_file"], "w") as f:
            f.write(str(child.pid))

    print("running %s for task %s (%s)" % (command_name, task, attempt))
    for i in range(int(params.get("stdout_lines", "0"))):
        print("line %d" % (i + 1))
    sys.stdout.flush()
    if params.get("stderr_text"):
        sys.stderr.write(params["stderr_text"])
        sys.stderr.flush()
    if params.get("structured"):
        with open(structured_path, "w") as f:
            f.write(params["structured"])

    wait_file = params.get("wait_file")
    if wait_file:
        deadline = time.time() + 60
        while not os.path.exists(wait_file) and time.time() < deadline:
            time.sleep(0.02)
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))

    record(params, "end", task, attempt)
    sys.exit(int(params.get("exit_code", "0")))


if __name__ == "__main__":
    main()
