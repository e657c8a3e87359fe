"""Room on disk for a restore, checked before anything is thawed (and again before each
download), so that a paid thaw never ends in a full disk.

Two folders take bytes: the destination takes the files restored, and the request's
download folder under state_dir (state_dir/downloads/ID) takes each bag, or only the
runs of the members asked for. Bags are downloaded one at a time and each download is
deleted once extracted, so the largest download is what that folder needs. When both
folders are on one disk, that disk needs both.

What the files take is about what tar reads for them: their runs, or the whole bag when
all of it is asked for, or, when a whole bag is downloaded for part of it (encrypted,
or without a member index), the sizes the inventory gives the atoms asked for, or
its manifest the files asked for (whichever is less: a sparse file's holes take no
room).
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .check import entries
from ..units import human

FILES = "the files restored"
DOWNLOAD = "the largest download (one bag at a time)"


@dataclass(frozen=True)
class Need:
    folder: Path  # where the bytes go; it may not exist yet
    size: int
    what: str     # FILES or DOWNLOAD


def restored_size(plan, manifest, only=None) -> int:
    """About what extracting `plan` writes, or only the entries `only(name)` accepts
    (those gone since a restore); `manifest()` gives its manifest's path, read only
    when a whole bag is downloaded for part of it, or with `only`."""
    if only is None and (plan.runs is not None or plan.everything):
        return plan.download_size
    if only is None and all(t.whole and t.size is not None and t.names is None
                            for t in plan.targets):
        return min(plan.download_size, sum(t.size for t in plan.targets))  # no GET
    wanted = only or plan.wanted
    listed = sum(e.size for e in entries(manifest(), wanted) if not e.folder)
    return min(plan.download_size, listed)


def free_space(folder: Path) -> tuple[int, int]:
    """(free bytes, device) of the disk `folder` is, or will be, on."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return shutil.disk_usage(folder).free, os.stat(folder).st_dev


def lines(needs: list[Need]) -> list[str]:
    """The estimate's lines: what each folder needs and has."""
    said = []
    for need in needs:
        where = f"into {need.folder}" if need.what == FILES else \
            f"downloads under state_dir, in {need.folder}"
        said.append(f"  {where}: {human(need.size)} for {need.what}; "
                    f"{human(free_space(need.folder)[0])} free there")
    return said


def shortfall(needs: list[Need], done: str = "nothing was requested") -> str | None:
    """One line naming the folder whose disk lacks room, what it needs and has; None
    when every disk has room. Needs on one disk add up."""
    disks = {}
    for need in needs:
        if need.size > 0:
            free, device = free_space(need.folder)
            disks.setdefault(device, (free, []))[1].append(need)
    for free, group in disks.values():
        total = sum(n.size for n in group)
        if total <= free:
            continue
        first = group[0]
        parts = f"for {first.what}" if len(group) == 1 else " and ".join(
            f"{human(n.size)} for {n.what}" + ("" if n is first else f" in {n.folder}")
            for n in group)
        advice = "restore into another folder with --to" if first.what == FILES else \
            "point state_dir in the config at a larger disk"
        if len(group) > 1:
            advice = "restore into another folder with --to, or point state_dir at " \
                     "another disk"
        return (f"{first.folder}: the restore needs {human(total)} free on its disk "
                f"({parts}), it has {human(free)}; {done} (free some space, or "
                f"{advice})")
    return None
