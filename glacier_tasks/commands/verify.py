"""`doit verify [--deep --yes]`: the bucket holds every bag as the inventory records."""

import json as jsonlib

from doit.exceptions import TaskFailed

from ..bucket import system_folder
from ..restore import plan as restore
from .. import cost, units, verify
from ..formats import inventory
from ..report import last_run as status
from ..run import load_run
from . import shapes
from .base import current_run, param, say, user_errors


@user_errors
def verify_action(config, deep, yes, tier, days, all_hosts, json=False):
    run = load_run(config)
    settings = run.settings
    if all_hosts:
        return _verify_every_host(settings, run.store, json)
    inv = inventory.load_inventory(settings.inventory_file, required_by="verify")
    if deep:
        problem = restore.tier_problem(tier, {b.storage_class
                                              for b in inv.bags.values()})
        if problem:
            return TaskFailed(problem)
    store = run.store
    problems = verify.check_headers(store, inv, settings.host)
    waiting = 0
    if deep and not yes and json:
        return TaskFailed("--deep --json: add --yes (the estimate is text: leave out "
                          "--json to read it)")
    if deep and not yes:
        total = sum(b.size for b in inv.bags.values())
        figures = cost.restore_cost(total, len(inv.bags), tier, settings.prices)
        print(f"--deep thaws and downloads all {units.plural(len(inv.bags), 'bag')} "
              f"({units.human(total)}): slow ({cost.TIER_DELAY[tier]}) and paid "
              f"(about ${figures['total']:.2f}); add --yes to do it")
    elif deep:
        deep_problems, waiting = verify.deep_check(
            store, inv, days, tier, (lambda line: None) if json else print)
        problems += deep_problems
    warnings = list(verify.index_warnings(store, inv))
    if json:
        say([jsonlib.dumps(shapes.verify_result(
            len(inv.bags), problems, warnings, waiting, bool(deep and yes),
            settings.host), indent=1)])
    else:
        say(f"WARNING {line}" for line in warnings)
        say(f"PROBLEM {line}" for line in problems)
    status.record_run(load_run(config), status.verify_record(
        load_run(config), len(inv.bags), problems, waiting, deep=bool(deep and yes)))
    if problems:
        return TaskFailed(f"{units.plural(len(problems), 'problem')} found (see above)")
    if waiting:
        return TaskFailed(f"{units.plural(waiting, 'bag')} still thawing; run again later")
    if not json:
        print(f"Verified {units.plural(len(inv.bags), 'bag')} and their manifests: all as "
              "recorded")


def _verify_every_host(settings, store, json=False):
    """The quick check of each host's latest inventory in the bucket, host by host."""
    problems, shown = [], []
    for host in system_folder.hosts_in(store.list_objects("")):
        inv = system_folder.latest_inventory(settings, store, host)
        found = verify.check_headers(store, inv, host)
        problems += [f"{host}: {line}" for line in found]
        shown.append(shapes.verify_result(len(inv.bags), found, [], host=host))
        if not json:
            say([f"{host}: {units.plural(len(inv.bags), 'bag')}, " +
                 (f"{units.plural(len(found), 'problem')}" if found else
                  "all as recorded")])
    if json:
        say([jsonlib.dumps({"version": shapes.VERSION, "ok": not problems,
                            "hosts": shown}, indent=1)])
    else:
        say(f"PROBLEM {line}" for line in problems)
    if problems:
        return TaskFailed(f"{units.plural(len(problems), 'problem')} found (see above)")


VERIFY_PARAMS = [
    param("deep", bool, False, "also thaw, download and re-hash every bag (slow, paid)"),
    param("yes", bool, False, "with --deep: really thaw and download"),
    param("tier", str, "Bulk", "thaw tier for --deep: Bulk or Standard"),
    param("days", int, 1, "days a thawed copy stays readable"),
    param("all_hosts", bool, False, "check every host's latest inventory in the bucket"),
    param("json", bool, False, "what was checked and found, as JSON (README: JSON "
                               "output)")]


def task_verify():
    """check every bag and manifest is in the bucket as recorded (--deep: re-hash)"""
    return {"actions": [(verify_action, [current_run().config_file])],
            "uptodate": [False], "params": VERIFY_PARAMS}
