"""`doit find PATTERN [--long] [--regex]`: search the manifests, nothing thawed."""

import json as jsonlib

from doit.exceptions import TaskFailed

from ..bucket import system_folder
from ..restore import find
from ..formats import inventory, layout
from ..formats.records import Inventory
from ..errors import command
from ..run import load_run
from . import shapes
from .base import current_run, param, say, user_errors


@user_errors
def find_action(config, pattern, long, regex, host, all_years, json=False):
    # doit hands every word after the task name to PATTERN, options included
    words, host = _host_option(list(pattern), host)
    words = [w for w in words if w not in ("--long", "--regex", "--all-years", "--json")]
    long, regex = long or "--long" in pattern, regex or "--regex" in pattern
    all_years = all_years or "--all-years" in pattern
    json = json or "--json" in pattern
    if not words:
        return TaskFailed("say what to look for: "
                          f"{command('find PATTERN [--long] [--regex]')}")
    run = load_run(config)
    settings, store = run.settings, run.store
    if host and host != settings.host:  # another machine's files, from its system folder
        inv = system_folder.latest_inventory(settings, store, host)
    else:
        inv = inventory.load_inventory(settings.inventory_file, required_by="find")
    if all_years:  # every bag still in the bucket, history included
        inv = Inventory(bags=system_folder.every_bag(settings, store, host or settings.host,
                                                     inv))
    matches = find.search(settings, store, inv, " ".join(words), regex)
    found = 0
    if json:
        shown = shapes.find_matches(" ".join(words), all_years, matches)
        found = len(shown["matches"])
        if not say([jsonlib.dumps(shown, indent=1)]) or found:
            return None
        return TaskFailed(f"no file matches {' '.join(words)!r}")

    def lines():
        nonlocal found
        for m in matches:
            found += 1
            yield f"{m.path}\t{m.bag}\t{m.archive_key}" + \
                (f"\t{m.size}\t{m.mtime}" if long else "") + \
                (f"\t{layout.parse(m.archive_key).year}" if all_years else "")

    if say(lines()) and not found:  # grep's habit: exit 1, so a script can tell
        return TaskFailed(f"no file matches {' '.join(words)!r}" + (
            "" if all_years else f" in the current inventory; "
            f"'{command('find')} ... --all-years' also searches older years"))


def _host_option(words: list, host: str) -> tuple[list, str]:
    """`--host NAME` among the pattern's words (doit leaves it there)."""
    if "--host" in words:
        at = words.index("--host")
        host = words[at + 1] if at + 1 < len(words) else ""
        del words[at:at + 2]
    return words, host


FIND_PARAMS = [param("long", bool, False, "also print size and modification time"),
               param("regex", bool, False, "PATTERN is a regular expression"),
               param("host", str, "", "search another machine's manifests (its host "
                                      "name)"),
               param("all_years", bool, False, "search every year's manifests, history "
                                               "included, and print the year"),
               param("json", bool, False, "the matches as JSON (README: JSON output)")]


def task_find():
    """search the manifests for PATTERN (--long, --regex, --all-years, --json)"""
    return {"actions": [(find_action, [current_run().config_file])], "pos_arg": "pattern",
            "uptodate": [False], "params": FIND_PARAMS}
