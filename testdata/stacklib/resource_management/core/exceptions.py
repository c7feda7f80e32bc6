__all__ = ["Fail", "ExecutionFailed", "ComponentIsNotRunning", "ClientComponentHasNoStatus"]


class Fail(Exception):
    def pre_raise(self):
        pass


class ExecutionFailed(Fail):
    pass


class ComponentIsNotRunning(Exception):
    pass


class ClientComponentHasNoStatus(Exception):
    pass
