__all__ = ["StaticFile", "Template", "InlineTemplate"]


class StaticFile(object):
    def __init__(self, name):
        self.name = name


class Template(StaticFile):
    pass


class InlineTemplate(StaticFile):
    pass
