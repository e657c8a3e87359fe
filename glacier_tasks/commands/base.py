"""What every command module shares: the Run of this invocation, the lock, turning a
user's mistake into one line, output that survives a closed pipe, and a clean stop."""

import functools
import os
import signal
import sys

from doit.exceptions import InvalidDodoFile, TaskFailed

from .. import statefile
from ..config import find_config_file
from ..errors import GlacierError
from ..run import load_run


def current_run():
    """The Run of the config this invocation uses (task generators call this at load:
    a bad config or list ends the load with one line and exit 3)."""
    try:
        return load_run(str(find_config_file()))
    except GlacierError as err:
        raise InvalidDodoFile(str(err)) from None


def user_errors(func):
    """Turn a GlacierError into doit's TaskFailed: one line for the user, no traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GlacierError as err:
            return TaskFailed(str(err))
    return wrapper


def param(name: str, kind, default, help: str, short: str = "") -> dict:
    """A command-line option of a task: --name-with-dashes."""
    option = {"name": name, "long": name.replace("_", "-"), "type": kind,
              "default": default, "help": help}
    if short:
        option["short"] = short
    return option


@user_errors
def lock_action(config):
    statefile.take_lock(load_run(config).lock_file)


def lock_task(run) -> dict:
    """The lock every task that writes state or the bucket depends on."""
    return {"actions": [(lock_action, [run.config_file])], "uptodate": [False]}


def say(lines) -> bool:
    """Print lines; a reader that went away (`| head`) ends the output quietly."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        # Python's own advice: point stdout at /dev/null so the exit flush is silent
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


class Stopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the run ends between two steps; what finished is kept."""


_signal_name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
_stop_line = None


def _on_signal(number, frame):
    raise Stopped(_signal_name.get(number, f"signal {number}"))


def stop_message(stop: KeyboardInterrupt) -> str:
    """The one line a stopped run ends with."""
    done = _stop_line() if _stop_line else ""
    return (f"glacier: stopped by {str(stop) or 'Ctrl-C'}; {done}finished steps are kept "
            "and the next run resumes")


def _excepthook(kind, value, traceback):
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write(stop_message(value) + "\n")
        return
    sys.__excepthook__(kind, value, traceback)


def stop_cleanly(progress_line=None) -> None:
    """Ctrl-C and SIGTERM (systemd's stop) end the run with one line, no traceback:
    doit still saves its database and unmounts on the way out, the markers say what
    finished. progress_line() may add what was done (e.g. '3 of 7 bags done; ')."""
    global _stop_line
    _stop_line = progress_line
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    sys.excepthook = _excepthook
