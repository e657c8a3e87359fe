"""staging_dir and its budget: at most `staging_bags` staged tars at once.

The task graph keeps the budget (commands/bags.py): bags go through tar and upload in
one order, and the tar of the k-th bag waits for the upload of the (k - staging_bags)-th,
whose step frees its tar as soon as S3 holds it. Before packing, a tar step also clears
what the graph cannot see (make_room): the half-written tar of a stopped run, a staged
tar no marker claims, and, oldest first while room is short, the tars of bags whose
upload failed (kept till then, so that the next run resumes them without packing).
"""

from .ledger import BagLedger
from .pack import staging_need

# what a bag leaves in staging_dir: NAME.tar, NAME.tar.partial, NAME.tar.members
SUFFIXES = ("", ".partial", ".members", ".partial.members")


def make_room(run, plan, bag) -> None:
    """Before `bag` is packed (its own leftovers go too); see the module's docstring."""
    folder = run.settings.staging_dir
    if not folder.is_dir():
        return
    planned = {b.name: b for b in plan.bags}
    prefix = f"{run.settings.host}_"
    waiting, failed = 0, []
    for path in folder.iterdir():
        name, dot_tar, rest = path.name.partition(".tar")
        if not dot_tar or rest not in SUFFIXES or not name.startswith(prefix):
            continue  # not a bag's file
        other = planned.get(name)
        ledger = BagLedger.of(run, other) if other is not None else None
        if rest == "" and ledger and name != bag.name and ledger.tar_ready():
            if ledger.failed:
                failed.append(path)
            else:
                waiting += 1
            continue
        path.unlink(missing_ok=True)
    room = max(run.settings.staging_bags - 1 - waiting, 0)
    failed.sort(key=lambda p: p.stat().st_mtime)
    for path in failed[:max(len(failed) - room, 0)]:
        path.unlink(missing_ok=True)


def budget_need(plan, staging_bags: int) -> tuple[int, int]:
    """(bytes, bags): what staging_dir must hold at most for this plan's uploads, the
    `staging_bags` largest at once."""
    needs = sorted((staging_need(b.size) for b in plan.uploads), reverse=True)
    held = needs[:staging_bags]
    return sum(held), len(held)
