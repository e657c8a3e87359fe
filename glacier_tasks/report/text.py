"""What a run says: the dry run's plan summary and the backup's closing report (pure)."""

from dataclasses import replace

from ..errors import command
from .. import cost
from ..formats import inventory as inventory_format
from ..formats.records import AtomEntry, Inventory
from ..backup import staging
from ..units import duration, human, plural, printable


def names(keys) -> str:
    return ", ".join(printable(k) for k in keys)


def describe_bag(bag, done: bool = False) -> str:
    """What a planned bag is and why it is pending: the line `list` shows for it."""
    what = "unchanged" if bag.action == "keep" else \
        ("uploaded: " if done else "pending: ") + ", ".join(bag.reasons)
    return (f"{printable(bag.molecule)}  {plural(len(bag.atoms), 'atom')}  "
            f"{human(bag.size)}  {what}")


SHOWN_CHANGES = 20  # changed atoms named one per line; the rest are counted


def plan_summary(plan, settings, history: dict | None = None,
                 draft: Inventory | None = None) -> str:
    """The dry run's text; `history`: the superseded bags the inventory still keeps;
    `draft` (the inventory the run would write) for the bytes kept bags hold that no
    atom points at."""
    prices = settings.prices
    lines = [f"Plan for {plan.year}: bucket {settings.s3_bucket}, "
             f"{settings.storage_class}, bags up to {settings.target_bag_gb:g} GB"]
    by_molecule = {}
    for bag in plan.bags:
        by_molecule.setdefault(bag.molecule, []).append(bag)
    prunable = {}
    for key, molecule in plan.superseded_molecules.items():
        prunable[molecule] = prunable.get(molecule, 0) + 1
    for molecule, bags in by_molecule.items():
        todo = [b for b in bags if b.action == "upload"]
        reasons = sorted({r for b in todo for r in b.reasons})
        lines.append(f"  {printable(molecule)}: {plural(len(bags), 'bag')}, "
                     f"{len(bags) - len(todo)} unchanged, "
                     f"{len(todo)} to upload" +
                     (f" ({', '.join(reasons)}), {human(sum(b.size for b in todo))}"
                      if todo else "") +
                     (f"; {plural(prunable[molecule], 'old bag')} "
                      f"become{'s' if prunable[molecule] == 1 else ''} prunable"
                      if prunable.get(molecule) else ""))
    todo = plan.uploads
    total = sum(b.size for b in plan.bags)
    monthly = cost.monthly_storage(total, len(plan.bags), settings.storage_class, prices)
    lines.append(upload_line([b.size for b in todo], settings))
    if todo:
        need, held = staging.budget_need(plan, settings.staging_bags)
        lines.append(f"Staging: up to {plural(held, 'bag')} at a time "
                     f"(staging_bags = {settings.staging_bags}), about {human(need)} in "
                     f"{settings.staging_dir}")
    lines.append(f"Stored after the run: {plural(len(plan.bags), 'bag')}, {human(total)}, "
                 f"about ${monthly:.2f} per month (prices of {cost.PRICES_DATE})")
    if history:
        held = sum(h.size or 0 for h in history.values())
        kept = cost.monthly_storage(held, len(history), settings.storage_class, prices)
        lines.append(f"History (superseded bags not pruned yet, keep_years = "
                     f"{settings.keep_years}): {plural(len(history), 'bag')}, "
                     f"{human(held)}, about "
                     f"${kept:.2f} per month more")
    lines += cost.region_note(settings.region, prices)
    lines += dead_lines(draft or Inventory(), settings)
    lines += change_lines(plan)
    lines += _warnings(plan)
    return "\n".join(lines)


def upload_line(sizes: list, settings) -> str:
    """The plan in one line: bags and bytes to upload, requests, fee (the dry run's,
    and the first line of a backup's log)."""
    upload = cost.upload_estimate(sizes, settings.storage_class, settings.prices)
    return (f"To upload: {plural(len(sizes), 'bag')}, {human(sum(sizes))}, "
            f"{plural(upload['requests'], 'PUT request')}, fee about ${upload['fee']:.4f}")


