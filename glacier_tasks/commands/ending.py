"""A backup's first and last words, in doit's main process: the started record and
ping before any task, and at the end the record of a run that stopped before its
report plus the alert with its outcome. Neither may fail or hang the run."""

from .. import statefile
from ..report import alert, last_run as status, run_start
from ..units import plural
from .base import current_run


def begin_backup() -> None:
    """Only the run that holds the lock says it started: one refused by the lock
    must not hide the running backup's start."""
    try:
        run = current_run()
    except Exception:  # noqa: BLE001  (a bad config ends the load, not here)
        return
    if statefile.holds_lock(run.lock_file):
        run_start.record_started(run)
        alert.send_alert(run.settings, "started", f"glacier backup started on "
                         f"{run.settings.host} ({run.today.isoformat()})")


def end_backup(reasons: list, exit_status: int = 1) -> None:
    """Record a backup that ended before its report, then send its outcome."""
    try:
        run = current_run()
    except Exception:  # noqa: BLE001  (the run's end must never fail here)
        return
    if not status.recorded_this_run(run):
        status.record_run(run, status.stopped_record(run, reasons, exit_status))
    record = (status.read_status(run.last_run_file) or {}).get("latest", {}).get("backup")
    if record and record.get("run_id") == status.RUN_ID:
        event, message = backup_outcome(run.settings.host, record)
    else:  # last-run.json could not be written: still say the run failed
        event, message = "failure", f"glacier backup on {run.settings.host} failed: " + \
            ("; ".join(reasons[:3]) or "its end could not be recorded")
    alert.send_alert(run.settings, event, message)


def backup_outcome(host: str, record: dict) -> tuple[str, str]:
    """("success" or "failure", one line) for a backup's record."""
    if record.get("exit_status") == 0:
        bags = record.get("bags", {})
        return "success", (f"glacier backup on {host} ok ({record['run_date']}): "
                           f"{plural(bags.get('planned', 0), 'bag')}, "
                           f"{bags.get('uploaded', 0)} "
                           f"uploaded, {bags.get('failed', 0)} failed")
    return "failure", f"glacier backup on {host} failed ({record['run_date']}): " + \
        status.failure_summary(record)
