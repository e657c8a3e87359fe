"""`doit init`: the one task that works before any config exists.

With no config file yet, dodo.py loads only this (see entry.py); with one, tasks.py
imports task_init from here so it is listed with the others.
"""

import os
import sys
import tempfile
from pathlib import Path

from doit.exceptions import TaskFailed

from . import starter
from .config import find_config_file
from .errors import GlacierError
from .reporter import GlacierReporter

DOIT_CONFIG = {  # only used when no config exists: nothing to remember between runs
    "backend": "json", "reporter": GlacierReporter, "verbosity": 2,
    "dep_file": os.path.join(tempfile.gettempdir(), f"glacier-init-{os.getuid()}.json")}


def init_action(from_cfg):
    config_file = find_config_file()
    try:
        values = starter.values_from_cfg(Path(from_cfg)) if from_cfg else {}
    except GlacierError as err:
        return TaskFailed(str(err))
    if not from_cfg and sys.stdin.isatty() and not config_file.exists():
        values = _ask()
    for line in starter.write_starter(config_file, values):
        print(line)


def _ask() -> dict:
    """Two questions on a terminal; Enter keeps the placeholder."""
    answers = {}
    for key in ("s3_bucket", "region"):
        default = starter.STARTER[key][0]
        answer = input(f"{key} [{default}]: ").strip()
        if answer:
            answers[key] = answer
    return answers


def task_init():
    """write a starter glacier.toml and list.txt (--from-cfg converts glacier.cfg)"""
    return {"actions": [(init_action, [])], "uptodate": [False], "params": [
        {"name": "from_cfg", "long": "from-cfg", "type": str, "default": "",
         "help": "convert the original scripts' INI glacier.cfg"}]}
