"""The `glacier` console script: the same doit tasks, runnable from any folder."""

import sys

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from doit.exceptions import InvalidDodoFile


def main(argv=None) -> int:
    try:
        from . import entry
    except InvalidDodoFile as err:
        sys.stderr.write(f"ERROR: {err}\n")
        return 3
    return DoitMain(ModuleTaskLoader(entry)).run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
