"""The last run's status, for people and monitors: STATE/last-run.json.

Written atomically at the very end of every `backup`, `dryrun` and `verify` (so a run
killed on the way leaves the previous file whole), read by `glacier status` and
`doit report`. The file is the last run's *record*, plus under `latest` the newest
record of each kind (the last backup in full, the last successful backup, the last
dry run and verify in brief), carried from file to file, so a dry run or a verify
never hides when the archive was last backed up. `latest` also keeps the newest
backup that sent bags (`upload`: a later run that sent nothing does not hide it) and
this year's atoms added, changed and removed, by name (`year_atoms`, tallied over the
year's backups).

A record's figures are the run summary's own: the bag counts follow
report.run_report, the planned fee report.plan_summary (both tested against them).
A backup that ends before its report (a task failed, the lock was held, Ctrl-C)
records `stopped_before_report` with its reasons (commands/ending.py). `health` decides
`glacier status`'s exit status: non-zero when the newest backup did not finish
(run_start.py), failed, none was ever recorded, or the last good one is older than
`max_age_days`.
"""

import datetime
import os
import time

from .. import __version__, cost, statefile
from ..errors import GlacierError, command
from ..backup.ledger import BagLedger, marker_files
from .tally import stored_changes, tally_year
from ..formats import layout, manifest
from ..formats.records import Inventory, check
from .text import bag_counts
from ..units import human, iso_utc, plural, printable

FORMAT = 1
KEEP = 20  # reasons and problems kept per record: the file stays small
STARTED = time.time()  # this process started the run: the tool loads before any task
RUN_ID = f"{iso_utc(STARTED)}/{os.getpid()}"  # forked workers inherit their parent's


def _base(run, command: str, exit_status: int, started: float) -> dict:
    ended = time.time()
    return {"format": FORMAT, "command": command, "version": __version__,
            "host": run.settings.host, "run_date": run.today.isoformat(),
            "started_at": iso_utc(started), "ended_at": iso_utc(ended),
            "seconds": round(ended - started, 1), "exit_status": exit_status,
            "run_id": RUN_ID}


def _capped(items: dict) -> dict:
    """At most KEEP entries, and how many more there were."""
    kept = dict(sorted(items.items())[:KEEP])
    if len(items) > KEEP:
        kept["..."] = f"{len(items) - KEEP} more"
    return kept


# -- what a run did -------------------------------------------------------------------


def planned_figures(plan, settings) -> dict:
    """What the plan uploads and then stores, as the dry run prints it
    (report.plan_summary)."""
    todo = plan.uploads
    upload = cost.upload_estimate([b.size for b in todo], settings.storage_class,
                                  settings.prices)
    total = sum(b.size for b in plan.bags)
    return {"bags": len(todo), "bytes": sum(b.size for b in todo),
            "requests": upload["requests"], "fee": upload["fee"],
            "stored_bags": len(plan.bags), "stored_bytes": total,
            "monthly": cost.monthly_storage(total, len(plan.bags), settings.storage_class,
                                            settings.prices)}


def sent_figures(run, plan, started: float) -> dict:
    """What this run really sent: the bags whose ledger says uploaded (not adopted)
    since it started, with their manifests; requests and fee as cost.upload_estimate
    prices them."""
    receipts = [(bag, BagLedger.of(run, bag).sent_since(started)) for bag in plan.bags]
    sizes = [r.size for _, r in receipts if r is not None]
    files = sum(_files_sent(run, plan, bag) for bag, r in receipts if r is not None)
    upload = cost.upload_estimate(sizes, run.settings.storage_class, run.settings.prices)
    return {"bags": len(sizes), "bytes": sum(sizes), "requests": upload["requests"],
            "fee": upload["fee"], "files": files}


def _files_sent(run, plan, bag) -> int:
    """The files a sent bag holds: its atoms' files, or for an increment (issue 27)
    only its new and changed ones, as its manifest lists them."""
    if getattr(bag, "increment_of", ""):
        path = layout.local_manifest(run.settings.manifest_dir, bag.manifest_key)
        try:
            return sum(1 for entry in manifest.read_entries(path)
                       if not entry.folder and not entry.skipped)
        except OSError:
            pass  # counted as its atom's files, as before increments
    return sum(plan.atoms[a].files if a in plan.atoms else 0 for a in bag.atoms)


