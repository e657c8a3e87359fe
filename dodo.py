"""glacier-tasks: `doit` (dry run), `doit backup`, `doit list --status`. See README.md."""

from glacier_tasks.entry import *  # noqa: F401,F403  (task generators and DOIT_CONFIG)
