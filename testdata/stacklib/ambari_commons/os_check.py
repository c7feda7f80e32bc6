import platform

__all__ = ["OSCheck", "OSConst"]


class OSConst(object):
    WINSRV_FAMILY = "winsrv"
    REDHAT_FAMILY = "redhat"


class OSCheck(object):
    @staticmethod
    def is_windows_family():
        return platform.system() == "Windows"
