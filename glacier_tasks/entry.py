"""What dodo.py and the console script load: every task, or only `init` while there is
no config file yet (so a new user's first command works)."""

import sys

from .config import find_config_file

if not find_config_file().exists() and "init" in sys.argv[1:]:
    from .tasks_init import DOIT_CONFIG, task_init  # noqa: F401
else:
    from .tasks import *  # noqa: F401,F403
