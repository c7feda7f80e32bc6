from resource_management.libraries.script.script import Script

__all__ = ["Hook"]


class Hook(Script):
    def choose_method_to_execute(self, command_name):
        return self.hook
