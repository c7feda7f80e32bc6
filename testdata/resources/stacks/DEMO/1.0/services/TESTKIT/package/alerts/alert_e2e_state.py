"""A script alert whose state is whatever the file named by the parameter
state_file holds (OK, WARNING, CRITICAL, UNKNOWN or SKIPPED); RAISE makes it
raise. Its text shows what the agent passed in: the resolved token, the host
name and the kinit timer parameter."""

LABEL_KEY = '{{e2e-alerts/label}}'


def get_tokens():
    return (LABEL_KEY,)


def execute(configurations={}, parameters={}, host_name=None):
    with open(parameters['state_file']) as f:
        state = f.read().strip()
    if state == 'RAISE':
        raise RuntimeError('asked to fail by %s' % parameters['state_file'])
    text = 'state file says %s; label=%s; host=%s; kinit=%s' % (
        state, configurations.get(LABEL_KEY), host_name,
        parameters.get('kerberos.kinit.timer'))
    return (state, [text])
