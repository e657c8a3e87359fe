"""`doit prune` (objects nothing references, deleted only with --delete) and `doit cost`
(the monthly bill, what pruning frees, what a restore costs)."""

import datetime
import json as jsonlib

from doit.exceptions import TaskFailed

from ..errors import command
from ..bucket import system_folder
from .. import cost, prune, units
from ..bucket import hosts
from ..formats import inventory
from ..report import text as report
from ..run import load_run
from . import shapes
from .base import current_run, locked, param, say, user_errors


@user_errors
@locked
def prune_action(config, delete, force, min_age_days, json=False):
    if min_age_days < 0:
        return TaskFailed(f"--min-age-days {min_age_days}: a number of days, 0 or more")
    return prune_bucket(load_run(config), delete, force, min_age_days, json)


def prune_bucket(run, delete, force, min_age_days, json=False):
    """prune_action with its Run (and the Run's store), so a bucket in memory can be
    pruned in a test."""
    settings = run.settings
    inv = inventory.load_inventory(settings.inventory_file, required_by="prune")
    store = run.store
    hosts.check_renamed(store, settings.host, run.state_dir, inv)
    if delete:
        if run.bootstrapped_file.exists():  # before the claim: a refused run claims nothing
            return TaskFailed("this inventory came from the bucket (bootstrap), and no "
                              "backup has yet put the files on disk into bags: run "
                              f"'{command('backup')}' once before 'prune --delete'")
        # another machine may have taken this host name over: its bags are not here
        hosts.claim_host(store, settings.host, run.state_dir)
    system_folder.check_fresh(settings, store, inv)  # the bucket outranks it
    objects, found = prune.prunable(run, store, inv, with_losses=True)
    if delete:
        unsafe = prune.unsafe_to_delete(inv, objects, settings.host)
        if unsafe:
            return TaskFailed(unsafe)
    # one HEAD per candidate, in both modes: the lock is known before anything is said
    infos, held = _locks(store, found)
    verdicts = prune.classify(found, held, min_age_days, force)
    if not json:
        say(report.kept_dead_lines(inv))
    out = (lambda line: None) if json else print
    gone = _delete(run, store, inv, found, verdicts, infos, force, out) if delete else []
    if json:
        say([jsonlib.dumps(shapes.prune_result(run.today, found, verdicts, held, gone,
                                               delete, force, min_age_days), indent=1)])
    else:
        say(_said(found, verdicts, held, gone, delete, min_age_days) +
            (cost.region_note(settings.region, settings.prices) if found else []))


def _said(found, verdicts, held, gone, delete, min_age_days) -> list:
    """The text of a dry run or what --delete did (its Deleted lines came as it went)."""
    if not found:
        return ["Nothing to prune: every object under YYYY-backup/ is referenced"]
    locks = {h.key: held_reason(h) for h in held.values()}
    waiting = sorted((h for h in held.values() if verdicts.get(h.key) == prune.HELD),
                     key=lambda h: h.key)
    if not delete:
        return report.prune_lines(found, verdicts, locks) + held_lines(waiting)
    kept = [report.kept_line(p, min_age_days, locks.get(p.key, "")) for p in found
            if verdicts[p.key] in (prune.HISTORY, prune.YOUNG)]
    return kept + held_lines(waiting) + [report.freed_line(gone)]


def _delete(run, store, inv, found, verdicts, infos, force, out) -> list:
    """Delete what the verdicts say; the objects deleted (or gone since the listing)."""
    gone = []
    try:
        for p in found:
            if verdicts[p.key] != prune.DELETE:
                continue
            if infos[p.key]:  # else gone since the listing: only the bookkeeping is left
                delete_one(run, store, p, infos[p.key].version_id, force, out)
            gone.append(p)
    finally:  # what is deleted is no longer history, even if a later delete failed
        keys = {p.key for p in gone}
        if keys & set(inv.history):
            inv.history = {k: v for k, v in inv.history.items() if k not in keys}
            inventory.write_inventory(run.settings.inventory_file, inv)
    return gone


def _locks(store, candidates) -> tuple[dict, dict]:
    """(key -> ObjectInfo or None, key -> Held): a HEAD each, which alone shows the
    current version and its Object Lock."""
    infos = {p.key: store.head(p.key) for p in candidates}
    return infos, prune.holds({k: i for k, i in infos.items() if i},
                              datetime.datetime.now(datetime.timezone.utc))


def delete_one(run, store, p, version_id, force, out=print):
    """Delete the object's current version by its id: on a versioned bucket a delete
    without one only adds a delete marker and the bag stays, billed, for ever."""
    if p.fee_now:
        out(f"Early-deletion fee for {p.key}: ${p.fee_now:.4f} (--force)")
    if force and (p.history_until or (p.lost and p.lost.anything)):
        out(f"Deleting {p.key} loses {report.lost_words(p.lost)} (--force)")
    store.delete(p.key, version_id)
    if not p.key.endswith(".tar"):
        run.manifest_file(p.key).unlink(missing_ok=True)
    out(f"Deleted {p.key}")