def atom_changes(plan, previous: Inventory) -> dict:
    """Atoms new to the inventory, changed since it, and gone from disk."""
    before = previous.atoms
    added = [k for k in plan.atoms if k not in before]
    changed = [k for k, entry in plan.atoms.items() if k in before and
               entry.last_metadata_hash != before[k].last_metadata_hash]
    return {"added": len(added), "changed": len(changed),
            "removed": len(plan.removed_atoms)}


def previous_inventory(run, started: float) -> Inventory:
    """The inventory as it was before this run: its .bak if this run rewrote it."""
    path = run.settings.inventory_file
    current = _read_or_empty(path)
    if _timestamp(current.written_at) >= started:
        return _read_or_empty(path.with_name(path.name + ".bak"))
    return current


def _read_or_empty(path) -> Inventory:
    """A report tells what it can: an inventory it cannot read counts as none."""
    data = statefile.read_json(path, default={}, what="inventory") or {}
    return Inventory.from_json(data) if check(data) is None else Inventory()


def _timestamp(text: str) -> float:
    """An ISO UTC time ('...Z') as seconds since the epoch; 0 if there is none."""
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def backup_record(run, plan, failures: dict, repaired: dict, ok: bool,
                  started: float = STARTED, left_out: dict | None = None) -> dict:
    """left_out: atom -> why its bag went without it (listed with the failures)."""
    record = _base(run, "backup", 0 if ok else 1, started)
    previous = previous_inventory(run, started)
    current = _read_or_empty(run.settings.inventory_file)
    record.update({
        "year": plan.year,
        "atoms": atom_changes(plan, previous),
        "atom_names": stored_changes(previous, current),
        "bags": bag_counts(plan, failures, repaired),
        "failed": _capped({**failures, **{f"atom {a}": why for a, why in
                                          (left_out or {}).items()}}),
        "repaired": list(repaired.values())[:KEEP],
        "missing_molecules": {m: plan.missing_reasons.get(m, "") for m in
                              plan.missing_molecules},
        "sent": sent_figures(run, plan, started),
        "planned": planned_figures(plan, run.settings)})
    return record


def dryrun_record(run, plan, ok: bool, started: float = STARTED) -> dict:
    record = _base(run, "dryrun", 0 if ok else 1, started)
    record.update({
        "year": plan.year,
        "atoms": atom_changes(plan, _read_or_empty(run.settings.inventory_file)),
        "bags": {"planned": len(plan.bags), "unchanged": len(plan.bags) - len(plan.uploads),
                 "to_upload": len(plan.uploads)},
        "missing_molecules": {m: plan.missing_reasons.get(m, "") for m in
                              plan.missing_molecules},
        "planned": planned_figures(plan, run.settings)})
    return record


def verify_record(run, checked: int, problems: list, thawing: int, deep: bool,
                  started: float = STARTED) -> dict:
    record = _base(run, "verify", 1 if problems or thawing else 0, started)
    record.update({"deep": deep, "bags": {"checked": checked, "thawing": thawing},
                   "problems": problems[:KEEP], "problem_count": len(problems)})
    return record


def stopped_record(run, reasons: list, exit_status: int = 1) -> dict:
    """A backup that ended before its closing report (a task failed, the lock was
    held, Ctrl-C): its reasons, one line each, task first."""
    record = _base(run, "backup", exit_status, STARTED)
    record.update({"year": run.year, "stopped_before_report":
                   reasons[:KEEP] or ["stopped before its report"]})
    return record


def recorded_this_run(run) -> bool:
    """Did this process record its backup's end in last-run.json?"""
    backup = (read_status(run.last_run_file) or {}).get("latest", {}).get("backup") or {}
    return backup.get("run_id") == RUN_ID


# -- the file -------------------------------------------------------------------------


