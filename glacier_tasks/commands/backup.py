"""`doit backup` and `doit dryrun`: the yearly run as a graph.

    _lock -> scan (every local atom, all cores; _mount + _scan_remote for remote ones)
      -> plan -> bag:NAME (one per bag, created once plan ran) -> inventory -> system
      -> _cleanup -> _report;   backup = all of it;   dryrun = plan + a summary

Resume comes from each bag's marker on disk (see steps.py), not from doit's database.
"""

import atexit
import os
import secrets
import sys

from doit import create_after
from doit.exceptions import TaskFailed
from doit.tools import config_changed
from tqdm import tqdm

from .. import hosts, inventory, layout, remote, report, scan, statefile, steps, system
from ..errors import GlacierError, StateError
from ..marker import read_marker
from ..plan import AtomState, MoleculeState, Plan, plan_bags
from ..run import load_run
from ..store import store_for
from .base import current_run, lock_task, locked, say, user_errors

# -- the plan, as the actions read it ------------------------------------------------


def read_plan(run, required: bool = True) -> Plan | None:
    data = statefile.read_json(run.plan_file, what="plan")
    if data is None:
        if required:
            raise StateError(f"{run.plan_file}: no plan yet; run 'doit dryrun' or "
                             "'doit backup'")
        return None
    return Plan.from_json(data)


def markers(run, plan) -> dict:
    return {b.name: read_marker(run.marker_file(b.name), b.content_key)
            for b in plan.bags}


# -- actions --------------------------------------------------------------------------


@user_errors
@locked
def scan_action(config, remote_only=False):
    """Hash every atom's metadata on all cores; a hash file is rewritten only when its
    atom changed, so `plan` (which depends on them) reruns only then."""
    run = load_run(config)
    atoms = run.remote_atoms()[0] if remote_only else run.local_atoms
    pairs = {(a.molecule.path, a.name): a for a in atoms}
    bar = tqdm(total=len(pairs), desc="scan", unit=" atoms", leave=False,
               disable=not sys.stderr.isatty(), file=sys.stderr)
    with bar:
        for pair, result in scan.scan_atoms(list(pairs), os.cpu_count() or 1):
            if isinstance(result, PermissionError):
                # recorded, not raised: the bag holding this atom fails naming the
                # folder, every other bag goes on
                result = scan.unreadable_scan(result)
            atom = pairs[pair]
            scan.write_atom_hash(atom.molecule.path, atom.name, atom.key,
                                 run.hash_file(atom.key), result)
            bar.update(1)


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


@user_errors
@locked
def plan_action(config):
    run = load_run(config)
    run.require_list()
    mounted, remote_missing = run.remote_atoms()
    missing = {**run.local_missing, **remote_missing}
    atoms = []
    for ref in run.local_atoms + mounted:
        record = scan.read_atom_hash(run.hash_file(ref.key))
        if record is None:
            return TaskFailed(f"{ref.key}: no scan result; run 'doit backup' again")
        atoms.append(AtomState(ref.key, ref.molecule.spelling, record["hash"],
                               record["size"], record["files"],
                               record.get("apparent_size", record["size"])))
    previous = inventory.load_inventory(run.settings.inventory_file)
    salt = previous.get("key_salt") or \
        (secrets.token_hex(16) if run.settings.obscure_keys else "")
    molecules = [MoleculeState(m.spelling, layout.obscured_slug(m.slug, salt)
                               if run.settings.obscure_keys else m.slug,
                               m.spelling not in missing, str(m.path),
                               missing.get(m.spelling, "")) for m in run.molecules]
    inventory.check_date(previous, run.today)
    layout.migrate_flat_manifests(run.settings.manifest_dir, previous)
    plan = plan_bags(atoms, molecules, previous, run.settings.target_bytes, run.year,
                     run.settings.host, run.today.isoformat(), salt)
    statefile.write_json(run.plan_file, plan.to_json())


