"""A cheap script alert for measurements: it appends one byte to the file
named by the parameter count_file, so its runs can be counted, and reports
OK."""


def execute(configurations={}, parameters={}, host_name=None):
    with open(parameters['count_file'], 'a') as f:
        f.write('.')
    return ('OK', ['counted'])