def held_reason(h) -> str:
    """Why S3 will not delete it yet, in words."""
    why = [f"Object Lock ({h.mode}) until {_utc(h.until)}"] if h.until else []
    why += ["a legal hold, until someone releases it"] if h.legal_hold else []
    why += [f"kept with its bag {h.bag}"] if h.bag else []
    return "; ".join(why)


def held_lines(held: list) -> list:
    """Each object S3's Object Lock keeps for now, and when to run again. Not an
    error: they are candidates again on the next run."""
    lines = [f"Waits {h.key}: {held_reason(h)}" for h in held]
    if held:
        first = prune.free_after(held)
        lines.append(f"{units.plural(len(held), 'object')} wait for S3's Object Lock, not "
                     "deleted; " + (
            f"the first can go from {_utc(first)}: run '{command('prune --delete')}' "
            "again then"
            if first else "release their legal holds, then run "
                          f"'{command('prune --delete')}'"))
    return lines


def _utc(moment) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@user_errors
def cost_action(config, all_hosts, json=False):
    run = load_run(config)
    settings, store = run.settings, run.store
    if all_hosts:
        return _cost_of_every_host(settings, store, json)
    inv = inventory.load_inventory(settings.inventory_file, required_by="cost")
    objects, found = prune.prunable(run, store, inv)
    held = [bag.size for bag in inv.bags.values()]
    files = sum(a.files for a in inv.atoms.values())
    restore = {tier: cost.restore_cost(sum(held), len(held), tier, settings.prices)
               for tier in cost.TIERS}
    per_file = cost.one_object_per_file(files, sum(held), settings.storage_class,
                                        settings.prices)
    bill, prunable = cost.storage_bill(objects, settings.prices), \
        sum(p.size for p in found if not p.history_until)
    if json:
        say([jsonlib.dumps(shapes.cost_figures(bill, prunable, restore, per_file, len(held),
                                               _history_figures(run, inv, objects)),
                           indent=1)])
        return
    say(report.cost_lines(bill, prunable, restore, per_file, len(held)) +
        report.history_lines(_history_figures(run, inv, objects)) +
        report.dead_lines(inv, settings) + cost.region_note(settings.region,
                                                            settings.prices))


def _history_figures(run, inv, objects) -> dict:
    """What the current data and the history (superseded bags not pruned yet) cost a
    month, and what one year of keep_years adds (the bags superseded in the last
    365 days)."""
    prices, storage_class = run.settings.prices, run.settings.storage_class
    history = {k: h for k, h in inv.history.items() if k in objects}
    year_ago = (run.today.replace(year=run.today.year - 1)).isoformat()
    last_year = [h for h in history.values() if h.superseded_on > year_ago]

    def monthly(sizes):
        return cost.monthly_storage(sum(sizes), len(sizes), storage_class, prices)
    current = [b.size for b in inv.bags.values()]
    return {"keep_years": run.settings.keep_years,
            "current": (len(current), sum(current), monthly(current)),
            "history": (len(history), sum(h.size or 0 for h in history.values()),
                        monthly([h.size or 0 for h in history.values()])),
            "per_year": (sum(h.size or 0 for h in last_year),
                         monthly([h.size or 0 for h in last_year]))}


def _cost_of_every_host(settings, store, json=False):
    """`cost --all-hosts`: each host's share of the bucket's bill."""
    listing = store.list_objects("")
    rows = []
    for host in system_folder.hosts_in(listing):
        bill = cost.storage_bill(prune.own_objects(listing, host), settings.prices)
        rows.append((host, sum(n for _, n, _ in bill.values()),
                     sum(size for size, _, _ in bill.values()),
                     sum(m for _, _, m in bill.values())))
    if json:
        say([jsonlib.dumps(shapes.cost_by_host(rows), indent=1)])
        return
    say([f"Monthly storage by host (prices of {cost.PRICES_DATE}):",
         *(f"  {host:<20} {count:>6} objects  {units.human(held):>9}  ${usd:.2f}/month"
           for host, count, held, usd in rows)])


PRUNE_PARAMS = [
    param("delete", bool, False, "delete the prunable objects past the minimum age"),
    param("force", bool, False, "with --delete: also delete younger ones, paying the fee"),
    param("min_age_days", int, 180, "minimum age in days (default 180)"),
    param("json", bool, False, "print what is prunable (and what was deleted) as JSON")]


def task_prune():
    """list bags no inventory references (--delete: delete those past --min-age-days)"""
    return {"actions": [(prune_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": PRUNE_PARAMS}


COST_PARAMS = [param("all_hosts", bool, False, "each host's share of the bucket's bill"),
               param("json", bool, False, "the same figures as JSON (README: JSON output)")]


def task_cost():
    """monthly bill (current data and history), prunable bytes, full-restore cost"""
    return {"actions": [(cost_action, [current_run().config_file])], "uptodate": [False],
            "params": COST_PARAMS}
