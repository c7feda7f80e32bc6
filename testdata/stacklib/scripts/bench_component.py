"""A component script as a stack writes it. The very first line notes when
the interpreter got to it (<command json>.first) and the command method
notes when the script got to its work (<command json>.work), for the
benchmark's arrival-to-script times."""
import sys, time; open(sys.argv[2] + ".first", "a").write("%r\n" % time.time())  # noqa: E401,E702

from resource_management.libraries.functions.check_process_status import check_process_status  # noqa: E402
from resource_management.libraries.functions.default import default  # noqa: E402
from resource_management.libraries.script.script import Script  # noqa: E402


class BenchComponent(Script):
    def status(self, env):
        check_process_status(default("/commandParams/pid_file", None))

    def start(self, env):
        open(sys.argv[2] + ".work", "a").write("%r\n" % time.time())


if __name__ == "__main__":
    BenchComponent().execute()