def sent_line(sent: dict, seconds: float) -> str:
    """A backup's last word, as restic's "Added to the repository": what this run
    really sent (report.last_run.sent_figures), and how long it took."""
    return (f"Sent: {plural(sent.get('files', 0), 'file')} in "
            f"{plural(sent['bags'], 'bag')}, {human(sent['bytes'])}, "
            f"{plural(sent['requests'], 'request')}, fee about ${sent['fee']:.4f}; "
            f"the run took {duration(seconds)}")


def dead_lines(inventory: Inventory, settings) -> list:
    dead = inventory_format.dead_bytes(inventory)
    if not dead:
        return []
    total = sum(dead.values())
    monthly = cost.monthly_storage(total, 0, settings.storage_class, settings.prices)
    return [f"Kept bags holding old versions: {plural(len(dead), 'bag')}, {human(total)} "
            "no atom "
            f"points at any more, about ${monthly:.2f} per month (packed again once "
            f"under compact_below = {settings.compact_below:g} of a bag is referenced)"]


def kept_dead_lines(inventory: Inventory) -> list:
    """prune's word on the bags it keeps though part of them is dead: one line each."""
    dead = inventory_format.dead_bytes(inventory)
    bags = inventory.bags
    lines = [f"  {key}: {human(n)} of {human(bags[key].packed_bytes)} no "
             f"atom points at any more" for key, n in sorted(dead.items())]
    if len(lines) > SHOWN_CHANGES:
        lines = lines[:SHOWN_CHANGES] + [f"  ... and {len(lines) - SHOWN_CHANGES} more"]
    return ["Kept, though holding old versions of atoms that moved or were deleted (still "
            "referenced, never pruned; packed again once under compact_below):"] + lines \
        if lines else []


def change_lines(plan, heading: str = "Atoms to pack:") -> list:
    """One line per atom packed, and why: what changed in it (against its previous
    entry, which the plan keeps), that it is new, or that its bag is compacted."""
    known = plan.before
    lines = []
    for bag in plan.uploads:
        for atom in bag.atoms:
            old, new = known.get(atom), plan.atoms.get(atom) or AtomEntry("", "")
            if old is None:
                what = f"new: {plural(new.files, 'file')}, {human(new.size)}"
            elif old.get("last_metadata_hash") != new.last_metadata_hash:
                detail = (f"{old['added']} added, {old['changed']} changed, "
                          f"{old['removed']} removed; ") if "added" in old else ""
                what = (f"changed: {detail}{old.get('files', 0)} -> "
                        f"{plural(new.files, 'file')}, "
                        f"{human(old.get('size', 0))} -> {human(new.size)}")
            else:
                what = next((r for r in bag.reasons if r.startswith("compacted")),
                            "packed again with its bag")
            lines.append(f"  {printable(atom)}: {what}")
    if len(lines) > SHOWN_CHANGES:
        lines = lines[:SHOWN_CHANGES] + [f"  ... and {len(lines) - SHOWN_CHANGES} more"]
    return [heading] + lines if lines else []


def _only(plan, names: set):
    """The plan with only these bags to upload (what change_lines reads)."""
    return replace(plan, bags=[b for b in plan.bags if b.action != "upload" or
                               b.name in names])


def _warnings(plan) -> list:
    lines = []
    if plan.removed_atoms:
        lines.append(f"Atoms gone from disk, leaving the inventory: "
                     f"{names(plan.removed_atoms)}")
    for molecule in plan.missing_molecules:
        lines.append(f"MISSING molecule {printable(molecule)}: "
                     f"{missing_reason(plan, molecule)}; its atoms stay in the inventory "
                     "untouched")
    return lines


def missing_reason(plan, molecule: str) -> str:
    return printable(plan.missing_reasons.get(molecule, "folder not found or empty "
                                                    "(drive not mounted?)"))


