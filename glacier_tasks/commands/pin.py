"""`doit pin --path ATOM [--off]`: keep an atom's tar_id (and so its bag) forever."""

import os

from doit.exceptions import TaskFailed

from ..formats import inventory
from ..errors import command
from ..run import load_run
from .base import current_run, locked, param, user_errors


@user_errors
@locked
def pin_action(config, path, off):
    if not path:
        return TaskFailed(f"say which atom: {command('pin --path /data/Photos [--off]')}")
    path_file = load_run(config).settings.inventory_file
    inv = inventory.load_inventory(path_file, required_by="pin")
    atom = inventory.find_atom(inv, path)
    loose_guess = atom is not None and atom.endswith("/.") and path.rstrip("/") != atom
    if atom is None or (loose_guess and not os.path.lexists(path)):
        return TaskFailed(f"{path}: no such atom in {path_file} (nor a file lying in a "
                          "molecule's folder)")
    entry = inv.atoms[atom]
    entry.pinned = not off
    inventory.write_inventory(path_file, inv)
    print(f"{'Unpinned' if off else 'Pinned'} {atom} ({entry.tar_id}, {entry.archive_key})")


PIN_PARAMS = [param("path", str, "", "the atom (or a path inside it)"),
              param("off", bool, False, "clear the pin")]


def task_pin():
    """pin an atom to its tar_id forever (--path ATOM), or unpin it (--off)"""
    return {"actions": [(pin_action, [current_run().config_file])], "task_dep": ["_lock"],
            "uptodate": [False], "params": PIN_PARAMS}
