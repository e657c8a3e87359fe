"""Alerts: tell a monitor how a backup (or a restore) went, as it happens.

`alert_url` is pinged healthchecks.io-style with the standard library only: a POST of
the one-line message to URL/start when a backup starts, URL on success, URL/fail on
failure, URL/log for any other event (a restore readable or finished). `alert_command`
runs a program (no shell) with the event and the message as its two last arguments and
in GLACIER_EVENT and GLACIER_MESSAGE. An alert never fails the run nor holds it up for
long (30 s each, GLACIER_ALERT_TIMEOUT), and one not delivered says so in one line."""

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from .. import __version__

SECONDS = 30  # the longest an alert may hold up a run; GLACIER_ALERT_TIMEOUT overrides
URL_SUFFIX = {"started": "/start", "success": "", "failure": "/fail"}  # healthchecks
EVENTS = ("started", "success", "failure", "restore-readable", "restore-finished")


def send_alert(settings, event: str, message: str) -> bool:
    """Deliver one event ("started", "success", "failure", "restore-readable",
    "restore-finished") to the configured URL and command; True if all went through.
    Safe to call from anywhere: it never raises, and waits at most its time limits."""
    delivered = True
    if getattr(settings, "alert_url", None):
        delivered &= _deliver("alert_url", lambda: ping_url(settings.alert_url, event,
                                                             message))
    if getattr(settings, "alert_command", None):
        delivered &= _deliver("alert_command", lambda: run_command(
            settings.alert_command, event, message))
    return delivered


def _deliver(key: str, send) -> bool:
    try:
        send()
        return True
    except Exception as err:  # noqa: BLE001  (an alert must never break the run)
        sys.stderr.write(f"glacier: alert not delivered ({key}): {_why(err)}\n")
        return False


def ping_url(url: str, event: str, message: str) -> None:
    target = url.rstrip("/") + URL_SUFFIX.get(event, "/log")
    request = urllib.request.Request(
        target, data=message.encode("utf-8", "replace"), method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Glacier-Event": event,
                 "User-Agent": f"glacier-tasks/{__version__}"})
    with urllib.request.urlopen(request, timeout=_seconds()) as response:
        response.read(1024)


def run_command(command: str, event: str, message: str) -> None:
    argv = shlex.split(command) + [event, message]
    env = {**os.environ, "GLACIER_EVENT": event, "GLACIER_MESSAGE": message}
    with tempfile.TemporaryFile() as errors:  # no pipe a grandchild could hold open
        child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errors,
                                 start_new_session=True)
        try:
            status = child.wait(timeout=_seconds())
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the script and what it started
            child.wait()
            raise
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4096))
        last = (errors.read().decode(errors="replace").strip().splitlines()
                or [""])[-1]
    if status != 0:
        raise RuntimeError(f"{argv[0]} exited with status {status}"
                           + (f": {last}" if last else ""))


def _seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("GLACIER_ALERT_TIMEOUT", SECONDS)))
    except ValueError:
        return SECONDS


def _why(err: Exception) -> str:
    if isinstance(err, subprocess.TimeoutExpired):
        return f"no answer within {err.timeout:g} s"
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        return f"{getattr(reason, 'strerror', None) or reason}"
    if isinstance(err, TimeoutError):
        return f"no answer within {_seconds():g} s"
    if isinstance(err, OSError):
        return f"{err.filename or ''}: {err.strerror}".lstrip(": ")
    return str(err) or type(err).__name__
