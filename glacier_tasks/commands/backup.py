"""`doit backup` and `doit dryrun`: the yearly run as a graph.

    scan (commands/scan.py: _lock -> _mount -> _scan_remote -> _walk -> _scan:ATOM)
      -> plan (file_dep: the atoms' hash files)
      -> tar:NAME -> upload:NAME -> manifest:NAME -> bag:NAME  (commands/bags.py: one
         bag packs while another uploads) -> inventory -> system -> _cleanup -> _report
    backup = all of it;   dryrun = plan + a summary

Resume comes from each bag's ledger on disk (backup/ledger.py), not from doit's database.
"""

import os
import secrets
import stat
import sys

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from .. import cost, statefile
from ..bucket import hosts, system_folder as system
from ..formats import inventory, layout, manifest
from ..formats.records import Inventory
from ..backup import increment, ledger, scan, taken_keys as taken
from ..report import text as report, last_run as status
from ..errors import GlacierError, StateError, command
from ..backup.progress import stamp
from ..bucket.objects import holds_packed
from ..backup.plan import AtomState, MoleculeState, plan_bags, read_plan
from ..run import load_run
from ..units import plural
from .base import current_run, lock_task, locked, say, user_errors

# -- actions --------------------------------------------------------------------------


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
            return TaskFailed(f"{ref.key}: no scan result; run '{command('backup')}' again")
        atoms.append(AtomState(ref.key, ref.molecule.spelling, record["hash"],
                               scan.planned_size(record), record["files"],
                               record.get("apparent_size", record["size"])))
    previous = inventory.load_inventory(run.settings.inventory_file)
    salt = previous.key_salt or (_new_salt(run) if run.settings.obscure_keys else "")
    molecules = [MoleculeState(m.spelling, layout.obscured_slug(m.slug, salt)
                               if run.settings.obscure_keys else m.slug,
                               m.spelling not in missing, str(m.path),
                               missing.get(m.spelling, "")) for m in run.molecules]
    inventory.check_date(previous, run.today)
    layout.migrate_flat_manifests(run.settings.manifest_dir, previous)
    occupied, broken = taken.bucket_view(run.store, previous,
                                         run.settings.host, run.year,
                                         run.settings.storage_class,
                                         ledger.occupied_records(run),
                                         _packed_here(run))
    plan = plan_bags(atoms, molecules, previous, run.settings.target_bytes, run.year,
                     run.settings.host, run.today.isoformat(), salt, occupied, broken,
                     run.settings.compact_below, increment_below=run.settings.increment_below,
                     increments=_increment_sizes(run, atoms, molecules, previous))
    _file_changes(run, plan, previous)
    statefile.write_json(run.plan_file, plan.to_json())
    if plan.bucket_checked:
        ledger.forget_occupied(run)  # the plan has taken them in


def _increment_sizes(run, atoms, molecules, previous: Inventory) -> dict:
    """Changed atoms whose chain state is here -> their increment's bytes now (only
    those are walked again, and only with increments on)."""
    if run.settings.increment_below <= 0 or run.settings.encryption:
        return {}  # an encrypted bag's deletion list would name its files in clear
    paths = {m.spelling: m.path for m in molecules if m.present}
    sizes = {}
    for atom in atoms:
        old = previous.atoms.get(atom.key)
        if old is None or old.last_metadata_hash == atom.hash or \
                atom.molecule not in paths:
            continue
        before = increment.read_state(run.state_dir, atom.key, old.last_metadata_hash)
        if before is None:
            continue  # packed before increments, or state lost: packed whole
        try:
            sizes[atom.key] = increment.increment_bytes(
                paths[atom.molecule], inventory.atom_name(atom.molecule, atom.key), before)
        except OSError:
            continue  # the pack says what is wrong with the atom
    return sizes


def _file_changes(run, plan, previous: Inventory) -> None:
    """For each changed atom packed now: files added, changed and removed since the bag
    it leaves, from that bag's local manifest and a walk of the atom (only changed
    atoms are read; an atom whose old manifest is not here says no more than sizes)."""
    for atom, before in plan.before.items():
        new, old_bag = plan.atoms.get(atom), previous.bags.get(previous.atoms[atom].archive_key)
        if new is None or old_bag is None or \
                before.get("last_metadata_hash") == new.last_metadata_hash:
            continue
        path, molecule = run.manifest_file(old_bag.manifest_key or ""), new.molecule
        if not path.is_file() or molecule not in plan.molecule_paths:
            continue
        name = os.fsencode(inventory.atom_name(molecule, atom))
        state = increment.read_state(run.state_dir, atom, before["last_metadata_hash"])
        if state is not None:  # what its chain holds, to the nanosecond (issue 27)
            try:
                now = {rel: increment.entry(plan.molecule_paths[molecule], rel, st)
                       for rel, st in scan.walk_atom(plan.molecule_paths[molecule],
                                                     os.fsdecode(name))}
            except OSError:
                continue
            then = {k: v for k, v in state.items() if v[0] != b"d"}
            now = {k: v for k, v in now.items() if v[0] != b"d"}
            before["added"] = len(now.keys() - then.keys())
            before["removed"] = len(then.keys() - now.keys())
            before["changed"] = sum(1 for k in now.keys() & then.keys() if now[k] != then[k])
            continue
        try:
            then = _manifest_files(path, name)
            now = {rel: (st.st_size if stat.S_ISREG(st.st_mode) else 0,
                         manifest.iso_time(st.st_mtime_ns))
                   for rel, st in scan.walk_atom(plan.molecule_paths[molecule],
                                                 os.fsdecode(name))
                   if not stat.S_ISDIR(st.st_mode)}
        except (OSError, ValueError):
            continue  # the pack says what is wrong with the atom
        before["added"] = len(now.keys() - then.keys())
        before["removed"] = len(then.keys() - now.keys())
        before["changed"] = sum(1 for k in now.keys() & then.keys() if now[k] != then[k])


