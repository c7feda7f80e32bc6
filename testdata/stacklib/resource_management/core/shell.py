import subprocess

__all__ = ["call", "checked_call"]


def call(command, **kwargs):
    p = subprocess.run(command, shell=isinstance(command, str), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return p.returncode, p.stdout


def checked_call(command, **kwargs):
    code, out = call(command, **kwargs)
    if code != 0:
        from resource_management.core.exceptions import ExecutionFailed
        raise ExecutionFailed("%r returned %d. %s" % (command, code, out))
    return code, out
