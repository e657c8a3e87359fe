"""Every doit task of glacier-tasks: thin wiring of the modules into a graph.

    _lock -> _scan:ATOM (one per atom) -> plan -> bag:NAME (one per bag, delayed until
    plan ran) -> inventory -> system -> _report;  backup = all of it;  dryrun = plan +
    inventory_dryrun.json + summary;  `doit` alone = dryrun.

Resume comes from each bag's marker on disk (see backup.py), not from doit's database.
The actions live in py; what a run knows at start, in context.py.
"""

import signal

from doit import create_after
from doit.exceptions import InvalidDodoFile
from doit.tools import config_changed

from . import backup, report, scan, statefile
from .errors import GlacierError
from .reporter import GlacierReporter
from .tasks_init import task_init  # noqa: F401  (listed with the others)

try:
    from .commands import (
        bootstrap_action, bucket_action, check_action, cost_action, dryrun_action,
        find_action, inventory_action, lock_action, mount_action, pin_action,
        plan_action, policy_action, prune_action, report_action, restore_action,
        scan_action, setup_bucket_action, system_action, unmount_action, verify_action)
    from .context import (ATOMS, CONFIG_FILE, LIST_MISSING, MISSING, PLAN_FILE, REMOTE,
                          REMOTE_SPELLINGS, SETTINGS, STATE_DIR, YEAR, remote_atoms)
except GlacierError as err:
    raise InvalidDodoFile(str(err)) from None

# SIGTERM stops a run like Ctrl-C does, so doit still saves its database on the way out
signal.signal(signal.SIGTERM, signal.default_int_handler)

DOIT_CONFIG = {
    "default_tasks": ["dryrun"],
    "backend": "json",
    "dep_file": str(STATE_DIR / "doit-db.json"),
    "subtasks": True,  # `doit list` shows bag:NAME; the atom scans are private (_scan)
    "reporter": GlacierReporter,
    "verbosity": 2,    # uncaptured output: progress bars draw live
}


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
    atoms, _ = remote_atoms()
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
