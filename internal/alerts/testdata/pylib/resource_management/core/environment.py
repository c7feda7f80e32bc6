class Environment(object):
    current = None

    def __init__(self, basedir=None, tmp_dir=None, test_mode=False, logger=None, logging_level=None):
        self.basedir = basedir
        self.tmp_dir = tmp_dir

    def __enter__(self):
        Environment.current = self
        return self

    def __exit__(self, *exc):
        Environment.current = None
