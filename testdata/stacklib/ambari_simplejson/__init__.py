from json import *  # noqa: F401,F403
