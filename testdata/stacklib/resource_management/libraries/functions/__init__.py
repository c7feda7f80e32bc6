from resource_management.libraries.functions.check_process_status import *  # noqa: F401,F403
from resource_management.libraries.functions.default import *  # noqa: F401,F403
from resource_management.libraries.functions.format import *  # noqa: F401,F403