def read_status(path) -> dict | None:
    """last-run.json, or None before any run wrote it (or if it is not ours)."""
    try:
        data = statefile.read_json(path, what="status file")
    except GlacierError:
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def write_status(path, record: dict) -> dict:
    """Write the record as the last run, carrying `latest` forward."""
    before = read_status(path) or {}
    latest = dict(before.get("latest", {}))
    kind = record["command"]
    record = dict(record)
    names = record.pop("atom_names", None)  # kept once, in the year's tally
    if names is not None:
        latest["year_atoms"] = tally_year(latest.get("year_atoms"), record["year"], names)
    if kind == "backup" and record.get("sent", {}).get("bags"):
        latest["upload"] = {**_brief(record), "sent": record["sent"]}
    if kind == "backup":
        latest["backup"] = record
        # the newest runs' ends: a backup refused by the lock records its end too,
        # and must not hide that the one holding the lock has not ended
        run_id = record.get("run_id")
        ends = [i for i in latest.get("backup_ends", []) if i != run_id]
        latest["backup_ends"] = (ends + [run_id] if run_id else ends)[-5:]
        if record["exit_status"] == 0:
            latest["successful_backup"] = _brief(record)
    else:
        latest[kind] = _brief(record)
    data = {**record, "latest": latest}
    statefile.write_json(path, data)
    return data


def record_run(run, record: dict) -> None:
    """Write last-run.json; a status that cannot be written never fails the run."""
    try:
        write_status(run.last_run_file, record)
    except GlacierError as err:  # statefile's one line names the file and the cause
        print(f"glacier: the run's status is not recorded: {err}")


def _brief(record: dict) -> dict:
    keys = ("command", "run_date", "started_at", "ended_at", "seconds", "exit_status",
            "year", "deep", "bags", "problem_count")
    return {k: record[k] for k in keys if k in record}


# -- what it says -----------------------------------------------------------------------


def last_backup(data: dict | None, inventory: Inventory) -> dict | None:
    """The last backup's record; without one, what the inventory tells (an archive
    written before this file existed): its date, result unknown."""
    found = (data or {}).get("latest", {}).get("backup")
    if found:
        return found
    if inventory.run_date:
        return {"command": "backup", "run_date": inventory.run_date,
                "exit_status": None, "ended_at": inventory.written_at}
    return None


def age_days(record: dict, today: datetime.date) -> int:
    return (today - datetime.date.fromisoformat(record["run_date"])).days


def health(data: dict | None, inventory: Inventory, today: datetime.date,
           max_age_days: int, open_start: dict | None = None,
           running: bool = False) -> list[str]:
    """What a monitor should alert on; an empty list means all is well. open_start:
    the newest backup's start when its end was never recorded (`unfinished`)."""
    problems = [_unfinished_problem(open_start, running)] if open_start else []
    backup = last_backup(data, inventory)
    if backup is None:
        return problems + [f"no backup recorded yet: run '{command('backup')}'"]
    if backup.get("exit_status") not in (0, None):
        problems.append(f"the last backup ({backup['run_date']}) failed: "
                        f"{failure_summary(backup)}; run '{command('backup')}' again once "
                        "fixed")
    good = (data or {}).get("latest", {}).get("successful_backup") or \
        (backup if backup.get("exit_status") in (0, None) else None)
    if good is None:
        problems.append("no successful backup recorded yet")
    elif age_days(good, today) > max_age_days:
        problems.append(f"the last successful backup ({good['run_date']}) is "
                        f"{plural(age_days(good, today), 'day')} old, more than "
                        f"max_age_days ({max_age_days}): a yearly run was missed")
    return problems


def _unfinished_problem(started: dict, running: bool) -> str:
    if running:
        return (f"the backup started {started['started_at']} (pid {started['pid']}) "
                "is still running: not finished yet")
    return (f"the backup started {started['started_at']} did not finish (killed, or "
            f"the machine stopped) and recorded no end; run '{command('backup')}' again")


