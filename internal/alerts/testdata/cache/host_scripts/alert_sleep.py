"""A script alert that never finishes."""
import time


def execute(configurations={}, parameters={}, host_name=None):
    time.sleep(3600)
    return ('OK', ['woke up'])
