"""`doit list` and `doit info` for this tool. `list` shows the bags of the last plan,
one line each (molecule, atom count, size, why it is pending, and which of its steps,
tar, upload or manifest, it waits for), then how many are pending and how old that
knowledge is; `--status` marks each bag R (still to run) or U (done or unchanged);
`--all` adds the commands and the steps behind them; `--json` prints the bags for
scripts (commands/shapes.py). `info` is doit's, read against this project's database,
and ends with the same line of what holds now. Registered as doit's `list` and `info`
through pyproject.toml, and used by the `glacier` command.

What holds now: the last plan is as old as the last scan. A file changed since is
seen only by walking every atom (minutes on a big tree), so `list` does not; it says
when the scan was and names what it can see cheaply: list.txt, glacier.toml or the
inventory written since the plan, atoms come or gone (one listing per molecule)."""

import json as jsonlib
import os

from doit.cmd_info import Info
from doit.cmd_list import List
from doit.cmdparse import CmdParseError
from doit.exceptions import InvalidDodoFile

from .. import units
from ..errors import GlacierError, command
from ..backup.plan import read_plan
from ..formats import inventory
from . import doitfix, shapes
from .base import current_run, say

opt_json = {"name": "json", "long": "json", "type": bool, "default": False,
            "help": "the bags of the last plan as JSON (README: JSON output)"}


def now_notes(run, plan) -> list[str]:
    """Why the last plan may not hold now, from what is cheap to see (no walk)."""
    if plan is None:
        return []
    planned = os.stat(run.plan_file).st_mtime
    notes = []
    for path in (run.settings.config_file, run.settings.list_file):
        try:
            if os.stat(path).st_mtime > planned:
                notes.append(f"{path.name} changed since the plan")
        except OSError:
            pass
    if _inventory_moved(run, plan, planned):
        notes.append(f"{run.settings.inventory_file.name} changed since the plan")
    local = {m.spelling for m in run.molecules if not m.remote}
    known = {key for key, atom in plan.atoms.items() if atom.molecule in local}
    here = {a.key for a in run.local_atoms}
    for what, keys in (("new", here - known), ("gone", known - here)):
        if keys:
            notes.append(f"{units.plural(len(keys), 'atom')} {what} since the plan "
                         f"({units.printable(sorted(keys)[0])}"
                         + (", ..." if len(keys) > 1 else "") + ")")
    return notes


def _inventory_moved(run, plan, planned: float) -> bool:
    """Was the inventory written since the plan by something else than the backup of
    that plan (pin, drop, bootstrap)? Its atoms then differ from the plan's."""
    try:
        if os.stat(run.settings.inventory_file).st_mtime <= planned:
            return False
        atoms = inventory.load_inventory(run.settings.inventory_file).atoms
    except (OSError, GlacierError):
        return False

    def shape(entries):
        return {k: (a.archive_key, a.pinned) for k, a in entries.items()}
    return shape(atoms) != shape(plan.atoms)


def scanned_at(run, plan) -> float | None:
    """When the last plan's scan walked the atoms (walk.json), or the plan's time."""
    for path in (run.walk_file, run.plan_file):
        try:
            return os.stat(path).st_mtime
        except OSError:
            continue
    return None


def now_line(run, plan, pending: int, total: int) -> str:
    """'1 of 4 bags pending' and since when that is known."""
    if plan is None and total:  # the inventory's bags (a machine just bootstrapped)
        return f"{pending} of {units.plural(total, 'bag')} pending: the inventory's, no " \
               f"plan here yet; '{command('dryrun')}' plans from it (nothing is uploaded)"
    if plan is None:
        return f"No bags planned yet: '{command('dryrun')}' plans them (nothing is uploaded)"
    when = scanned_at(run, plan)
    line = f"{pending} of {units.plural(total, 'bag')} pending as of the scan of " \
           f"{units.iso_utc(when)}"
    notes = now_notes(run, plan)
    if notes:
        return line + f"; out of date: {'; '.join(notes)}; '{command('dryrun')}' plans again"
    return line + f"; files changed since are seen by '{command('dryrun')}' (it scans " \
                  "again and uploads nothing)"


def _current():
    """(run, plan) of this project, or (None, None) when there is none to read."""
    try:
        run = current_run()
        return run, read_plan(run, required=False)
    except (GlacierError, InvalidDodoFile):  # the loader has said why, in one line
        return None, None


class BagList(List):
    name = "list"
    doc_purpose = "list the bags of the last plan (--all: and the commands)"
    cmd_options = List.cmd_options + (opt_json,)

    def _execute(self, subtasks=False, quiet=True, status=False, private=False,
                 list_deps=False, template=None, sort="name", pos_args=None, json=False):
        if pos_args or private or list_deps or template:
            return super()._execute(subtasks, quiet, status, private, list_deps, template,
                                    sort, pos_args)  # doit's own listing, as asked
        bags = [t for t in self.task_list if t.subtask_of == "bag"]
        run, plan = _current()
        pending = sum(1 for t in bags if not t.meta.get("settled"))
        if json:
            say([jsonlib.dumps(shapes.bag_list(run, plan, bags, scanned_at(run, plan)
                                               if run else None,
                                               now_notes(run, plan) if run else []),
                               indent=1)])
            return 0
        width = max([len(t.name) for t in self.task_list] + [0]) + 3
        lines = [(self._mark(t) + " " if status else "") + f"{t.name:<{width}}{t.doc}"
                 for t in bags]
        lines.append(now_line(run, plan, pending, len(bags)) if run else
                     f"No bags planned yet: '{command('dryrun')}' plans them")
        if subtasks and not status:  # --all: the commands and the steps behind them
            commands = sorted((t for t in self.task_list if not t.subtask_of
                               and not t.name.startswith("_")), key=lambda t: t.name)
            lines += [""] + [f"{t.name:<{width}}{'' if quiet else t.doc}"
                             for t in commands]
        say(lines)
        return 0

    def _mark(self, task) -> str:
        """U for a bag done or kept unchanged, from its marker (not doit's database: a
        kept bag's task runs on every backup, to check the bucket still holds it)."""
        return "U" if task.meta.get("settled") else "R"

    def parse_execute(self, in_args):
        """doit's, whose parse errors are one line naming the command (`list --jsno`)."""
        doitfix.install()
        try:
            return super().parse_execute(in_args)
        except CmdParseError as err:
            raise CmdParseError(f"{command('list')}: {err}") from None


class NowInfo(Info):
    """doit's `info TASK`, read against this project's database (commands/__init__.py
    gives it a copy), then what holds now for the bags."""
    name = "info"

    def _execute(self, pos_args, hide_status=False):
        result = super()._execute(pos_args, hide_status)
        run, plan = _current()
        if run is not None and not hide_status:
            bags = [t for t in self.task_list if t.subtask_of == "bag"]
            pending = sum(1 for t in bags if not t.meta.get("settled"))
            say(["", now_line(run, plan, pending, len(bags))])
        return result
