"""`doit prune` (objects nothing references, deleted only with --delete) and `doit cost`
(the monthly bill, what pruning frees, what a restore costs)."""


from .. import cost, find, inventory, layout, prune, report
from ..errors import GlacierError
from ..run import load_run
from ..store import store_for
from .backup import read_plan
from .base import current_run, locked, param, say, user_errors


def prunable(run, store, inv, with_losses=False):
    """Every object in the bucket, and the prunable ones among them (with what deleting
    each bag loses, when asked: it reads their manifests)."""
    objects = store.list_objects("")
    referenced = prune.referenced_keys(inv, read_plan(run, required=False))
    history = prune.history_dates(inv, run.settings.keep_years)
    found = prune.plan_prune(objects, referenced, run.today, run.settings.prices,
                             run.settings.host, history)
    if not with_losses:
        return objects, found
    lost = losses(run, store, inv, objects, [p.key for p in found if p.key.endswith(".tar")])
    return objects, prune.plan_prune(objects, referenced, run.today, run.settings.prices,
                                     run.settings.host, history, lost)


def losses(run, store, inv, objects, doomed) -> dict:
    """key -> prune.Lost for each bag about to go: its files that no newer bag of the
    same molecule holds (the current ones, or any uploaded after it)."""
    host, found = run.settings.host, {}
    mine = {k: o for k, o in objects.items() if k.endswith(".tar") and
            layout.owner(k) == host}
    listed = {}

    def files_of(key):
        if key not in listed:
            bag = inv["bags"].get(key) or {"manifest_key": layout.manifest_key(key)}
            try:
                with open(find.local_manifest(run.settings, store, bag),
                          encoding="utf-8") as lines:
                    listed[key] = prune.entries(lines)
            except GlacierError:  # no manifest in the bucket any more: nothing known
                listed[key] = set()
        return listed[key]

    for key in doomed:
        slug = layout.slug_of(key)
        newer = set()
        for other, info in mine.items():
            if other != key and layout.slug_of(other) == slug and (
                    other in inv["bags"] or info.last_modified > mine[key].last_modified):
                newer |= files_of(other)
        found[key] = prune.lost_files(files_of(key), newer)
    return found


@user_errors
@locked
def prune_action(config, delete, force, min_age_days):
    run = load_run(config)
    settings = run.settings
    inv = inventory.load_inventory(settings.inventory_file, required_by="prune")
    store = store_for(settings)
    _, found = prunable(run, store, inv, with_losses=True)
    if not found:
        say(["Nothing to prune: every object under YYYY-backup/ is referenced"])
        return
    if not delete:
        say(report.prune_lines(found, delete=False))
        return
    doomed, kept = prune.split_by_age(found, min_age_days, force)
    for p in kept:
        print(report.kept_line(p, min_age_days))
    for p in doomed:
        if p.fee_now:
            print(f"Early-deletion fee for {p.key}: ${p.fee_now:.4f} (--force)")
        if force and (p.history_until or (p.lost and p.lost.files)):
            print(f"Deleting {p.key} loses {report.lost_words(p.lost)} (--force)")
        store.delete(p.key)
        if not p.key.endswith(".tar"):
            run.manifest_file(p.key).unlink(missing_ok=True)
        print(f"Deleted {p.key}")
    gone = {p.key for p in doomed}
    if gone & set(inv.get("history", {})):  # what is deleted is no longer history
        inv["history"] = {k: v for k, v in inv["history"].items() if k not in gone}
        inventory.write_inventory(settings.inventory_file, inv)


@user_errors
def cost_action(config):
    run = load_run(config)
    settings = run.settings
    inv = inventory.load_inventory(settings.inventory_file, required_by="cost")
    objects, found = prunable(run, store_for(settings), inv)
    held = [bag["size"] for bag in inv["bags"].values()]
    files = sum(a.get("files", 0) for a in inv["atoms"].values())
    restore = {tier: cost.restore_cost(sum(held), len(held), tier, settings.prices)
               for tier in cost.TIERS}
    per_file = cost.one_object_per_file(files, sum(held), settings.storage_class,
                                        settings.prices)
    say(report.cost_lines(cost.storage_bill(objects, settings.prices),
                          sum(p.size for p in found), restore, per_file, len(held)))


PRUNE_PARAMS = [
    param("delete", bool, False, "delete the prunable objects past the minimum age"),
    param("force", bool, False, "with --delete: also delete younger ones, paying the fee"),
    param("min_age_days", int, 180, "minimum age in days (default 180)")]


def task_prune():
    """list bags no inventory references (--delete: delete those past --min-age-days)"""
    return {"actions": [(prune_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": PRUNE_PARAMS}


def task_cost():
    """monthly bill, prunable bytes, full-restore cost"""
    return {"actions": [(cost_action, [current_run().config_file])], "uptodate": [False]}
