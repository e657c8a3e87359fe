"""`doit restore --path P [--yes]`: what a restore needs and costs; with --yes, thaw,
download, check and extract."""

import os
from pathlib import Path

from doit.exceptions import TaskFailed

from .. import find, inventory, restore
from ..errors import GlacierError, UsageError
from ..run import load_run
from ..store import store_for
from .base import current_run, param, say, user_errors


def destination(to: str, create: bool) -> Path:
    """The folder to restore into; a file in the way or a folder that cannot be made
    is the user's to fix, in one line."""
    dest = Path(to).expanduser().absolute()
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--to {dest}: exists and is not a folder; name a folder")
    if create:
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"--to {dest}: cannot make that folder ({err.strerror}); "
                             "name one you can write to") from None
        if not os.access(dest, os.W_OK):
            raise UsageError(f"--to {dest}: not writable; name a folder you can write to")
    return dest


@user_errors
def restore_action(config, path, to, tier, days, yes, wait, wait_hours, overwrite,
                   from_file, poll_seconds):
    if not path:
        return TaskFailed("say what to restore: doit restore --path /data/Photos [--yes] "
                          "(or: glacier restore /data/Photos)")
    if days < 1:
        return TaskFailed(f"--days {days}: a thawed copy stays readable 1 day or more")
    run = load_run(config)
    settings = run.settings
    options = restore.RestoreOptions(path, destination(to, create=yes or bool(from_file)),
                                     tier, days, yes, wait, wait_hours, overwrite,
                                     poll_seconds)
    inv = inventory.load_inventory(settings.inventory_file,
                                   required_by=None if from_file else "restore")
    if from_file:
        return _restore_from_file(run, inv, Path(from_file), options)
    targets = restore.resolve_targets(inv, path)
    bags = {t.archive_key: inv["bags"][t.archive_key] for t in targets}
    problem = restore.tier_problem(tier, {b.get("storage_class") for b in bags.values()})
    if problem:
        return TaskFailed(problem)
    if not yes:
        say([f"Restoring {path} needs:",
             *restore.thaw_plan_lines(bags, options, settings.prices),
             "Nothing was requested. Add --yes to thaw and restore."])
        return
    store = store_for(settings)
    for key, bag in bags.items():
        restore.check_members([t for t in targets if t.archive_key == key],
                              find.local_manifest(settings, store, bag), inv["atoms"])
    if not restore.restore_from_bucket(settings, store, inv, targets, options,
                                       run.downloads_dir, print):
        return TaskFailed("the restore is not finished yet (bags still thawing)")


def _restore_from_file(run, inv, tar, options):
    if not tar.is_file():
        return TaskFailed(f"{tar}: no such file")
    name = next((k for k in inv["bags"] if k.endswith("/" + tar.name)), "")
    restore.verify_file(tar, inv["bags"].get(name, {}).get("sha256"))
    try:
        targets = [t for t in restore.resolve_targets(inv, options.path)
                   if t.archive_key.endswith("/" + tar.name)]
        members = [t.member for t in targets]
    except GlacierError:
        members = [os.fsencode(options.path.strip("/"))]  # a path inside the bag itself
    restore.extract(tar, options.dest, members, options.overwrite,
                    run.settings.age_identity_file)
    print(f"Restored {options.path} from {tar} into {options.dest}")


RESTORE_PARAMS = [
    param("path", str, "", "what to restore, as its original full path"),
    param("to", str, "restore", "folder to restore into (default ./restore)"),
    param("tier", str, "Bulk", "thaw tier: Bulk (~48 h, cheapest) or Standard (~12 h)"),
    param("days", int, 7, "days the thawed copy stays readable"),
    param("yes", bool, False, "really thaw (paid) and restore"),
    param("wait", bool, False, "poll until every bag is thawed"),
    param("wait_hours", float, 72, "give up waiting after this many hours"),
    param("poll_seconds", float, 60, "first wait between status checks (doubles up to "
                                     "30 min)"),
    param("overwrite", bool, False, "replace files that already exist in the destination"),
    param("from_file", str, "", "restore from a bag already downloaded by hand")]


def task_restore():
    """restore a path (atom, folder or file): prints the cost; --yes thaws and restores"""
    return {"actions": [(restore_action, [current_run().config_file])],
            "uptodate": [False], "params": RESTORE_PARAMS}
