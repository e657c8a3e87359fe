"""A backup's start: STATE/backup-started.json, written once the run holds the lock.

Until last-run.json records an end under the same run id (last_run.RUN_ID), the
newest backup did not finish: killed, the machine stopped, or it is still running.
A run refused by the lock writes no start, so it never hides the running one's."""

import os

from .. import statefile
from ..errors import GlacierError
from ..units import iso_utc
from .last_run import FORMAT, RUN_ID, STARTED


def started_record(run) -> dict:
    """What a backup writes first, once it holds the lock: until its end is recorded
    under the same run id, status says the newest backup did not finish."""
    return {"format": FORMAT, "command": "backup", "run_id": RUN_ID, "pid": os.getpid(),
            "host": run.settings.host, "run_date": run.today.isoformat(),
            "started_at": iso_utc(STARTED)}


def record_started(run) -> None:
    """Write the started record (quietly not, when the state folder cannot take it:
    the run itself then meets the same problem and says so)."""
    try:
        statefile.write_json(run.started_file, started_record(run))
    except (OSError, GlacierError):
        pass  # the run's own first write meets the same problem and says so


def read_started(run) -> dict | None:
    try:
        data = statefile.read_json(run.started_file, what="backup start record")
    except GlacierError:
        return None
    return data if isinstance(data, dict) and data.get("run_id") else None


def unfinished(data: dict | None, started: dict | None) -> dict | None:
    """The newest backup's start when its end was never recorded, else None."""
    if not started:
        return None
    latest = (data or {}).get("latest", {})
    ends = latest.get("backup_ends", []) + [(latest.get("backup") or {}).get("run_id")]
    return None if started["run_id"] in ends else started


def still_running(run, started: dict) -> bool:
    """Does the process that wrote `started` hold the lock now? (read, never taken:
    a status check must not refuse a backup starting at that moment)"""
    try:
        holder = run.lock_file.read_text(errors="replace").split()
        os.kill(int(started["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return holder[:2] == ["pid", str(started["pid"])]
