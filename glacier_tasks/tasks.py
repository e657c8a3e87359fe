"""Every doit task of glacier-tasks: thin wiring of the modules into a graph.

    _lock -> _scan:ATOM (one per atom) -> plan -> bag:NAME (one per bag, delayed until
    plan ran) -> inventory -> system -> _report;  backup = all of it;  dryrun = plan +
    inventory_dryrun.json + summary;  `doit` alone = dryrun.

Resume comes from each bag's marker on disk (see backup.py), not from doit's database.
"""

import atexit
import functools
import os
import signal
import sys
from pathlib import Path

from doit import create_after
from doit.exceptions import InvalidDodoFile, TaskFailed
from doit.tools import config_changed
from tqdm import tqdm

from . import (backup, bootstrap, cost, crypto, find, hardening, inventory, prune, remote, report,
               restore, scan, statefile, system, verify)
from .config import load_settings, read_molecules, today
from .errors import GlacierError
from .plan import AtomState, MoleculeState, plan_bags
from .reporter import GlacierReporter
from .bag import staging_need
from .store import store_for
from .tasks_init import task_init  # noqa: F401  (listed with the others)

try:
    SETTINGS = load_settings()
    YEAR = today().year
    # an empty machine about to bootstrap has a config but no list yet: only the tasks
    # that read molecules fail on a missing list, with this message
    LIST_MISSING = None if SETTINGS.list_file.exists() else \
        f"{SETTINGS.list_file}: list file not found (one folder to back up per line)"
    MOLECULES = [] if LIST_MISSING else read_molecules(SETTINGS)
    if SETTINGS.encryption == "age":
        crypto.require_age()
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
            continue  # its atoms are listed once it is mounted (task _mount)
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
REMOTE = [m for m in MOLECULES if m.remote]
REMOTE_FILE = STATE_DIR / "remote.json"
REMOTE_SPELLINGS = {m.spelling for m in REMOTE}


# ---- actions: (function, args) tuples so they pickle for `doit -n N -P process` ----

@user_errors
def lock_action(state_dir):
    statefile.take_lock(Path(state_dir))


_scan_bar = None
_prescanned = {}
MAIN_PID = os.getpid()


def _prescan():
    """The first scan task walks every local atom on all cores; the others then only
    write their result. Not in doit's own worker processes (-n N), which split the
    tasks themselves."""
    if os.getpid() != MAIN_PID:
        return
    pairs = [(molecule.path, name) for molecule, name, _ in ATOMS]
    try:
        _prescanned.update(scan.scan_atoms(pairs, os.cpu_count() or 1))
    except OSError:
        pass  # each task then scans its atom alone and reports its own error


def scan_action(molecule_path, atom, key, hash_file, total):
    global _scan_bar
    if _scan_bar is None:
        _scan_bar = tqdm(total=total, desc="scan", unit="atom", leave=False,
                         disable=not sys.stderr.isatty(), file=sys.stderr)
        _prescan()
    try:
        scan.write_atom_hash(Path(molecule_path), atom, key, Path(hash_file),
                             _prescanned.pop((Path(molecule_path), atom), None))
    except PermissionError as err:
        return TaskFailed(f"{err.filename}: {err.strerror}; the backup needs to read it")
    _scan_bar.update(1)


def mount_action():
    """Mount every remote molecule and list its atoms, into STATE/remote.json."""
    found = {}
    for molecule in REMOTE:
        reason = remote.mount(SETTINGS, molecule)
        if reason is None:
            atexit.register(remote.unmount, SETTINGS, molecule)  # teardown's safety net
            try:
                found[molecule.spelling] = {"atoms": scan.list_atoms(molecule.path)}
                continue
            except OSError as err:
                reason = f"cannot list {molecule.spelling}: {err.strerror}"
        print(f"REMOTE {molecule.spelling}: {reason}", flush=True)
        found[molecule.spelling] = {"missing": reason}
    statefile.write_json(REMOTE_FILE, found)


def unmount_action():
    for molecule in REMOTE:
        remote.unmount(SETTINGS, molecule)


def _remote_atoms():
    """(molecule, atom name, key) of the mounted remote molecules, and their failures."""
    found = statefile.read_json(REMOTE_FILE, default={}, what="remote atom list") \
        if REMOTE else {}
    atoms, missing = [], {}
    for molecule in REMOTE:
        entry = found.get(molecule.spelling, {"missing": "not mounted"})
        if "missing" in entry:
            missing[molecule.spelling] = entry["missing"]
            continue
        atoms += [(molecule, name, scan.atom_key(molecule.spelling, name))
                  for name in entry["atoms"]]
    return atoms, missing


