"""`doit init [--from-cfg glacier.cfg]`: the one command that works before any config
exists. It writes to $GLACIER_CONFIG, else to the XDG path
(~/.config/glacier-tasks/glacier.toml); never over an existing file."""

import sys
from pathlib import Path

from doit.exceptions import TaskFailed

from .. import starter
from ..config import config_file_choice, xdg_config_file
from ..errors import GlacierError
from .base import param, say


def init_action(from_cfg):
    config_file = config_file_choice()
    try:
        values = starter.values_from_cfg(Path(from_cfg)) if from_cfg else {}
    except GlacierError as err:
        return TaskFailed(str(err))
    if not from_cfg and sys.stdin.isatty() and not config_file.exists():
        values = _ask()
    if config_file == xdg_config_file():  # big and changing files do not go in ~/.config
        values = {**XDG_PLACES, **values}
    say(starter.write_starter(config_file, values))


XDG_PLACES = {"staging_dir": "~/.cache/glacier-tasks/stage",
              "manifest_dir": "~/.local/share/glacier-tasks/manifests",
              "inventory_file": "~/.local/share/glacier-tasks/inventory.json",
              "list_file": "list.txt",
              "mnt_base": "~/.local/state/glacier-tasks/mnt",
              "state_dir": "~/.local/state/glacier-tasks"}


def _ask() -> dict:
    """Two questions on a terminal; Enter keeps the placeholder."""
    answers = {}
    for key in ("s3_bucket", "region"):
        default = starter.STARTER[key][0]
        try:
            answer = input(f"{key} [{default}]: ").strip()
        except EOFError:
            return answers
        if answer:
            answers[key] = answer
    return answers


INIT_PARAMS = [param("from_cfg", str, "", "convert the original scripts' INI glacier.cfg")]


def task_init():
    """write a starter glacier.toml and list.txt (--from-cfg converts glacier.cfg)"""
    return {"actions": [(init_action, [])], "uptodate": [False], "params": INIT_PARAMS}