def _manifest_files(path, atom: bytes) -> dict:
    """name -> (size, mtime) of the files (not folders) an atom had in a manifest."""
    found = {}
    for entry in manifest.read_entries(path):
        top = entry.name.split(b"/", 1)[0] if b"/" in entry.name else b"."
        if top == atom and not entry.folder:
            found[entry.name] = (entry.size, entry.mtime)
    return found


def _new_salt(run) -> str:
    """The salt of obscured bag names until an inventory keeps it: made once and kept
    in the state folder, so a first run stopped before its inventory names its bags
    alike the next time (they are adopted, not sent again)."""
    path = run.state_dir / "key-salt"
    if not path.exists():
        statefile.write_bytes(path, secrets.token_hex(16).encode())
    return path.read_text().strip()


def _packed_here(run):
    """With encryption, an object is worth its name only if it holds a tar a stopped run
    of this machine packed (its marker says so): age never encrypts twice alike."""
    if run.settings.encryption != "age":
        return None

    def proven(archive, found):
        marker = ledger.BagLedger(run, layout.bag_name(archive), found.content_key).marker()
        return holds_packed(found, marker.packed, run.settings.storage_class)
    return proven


def plan_still_good(config) -> bool:
    """The plan is redone when a bag step found a key holding something else, when the
    bucket holds a previous bag otherwise than recorded (one LIST), or when the plan was
    made without asking the bucket which keys are taken."""
    run = load_run(config)
    if ledger.any_occupied(run):
        return False
    try:
        if not statefile.read_json(run.plan_file, default={}).get("bucket_checked"):
            return False
        previous = inventory.load_inventory(run.settings.inventory_file)
        objects = taken.listing(run.store, previous, run.settings.host,
                                run.year)
    except (GlacierError, AttributeError):
        return False
    return not taken.broken_bags(objects, previous, run.settings.host)


@user_errors
@locked
def dryrun_action(config):
    run = load_run(config)
    plan = read_plan(run)
    previous = inventory.load_inventory(run.settings.inventory_file)
    draft = inventory.build_inventory(plan, ledger.markers(run, plan), previous,
                                      pending_ok=True)
    statefile.write_json(run.dryrun_file, draft.to_json())
    say([report.plan_summary(plan, run.settings, draft.history, draft),
         f"Wrote {run.dryrun_file} (inventory.json untouched, nothing uploaded)"] +
        ([] if plan.bucket_checked else [
            "The bucket could not be asked which keys are taken (credentials? network?): "
            "the bag names above may change; a backup plans again"]))
    # last-run.json, written last: a killed run leaves the old one
    status.record_run(run, status.dryrun_record(run, plan, ok=not plan.missing_molecules))
    if plan.missing_molecules:
        return TaskFailed("some molecules are missing (see above)")


@user_errors
@locked
def bucket_action(config):
    run = load_run(config)
    say([plan_line(run, read_plan(run)),
         *cost.region_note(run.settings.region, run.settings.prices)])
    store = run.store
    store.check_bucket()
    path, host = run.settings.inventory_file, run.settings.host
    previous = inventory.load_inventory(path)
    hosts.check_renamed(store, host, run.state_dir, previous)
    theirs = inventory.other_hosts(previous, host)
    if theirs:  # refused, not packed again: that would upload their files as ours
        raise StateError(f"{path} names bags of host {', '.join(theirs)} ('bootstrap "
                         f"--host'?): use it to restore and find their files; to back "
                         f"this machine up as {host}, move {path.name} away (then 'glacier "
                         f"bootstrap', if {host} has backups of its own)")
    taking_over = hosts.taking_over()
    if taking_over:  # checked before the claim: a stale take-over claims nothing
        hosts.check_take_over(store, host, previous)
        system.check_fresh(run.settings, store, previous)
    hosts.claim_host(store, host, run.state_dir, take_over=taking_over)
    if not taking_over:  # after the claim: a machine whose name was taken hears that first
        system.check_fresh(run.settings, store, previous)


