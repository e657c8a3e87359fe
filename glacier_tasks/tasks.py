"""Every doit task of glacier-tasks: thin wiring of the modules into a graph.

    _lock -> _scan:ATOM (one per atom) -> plan -> bag:NAME (one per bag, delayed until
    plan ran) -> inventory -> system -> _report;  backup = all of it;  dryrun = plan +
    inventory_dryrun.json + summary;  `doit` alone = dryrun.

Resume comes from each bag's marker on disk (see backup.py), not from doit's database.
"""

import functools
import signal
import sys
from pathlib import Path

from doit import create_after
from doit.exceptions import InvalidDodoFile, TaskFailed
from doit.tools import config_changed
from tqdm import tqdm

from . import backup, inventory, report, scan, statefile, system
from .config import load_settings, read_molecules, today
from .errors import GlacierError
from .plan import AtomState, MoleculeState, plan_bags
from .reporter import GlacierReporter
from .store import store_for

try:
    SETTINGS = load_settings()
    MOLECULES = read_molecules(SETTINGS)
    YEAR = today().year
    SETTINGS.state_dir.mkdir(parents=True, exist_ok=True)
except GlacierError as err:
    raise InvalidDodoFile(str(err)) from None
except OSError as err:
    raise InvalidDodoFile(f"{err.filename}: {err.strerror}") from None

# SIGTERM stops a run like Ctrl-C does, so doit still saves its database on the way out
signal.signal(signal.SIGTERM, signal.default_int_handler)

CONFIG_FILE = str(SETTINGS.config_file)
STATE_DIR = SETTINGS.state_dir
PLAN_FILE = backup.plan_file(STATE_DIR)

DOIT_CONFIG = {
    "default_tasks": ["dryrun"],
    "backend": "json",
    "dep_file": str(STATE_DIR / "doit-db.json"),
    "subtasks": True,  # `doit list` shows bag:NAME; the atom scans are private (_scan)
    "reporter": GlacierReporter,
    "verbosity": 2,    # uncaptured output: progress bars draw live
}


