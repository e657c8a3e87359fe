"""`doit report [--to PATH]`: one self-contained HTML page about the archive, from the
inventory, the last plan, last-run.json and one listing of the bucket."""

from pathlib import Path

from doit.exceptions import TaskFailed

from .. import __version__, prune, statefile
from ..formats import inventory
from ..report import figures as overview, html as page, last_run as status, run_start
from ..run import load_run
from ..backup import ledger
from ..backup.plan import read_plan
from .base import current_run, param, say, user_errors


def gather(run):
    """Everything the page shows; the listing and the prunable objects are `doit
    cost`'s and `doit prune`'s own (prune.prunable)."""
    settings = run.settings
    inv = inventory.load_inventory(settings.inventory_file)
    plan = read_plan(run, required=False)
    objects, found = prune.prunable(run, run.store, inv)
    data = status.read_status(run.last_run_file)
    return overview.gather(
        settings, run.today, inv, plan, objects, found,
        slugs={m.slug: m.spelling for m in run.molecules},
        status_data=data, pending=ledger.outcomes(run, plan).pending,
        unfinished=status.unfinished_since(run),
        open_start=run_start.unfinished(data, run_start.read_started(run)))


@user_errors
def report_page_action(config, to):
    run = load_run(config)
    target = Path(to).expanduser().absolute() if to else run.report_file
    text = page.render(gather(run), __version__)
    try:
        statefile.write_bytes(target, text.encode("utf-8"))
    except OSError as err:
        return TaskFailed(f"{target}: cannot write the report: {err.strerror}")
    say([f"Wrote {target}"])


REPORT_PARAMS = [
    param("to", str, "", "the HTML file to write (default: report.html beside the "
                         "inventory)", metavar="FILE")]


def task_report():
    """write one HTML page: storage, bags, bill, prunable, restore cost, last run, health"""
    return {"actions": [(report_page_action, [current_run().config_file])],
            "uptodate": [False], "params": REPORT_PARAMS}
