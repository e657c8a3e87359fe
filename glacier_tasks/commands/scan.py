"""`doit scan`: the walk that tells which atoms changed, the first part of a backup.

    _lock -> _mount (remote molecules, unmounted at teardown) -> _scan_remote
      -> _walk (every local atom on all cores, into STATE/walk.json)
      -> _scan:ATOM (one per local atom; target: its hash file, written only when the
         hash changed) = scan;  `plan` (commands/backup.py) depends on the hash files
"""

import atexit
import os
import sys
from pathlib import Path

from doit import create_after
from doit.task import Task
from tqdm import tqdm

from .. import units, statefile
from ..backup import remote, scan
from ..errors import GlacierError
from ..run import load_run
from .base import current_run, locked, user_errors

# -- actions --------------------------------------------------------------------------


def _walk(run, atoms) -> dict:
    """Hash the metadata of these atoms on all cores: {atom key: new record} of those
    whose hash file does not hold what the walk saw."""
    state = str(run.state_dir)
    items = [(a.molecule.path, a.name, a.key, scan.hash_path(state, a.key)) for a in atoms]
    bar = tqdm(total=len(items), desc="scan", unit=" atoms", leave=False,
               disable=not sys.stderr.isatty(), file=sys.stderr)
    changed = {}
    with bar:
        for key, record in scan.walk_atoms(items, os.cpu_count() or 1):
            if record is not None:
                changed[key] = record
            bar.update(1)
    return changed


@user_errors
@locked
def walk_action(config):
    """_walk: every local atom, into STATE/walk.json (the changed ones' records); the
    _scan:ATOM tasks then write those hash files."""
    run = load_run(config)
    statefile.write_json(run.walk_file, {"changed": _walk(run, run.local_atoms)})


@user_errors
@locked
def hash_action(config, path, record):
    """_scan:ATOM: write the atom's hash file (its target), which `plan` depends on."""
    if record is not None:
        statefile.write_json(Path(path), record)


@user_errors
@locked
def scan_remote_action(config):
    """The mounted remote atoms (known only once mounted), their hash files at once."""
    run = load_run(config)
    state = str(run.state_dir)
    for key, record in _walk(run, run.remote_atoms()[0]).items():
        statefile.write_json(Path(scan.hash_path(state, key)), record)


@user_errors
@locked
def mount_action(config):
    """Mount every remote molecule and list its atoms, into STATE/remote.json."""
    run = load_run(config)
    found = {}
    for molecule in run.remote:
        marker = run.mount_marker(molecule)
        reason = remote.mount(run.settings, molecule, marker)
        if reason is None:
            atexit.register(remote.unmount, marker)  # the teardown's safety net
            try:
                found[molecule.spelling] = {"atoms": scan.list_atoms(molecule.path)}
                continue
            except OSError as err:
                reason = f"cannot list {molecule.spelling}: {err.strerror}"
        print(f"REMOTE {molecule.spelling}: {reason}", flush=True)
        found[molecule.spelling] = {"missing": reason}
    statefile.write_json(run.remote_file, found)


def unmount_action(config):
    run = load_run(config)
    for molecule in run.remote:
        remote.unmount(run.mount_marker(molecule))

# -- tasks ----------------------------------------------------------------------------

# characters doit reads in a task name: '=' (`doit NAME=VALUE` sets a variable), '*'
# (a task_dep or a selection holding it is a pattern: a task named `_scan:/d/*` found
# no task to depend on, and every backup stopped with "no scan result"), '?' and '['
# (pattern characters once a '*' is there). printable already writes '\\' as '\\\\', so
# an escape never collides with a name that holds the same four characters.
_DOIT_SPECIAL = str.maketrans({c: "\\x%02x" % ord(c) for c in "=*?["})


def scan_task_name(atom_key: str) -> str:
    """`_scan:ATOM`, readable for an ordinary name, never a pattern to doit."""
    return "_scan:" + units.printable(atom_key).translate(_DOIT_SPECIAL)


def task__mount():
    run = current_run()
    return {"actions": [(mount_action, [run.config_file])],
            "teardown": [(unmount_action, [run.config_file])],
            "task_dep": ["_lock"], "uptodate": [False]}


@create_after(executed="_mount")
def task__scan_remote():
    run = current_run()
    return {"actions": [(scan_remote_action, [run.config_file])] if run.remote else [],
            "task_dep": ["_lock"], "uptodate": [False]}


def task__walk():
    return {"actions": [(walk_action, [current_run().config_file])],
            "task_dep": ["_lock", "_mount", "_scan_remote"], "uptodate": [False]}


@create_after(executed="_walk")
def task__scan():
    """one task per local atom: its target is the atom's hash file, written only when
    the walk saw the atom change; `plan` depends on those files"""
    run = current_run()
    try:
        changed = statefile.read_json(run.walk_file, default={}).get("changed", {})
    except (GlacierError, AttributeError):
        changed = {}  # `doit list` with a damaged file: the next walk rewrites it
    state, config, names = str(run.state_dir), run.config_file, []
    for atom in run.local_atoms:
        path, record = scan.hash_path(state, atom.key), changed.get(atom.key)
        name = scan_task_name(atom.key)
        yield Task(name, [(hash_action, [config, path, record])], targets=[path],
                   uptodate=[record is None], subtask_of="_scan",
                   io={"capture": False})  # prints nothing; two run at once (threads)
        if record is not None:
            names.append(name)
    # The group lists the atoms whose hash changed: the others are up to date by the
    # walk's own comparison, and doit need not visit 10,000 of them to learn it (0.4 s
    # of a no-change run). Each is still a task of its own: `doit _scan:ATOM`.
    yield Task("_scan", None, task_dep=names, has_subtask=True,
               doc=task__scan.__doc__.splitlines()[0])


def task_scan():
    """hash the metadata of every atom (no file contents are read)"""
    return {"actions": None, "task_dep": ["_lock", "_walk", "_scan"]}
