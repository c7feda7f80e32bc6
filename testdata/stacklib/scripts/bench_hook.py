"""A before-START hook as a stack writes it; notes its first line like
bench_component.py."""
import sys, time; open(sys.argv[2] + ".first", "a").write("%r\n" % time.time())  # noqa: E401,E702

from resource_management.libraries.script.hook import Hook  # noqa: E402


class BeforeStartHook(Hook):
    def hook(self, env):
        pass


if __name__ == "__main__":
    BeforeStartHook().execute()