@user_errors
def plan_action():
    if LIST_MISSING:
        return TaskFailed(LIST_MISSING)
    remote_atoms, remote_missing = _remote_atoms()
    missing = {**MISSING, **remote_missing}
    atoms = []
    for molecule, _, key in ATOMS + remote_atoms:
        record = scan.read_atom_hash(scan.hash_file_for(STATE_DIR, key))
        if record is None:
            return TaskFailed(f"{key}: no scan result; run 'doit backup' again")
        atoms.append(AtomState(key, molecule.spelling, record["hash"], record["size"],
                               record["files"]))
    molecules = [MoleculeState(m.spelling, m.slug, m.spelling not in missing)
                 for m in MOLECULES]
    previous = inventory.load_inventory(SETTINGS.inventory_file)
    plan = plan_bags(atoms, molecules, previous, SETTINGS.target_bytes, YEAR, SETTINGS.host)
    plan["molecule_paths"] = {m.spelling: str(m.path) for m in MOLECULES}
    plan["missing_reasons"] = {m: missing.get(m, "folder is empty (drive not mounted?)")
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
    sent = system.upload_system(SETTINGS, lambda: store_for(SETTINGS), YEAR,
                                SETTINGS.inventory_file)
    if sent:
        print(f"System folder {system.system_prefix(YEAR)}: uploaded {len(sent)} files")
    # every multipart upload is recorded in its bag's marker as soon as it exists
    if not any('"upload"' in m.read_text() for m in (STATE_DIR / "bags").glob("*.json")):
        return
    resumable = {m.get("upload", {}).get("upload_id")
                 for m in _markers(_read_plan()).values()}
    store = store_for(SETTINGS)
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
    if SETTINGS.encryption != "age":
        print("Not encrypted by this tool: the data is protected only by AWS (your "
              "credentials and SSE-S3); see encryption = \"age\" in README.md")
    if not ok:
        return TaskFailed("the backup is incomplete (see above)")


def _prunable(inv, store, plan):
    objects = store.list_keys("")
    referenced = prune.referenced_keys(inv, plan)
    return objects, prune.plan_prune(objects, referenced, today(), SETTINGS.prices)


@user_errors
def prune_action(delete, force, min_age_days):
    inv = inventory.load_inventory(SETTINGS.inventory_file, required_by="prune")
    plan = statefile.read_json(PLAN_FILE, what="plan")
    store = store_for(SETTINGS)
    _, found = _prunable(inv, store, plan)
    if not found:
        print("Nothing to prune: every object under YYYY-backup/ is referenced")
        return
    if not delete:
        print("\n".join(report.prune_lines(found, delete=False)))
        return
    doomed, kept = prune.split_by_age(found, min_age_days, force)
    for p in kept:
        print(f"Kept {p.key}: {p.age_days} days old, under --min-age-days "
              f"{min_age_days}; free to delete from {p.free_from}")
    for p in doomed:
        if p.fee_now:
            print(f"Early-deletion fee for {p.key}: ${p.fee_now:.4f} (--force)")
        store.delete(p.key)
        (SETTINGS.manifest_dir / p.key.rpartition("/")[2]).unlink(missing_ok=True)
        print(f"Deleted {p.key}")


@user_errors
def pin_action(path, off):
    if not path:
        return TaskFailed("say which atom: doit pin --path /data/Photos [--off]")
    inv = inventory.load_inventory(SETTINGS.inventory_file, required_by="pin")
    atom = inventory.find_atom(inv, path)
    if atom is None:
        return TaskFailed(f"{path}: no such atom in {SETTINGS.inventory_file}")
    inv["atoms"][atom]["pinned"] = not off
    inventory.write_inventory(SETTINGS.inventory_file, inv)
    print(f"{'Unpinned' if off else 'Pinned'} {atom} "
          f"({inv['atoms'][atom]['tar_id']}, {inv['atoms'][atom]['archive_key']})")


@user_errors
def bootstrap_action(year):
    print("\n".join(bootstrap.bootstrap(SETTINGS, store_for(SETTINGS), year)))


@user_errors
def cost_action():
    inv = inventory.load_inventory(SETTINGS.inventory_file, required_by="cost")
    objects, found = _prunable(inv, store_for(SETTINGS),
                               statefile.read_json(PLAN_FILE, what="plan"))
    held = [inv["bags"][k]["size"] for k in inv["bags"]]
    files = sum(a.get("files", 0) for a in inv["atoms"].values())
    restore = {tier: cost.restore_cost(sum(held), len(held), tier, SETTINGS.prices)
               for tier in cost.TIERS}
    per_file = cost.one_object_per_file(files, sum(held), SETTINGS.storage_class,
                                        SETTINGS.prices)
    print("\n".join(report.cost_lines(cost.storage_bill(objects, SETTINGS.prices),
                                      sum(p.size for p in found), restore, per_file,
                                      len(held))))


@user_errors
def find_action(pattern, long, regex):
    # doit hands every word after the task name to PATTERN, options included
    words = [w for w in pattern if w not in ("--long", "--regex")]
    long, regex = long or "--long" in pattern, regex or "--regex" in pattern
    if not words:
        return TaskFailed("say what to look for: doit find PATTERN [--long] [--regex]")
    inv = inventory.load_inventory(SETTINGS.inventory_file, required_by="find")
    found = 0
    for m in find.search(SETTINGS, store_for(SETTINGS), inv, " ".join(words), regex):
        extra = f"\t{m.size}\t{m.mtime}" if long else ""
        print(f"{m.path}\t{m.bag}\t{m.archive_key}{extra}")
        found += 1
    if not found:
        print(f"No file matches {' '.join(words)!r}", file=sys.stderr)


@user_errors
def restore_action(path, to, tier, days, yes, wait, wait_hours, overwrite, from_file,
                   poll_seconds):
    if not path:
        return TaskFailed("say what to restore: doit restore --path /data/Photos [--yes]")
    if tier not in restore.TIER_DELAY:
        return TaskFailed(f"--tier {tier}: use Bulk, Standard or Expedited")
    options = restore.RestoreOptions(path, Path(to).resolve(), tier, days, yes, wait,
                                     wait_hours, overwrite, poll_seconds)
    inv = inventory.load_inventory(SETTINGS.inventory_file,
                                   required_by=None if from_file else "restore")
    if from_file:
        return _restore_from_file(inv, Path(from_file), options)
    targets = restore.resolve_targets(inv, path)
    bags = {t.archive_key: inv["bags"][t.archive_key] for t in targets}
    if not yes:
        print(f"Restoring {path} needs:")
        print("\n".join(restore.thaw_plan_lines(bags, options, SETTINGS.prices)))
        print("Nothing was requested. Add --yes to thaw and restore.")
        return
    store = store_for(SETTINGS)
    for key, bag in bags.items():
        restore.check_members([t for t in targets if t.archive_key == key],
                              find.local_manifest(SETTINGS, store, key, bag), inv["atoms"])
    if not restore.restore_from_bucket(SETTINGS, store, inv, targets, options, print):
        return TaskFailed("the restore is not finished yet (bags still thawing)")


def _restore_from_file(inv, tar, options):
    if not tar.exists():
        return TaskFailed(f"{tar}: no such file")
    bag = inv["bags"].get(next((k for k in inv["bags"] if k.endswith("/" + tar.name)), ""))
    restore.verify_file(tar, bag and bag.get("sha256"))
    try:
        targets = [t for t in restore.resolve_targets(inv, options.path)
                   if t.archive_key.endswith("/" + tar.name)]
        members = [t.member for t in targets]
    except GlacierError:
        members = [os.fsencode(options.path.strip("/"))]  # a path inside the bag itself
    restore.extract(tar, options.dest, members, options.overwrite,
                    SETTINGS.age_identity_file)
    print(f"Restored {options.path} from {tar} into {options.dest}")


@user_errors
def verify_action(deep, yes, tier, days):
    inv = inventory.load_inventory(SETTINGS.inventory_file, required_by="verify")
    store = store_for(SETTINGS)
    problems = verify.check_headers(store, inv)
    waiting = 0
    if deep and not yes:
        total = sum(b["size"] for b in inv["bags"].values())
        figures = cost.restore_cost(total, len(inv["bags"]), tier, SETTINGS.prices)
        print(f"--deep thaws and downloads all {len(inv['bags'])} bags "
              f"({report.human(total)}): slow ({restore.TIER_DELAY[tier]}) and paid "
              f"(about ${figures['total']:.2f}); add --yes to do it")
    elif deep:
        deep_problems, waiting = verify.deep_check(store, inv, days, tier, print)
        problems += deep_problems
    for line in problems:
        print(f"PROBLEM {line}")
    if problems:
        return TaskFailed(f"{len(problems)} problems found (see above)")
    if waiting:
        return TaskFailed(f"{waiting} bags still thawing; run again later")
    print(f"Verified {len(inv['bags'])} bags and their manifests: all as recorded")


@user_errors
def setup_bucket_action():
    for line in hardening.setup_bucket(store_for(SETTINGS), SETTINGS.region):
        print(line[0].upper() + line[1:])


@user_errors
def check_action():
    plan = statefile.read_json(PLAN_FILE, default=None, what="plan") or {"bags": []}
    largest = max([staging_need(b["size"], b["files"]) for b in plan["bags"]
                   if b["action"] == "upload"] + [0])
    findings = hardening.check(SETTINGS, store_for(SETTINGS), largest)
    for ok, line in findings:
        print(f"{'ok     ' if ok else 'PROBLEM'} {line}")
    problems = sum(1 for ok, _ in findings if not ok)
    if problems:
        return TaskFailed(f"{problems} problems found (see above)")


def policy_action():
    print(hardening.least_privilege_policy(SETTINGS.s3_bucket))


# ---- task generators ----

def task__lock():
    return {"actions": [(lock_action, [str(STATE_DIR)])], "uptodate": [False]}


def task__scan():
    for molecule, name, key in ATOMS:
        hash_file = scan.hash_file_for(STATE_DIR, key)
        yield {"name": key, "task_dep": ["_lock"], "uptodate": [False],
               "actions": [(scan_action, [str(molecule.path), name, key, str(hash_file),
                                          len(ATOMS)])]}


def task__mount():
    return {"actions": [(mount_action, [])], "teardown": [(unmount_action, [])],
            "task_dep": ["_lock"], "uptodate": [False]}


@create_after(executed="_mount")
def task__scan_remote():
    atoms, _ = _remote_atoms()
    for molecule, name, key in atoms:
        hash_file = scan.hash_file_for(STATE_DIR, key)
        yield {"name": key, "uptodate": [False],
               "actions": [(scan_action, [str(molecule.path), name, key, str(hash_file),
                                          len(atoms)])]}


def task_scan():
    """hash the metadata of every atom (no file contents are read)"""
    return {"actions": None, "task_dep": ["_scan", "_mount", "_scan_remote"]}


def task_plan():
    """pack atoms into bags (writes the plan that `doit list` shows)"""
    deps = [str(scan.hash_file_for(STATE_DIR, key)) for _, _, key in ATOMS]
    deps += [CONFIG_FILE] + ([] if LIST_MISSING else [str(SETTINGS.list_file)])
    if SETTINGS.inventory_file.exists():
        deps.append(str(SETTINGS.inventory_file))
    inputs = {"year": YEAR, "host": SETTINGS.host, "target": SETTINGS.target_bytes,
              "missing": sorted(MISSING), "plan_format": 1}
    # remote atoms are known only once mounted: with any, the plan is always redone
    return {"actions": [(plan_action, [])], "task_dep": ["_lock", "scan"],
            "file_dep": deps, "targets": [str(PLAN_FILE)],
            "uptodate": [config_changed(inputs)] + ([False] if REMOTE else [])}


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
               "task_dep": ["_bucket"] + (["_mount"] if bag["molecule"] in REMOTE_SPELLINGS
                                          else []),
               "uptodate": [(backup.bag_is_done, [str(STATE_DIR), bag["name"],
                                                  bag["content_key"]])]}


