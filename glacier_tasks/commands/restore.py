"""`doit restore --path P [--yes]` / `doit restore --all --to DIR [--yes]`: what a restore
needs and costs; with --yes, thaw, download, extract and check, resuming on a rerun."""

import dataclasses
import json as jsonlib
import os
import shlex
from pathlib import Path

from doit.exceptions import TaskFailed

from ..bucket import system_folder
from ..report import alert, restores
from ..restore import (plan as restore, check as restorecheck, restorer, space,
                       extract as untar)
from ..formats import checksum, inventory
from .. import cost, units
from ..errors import GlacierError, StateError, UsageError, command
from ..run import load_run
from . import shapes
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
                   from_file, poll_seconds, all_molecules=False, year=None,
                   pending=False, json=False):
    if pending:
        return _list_pending(config)
    if all_molecules and (path or from_file):
        return TaskFailed("--all restores every molecule: leave out --path and "
                          "--from-file")
    if not path and not all_molecules:
        return TaskFailed("say what to restore: "
                          f"{command('restore --path /data/Photos [--yes]')}, or --all "
                          "--to DIR")
    if days < 1:
        return TaskFailed(f"--days {days}: a thawed copy stays readable 1 day or more")
    if json and (yes or from_file or pending):
        return TaskFailed("--json prints the estimate: leave out --yes, --from-file and "
                          "--pending")
    run = load_run(config)
    settings = run.settings
    # made only once what to restore is known: a bad path leaves nothing behind
    options = restorer.RestoreOptions(path, destination(to, create=False),
                                     tier, days, yes, wait, wait_hours, overwrite,
                                     poll_seconds, all_molecules, year)
    if year is not None:  # as that year's run archived it, from its system folder
        inv = system_folder.year_inventory(settings, run.store, settings.host, year)
    else:
        inv = inventory.load_inventory(settings.inventory_file,
                                       required_by=None if from_file else "restore")
    if from_file:
        return _restore_from_file(run, inv, Path(from_file), options)
    store = run.store
    if year is not None:
        problem = _pruned_since(store, inv, path, all_molecules, year)
        if problem:
            return TaskFailed(problem)
    if not all_molecules:  # as typed, or as 'find' prints it (\xNN)
        path = restore.real_path(settings, store, inv, path)
        options = dataclasses.replace(options, path=path)
    targets = restore.resolve_all(inv) if all_molecules else \
        _targets(settings, store, inv, path, year)
    problem = restore.tier_problem(tier, {inv.bags[t.archive_key].storage_class
                                          for t in targets})
    if problem:
        return TaskFailed(problem)
    plans = restore.plan_restore(settings, store, inv, targets)
    what = "everything (each molecule in its own folder)" if all_molecules else \
        restore.shown(path)
    if yes:
        destination(to, create=True)
    restoring = restorer.Restorer(run, store, options, print, alert=lambda event, line:
                                  alert.send_alert(settings, event, line))
    if not yes:
        needs = restoring.space_needs(plans)
        problem = space.shortfall(needs)
        if json:
            say([jsonlib.dumps(shapes.restore_estimate(
                what if all_molecules else restore.shown(path), plans, tier,
                settings.prices, needs, problem), indent=1)])
            return TaskFailed(problem) if problem else None
        say([f"Restoring {what} needs:",
             *restore.estimate_lines(plans, tier, settings.prices),
             *cost.region_note(settings.region, settings.prices), *space.lines(needs),
             "Nothing was requested." + ("" if problem else
                                         " Add --yes to thaw and restore.")])
        return TaskFailed(problem) if problem else None
    outcome = restoring.restore(plans)
    return _closing(outcome, what, options)


def _targets(settings, store, inv, path, year):
    """The atoms `path` names in `inv`, checked against their manifests. A path that
    only an older year's inventory holds (a molecule taken off list.txt, a file
    deleted since) says which year to ask for."""
    try:
        targets = restore.resolve_targets(inv, path)
        restore.check_members(settings, store, inv, targets)
        return targets
    except StateError:
        older = None if year is not None else _year_holding(settings, store, path)
        if older is None:
            raise
    again = command(f"restore --path {shlex.quote(restore.shown(path))} "
                          f"--year {older}")
    raise StateError(f"{restore.shown(path)}: not in the current inventory, but the "
                     f"{older} backup holds it: {again} ('find --all-years' searches "
                     "every year)")


def _pruned_since(store, inv, path, all_molecules, year) -> str | None:
    """Why that year's view of what `path` names cannot be restored any more: a bag
    it needs (an atom's base or increment, or its manifest) was pruned since."""
    try:
        targets = restore.resolve_all(inv) if all_molecules else \
            restore.resolve_targets(inv, path)
    except StateError:
        return None  # said as for any year, once the path is read as `find` prints it
    keys = store.list_objects("")
    for target in targets:
        for key in inv.atoms[target.atom].chain:
            record = inv.bags.get(key)
            if key not in keys or (record and record.manifest_key
                                   and record.manifest_key not in keys):
                return (f"{key}: no longer in the bucket (pruned since the {year} backup),"
                        f" and {restore.shown(target.atom)} as that year left it needs "
                        "it; nothing was requested (a later --year, or none, restores it "
                        "as a later backup left it)")
    return None


