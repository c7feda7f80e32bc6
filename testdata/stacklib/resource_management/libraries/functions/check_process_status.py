import os

from resource_management.core.exceptions import ComponentIsNotRunning

__all__ = ["check_process_status"]


def check_process_status(pid_file):
    """Raises ComponentIsNotRunning unless pid_file names a live process."""
    if not pid_file or not os.path.isfile(pid_file):
        raise ComponentIsNotRunning()
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        raise ComponentIsNotRunning()