def plan_line(run, plan) -> str:
    """What this run will upload, in one line before any bag step: a log's first
    line (stamped like the steps' lines when the output is not a terminal)."""
    pending = set(ledger.outcomes(run, plan).pending)
    todo = [b.size for b in plan.uploads if b.name in pending]
    line = (f"{report.upload_line(todo, run.settings)} (backup {plan.year}: "
            f"{plural(len(plan.bags), 'bag')}, {len(plan.bags) - len(plan.uploads)} "
            "unchanged" + (f", {len(plan.uploads) - len(todo)} sent by an earlier run"
                           if len(todo) < len(plan.uploads) else "") + ")")
    return line if sys.stdout.isatty() else f"{stamp()} {line}"


@user_errors
@locked
def inventory_action(config):
    run = load_run(config)
    plan = read_plan(run)
    path = run.settings.inventory_file
    markers = ledger.markers(run, plan)
    built = inventory.build_inventory(plan, markers, inventory.load_inventory(path))
    if inventory.write_inventory(path, built):
        print(f"Wrote {path}: {plural(len(built.atoms), 'atom')} in "
              f"{plural(len(built.bags), 'bag')}")
    # the chain states of what the inventory records, or a staged bag may yet upload
    increment.forget_states(run.state_dir, {a.last_metadata_hash for a in
                                            built.atoms.values()} |
                            {h for m in markers.values() if m.packed
                             for h in m.packed.atom_hashes.values()})


@user_errors
@locked
def system_action(config):
    run = load_run(config)
    sent = system.upload_system(run.settings, run.store, run.year,
                                run.fingerprint_key)
    if sent:
        print(f"System folder {sent[0].rpartition('/')[0]}/: uploaded "
              f"{plural(len(sent), 'file')}")


@user_errors
@locked
def cleanup_action(config):
    """Abort this host's unfinished multipart uploads that no planned bag can resume,
    under any year (each holds billed parts; one stopped last December is no less
    stale), and forget the markers of bags no plan has any more. One LIST every run:
    the bucket, not a marker that a later bag of the same name overwrote, says which
    uploads are open."""
    run = load_run(config)
    plan = read_plan(run)
    resumable = {m.upload.get("upload_id") for m in ledger.markers(run, plan).values()}
    host = run.settings.host
    for key in run.store.abort_open_uploads(
            "", keep=resumable - {None}, mine=lambda k: layout.owner(k) == host):
        print(f"Aborted an unfinished upload of {key} (no bag needs it any more)")
    ledger.forget_unplanned(run, plan)


@user_errors
def report_action(config):
    run = load_run(config)
    plan = read_plan(run)
    found = ledger.outcomes(run, plan)
    text, ok = report.run_report(plan, found.failures, found.repaired, found.left_out)
    record = status.backup_record(run, plan, found.failures, found.repaired, ok,
                                  left_out=found.left_out)
    lines = [text]
    if run.settings.encryption != "age":
        lines.append("Not encrypted by this tool: the data is protected only by AWS (your "
                     "credentials and SSE-S3); see encryption = \"age\" in README.md")
    say(lines + [report.sent_line(record["sent"], record["seconds"])])
    # last-run.json, written last: a killed run leaves the old one
    status.record_run(run, record)
    if ok:  # every file on disk is in a bag: old bags may go
        run.bootstrapped_file.unlink(missing_ok=True)
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
    done = len(plan.uploads) - len(ledger.outcomes(run, plan).pending)
    return f"{done} of {plural(len(plan.uploads), 'bag')} to upload are done; "


# -- tasks ----------------------------------------------------------------------------


def task__lock():
    return lock_task(current_run())


def task_plan():
    """pack atoms into bags (writes the plan that `glacier list` shows)"""
    run = current_run()
    settings = run.settings
    state = str(run.state_dir)
    deps = [scan.hash_path(state, a.key) for a in run.local_atoms] + [run.config_file]
    if not run.list_problem:
        deps.append(str(settings.list_file))
    if settings.inventory_file.exists():
        deps.append(str(settings.inventory_file))
    inputs = {"year": run.year, "host": settings.host, "target": settings.target_bytes,
              "missing": sorted(run.local_missing), "plan_format": 4}
    # remote atoms are known only once mounted: with any, the plan is always redone
    return {"actions": [(plan_action, [run.config_file])], "task_dep": ["_lock", "scan"],
            "file_dep": deps, "targets": [str(run.plan_file)],
            "uptodate": [config_changed(inputs), (plan_still_good, [run.config_file])]
            + ([False] if run.remote else [])}


def task__bucket():
    return {"actions": [(bucket_action, [current_run().config_file])],
            "task_dep": ["plan"],  # a damaged inventory: one line, from the plan
            "uptodate": [False]}


def task_inventory():
    """write inventory.json from the plan and the finished bags"""
    return {"actions": [(inventory_action, [current_run().config_file])],
            "task_dep": ["_lock", "_bucket", "bag"], "uptodate": [False]}


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
    return {"actions": None, "task_dep": ["_lock", "plan", "tar", "upload", "manifest",
                                          "bag", "inventory", "system", "_cleanup",
                                          "_report"]}


def task_dryrun():
    """scan and plan only: print what a backup would do, write inventory_dryrun.json"""
    return {"actions": [(dryrun_action, [current_run().config_file])],
            "task_dep": ["_lock", "plan"], "uptodate": [False]}
