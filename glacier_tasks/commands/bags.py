"""The bags' part of `doit backup`: three tasks per bag, and a group.

    tar:NAME -> upload:NAME -> manifest:NAME -> bag:NAME

Bags go through the steps in one order: the plan's, those whose tar a stopped run left
staged first. tar:NAME also waits for the tar before it and for the upload of the bag
`staging_bags` places before it; upload:NAME for the upload before it. So one bag
packs while another uploads (doit's own parallel runner, `-n 2` threads by default),
and staging_dir never holds more than `staging_bags` tars (steps.py frees a tar as
soon as S3 holds it). A failed step records the failure and ends its task
successfully, so the chain never stops the other bags; the closing report fails the
run. With `staging_bags = 1` every bag is packed, then uploaded, before the next.

Each task's up-to-date check reads the bag's ledger (kill -9 safe), never doit's
database alone. The tasks are created once `plan` has run; `doit list` shows those of
the last plan on disk, one `bag:NAME` line each, saying which step it waits for.
"""

import os
import time

from doit import create_after

from ..report import last_run as status, text as report
from ..backup import bag_steps as steps, ledger as ledgers
from ..backup.ledger import BagLedger
from ..errors import GlacierError, StateError, command
from ..formats import inventory, layout
from ..units import human, plural, printable
from ..backup.progress import working
from ..run import load_run
from ..backup.plan import read_plan
from .base import current_run, locked, user_errors

BAG_STEPS = ("tar", "upload", "manifest", "bag")  # each a task per bag: STEP:NAME

# -- the order and what each bag waits for --------------------------------------------

_ORDER = {}  # (config, plan file's identity) -> bag names in pipeline order


def pipeline(run, plan) -> list:
    """The bags in the order they go through tar and upload: those with a complete
    staged tar first (their upload comes before any new packing), then plan order.
    Computed once per plan file, so the creators of tar and upload agree."""
    stat = os.stat(run.plan_file)
    key = (run.config_file, stat.st_mtime_ns, stat.st_size)
    if key not in _ORDER:
        ready = [b.name for b in plan.bags if BagLedger.of(run, b).tar_ready()]
        _ORDER[key] = ready + [b.name for b in plan.bags if b.name not in ready]
    return [plan.bag(name) for name in _ORDER[key]]


def to_send(run, plan) -> dict:
    """bag name -> bytes this run sends (the packed size once known)."""
    sizes = {b.name: BagLedger.of(run, b).to_send(b.size) for b in plan.uploads}
    return {name: size for name, size in sizes.items() if size is not None}


def _graph(run):
    """(plan, bags in pipeline order) of the last plan on disk; `doit list` must work
    without one (`plan` writes it)."""
    try:
        plan = read_plan(run, required=False)
    except StateError:
        plan = None
    return (plan, pipeline(run, plan)) if plan else (None, [])


# -- up-to-date checks: the ledger, never doit's database alone --------------------------

def tar_is_ready(config, name, content) -> bool:
    return BagLedger(load_run(config), name, content).tar_ready()


def is_uploaded(config, name, content, kept) -> bool:
    return BagLedger(load_run(config), name, content, kept).uploaded()


def is_finished(config, name, content, kept) -> bool:
    return BagLedger(load_run(config), name, content, kept).finished()


# -- actions ------------------------------------------------------------------------------

def _step(step, config, name, task):
    """Run one step of one bag. A bag's failure is its own: printed, recorded in
    its ledger (steps.py), and the task ends well so the other bags go on. `task`:
    doit's, for its verbosity (the steps' output is not captured: two run at once)."""
    run = load_run(config)
    plan = read_plan(run)
    progress = run.progress
    progress.start(lambda: to_send(run, plan), verbose=task.verbosity >= 2)
    with working():
        line = _guarded(step, run, plan, name)
    if line:
        progress.say(line)


def _guarded(step, run, plan, name) -> str:
    try:
        line = STEPS[step](run, plan, name)
    except GlacierError as err:
        run.progress.step(step, name, "failed", str(err))
        run.progress.gave_up(name)
        line = f"FAILED {name}: {err}"
    return line


STEPS = {"tar": steps.tar_step, "upload": steps.upload_step, "manifest": steps.manifest_step}


@user_errors
@locked
def tar_action(config, name, task):
    _step("tar", config, name, task)


@user_errors
@locked
def upload_action(config, name, task):
    _step("upload", config, name, task)


@user_errors
@locked
def manifest_action(config, name, task):
    _step("manifest", config, name, task)


