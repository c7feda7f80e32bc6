from resource_management.libraries.script.hook import *  # noqa: F401,F403
from resource_management.libraries.script.script import *  # noqa: F401,F403
