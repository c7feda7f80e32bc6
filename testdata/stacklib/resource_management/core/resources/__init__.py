from resource_management.core.resources.system import *  # noqa: F401,F403
