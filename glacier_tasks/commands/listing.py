"""`doit list` for this tool: the bags of the last plan first, one line each (molecule,
atom count, size, why it is pending, and which of its steps, tar, upload or manifest,
it waits for), then the commands. `--status` marks each bag R (still to run) or U
(done or unchanged) and leaves the commands out. Registered as
doit's `list` through pyproject.toml, and used by the `glacier` command."""

from doit.cmd_list import List
from doit.cmdparse import CmdParseError

from .. import units
from ..errors import command
from . import doitfix
from .base import say


class BagList(List):
    name = "list"
    doc_purpose = "list the bags of the last plan first, then the commands"

    def _execute(self, subtasks=False, quiet=True, status=False, private=False,
                 list_deps=False, template=None, sort="name", pos_args=None):
        if pos_args or private or list_deps or template:
            return super()._execute(subtasks, quiet, status, private, list_deps, template,
                                    sort, pos_args)  # doit's own listing, as asked
        tasks = {t.name: t for t in self.task_list}
        bags = [t for t in self.task_list if t.subtask_of == "bag"]
        commands = sorted((t for t in self.task_list if not t.subtask_of
                           and not t.name.startswith("_")), key=lambda t: t.name)
        width = max([len(t.name) for t in bags + commands] + [0]) + 3
        lines = []
        for task in bags:
            mark = self._mark(task, tasks) + " " if status else ""
            lines.append(f"{mark}{task.name:<{width}}{task.doc}")
        if not bags:
            lines.append(f"No bags planned yet: '{command('dryrun')}' plans them (nothing "
                         "is uploaded)")
        if status:
            pending = sum(1 for line in lines if line.startswith("R "))
            lines.append(f"{pending} of {units.plural(len(bags), 'bag')} pending")
        else:
            lines.append("")
            lines += [f"{t.name:<{width}}{'' if quiet else t.doc}" for t in commands]
        say(lines)
        return 0

    def _mark(self, task, tasks) -> str:
        """U for a bag done or kept unchanged, from its marker (not doit's database: a
        kept bag's task runs on every backup, to check the bucket still holds it)."""
        return "U" if task.meta.get("settled") else "R"

    def parse_execute(self, in_args):
        """doit's, whose parse errors are one line naming the command (`list --json`)."""
        doitfix.install()
        try:
            return super().parse_execute(in_args)
        except CmdParseError as err:
            raise CmdParseError(f"{command('list')}: {err}") from None
