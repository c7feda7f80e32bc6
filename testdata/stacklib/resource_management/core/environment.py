__all__ = ["Environment"]


class Environment(object):
    _instances = []

    def __init__(self, basedir=None, tmp_dir=None, logger=None):
        self.basedir = basedir
        self.tmp_dir = tmp_dir
        self.logger = logger
        self.resources = []
        self.config = type("Config", (), {})()

    @classmethod
    def get_instance_or_null(cls):
        return cls._instances[-1] if cls._instances else None

    def __enter__(self):
        self.__class__._instances.append(self)
        return self

    def __exit__(self, *exc):
        self.__class__._instances.pop()
        return False
