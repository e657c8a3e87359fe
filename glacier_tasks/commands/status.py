"""`glacier status [--json]`: the last run (last-run.json), the bags pending now and
the restores not finished, from local state alone (no S3). Exit status 1 when the
newest backup did not finish (killed, still running) or failed (also before its
report), none was recorded, or the last good one is older than max_age_days: what a
monitor alerts on (a restore still pending is not)."""

import json as jsonlib

from doit.exceptions import TaskFailed

from ..formats import inventory
from ..backup import ledger
from ..report import last_run as status, restores, run_start
from ..run import load_run
from ..backup.plan import read_plan
from ..units import plural
from .base import current_run, param, say, user_errors


@user_errors
def status_action(config, json):
    run = load_run(config)
    settings = run.settings
    data = status.read_status(run.last_run_file)
    inv = inventory.load_inventory(settings.inventory_file)
    pending = ledger.outcomes(run, read_plan(run, required=False)).pending
    open_start = run_start.unfinished(data, run_start.read_started(run))
    running = bool(open_start) and run_start.still_running(run, open_start)
    unfinished = bool(open_start) or status.unfinished_since(run)
    pending_restores = restores.pending_restores(run)
    problems = status.health(data, inv, run.today, settings.max_age_days, open_start,
                             running)
    if json:
        now = {"date": run.today.isoformat(), "ok": not problems, "problems": problems,
               "pending_bags": pending, "unfinished_run": unfinished,
               "unfinished_backup": open_start, "running": running,
               "max_age_days": settings.max_age_days,
               "restores": [restores.restore_record(rid, state)
                            for rid, state in pending_restores]}
        say([jsonlib.dumps({**(data or {}), "now": now}, indent=1, sort_keys=True)])
    else:
        say(status.summary_lines(data, inv, pending, unfinished, run.today,
                                 settings.max_age_days, problems,
                                 restores.status_lines(pending_restores)))
    if problems:  # the text said each on its PROBLEM line; JSON has no line for people
        return TaskFailed(problems[0] if json else
                          f"not OK: {plural(len(problems), 'problem')} (see above)")


STATUS_PARAMS = [
    param("json", bool, False, "print last-run.json (and what holds now) for scripts")]


def task_status():
    """the last run's status and the bags pending now (exit 1: last backup failed or old)"""
    return {"actions": [(status_action, [current_run().config_file])],
            "uptodate": [False], "params": STATUS_PARAMS}
