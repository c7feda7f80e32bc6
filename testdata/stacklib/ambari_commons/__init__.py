from ambari_commons.os_check import OSCheck, OSConst  # noqa: F401