# their output is their own: doit's capture swaps the process-wide sys.stdout, which
# tasks running at once in threads would tangle (and tqdm's redraws would pile up)
UNCAPTURED = {"io": {"capture": False}}


# -- tasks --------------------------------------------------------------------------------

def _needs_mount(run, bag) -> list:
    return ["_mount"] if bag.molecule in {m.spelling for m in run.remote} else []


@create_after(executed="plan")
def task_tar():
    """pack each bag of the last plan into staging_dir (kept and done bags: one HEAD)"""
    run = current_run()
    _, order = _graph(run)
    budget = run.settings.staging_bags
    for k, bag in enumerate(order):
        deps = ["_lock", "_bucket"] + _needs_mount(run, bag)
        if k:
            deps.append(f"tar:{order[k - 1].name}")
        if k >= budget:  # room in staging: that upload frees its tar
            deps.append(f"upload:{order[k - budget].name}")
        yield {"name": bag.name, "actions": [(tar_action, [run.config_file, bag.name])],
               "targets": [str(run.staged_tar(bag.name))], "task_dep": deps,
               "uptodate": [(tar_is_ready, [run.config_file, bag.name, bag.content_key])],
               **UNCAPTURED}


@create_after(executed="plan")
def task_upload():
    """send each staged tar, check it with a HEAD, free its staging space"""
    run = current_run()
    _, order = _graph(run)
    for k, bag in enumerate(order):
        deps = ["_lock", "_bucket", f"tar:{bag.name}"]
        if k:
            deps.append(f"upload:{order[k - 1].name}")
        kept = bag.action == "keep"
        yield {"name": bag.name, "actions": [(upload_action, [run.config_file, bag.name])],
               "task_dep": deps, "uptodate": [
                   (is_uploaded, [run.config_file, bag.name, bag.content_key, kept])],
               **UNCAPTURED}


@create_after(executed="plan")
def task_manifest():
    """upload each bag's manifest (and member index); the bag is then done"""
    run = current_run()
    _, order = _graph(run)
    for bag in order:
        kept = bag.action == "keep"
        yield {"name": bag.name,
               "actions": [(manifest_action, [run.config_file, bag.name])],
               "task_dep": ["_lock", f"upload:{bag.name}"] + _needs_mount(run, bag),
               "uptodate": [
                   (is_finished, [run.config_file, bag.name, bag.content_key, kept])],
               **UNCAPTURED}


@create_after(executed="plan")
def task_bag():
    """the bags of the last plan: tar, upload, manifest (one line each in `glacier list`)"""
    run = current_run()
    plan, order = _graph(run)
    if plan is None:
        yield from _inventory_bags(run)
    for bag in plan.bags if plan else []:
        waits = BagLedger.of(run, bag).waiting_for()
        settled = not waits
        doc = report.describe_bag(bag, settled) + (f"; {waits}" if waits else "")
        yield {"name": bag.name, "doc": doc, "actions": None,
               "task_dep": [f"manifest:{bag.name}"], "meta": {"settled": settled}}


def _inventory_bags(run):
    """Without a plan (a machine just bootstrapped, or one that never planned here):
    the inventory's bags, each settled (the bucket holds it), so `list --status`
    shows what the archive holds; a dry run or backup then plans them."""
    try:
        inv = inventory.load_inventory(run.settings.inventory_file)
    except GlacierError:
        return  # the command that needs the inventory says what is wrong with it
    for key, bag in sorted(inv.bags.items()):
        doc = (f"{printable(bag.molecule or '?')}  "
               f"{plural(len(bag.atoms), 'atom')}  {human(bag.size)}"
               f"  in the bucket (inventory of {inv.run_date or '?'}; "
               f"'{command('dryrun')}' plans from it)")
        yield {"name": layout.bag_name(key), "doc": doc, "actions": None,
               "meta": {"settled": True, "kept": (key, bag)}}  # list --json reads it


# -- the closing summary when the report did not run ------------------------------------

def closing_lines(config) -> list[str]:
    """What a backup that stopped before its report (a failure, a lost network, Ctrl-C)
    says at the end: bags uploaded, kept, repaired, failed with reasons, not reached."""
    try:
        run = load_run(config)
        plan = read_plan(run, required=False)
    except GlacierError:
        return []
    if plan is None:
        return []
    found = ledgers.outcomes(run, plan)
    sent = status.sent_figures(run, plan, status.STARTED)
    return report.stopped_report(plan, found.failures, found.repaired, found.done) + \
        [report.sent_line(sent, time.time() - status.STARTED)]

