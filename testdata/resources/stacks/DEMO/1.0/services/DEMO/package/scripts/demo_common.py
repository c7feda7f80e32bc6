"""The Ambari stack-script contract in a few lines, standard library only.

The agent runs every stack script as

    python <script.py> <COMMAND> <command.json> <base dir> <structured-out.json>
           <log level> <tmp dir> <https protocol> <ca cert path> [-o]

and judges it by its exit code. This module parses that command line, loads
the command JSON and handles the structured output file, the way Ambari's
resource_management library does for real stacks.
"""

import json
import os
import sys


class ComponentIsNotRunning(Exception):
    """Raised by a status handler: the component is installed but stopped."""


class ClientComponentHasNoStatus(Exception):
    """Raised by a client's status handler: clients have no live state."""


class Command:
    """One invocation of a stack script."""

    def __init__(self, argv):
        self.log_out_files = "-o" in argv[1:]
        args = [a for a in argv[1:] if a != "-o"]
        if len(args) < 6:
            print("Usage: %s COMMAND COMMAND_JSON BASE_DIR STRUCTURED_OUT LOG_LEVEL TMP_DIR "
                  "[HTTPS_PROTOCOL] [CA_CERT_PATH] [-o]" % os.path.basename(argv[0]))
            sys.exit(1)
        # The agent sends the name upper-case (INSTALL, START, STATUS, ...).
        self.name = args[0].lower()
        self.json_path = args[1]
        self.base_dir = args[2]
        self.structured_out_path = args[3]
        self.log_level = args[4]
        self.tmp_dir = args[5]
        self.https_protocol = args[6] if len(args) > 6 else ""
        self.ca_cert_path = args[7] if len(args) > 7 else ""
        with open(self.json_path) as f:
            self.config = json.load(f)
        self.structured_out = self._load_structured_out()
        if self.name == "status":
            # Status runs must not report what an earlier run left behind.
            self.structured_out = {}
            self.put_structured_out({})

    def _load_structured_out(self):
        # Hooks and the script of one task share the file: keep what is
        # there, except the version, which each run reports afresh.
        try:
            with open(self.structured_out_path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.pop("version", None)
        return data

    def put_structured_out(self, values):
        """Merges values into the structured output file."""
        self.structured_out.update(values)
        with open(self.structured_out_path, "w") as f:
            json.dump(self.structured_out, f)

    def param(self, section, key, default=None):
        """A value of a top-level section, e.g. param("commandParams", "version")."""
        value = self.config.get(section) or {}
        return value.get(key, default)

    def configuration(self, config_type, key, default=None):
        """A configuration property, e.g. configuration("demo-env", "server_port")."""
        configs = self.config.get("configurations") or {}
        return (configs.get(config_type) or {}).get(key, default)

    @property
    def version(self):
        return self.param("commandParams", "version") or "1.0.0"

    def run(self, handlers):
        """Calls handlers[name](self) and exits with the agent's conventions."""
        handler = handlers.get(self.name)
        if handler is None:
            print("Script '%s' has no method '%s'" % (sys.argv[0], self.name), file=sys.stderr)
            sys.exit(1)
        try:
            handler(self)
        except (ComponentIsNotRunning, ClientComponentHasNoStatus) as e:
            # The agent only looks at the exit code; the class name on stderr
            # tells it (and people reading logs) that nothing is broken.
            print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
            sys.exit(1)
        sys.exit(0)


def install_dir(cmd, component):
    """Where a component lives: demo-env/install_dir, else under the tmp dir."""
    base = cmd.configuration("demo-env", "install_dir") or os.path.join(cmd.tmp_dir, "demo-stack")
    return os.path.join(base, component.lower())


def read_pid(pid_file):
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    """True when the process exists and is not a zombie."""
    if pid is None:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def spawn_daemon(argv, log_path, cwd):
    """Starts argv as a daemon: double fork, new session, stdio to log_path.

    The daemon is re-parented away from this script at once, so it survives
    the script, the agent's timeout kill of the script, and an agent restart.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.chdir(cwd)
            null = os.open(os.devnull, os.O_RDONLY)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.closerange(3, 1 << 16)
            os.execv(sys.executable, [sys.executable] + argv)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)
