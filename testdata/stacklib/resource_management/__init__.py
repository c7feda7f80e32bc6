"""Stand-in for Ambari's resource_management (see ../README.md)."""
from resource_management.core import *  # noqa: F401,F403
from resource_management.libraries import *  # noqa: F401,F403
