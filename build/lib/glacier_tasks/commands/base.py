"""What every command module shares: the Run of this invocation, the lock, turning a
user's mistake into one line, output that survives a closed pipe, and a clean stop."""

import functools
import os
import signal
import sys

from doit.exceptions import InvalidDodoFile, TaskFailed

from ..backup import progress
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


def param(name: str, kind, default, help: str, short: str = "",
          metavar: str = "") -> dict:
    """A command-line option of a task: --name-with-dashes (metavar: its value's name in
    help texts)."""
    option = {"name": name, "long": name.replace("_", "-"), "type": kind,
              "default": default, "help": help}
    if short:
        option["short"] = short
    if metavar:
        option["metavar"] = metavar
    return option


def locked(func):
    """An action that writes state or the bucket holds the run's lock, whatever doit
    options or task names started it (`doit bag:NAME`, `-n 2`, `--continue`). Taken
    once per process; a worker forked by `-n N` shares its parent's."""
    @functools.wraps(func)
    def wrapper(config, *args, **kwargs):
        statefile.take_lock(load_run(config).lock_file)
        return func(config, *args, **kwargs)
    return wrapper


@user_errors
@locked
def lock_action(config):
    """The first task of every command that writes: a second run stops here, in one
    line, before anything else starts."""


def lock_task(run) -> dict:
    return {"actions": [(lock_action, [run.config_file])], "uptodate": [False]}


def lock_early(run, argv) -> None:
    """Take the lock while loading, in doit's main process, when the command line asks
    for a task that writes: workers forked by `-n N -P process` then share it. If
    another run holds it, the `_lock` task says so (exit 1)."""
    if wants_lock(argv):
        try:
            statefile.take_lock(run.lock_file)
        except GlacierError:
            pass


def wants_lock(argv) -> bool:
    """Does this command line run a task that writes? Any writer named does; a doit
    command (list, help...) first does not; no task at all is the dry run."""
    names = [w.partition(":")[0] for w in argv if not w.startswith("-")]
    known = [n for n in names if n in WRITERS | READERS | DOIT_COMMANDS]
    if not known:
        return True  # the default task, dryrun
    return known[0] not in DOIT_COMMANDS and any(n in WRITERS for n in known)


# the tasks named on a command line decide (the default task is dryrun)
WRITERS = {"dryrun", "backup", "scan", "plan", "tar", "upload", "manifest", "bag",
           "inventory", "system", "prune", "pin", "drop", "bootstrap", "run"}
READERS = {"find", "cost", "verify", "restore", "check", "policy", "setup_bucket", "init",
           "report", "status"}
DOIT_COMMANDS = {"list", "help", "info", "forget", "clean", "ignore", "dumpdb", "strace",
                 "tabcompletion", "reset-dep"}


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


class QuietPipe:
    """sys.stdout that ends quietly when its reader goes away (`glacier backup | head`):
    the run goes on, its output goes to /dev/null, no traceback."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self):
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def __getattr__(self, name):
        return getattr(self._stream, name)


def quiet_on_closed_pipe() -> None:
    if not isinstance(sys.stdout, QuietPipe):
        sys.stdout = QuietPipe(sys.stdout)


class Stopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the run ends between two steps; what finished is kept."""


_signal_name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
_stop_line = None


def _on_signal(number, frame):
    progress.stop(seconds=30)  # the steps in doit's worker threads end first
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