def _year_holding(settings, store, path) -> int | None:
    """The newest year whose archived inventory (the bucket's system folders) holds
    `path`, or None."""
    try:
        found, _ = system_folder.inventories(settings, store, store.list_objects(""),
                                             settings.host)
    except GlacierError:
        return None
    for (year, _), (_, inv) in sorted(found.items(), key=lambda f: f[0][0], reverse=True):
        try:
            restore.check_members(settings, store, inv, restore.resolve_targets(inv, path))
        except GlacierError:
            continue
        return year
    return None


def _closing(outcome, what, options):
    """The last line: the check's summary, or what is left and what to do."""
    if outcome.failed:
        return TaskFailed(f"{units.plural(len(outcome.failed), 'bag')} could not be "
                          "restored (named above); fix that and run the same command again")
    if not outcome.finished:
        hours = cost.TIER_HOURS.get(options.tier, 48)
        print(f"{units.plural(outcome.thawing, 'bag')} still thawing; run the same "
              f"command again in about {hours} h (or add --wait)")
        return TaskFailed("the restore is not finished yet (bags still thawing)")
    line = restorecheck.summary(outcome.check)
    if outcome.check.bad:
        return TaskFailed(line)
    print(f"Restored {what} into {options.dest}: {line}")


def _list_pending(config):
    """Every restore request not finished, from local state alone (no S3)."""
    run = load_run(config)
    say(restores.pending_lines(restores.pending_restores(run), run.restores_dir))


def _restore_from_file(run, inv, tar, options):
    if not tar.is_file():
        return TaskFailed(f"{tar}: no such file")
    name = next((k for k in inv.bags if k.endswith("/" + tar.name)), "")
    sha = inv.bags[name].sha256 if name else None
    if sha and checksum.sha256_of(tar) != sha:
        return TaskFailed(f"{tar}: sha256 differs from the inventory's; not extracted")
    destination(str(options.dest), create=True)
    try:
        targets = [t for t in restore.resolve_targets(inv, options.path)
                   if t.archive_key.endswith("/" + tar.name)]
    except GlacierError:
        targets = []
    if not targets:  # a path inside the bag itself
        targets = [restore.Target("", "", os.fsencode(options.path.strip("/")))]
    source = untar.source_for(tar, run.settings.age_identity_file)
    untar.extract(source, options.dest, restore.wanted(targets), options.overwrite)
    print(f"Restored {options.path} from {tar} into {options.dest}")
    if name in inv.bags and inv.bags[name].increment_of:  # issue 27
        print(f"{tar.name} is an increment: it holds only that year's new and changed "
              "files; its atom is its base bag and its increments in order, each after "
              "the deletions its .del lists (README, 'Restore by hand')")
    for target in targets:
        chain = inv.atoms[target.atom].chain if target.atom in inv.atoms else []
        later = chain[chain.index(name) + 1:] if name in chain else []
        if later:
            print(f"{restore.shown(target.atom)}: {tar.name} holds it as it was before "
                  f"{units.plural(len(later), 'increment')} ({', '.join(later)}); apply them "
                  "in order, each after the deletions its .del lists, for the atom as "
                  "it is now (README, 'Restore by hand')")


RESTORE_PARAMS = [
    param("path", str, "", "what to restore, as its original full path"),
    {**param("all_molecules", bool, False, "restore every molecule, each in a folder "
                                            "of its own under --to"), "long": "all"},
    param("to", str, "restore", "folder to restore into (default ./restore)"),
    param("tier", str, "Bulk", "thaw tier: Bulk (~48 h, cheapest) or Standard (~12 h)"),
    param("days", int, 7, "days the thawed copy stays readable"),
    param("yes", bool, False, "really thaw (paid) and restore"),
    param("wait", bool, False, "poll until every bag is thawed"),
    param("wait_hours", float, 72, "give up waiting after this many hours"),
    param("poll_seconds", float, 60, "first wait between status checks (doubles up to "
                                     "30 min; at least 60 s)"),
    param("overwrite", bool, False, "replace files that already exist in the destination"),
    param("from_file", str, "", "restore from a bag already downloaded by hand"),
    param("year", int, None, "as that year's run archived it (history)", metavar="YYYY"),
    param("pending", bool, False, "list the restores not finished, their bags' steps "
                                  "and the command that continues each"),
    param("json", bool, False, "the estimate (without --yes) as JSON (README: JSON "
                               "output)")]


def task_restore():
    """restore a path (atom, folder or file) or --all: prints the cost; --yes restores"""
    return {"actions": [(restore_action, [current_run().config_file])],
            "uptodate": [False], "params": RESTORE_PARAMS}