def run_report(plan, failures: dict, repaired: dict | None = None,
               left_out: dict | None = None) -> tuple[str, bool]:
    """The closing lines of a backup and whether every molecule was backed up.
    repaired: bag name -> what was repaired; left_out: atom -> why its bag went
    without it. Each bag is counted once: unchanged, uploaded, repaired or failed."""
    repaired, left_out = repaired or {}, left_out or {}
    lines = [f"REPAIRED {line}" for line in repaired.values()]
    lines += [f"FAILED bag {name}: {message.removeprefix(name + ': ')}"
              for name, message in sorted(failures.items())]
    lines += [f"FAILED atom {printable(atom)}: {why}; it keeps its previous bag (the "
              "other atoms of its bag are backed up): stop what writes it, or move it "
              "out of the molecule" for atom, why in sorted(left_out.items())]
    for molecule in plan.missing_molecules:
        lines.append(f"FAILED molecule {printable(molecule)}: "
                     f"{missing_reason(plan, molecule)}; mount or fix it and run "
                     f"'{command('backup')}' again")
    done = {b.name for b in plan.uploads if b.name not in failures}
    lines += change_lines(_only(plan, done), "Atoms packed:")
    if plan.removed_atoms:
        lines.append(f"Left the inventory (gone from disk): "
                     f"{names(plan.removed_atoms)}")
    ok = not failures and not left_out and not plan.missing_molecules
    counts = bag_counts(plan, failures, repaired)
    lines.append(f"Backup {plan.year}: {plural(len(plan.bags), 'bag')}, "
                 f"{counts['unchanged']} "
                 f"unchanged, {counts['uploaded']} uploaded, {counts['repaired']} "
                 f"repaired, {len(failures)} failed" +
                 ("" if ok else f"; run '{command('backup')}' again once fixed"))
    return "\n".join(lines), ok


def bag_counts(plan, failures: dict, repaired: dict, done=None) -> dict:
    """Each bag once: unchanged, uploaded (those in `done`, when given), repaired or
    failed. repaired: bag name -> what was repaired."""
    uploads, failed = {b.name for b in plan.uploads}, set(failures)
    fixed = set(repaired) - failed
    sent = uploads if done is None else uploads & done
    return {"planned": len(plan.bags), "failed": len(failures), "repaired": len(fixed),
            "unchanged": len({b.name for b in plan.bags} - uploads - failed - fixed),
            "uploaded": len(sent - failed - fixed)}


def stopped_report(plan, failures: dict, repaired: dict, done: set) -> list[str]:
    """The closing lines of a backup that ended before its report (a task failed, the
    network went, Ctrl-C): what was uploaded, kept, repaired, failed and why, and how
    many bags it did not reach. repaired: bag name -> what was repaired."""
    lines = [f"REPAIRED {line}" for line in repaired.values()]
    lines += [f"FAILED bag {name}: {message.removeprefix(name + ': ')}"
              for name, message in sorted(failures.items())]
    counts = bag_counts(plan, failures, repaired, done)
    waiting = len({b.name for b in plan.uploads} - done - set(failures))
    lines.append(f"Backup {plan.year} stopped before its end: "
                 f"{plural(len(plan.bags), 'bag')}, "
                 f"{counts['unchanged']} unchanged, {counts['uploaded']} uploaded, "
                 f"{counts['repaired']} repaired, "
                 f"{len(failures)} failed, {waiting} not reached; finished steps are "
                 f"kept, run '{command('backup')}' again")
    return lines


def prune_lines(found: list, verdicts: dict, locks: dict) -> list:
    """`doit prune` (the dry run): what `--delete` would do with each object, classified
    as it does (prune.classify): history (and until when), what would go, how old, the
    fee if deleted today, what it loses. locks: key -> why S3's Object Lock holds it
    (those only held are said apart, as `--delete` says them)."""
    lines = []
    for p in found:
        verdict = verdicts[p.key]
        lost = f"; {lost_words(p.lost)}" if p.lost and p.lost.anything else ""
        if verdict == "history":
            lines.append(f"History until {p.history_until} {p.key}  {human(p.size)} "
                         f"{p.storage_class}, {plural(p.age_days, 'day')} old{lost}" +
                         (f"; also {locks[p.key]}" if p.key in locks else ""))
        elif verdict in ("delete", "young"):
            fee = f", early-deletion fee now ${p.fee_now:.4f} (free from {p.free_from})" \
                if p.fee_now else ", no early-deletion fee"
            # under the minimum age, --delete alone keeps it: the line says so first
            verb = "Would delete" if verdict == "delete" else "Would delete with --force"
            lines.append(f"{verb} {p.key}  {human(p.size)} {p.storage_class}, "
                         f"{plural(p.age_days, 'day')} old{fee}{lost}")
    offered = [p for p in found if verdicts[p.key] in ("delete", "young")]
    young = sum(1 for p in found if verdicts[p.key] == "young")
    kept = sum(1 for p in found if verdicts[p.key] == "history")
    lines.append(f"{plural(len(offered), 'object')}, {human(sum(p.size for p in offered))}"
                 f" no longer referenced; '{command('prune --delete')}' deletes those "
                 "past the minimum age" +
                 (f" ({young} under it: --force deletes them too)" if young else "") +
                 (f"; {kept} kept as history (keep_years)" if kept else ""))
    return lines