def task__bucket():
    return {"actions": [(bucket_action, [])], "uptodate": [False]}


def task_inventory():
    """write inventory.json from the plan and the finished bags"""
    return {"actions": [(inventory_action, [])], "task_dep": ["bag"], "uptodate": [False]}


def task_system():
    """upload inventory, config, list and the tool's source to YYYY-backup/system/"""
    return {"actions": [(system_action, [])], "task_dep": ["inventory"],
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


def task_prune():
    """list bags no inventory references (--delete: delete those past --min-age-days)"""
    return {"actions": [(prune_action, [])], "task_dep": ["_lock"], "uptodate": [False],
            "params": [
                {"name": "delete", "long": "delete", "type": bool, "default": False,
                 "help": "delete the prunable objects past the minimum age"},
                {"name": "force", "long": "force", "type": bool, "default": False,
                 "help": "with --delete: also delete younger ones, paying the fee"},
                {"name": "min_age_days", "long": "min-age-days", "type": int,
                 "default": 180, "help": "minimum age in days (default 180)"}]}


def task_pin():
    """pin an atom to its tar_id forever (--path ATOM), or unpin it (--off)"""
    return {"actions": [(pin_action, [])], "task_dep": ["_lock"], "uptodate": [False],
            "params": [
                {"name": "path", "long": "path", "type": str, "default": "",
                 "help": "the atom (or a path inside it)"},
                {"name": "off", "long": "off", "type": bool, "default": False,
                 "help": "clear the pin"}]}


def task_bootstrap():
    """rebuild inventory, list and manifests of an empty machine from the bucket"""
    return {"actions": [(bootstrap_action, [])], "task_dep": ["_lock"],
            "uptodate": [False],
            "params": [{"name": "year", "long": "year", "type": int, "default": None,
                        "help": "the year's system folder to use (default: latest)"}]}


def task_cost():
    """monthly bill, prunable bytes, full-restore cost, and bags against one object
    per file"""
    return {"actions": [(cost_action, [])], "uptodate": [False]}


def task_find():
    """search the manifests: doit find PATTERN [--long] [--regex]"""
    return {"actions": [(find_action, [])], "pos_arg": "pattern", "uptodate": [False],
            "params": [
                {"name": "long", "long": "long", "type": bool, "default": False,
                 "help": "also print size and modification time"},
                {"name": "regex", "long": "regex", "type": bool, "default": False,
                 "help": "PATTERN is a regular expression"}]}


def task_restore():
    """restore a path (atom, folder or file): prints the cost; --yes thaws and restores"""
    return {"actions": [(restore_action, [])], "uptodate": [False], "params": [
        {"name": "path", "long": "path", "type": str, "default": "",
         "help": "what to restore, as its original full path"},
        {"name": "to", "long": "to", "type": str, "default": "restore",
         "help": "folder to restore into (default ./restore)"},
        {"name": "tier", "long": "tier", "type": str, "default": "Bulk",
         "help": "thaw tier: Bulk (~48 h, cheapest) or Standard (~12 h)"},
        {"name": "days", "long": "days", "type": int, "default": 7,
         "help": "days the thawed copy stays readable"},
        {"name": "yes", "long": "yes", "type": bool, "default": False,
         "help": "really thaw (paid) and restore"},
        {"name": "wait", "long": "wait", "type": bool, "default": False,
         "help": "poll until every bag is thawed"},
        {"name": "wait_hours", "long": "wait-hours", "type": float, "default": 72,
         "help": "give up waiting after this many hours"},
        {"name": "poll_seconds", "long": "poll-seconds", "type": float, "default": 60,
         "help": "first wait between status checks (doubles up to 30 min)"},
        {"name": "overwrite", "long": "overwrite", "type": bool, "default": False,
         "help": "replace files that already exist in the destination"},
        {"name": "from_file", "long": "from-file", "type": str, "default": "",
         "help": "restore from a bag already downloaded by hand"}]}


def task_verify():
    """check every bag and manifest is in the bucket as recorded (--deep: re-hash)"""
    return {"actions": [(verify_action, [])], "uptodate": [False], "params": [
        {"name": "deep", "long": "deep", "type": bool, "default": False,
         "help": "also thaw, download and re-hash every bag (slow, paid)"},
        {"name": "yes", "long": "yes", "type": bool, "default": False,
         "help": "with --deep: really thaw and download"},
        {"name": "tier", "long": "tier", "type": str, "default": "Bulk",
         "help": "thaw tier for --deep"},
        {"name": "days", "long": "days", "type": int, "default": 1,
         "help": "days a thawed copy stays readable"}]}


def task_setup_bucket():
    """create and harden the bucket: public access block, encryption, abort rule"""
    return {"actions": [(setup_bucket_action, [])], "uptodate": [False]}


def task_check():
    """check credentials, bucket, its hardening and the staging room; one line each"""
    return {"actions": [(check_action, [])], "uptodate": [False]}


def task_policy():
    """print the least-privilege IAM policy JSON for the configured bucket"""
    return {"actions": [(policy_action, [])], "uptodate": [False]}
