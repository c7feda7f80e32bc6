"""A script alert that never returns: it writes its pid to the file named by
the parameter pid_file (one line per run) and sleeps."""

import os
import time


def execute(configurations={}, parameters={}, host_name=None):
    with open(parameters['pid_file'], 'a') as f:
        f.write('%d\n' % os.getpid())
    while True:
        time.sleep(3600)
