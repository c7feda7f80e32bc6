__all__ = ["Resource"]


class Resource(object):
    def __init__(self, name, **kwargs):
        from resource_management.core.environment import Environment
        self.name = name
        self.arguments = kwargs
        env = Environment.get_instance_or_null()
        if env is not None:
            env.resources.append(self)
