"""`doit drop --molecule M` (`glacier drop M`): forget a molecule that left list.txt.

Until then its atoms stay in the inventory and every backup fails naming it: an
edited list must never make a backup disappear. Dropping only edits the inventory;
its bags enter history as superseded ones do: kept keep_years from the day it was
dropped, then deleted by `prune --delete` alone."""

from doit.exceptions import TaskFailed

from ..formats import inventory
from ..config import normalise_spelling
from ..errors import command
from ..run import load_run
from ..units import plural
from .base import current_run, locked, param, user_errors


@user_errors
@locked
def drop_action(config, molecule):
    if not molecule:
        return TaskFailed(f"say which molecule: {command('drop --molecule /data/Old')}")
    run = load_run(config)
    spelling = normalise_spelling(molecule)
    if spelling in {m.spelling for m in run.molecules}:
        return TaskFailed(f"{spelling} is still listed in {run.settings.list_file}; "
                          "remove its line first")
    path = run.settings.inventory_file
    inv = inventory.load_inventory(path, required_by="drop")
    atoms = [k for k, a in inv.atoms.items() if a.molecule == spelling]
    if not atoms:
        return TaskFailed(f"{spelling}: no atom of it in {path}")
    for key in atoms:
        del inv.atoms[key]
    bags = [k for k, b in inv.bags.items() if b.molecule == spelling]
    for key in bags:  # as superseded ones: kept keep_years from today, then prunable
        inv.history[key] = inventory.history_entry(inv.bags.pop(key), run.today.isoformat())
    inv.history = dict(sorted(inv.history.items()))
    inventory.write_inventory(path, inv)
    print(f"Dropped {spelling}: {plural(len(atoms), 'atom')} left the inventory; its "
          f"{plural(len(bags), 'bag')} enter history (kept keep_years, then "
          f"'{command('prune --delete')}' deletes them)")


DROP_PARAMS = [param("molecule", str, "", "the molecule, as list.txt spelled it")]


def task_drop():
    """forget a molecule that left list.txt (--molecule M); its bags enter history"""
    return {"actions": [(drop_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": DROP_PARAMS}
