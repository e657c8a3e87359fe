"""The doit layer: one module per user command, each holding its task generators and
their actions side by side (like doit's own cmd_*.py). The modules below this package
(scan, plan, bag, store, inventory...) know nothing of doit.

A new command is one module here and one line in COMMANDS. Task generators read the
Run of the config in use (commands.base.current_run); actions get the config path,
which pickles, so `doit -n N` works.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile

from doit.exceptions import InvalidDodoFile

from ..config import find_config_file
from ..errors import ConfigError, command
from ..backup.plan import read_plan
from . import backup, bootstrap, bucket, drop, find, init, pin, prune, restore, verify
from . import bags, doitfix, report, scan, status
from .base import current_run, lock_early, quiet_on_closed_pipe, stop_cleanly, wants_lock
from .reporter import GlacierReporter

COMMANDS = (scan, backup, bags, restore, find, prune, verify, pin, drop, bootstrap, bucket,
            init, report, status)


def task_generators(modules=COMMANDS) -> dict:
    return {name: value for module in modules for name, value in vars(module).items()
            if name.startswith("task_")}


def namespace(argv=None) -> dict:
    """What doit loads (dodo.py's globals, or the `glacier` command's): DOIT_CONFIG and
    every task generator. With no config file yet, only `init` exists (a new user's
    first command); any other command says how to make one, in one line."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        find_config_file()
    except ConfigError as err:
        if "init" not in argv:
            raise InvalidDodoFile(str(err)) from None
        db = _reader_db()  # its own: two inits at once never share one
        return {"DOIT_CONFIG": {**_COMMON, "dep_file": db}, **task_generators([init])}
    # what this tool writes (staged tars, manifests of every file name, the inventory,
    # downloads) is for its owner alone; a restore gives files their archived modes
    os.umask(0o077)
    doitfix.install()
    run = current_run()
    run.progress  # made here, in the main thread, before doit starts its workers
    run.state_dir.mkdir(parents=True, exist_ok=True)  # doit opens its database there
    quiet_on_closed_pipe()
    stop_cleanly(lambda: backup.progress_line(run.config_file))
    if not wants_lock(argv):  # a reader never touches the database a backup may be using
        # `info` tells what would run: from a copy of the database, not an empty one
        copy = run.doit_db if "info" in argv else None
        return {"DOIT_CONFIG": {**_COMMON, "default_tasks": ["dryrun"],
                               "dep_file": str(_reader_db(copy))}, **task_generators()}
    _check_bag_names(run, argv)
    try:  # before the lock: its file would look like a foreign one in a new state_dir
        run.tag_own_folders()
    except ConfigError as err:
        raise InvalidDodoFile(str(err)) from None
    lock_early(run, argv)
    mend_doit_db(run.doit_db)
    return {"DOIT_CONFIG": {**_COMMON, "default_tasks": ["dryrun"],
                            "dep_file": str(run.doit_db)},
            **task_generators()}


def _check_bag_names(run, argv) -> None:
    """`doit bag:NAME` names a bag of the last plan: doit creates those tasks only once
    `plan` has run, and would say nothing of a name that is not there."""
    wanted = [a.partition(":") for a in argv if not a.startswith("-")]
    wanted = [(group, name) for group, sep, name in wanted
              if sep and group in bags.BAG_STEPS and name]
    if not wanted:
        return
    plan = read_plan(run, required=False)
    known = {b.name for b in plan.bags} if plan else set()
    for group, name in wanted:
        if name not in known:
            raise InvalidDodoFile(f"{group}:{name}: no bag '{name}' in the last plan "
                                  f"({run.plan_file}); '{command('list')}' shows the bags")


def _reader_db(copy_of=None):
    """doit wants a database even for commands whose tasks always run: a private one,
    holding a copy of `copy_of` when that reads whole (a backup may be writing it)."""
    folder = tempfile.mkdtemp(prefix="glacier-reader-")
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "doit-db.json")
    try:
        text = copy_of.read_text(encoding="utf-8") if copy_of else ""
        json.loads(text)
        with open(path, "w", encoding="utf-8") as db:
            db.write(text)
    except (OSError, ValueError, UnicodeDecodeError):
        pass  # none, or half-written: doit starts from an empty one
    return path


def mend_doit_db(path) -> None:
    """doit's database is a cache (the markers and the bucket are the truth): one that
    kill -9 left half-written is set aside, and doit starts a new one."""
    try:
        if path.exists():
            json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        sys.stderr.write(f"glacier: {path} was damaged (a run killed while writing it); "
                         f"set it aside as {aside.name} and starting a new one: nothing is "
                         "lost, finished bags are known from their markers\n")


_COMMON = {"backend": "json", "reporter": GlacierReporter,
           "verbosity": 2,  # uncaptured output: progress bars draw live
           # one bag packs while another uploads: doit's own runner, in threads (they
           # share the Run, its lock and its progress); -n and -P override
           "num_process": 2, "par_type": "thread"}
