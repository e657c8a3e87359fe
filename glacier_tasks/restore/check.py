"""The manifest's view of a restore: what is in the way before it, what differs after.

Before extracting, `conflicts` lists the entries asked for that already exist in the
destination (a folder where a folder goes is not in the way), and `blocked_folder` names
a file standing where a folder they go into must be; on a rerun, `missing` those that
have gone from it since (with --overwrite, `differing`: those that differ too). After,
`check` compares each restored entry with its manifest line: its type (folder or not;
a regular file where the manifest gives a size), its size, its mtime (to the second,
UTC) and, where the line has one, its content's sha256 (a restored file is read once
more). Entries the bag could not hold (`skipped: socket`) are left out of both.
"""

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..formats import manifest
from ..formats.checksum import sha256_of
from ..units import human, plural

SHOWN = 10  # mismatches named in the closing line; the rest are counted


@dataclass
class CheckResult:
    files: int = 0
    bytes: int = 0
    bad: list = field(default_factory=list)  # "path: what differs"

    def add(self, other: "CheckResult") -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.bad += other.bad


def entries(manifest_path: Path, wanted):
    """The manifest's entries `wanted(name)` accepts, in the bag's order."""
    for entry in manifest.read_entries(manifest_path):
        if not entry.skipped and wanted(entry.name + (b"/" if entry.folder else b"")):
            yield entry


def conflicts(manifest_path: Path, wanted, dest: Path) -> list[bytes]:
    """The entries asked for that something in dest is in the way of."""
    root, found = os.fsencode(dest), []
    for entry in entries(manifest_path, wanted):
        try:
            st = os.lstat(os.path.join(root, entry.name))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not (entry.folder and stat.S_ISDIR(st.st_mode)):
            found.append(entry.name)
    return found


def blocked_folder(manifest_path: Path, wanted, dest: Path) -> bytes | None:
    """The first folder the entries asked for go into that dest holds as something
    else (a file, a dangling link) and that the restore does not make itself: tar
    cannot write under it, --overwrite or not. b"" when dest itself is such a thing."""
    root = os.fsencode(dest)
    if os.path.lexists(root) and not os.path.isdir(root):
        return b""
    made, fine = set(), set()  # folders the bag brings; folders known to be fine
    for entry in entries(manifest_path, wanted):
        if entry.folder:
            made.add(entry.name)
        parent = os.path.dirname(entry.name)
        while parent and parent not in fine and parent not in made:
            path = os.path.join(root, parent)
            if os.path.isdir(path):  # a link to a folder is fine: tar goes through it
                fine.add(parent)
                break
            if os.path.lexists(path):
                return parent
            fine.add(parent)  # not there: tar makes it; its parents are looked at next
            parent = os.path.dirname(parent)
    return None


def missing(manifest_path: Path, wanted, dest: Path) -> list[bytes]:
    """The entries asked for that dest lacks (deleted since they were restored)."""
    root = os.fsencode(dest)
    return [entry.name for entry in entries(manifest_path, wanted)
            if not os.path.lexists(os.path.join(root, entry.name))]


def differing(manifest_path: Path, wanted, dest: Path) -> list[bytes]:
    """The entries asked for that dest lacks or holds otherwise than the manifest says
    (a rerun with --overwrite writes them again)."""
    root, scratch = os.fsencode(dest), CheckResult()
    return [entry.name for entry in entries(manifest_path, wanted)
            if _differs(os.path.join(root, entry.name), entry, scratch)]


def check(manifest_path: Path, wanted, dest: Path) -> CheckResult:
    """Compare what dest holds with the manifest's entries asked for."""
    root, result = os.fsencode(dest), CheckResult()
    for entry in entries(manifest_path, wanted):
        problem = _differs(os.path.join(root, entry.name), entry, result)
        if problem:
            result.bad.append(f"{manifest.escape_name(entry.name)}: {problem}")
    return result


def _differs(path: bytes, entry: manifest.Entry, result: CheckResult) -> str | None:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if entry.folder or stat.S_ISDIR(st.st_mode):
        if entry.folder and stat.S_ISDIR(st.st_mode):
            return None
        return "a folder, the manifest lists a file" if stat.S_ISDIR(st.st_mode) else \
            "not a folder, the manifest lists one"
    result.files += 1
    regular = stat.S_ISREG(st.st_mode)
    if entry.size and not regular:
        return "not a regular file, the manifest lists one"
    if regular:
        result.bytes += st.st_size
        if st.st_size != entry.size:
            return f"{st.st_size} bytes, the manifest says {entry.size}"
    mtime = manifest.iso_time(st.st_mtime_ns)
    if mtime != entry.mtime:
        return f"modified {mtime}, the manifest says {entry.mtime}"
    if regular and entry.sha256 and sha256_of(Path(os.fsdecode(path))) != entry.sha256:
        return "content differs from the manifest's sha256"
    return None


def summary(result: CheckResult) -> str:
    """The closing line of a restore."""
    done = f"{plural(result.files, 'file')}, {human(result.bytes)} restored"
    if not result.bad:
        return f"{done}, all match the manifest"
    named = "; ".join(result.bad[:SHOWN])
    more = f"; and {len(result.bad) - SHOWN} more" if len(result.bad) > SHOWN else ""
    return f"{done}; {len(result.bad)} do not match the manifest: {named}{more}"