@user_errors
@locked
def dryrun_action(config):
    run = load_run(config)
    plan = read_plan(run)
    previous = inventory.load_inventory(run.settings.inventory_file)
    draft = inventory.build_inventory(plan, markers(run, plan), previous, pending_ok=True)
    statefile.write_json(run.dryrun_file, draft)
    say([report.plan_summary(plan, run.settings, draft.get("history")),
         f"Wrote {run.dryrun_file} (inventory.json untouched, nothing uploaded)"])
    from .. import status  # last-run.json, written last: a killed run leaves the old one
    status.record_run(run, status.dryrun_record(run, plan, ok=not plan.missing_molecules))
    if plan.missing_molecules:
        return TaskFailed("some molecules are missing (see above)")


@user_errors
@locked
def bucket_action(config):
    run = load_run(config)
    store = store_for(run.settings)
    store.check_bucket()
    hosts.claim_host(store, run.settings.host, hosts.machine_id(run.state_dir))


@user_errors
@locked
def bag_action(config, name):
    """Bring one bag to done, or check a kept one is still in the bucket (repairing it
    if not). A user-level failure is recorded and printed, not raised, so the other
    bags still run and the closing report fails the run."""
    run = load_run(config)
    plan = read_plan(run)
    bag = plan.bag(name)
    record = None
    if bag is not None and bag.action == "keep":
        previous = inventory.load_inventory(run.settings.inventory_file)
        record = previous["bags"].get(bag.archive_key, {})
    try:
        line = steps.bring_bag(run, plan, name, record)
    except GlacierError as err:
        line = f"FAILED {name}: {err}"
    if line:
        print(line, flush=True)


@user_errors
@locked
def inventory_action(config):
    run = load_run(config)
    plan = read_plan(run)
    path = run.settings.inventory_file
    built = inventory.build_inventory(plan, markers(run, plan),
                                      inventory.load_inventory(path))
    if inventory.write_inventory(path, built):
        print(f"Wrote {path}: {len(built['atoms'])} atoms in {len(built['bags'])} bags")


@user_errors
@locked
def system_action(config):
    run = load_run(config)
    sent = system.upload_system(run.settings, lambda: store_for(run.settings), run.year,
                                run.fingerprint_key)
    if sent:
        print(f"System folder {sent[0].rpartition('/')[0]}/: uploaded {len(sent)} files")


@user_errors
@locked
def cleanup_action(config):
    """Abort this year's unfinished multipart uploads that no planned bag can resume
    (each holds billed parts), and forget the markers of bags no plan has any more."""
    run = load_run(config)
    plan = read_plan(run)
    files = sorted(run.markers_dir.glob("*.json")) if run.markers_dir.exists() else []
    if any(_open_upload(p) for p in files):  # else a no-op run sends no request
        resumable = {m.upload.get("upload_id") for m in markers(run, plan).values()}
        store = store_for(run.settings)
        host = run.settings.host
        for key in store.abort_open_uploads(layout.year_prefix(run.year),
                                            keep=resumable - {None},
                                            mine=lambda k: layout.owner(k) == host):
            print(f"Aborted an unfinished upload of {key} (no bag needs it any more)")
    planned = {b.name for b in plan.bags}
    for path in files:
        if path.stem not in planned:
            path.unlink()


def _open_upload(marker_file) -> bool:
    try:
        return bool(statefile.read_json(marker_file, default={}).get("upload"))
    except (GlacierError, AttributeError):
        return False


@user_errors
def report_action(config):
    run = load_run(config)
    plan = read_plan(run)
    failures = {}
    for bag in plan.bags:
        path = run.failure_file(bag.name)
        if path.exists():
            failures[bag.name] = path.read_text().strip()
    repaired = [run.repair_file(b.name).read_text().strip() for b in plan.bags
                if run.repair_file(b.name).exists()]
    text, ok = report.run_report(plan, failures, repaired)
    lines = [text]
    if run.settings.encryption != "age":
        lines.append("Not encrypted by this tool: the data is protected only by AWS (your "
                     "credentials and SSE-S3); see encryption = \"age\" in README.md")
    say(lines)
    from .. import status  # last-run.json, written last: a killed run leaves the old one
    status.record_run(run, status.backup_record(run, plan, failures, repaired, ok))
    if not ok:
        return TaskFailed("the backup is incomplete (see above)")