def user_errors(func):
    """Turn a GlacierError into doit's TaskFailed: one line for the user, no traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GlacierError as err:
            return TaskFailed(str(err))
    return wrapper


def _find_atoms():
    """(molecule, atom name, atom key) of every atom now on disk, and missing reasons."""
    atoms, missing = [], {}
    for molecule in MOLECULES:
        if molecule.remote:
            missing[molecule.spelling] = "remote molecules (sshfs) are not supported yet"
            continue
        try:
            names = scan.list_atoms(molecule.path)
        except (FileNotFoundError, NotADirectoryError):
            missing[molecule.spelling] = f"folder {molecule.path} not found"
            continue
        except PermissionError:
            missing[molecule.spelling] = f"folder {molecule.path} cannot be read"
            continue
        atoms += [(molecule, name, scan.atom_key(molecule.spelling, name))
                  for name in names]
    return atoms, missing


ATOMS, MISSING = _find_atoms()


# ---- actions: (function, args) tuples so they pickle for `doit -n N -P process` ----

@user_errors
def lock_action(state_dir):
    statefile.take_lock(Path(state_dir))


_scan_bar = None


def scan_action(molecule_path, atom, key, hash_file, total):
    global _scan_bar
    if _scan_bar is None:
        _scan_bar = tqdm(total=total, desc="scan", unit="atom", leave=False,
                         disable=not sys.stderr.isatty(), file=sys.stderr)
    try:
        scan.write_atom_hash(Path(molecule_path), atom, key, Path(hash_file))
    except PermissionError as err:
        return TaskFailed(f"{err.filename}: {err.strerror}; the backup needs to read it")
    _scan_bar.update(1)


@user_errors
def plan_action():
    atoms = []
    for molecule, _, key in ATOMS:
        record = scan.read_atom_hash(scan.hash_file_for(STATE_DIR, key))
        if record is None:
            return TaskFailed(f"{key}: no scan result; run 'doit backup' again")
        atoms.append(AtomState(key, molecule.spelling, record["hash"], record["size"],
                               record["files"]))
    molecules = [MoleculeState(m.spelling, m.slug, m.spelling not in MISSING)
                 for m in MOLECULES]
    previous = inventory.load_inventory(SETTINGS.inventory_file)
    plan = plan_bags(atoms, molecules, previous, SETTINGS.target_bytes, YEAR, SETTINGS.host)
    plan["molecule_paths"] = {m.spelling: str(m.path) for m in MOLECULES}
    plan["missing_reasons"] = {m: MISSING.get(m, "folder is empty (drive not mounted?)")
                               for m in plan["missing_molecules"]}
    statefile.write_json(PLAN_FILE, plan)


def _markers(plan):
    return {b["name"]: backup.read_marker(STATE_DIR, b["name"], b["content_key"])
            for b in plan["bags"]}


def _read_plan():
    plan = statefile.read_json(PLAN_FILE, what="plan")
    if plan is None:
        raise GlacierError(f"{PLAN_FILE}: no plan yet; run 'doit dryrun' or 'doit backup'")
    return plan


@user_errors
def dryrun_action():
    plan = _read_plan()
    previous = inventory.load_inventory(SETTINGS.inventory_file)
    draft = inventory.build_inventory(plan, _markers(plan), previous, pending_ok=True)
    statefile.write_json(SETTINGS.dryrun_file, draft)
    print(report.plan_summary(plan, SETTINGS))
    print(f"Wrote {SETTINGS.dryrun_file} (inventory.json untouched, nothing uploaded)")
    if plan["missing_molecules"]:
        return TaskFailed("some molecules are missing (see above)")


@user_errors
def bucket_action():
    store_for(SETTINGS).check_bucket()


@user_errors
def inventory_action():
    plan = _read_plan()
    previous = inventory.load_inventory(SETTINGS.inventory_file)
    built = inventory.build_inventory(plan, _markers(plan), previous)
    if inventory.write_inventory(SETTINGS.inventory_file, built):
        print(f"Wrote {SETTINGS.inventory_file}: {len(built['atoms'])} atoms in "
              f"{len(built['bags'])} bags")


@user_errors
def system_action():
    store = store_for(SETTINGS)
    sent = system.upload_system(SETTINGS, store, YEAR, SETTINGS.inventory_file)
    if sent:
        print(f"System folder {system.system_prefix(YEAR)}: uploaded {len(sent)} files")
    resumable = {m.get("upload", {}).get("upload_id") for m in _markers(_read_plan()).values()}
    with store.errors("cleaning up unfinished uploads"):
        aborted = store.abort_open_uploads(f"{YEAR}-backup/", keep=resumable - {None})
    for key in aborted:
        print(f"Aborted an unfinished upload of {key} (no bag needs it any more)")


@user_errors
def report_action():
    plan = _read_plan()
    failures = {}
    for bag in plan["bags"]:
        path = backup.failure_file(STATE_DIR, bag["name"])
        if path.exists():
            failures[bag["name"]] = path.read_text().strip()
    text, ok = report.run_report(plan, failures)
    print(text)
    if not ok:
        return TaskFailed("the backup is incomplete (see above)")


# ---- task generators ----

def task__lock():
    return {"actions": [(lock_action, [str(STATE_DIR)])], "uptodate": [False]}


def task__scan():
    for molecule, name, key in ATOMS:
        hash_file = scan.hash_file_for(STATE_DIR, key)
        yield {"name": key, "task_dep": ["_lock"], "uptodate": [False],
               "actions": [(scan_action, [str(molecule.path), name, key, str(hash_file),
                                          len(ATOMS)])]}


def task_scan():
    """hash the metadata of every atom (no file contents are read)"""
    return {"actions": None, "task_dep": ["_scan"]}


def task_plan():
    """pack atoms into bags (writes the plan that `doit list` shows)"""
    deps = [str(scan.hash_file_for(STATE_DIR, key)) for _, _, key in ATOMS]
    deps += [CONFIG_FILE, str(SETTINGS.list_file)]
    if SETTINGS.inventory_file.exists():
        deps.append(str(SETTINGS.inventory_file))
    inputs = {"year": YEAR, "host": SETTINGS.host, "target": SETTINGS.target_bytes,
              "missing": sorted(MISSING), "plan_format": 1}
    return {"actions": [(plan_action, [])], "task_dep": ["_lock", "scan"],
            "file_dep": deps, "targets": [str(PLAN_FILE)],
            "uptodate": [config_changed(inputs)]}


@create_after(executed="plan")
def task_bag():
    """the bags of the last plan: pack, upload, check, upload the manifest"""
    plan = statefile.read_json(PLAN_FILE, default=None, what="plan") \
        if PLAN_FILE.exists() else None
    for bag in (plan or {}).get("bags", []):
        if bag["action"] == "keep":
            yield {"name": bag["name"], "doc": report.describe_bag(bag),
                   "actions": [], "uptodate": [True]}
            continue
        done = backup.bag_is_done(str(STATE_DIR), bag["name"], bag["content_key"])
        yield {"name": bag["name"], "doc": report.describe_bag(bag, done),
               "actions": [(backup.run_bag, [CONFIG_FILE, bag["name"]])],
               "task_dep": ["_bucket"],
               "uptodate": [(backup.bag_is_done, [str(STATE_DIR), bag["name"],
                                                  bag["content_key"]])]}


def task__bucket():
    return {"actions": [(bucket_action, [])], "uptodate": [False]}


def task_inventory():
    """write inventory.json from the plan and the finished bags"""
    return {"actions": [(inventory_action, [])], "task_dep": ["bag"], "uptodate": [False]}


def task_system():
    """upload inventory, config, list and the tool's source to YYYY-backup/system/"""
    return {"actions": [(system_action, [])], "task_dep": ["_bucket", "inventory"],
            "uptodate": [False]}


def task__report():
    return {"actions": [(report_action, [])], "task_dep": ["system"], "uptodate": [False]}


def task_backup():
    """the yearly run: scan, plan, upload changed bags, inventory, system folder"""
    return {"actions": None, "task_dep": ["_lock", "plan", "bag", "inventory", "system",
                                          "_report"]}


def task_dryrun():
    """scan and plan only: print what a backup would do, write inventory_dryrun.json"""
    return {"actions": [(dryrun_action, [])], "task_dep": ["_lock", "plan"],
            "uptodate": [False]}
