"""Stand-in for the stack library's curl_krb_request: no KDC here, so it
records its arguments and makes a plain request, returning what the real
function returns: (body or HTTP code, stderr text or None, elapsed)."""
import json
import os
import time
import urllib.error
import urllib.request

from resource_management.core import global_lock

_KINIT_CACHE_TIMES = {}


def curl_krb_request(tmp_dir, keytab, principal, url, cache_file_prefix,
                     krb_exec_search_paths, return_only_http_code, caller_label, user,
                     connection_timeout=10, ca_certs=None, kinit_timer_ms=14400000,
                     method='', body='', header=''):
    lock = global_lock.get_lock(global_lock.LOCK_TYPE_KERBEROS)
    lock.acquire()
    try:
        key = principal + '|' + keytab
        kinits = 0 if key in _KINIT_CACHE_TIMES else 1
        _KINIT_CACHE_TIMES[key] = int(time.time())
    finally:
        lock.release()
    record = os.environ.get('CURL_KRB_RECORD')
    if record:
        with open(record, 'a') as f:
            f.write(json.dumps({'principal': principal, 'keytab': keytab, 'url': url, 'prefix': cache_file_prefix,
                                'paths': krb_exec_search_paths, 'only_code': return_only_http_code,
                                'user': user, 'timeout': connection_timeout, 'kinit_timer_ms': kinit_timer_ms,
                                'kinits': kinits}) + '\n')
    start = time.time()
    try:
        resp = urllib.request.urlopen(url, timeout=connection_timeout)
        code, data = resp.getcode(), resp.read().decode()
    except urllib.error.HTTPError as e:
        code, data = e.code, ''
    except Exception as e:
        return ('000' if return_only_http_code else '', str(e), time.time() - start)
    if return_only_http_code:
        return (code, None, time.time() - start)
    return (data, None, time.time() - start)