def failure_summary(backup: dict) -> str:
    if backup.get("stopped_before_report"):
        return "failed before its report: " + "; ".join(backup["stopped_before_report"][:3])
    parts = []
    failed = backup.get("bags", {}).get("failed", 0)
    if failed:
        parts.append(f"{plural(failed, 'bag')} failed")
    if backup.get("missing_molecules"):
        parts.append(f"{plural(len(backup['missing_molecules']), 'molecule')} missing")
    return ", ".join(parts) or "see its output"


def unfinished_since(run) -> bool:
    """Did a run write the plan or a bag's marker after last-run.json, and stop before
    its end (killed, or failed before its report)?"""
    try:
        recorded = os.stat(run.last_run_file).st_mtime_ns
    except OSError:
        return False
    paths = [run.plan_file] + marker_files(run)
    for path in paths:
        try:
            if os.stat(path).st_mtime_ns > recorded:
                return True
        except OSError:
            continue
    return False


def summary_lines(data: dict | None, inventory: Inventory, pending: list, unfinished: bool,
                  today: datetime.date, max_age_days: int,
                  problems: list | None = None, restore_lines=()) -> list[str]:
    """`glacier status`: a few lines a person reads at a glance (restore_lines: the
    restores pending, report/restores.py)."""
    lines = [_run_line(data) if data else "No run recorded yet in last-run.json"]
    if data and data["command"] == "backup":
        lines += _backup_lines(data)
    latest = (data or {}).get("latest", {})
    backup = last_backup(data, inventory)
    if backup and (not data or data["command"] != "backup"):
        lines.append(f"Last backup: {backup['run_date']}, " + _result(backup))
    good = latest.get("successful_backup")
    if good:
        lines.append(f"Last successful backup: {good['run_date']} "
                     f"({plural(age_days(good, today), 'day')} ago; max_age_days "
                     f"{max_age_days})")
    check = latest.get("verify")
    lines.append(f"Last verify: {check['run_date']}, " + (
        "all as recorded" if check["exit_status"] == 0 else
        f"{plural(check.get('problem_count', 0), 'problem')}") if check \
        else "Last verify: never")
    if unfinished:
        lines.append("A newer run did not finish (its plan or bags changed after this "
                     "record): killed, or it stopped before its report")
    shown_pending = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
    lines.append(f"Pending now: {plural(len(pending), 'bag')} to upload" +
                 (f" ({shown_pending})" if pending else ""))
    lines += list(restore_lines)
    if problems is None:
        problems = health(data, inventory, today, max_age_days)
    lines += [f"PROBLEM {p}" for p in problems] or ["OK"]
    return lines


def _result(record: dict) -> str:
    status = record.get("exit_status")
    return "result unknown (before last-run.json)" if status is None else \
        "ok" if status == 0 else f"FAILED (exit {status})"


def _run_line(data: dict) -> str:
    return (f"Last run: {data['command']} of {data['run_date']}, started "
            f"{data['started_at']}, took {data['seconds']:.0f} s, " + _result(data))


def _backup_lines(data: dict) -> list[str]:
    if data.get("stopped_before_report"):
        return [f"  STOPPED before its report: {printable(why)}"
                for why in data["stopped_before_report"]]
    bags, sent, atoms = data["bags"], data["sent"], data["atoms"]
    lines = [f"  Backup {data['year']}: {plural(bags['planned'], 'bag')}, "
             f"{bags['unchanged']} "
             f"unchanged, {bags['uploaded']} uploaded, {bags['repaired']} repaired, "
             f"{bags['failed']} failed",
             f"  atoms: {atoms['added']} added, {atoms['changed']} changed, "
             f"{atoms['removed']} removed",
             f"  sent: {plural(sent['bags'], 'bag')}, {human(sent['bytes'])}, "
             f"{plural(sent['requests'], 'request')}, fee about ${sent['fee']:.4f}"]
    lines += [f"  FAILED bag {name}: {why}" for name, why in data["failed"].items()]
    lines += [f"  MISSING molecule {printable(m)}: {printable(why)}"
              for m, why in data["missing_molecules"].items()]
    return lines
