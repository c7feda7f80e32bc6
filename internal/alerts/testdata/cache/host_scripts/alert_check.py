"""Test alert script following the agent's script-alert contract."""

PORT_KEY = '{{test-site/port}}'
MISSING_KEY = '{{test-site/missing}}'


def get_tokens():
    return (PORT_KEY, MISSING_KEY, 'constant-token')


def execute(configurations={}, parameters={}, host_name=None):
    state = parameters.get('state', 'OK')
    if state == 'RAISE':
        raise ValueError('the check failed: %s' % parameters.get('reason'))
    text = 'port=%s missing=%s constant=%s host=%s kinit=%s keys=%d' % (
        configurations.get(PORT_KEY), MISSING_KEY in configurations,
        configurations.get('constant-token'), host_name,
        parameters.get('kerberos.kinit.timer'), len(configurations))
    return (state, [text])
