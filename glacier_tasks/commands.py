"""The actions behind each task: what `doit backup`, `doit prune`, `doit restore`...
do, each a plain function that doit calls as a (function, args) tuple (so it pickles
for `doit -n N -P process`). A user's mistake becomes one line, never a traceback."""

import atexit
import functools
import os
import sys
from pathlib import Path

from doit.exceptions import TaskFailed
from tqdm import tqdm

from . import (backup, bootstrap, cost, find, hardening, inventory, prune, remote, report,
               restore, scan, statefile, system, verify)
from .bag import staging_need
from .context import (ATOMS, LIST_MISSING, MAIN_PID, MISSING, MOLECULES, PLAN_FILE,
                      REMOTE, REMOTE_FILE, SETTINGS, STATE_DIR, YEAR, remote_atoms)
from .config import today
from .errors import GlacierError
from .plan import AtomState, MoleculeState, plan_bags
from .store import store_for


def user_errors(func):
    """Turn a GlacierError into doit's TaskFailed: one line for the user, no traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GlacierError as err:
            return TaskFailed(str(err))
    return wrapper


@user_errors
def lock_action(state_dir):
    statefile.take_lock(Path(state_dir))


_scan_bar = None
_prescanned = {}


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
        _scan_bar = tqdm(desc="scan", unit=" files", unit_scale=True, leave=False,
                         disable=not sys.stderr.isatty(), file=sys.stderr)
        _scan_bar.atoms = 0
        _prescan()
    path = Path(molecule_path)
    try:
        result = _prescanned.pop((path, atom), None) or scan.scan_atom(path, atom)
        scan.write_atom_hash(path, atom, key, Path(hash_file), result)
    except PermissionError as err:
        return TaskFailed(f"{err.filename}: {err.strerror}; the backup needs to read it")
    _scan_bar.atoms += 1
    _scan_bar.set_postfix_str(f"{_scan_bar.atoms}/{total} atoms", refresh=False)
    _scan_bar.update(result.files)


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


@user_errors
def plan_action():
    if LIST_MISSING:
        return TaskFailed(LIST_MISSING)
    mounted, remote_missing = remote_atoms()
    missing = {**MISSING, **remote_missing}
    atoms = []
    for molecule, _, key in ATOMS + mounted:
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
    plan = _read_plan()
    resumable = {m.get("upload", {}).get("upload_id") for m in _markers(plan).values()}
    store = store_for(SETTINGS)
    with store.errors("cleaning up unfinished uploads"):
        aborted = store.abort_open_uploads(f"{YEAR}-backup/", keep=resumable - {None})
    for key in aborted:
        print(f"Aborted an unfinished upload of {key} (no bag needs it any more)")
    planned = {b["name"] for b in plan["bags"]}
    for marker in (STATE_DIR / "bags").glob("*.json"):  # bags no plan has any more
        if marker.stem not in planned:
            marker.unlink()


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
                              find.local_manifest(SETTINGS, store, bag), inv["atoms"])
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
