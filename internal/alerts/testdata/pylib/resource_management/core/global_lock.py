import threading

LOCK_TYPE_KERBEROS = "KERBEROS_LOCK"
_LOCKS = {LOCK_TYPE_KERBEROS: threading.RLock()}


def get_lock(lock_type):
    return _LOCKS[lock_type]