def lost_words(lost) -> str:
    """What deleting a bag loses, in words: files deleted at home since (in no newer
    bag), and older versions of files edited since (a newer bag holds the new one)."""
    if lost is None or not lost.anything:
        return "no file that a newer bag lacks"
    parts = []
    if lost.files:
        more = ", ..." if lost.files > len(lost.names) else ""
        verb = "exists" if lost.files == 1 else "exist"
        parts.append(f"{plural(lost.files, 'file')} ({human(lost.size)}) {verb} in no "
                     f"newer bag: {', '.join(printable(n) for n in lost.names)}{more}")
    if lost.older:
        more = ", ..." if lost.older > len(lost.older_names) else ""
        parts.append(f"{plural(lost.older, 'older version')} ({human(lost.older_size)}) "
                     "of files edited since: "
                     f"{', '.join(printable(n) for n in lost.older_names)}{more}")
    return "; ".join(parts)


def kept_line(p, min_age_days: int, lock: str = "") -> str:
    """`prune --delete`: why an object stays (lock: why S3's Object Lock holds it too)."""
    if p.history_until:
        return (f"Kept {p.key}: history until {p.history_until} (keep_years); "
                f"{lost_words(p.lost)}" + (f"; also {lock}" if lock else ""))
    return (f"Kept {p.key}: {plural(p.age_days, 'day')} old, under --min-age-days "
            f"{min_age_days}; free to delete from {p.free_from}")


def freed_line(deleted: list) -> str:
    """`prune --delete`'s last word: what it deleted in all."""
    return (f"Freed {human(sum(p.size for p in deleted))} in all: "
            f"{plural(len(deleted), 'object')} deleted")


def history_lines(figures: dict) -> list:
    """`doit cost`: the bill split into current data and history, and the price of
    keep_years."""
    count, held, monthly = figures["current"]
    h_count, h_held, h_monthly = figures["history"]
    year_held, year_monthly = figures["per_year"]
    return [f"Current data: {plural(count, 'bag')}, {human(held)}, ${monthly:.2f}/month; "
            f"history (superseded, not pruned yet): {plural(h_count, 'bag')}, "
            f"{human(h_held)}, ${h_monthly:.2f}/month",
            f"Each year of keep_years (now {figures['keep_years']}) keeps about "
            f"{human(year_held)} more (what the last year superseded): "
            f"${year_monthly:.2f}/month"]


def cost_lines(bill: dict, prunable_bytes: int, restore: dict, per_file: dict,
               bags: int) -> list:
    lines = [f"Monthly storage (prices of {cost.PRICES_DATE}, 40 KB overhead per "
             "archived object included):"]
    for storage_class, (held, count, monthly) in bill.items():
        lines.append(f"  {storage_class:<13} {count:>6} objects  {human(held):>9}  "
                     f"${monthly:.2f}/month")
    lines.append(f"  total                                    "
                 f"${sum(m for _, _, m in bill.values()):.2f}/month")
    lines.append(f"Prunable (no longer referenced): {human(prunable_bytes)}")
    for tier, figures in restore.items():
        lines.append(f"Full restore, {tier} tier: ${figures['total']:.2f} (retrieval "
                     f"${figures['retrieval']:.2f}, requests ${figures['requests']:.4f}, "
                     f"transfer out ${figures['transfer']:.2f})")
    lines.append("Same data as one object per file: "
                 f"{plural(per_file['objects'], 'object')} instead of "
                 f"{plural(bags, 'bag')}: upload ${per_file['upload_fee']:.2f}, "
                 f"${per_file['monthly']:.2f}/month, Bulk restore "
                 f"${per_file['restore_bulk']:.2f}")
    return lines
