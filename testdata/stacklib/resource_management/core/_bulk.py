"""The weight of the real library: some hundreds of classes and functions
whose code is compiled at every import (the real library's ~250 modules
cost the same in unmarshalling and executing their code)."""

_CLASSES = 150

_TEMPLATE = '''
class Provider{n}(object):
    """Generated provider {n}."""
    actions = ("create", "delete", "run_{n}")

    def __init__(self, resource=None, **kwargs):
        self.resource = resource
        self.options = dict(kwargs)
        self.index = {n}

    def action_create(self):
        return ["%s-%d" % (a, self.index) for a in self.actions if a]

    def action_delete(self, force=False):
        if force and self.index % 3 == 0:
            return {{"deleted": self.index, "forced": force}}
        return None

    def describe(self):
        return "Provider{n}(%r)" % (self.options,)
'''

exec(compile("".join(_TEMPLATE.format(n=n) for n in range(_CLASSES)), __file__ + ":generated", "exec"))

PROVIDERS = dict((n, globals()["Provider%d" % n]) for n in range(_CLASSES))
