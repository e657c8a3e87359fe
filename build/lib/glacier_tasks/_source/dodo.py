"""glacier-tasks: `doit` (dry run), `doit backup`, `doit list --status`. See README.md."""

from glacier_tasks.commands import namespace

globals().update(namespace())  # DOIT_CONFIG and every command's task generators