def progress_line(config) -> str:
    """For the line printed on Ctrl-C or SIGTERM: how many bags are done."""
    try:
        run = load_run(config)
        plan = read_plan(run, required=False)
    except GlacierError:
        return ""
    if plan is None or not plan.uploads:
        return ""
    done = sum(1 for b in plan.uploads if steps.is_done(run, b.name, b.content_key))
    return f"{done} of {len(plan.uploads)} bags to upload are done; "


# -- tasks ----------------------------------------------------------------------------


def task__lock():
    return lock_task(current_run())


def task__mount():
    run = current_run()
    return {"actions": [(mount_action, [run.config_file])],
            "teardown": [(unmount_action, [run.config_file])],
            "task_dep": ["_lock"], "uptodate": [False]}


@create_after(executed="_mount")
def task__scan_remote():
    run = current_run()
    return {"actions": [(scan_action, [run.config_file, True])] if run.remote else [],
            "task_dep": ["_lock"], "uptodate": [False]}


def task_scan():
    """hash the metadata of every atom (no file contents are read)"""
    run = current_run()
    return {"actions": [(scan_action, [run.config_file])],
            "task_dep": ["_lock", "_mount", "_scan_remote"], "uptodate": [False]}


def task_plan():
    """pack atoms into bags (writes the plan that `doit list` shows)"""
    run = current_run()
    settings = run.settings
    deps = [str(run.hash_file(a.key)) for a in run.local_atoms] + [run.config_file]
    if not run.list_problem:
        deps.append(str(settings.list_file))
    if settings.inventory_file.exists():
        deps.append(str(settings.inventory_file))
    inputs = {"year": run.year, "host": settings.host, "target": settings.target_bytes,
              "missing": sorted(run.local_missing), "plan_format": 2}
    # remote atoms are known only once mounted: with any, the plan is always redone
    return {"actions": [(plan_action, [run.config_file])], "task_dep": ["_lock", "scan"],
            "file_dep": deps, "targets": [str(run.plan_file)],
            "uptodate": [config_changed(inputs)] + ([False] if run.remote else [])}


@create_after(executed="plan")
def task_bag():
    """the bags of the last plan: pack, upload, check, upload the manifest"""
    run = current_run()
    try:
        plan = read_plan(run, required=False)
    except StateError:
        plan = None  # `doit list` must still work; `plan` rewrites it
    remote_molecules = {m.spelling for m in run.remote}
    for bag in plan.bags if plan else []:
        done = bag.action == "keep" or steps.is_done(run, bag.name, bag.content_key)
        mount = ["_mount"] if bag.molecule in remote_molecules else []
        # a bag done or kept runs too: one HEAD says it is still there, else it is
        # repaired (markers and doit's database never outrank the bucket)
        yield {"name": bag.name, "doc": report.describe_bag(bag, done),
               "actions": [(bag_action, [run.config_file, bag.name])],
               "task_dep": ["_lock", "_bucket"] + mount, "meta": {"settled": done},
               "uptodate": [False]}


def task__bucket():
    return {"actions": [(bucket_action, [current_run().config_file])],
            "uptodate": [False]}


def task_inventory():
    """write inventory.json from the plan and the finished bags"""
    return {"actions": [(inventory_action, [current_run().config_file])],
            "task_dep": ["_lock", "bag"], "uptodate": [False]}


def task_system():
    """upload inventory, config, list and the tool's source to YYYY-backup/system/"""
    return {"actions": [(system_action, [current_run().config_file])],
            "task_dep": ["_lock", "inventory"], "uptodate": [False]}


def task__cleanup():
    return {"actions": [(cleanup_action, [current_run().config_file])],
            "task_dep": ["_lock", "system"], "uptodate": [False]}


def task__report():
    return {"actions": [(report_action, [current_run().config_file])],
            "task_dep": ["_cleanup"], "uptodate": [False]}


def task_backup():
    """the yearly run: scan, plan, upload changed bags, inventory, system folder"""
    return {"actions": None, "task_dep": ["_lock", "plan", "bag", "inventory", "system",
                                          "_cleanup", "_report"]}


def task_dryrun():
    """scan and plan only: print what a backup would do, write inventory_dryrun.json"""
    return {"actions": [(dryrun_action, [current_run().config_file])],
            "task_dep": ["_lock", "plan"], "uptodate": [False]}
