"""`doit prune` (objects nothing references, deleted only with --delete) and `doit cost`
(the monthly bill, what pruning frees, what a restore costs)."""


from .. import cost, inventory, prune, report
from ..run import load_run
from ..store import store_for
from .backup import read_plan
from .base import current_run, locked, param, say, user_errors


def prunable(run, store, inv):
    """Every object in the bucket, and the prunable ones among them."""
    objects = store.list_objects("")
    referenced = prune.referenced_keys(inv, read_plan(run, required=False))
    return objects, prune.plan_prune(objects, referenced, run.today, run.settings.prices,
                                     run.settings.host)


@user_errors
@locked
def prune_action(config, delete, force, min_age_days):
    run = load_run(config)
    settings = run.settings
    inv = inventory.load_inventory(settings.inventory_file, required_by="prune")
    store = store_for(settings)
    _, found = prunable(run, store, inv)
    if not found:
        say(["Nothing to prune: every object under YYYY-backup/ is referenced"])
        return
    if not delete:
        say(report.prune_lines(found, delete=False))
        return
    doomed, kept = prune.split_by_age(found, min_age_days, force)
    for p in kept:
        print(f"Kept {p.key}: {p.age_days} days old, under --min-age-days "
              f"{min_age_days}; free to delete from {p.free_from}")
    for p in doomed:
        if p.fee_now:
            print(f"Early-deletion fee for {p.key}: ${p.fee_now:.4f} (--force)")
        store.delete(p.key)
        if not p.key.endswith(".tar"):
            run.manifest_file(p.key).unlink(missing_ok=True)
        print(f"Deleted {p.key}")


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
