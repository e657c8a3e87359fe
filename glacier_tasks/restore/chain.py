"""An atom's chain (issue 27), as readers see it: its base bag, then its increment bags
in order, each increment with the deletion list of what left the atom before it.

The *newest view* of an atom is its base's manifest lines for the atom, then, for each
increment, the names its deletion list removes (a name and all under it) taken out
and its own lines put in: each name of the atom as it is now, with the bag that holds
that version. `find`, a file's restore and the check after a restore read it.
"""

import hashlib
import os
import shutil
import stat
from pathlib import Path

from .. import statefile
from ..errors import RestoreError
from ..formats import layout, manifest
from ..formats.inventory import LOOSE_ATOM, atom_name
from .find import fetch_manifest


def deletions(settings, store, key: str, record: dict) -> list[bytes]:
    """An increment's deletion list (raw names), from manifest_dir or S3 Standard,
    checked against the sha256 the inventory records."""
    del_key = layout.deletions_key(key)
    path = layout.local_manifest(settings.manifest_dir, del_key)
    want = record.deletions_sha256
    data = path.read_bytes() if path.exists() else None
    if data is None or hashlib.sha256(data).hexdigest() != want:
        if store.head(del_key) is None:
            raise RestoreError(f"{del_key}: missing from the bucket; without it the "
                               f"increment {key} cannot be applied")
        data = store.get_bytes(del_key)
        if hashlib.sha256(data).hexdigest() != want:
            raise RestoreError(f"{del_key}: not the deletion list the inventory records")
        statefile.write_bytes(path, data)
    return [n for n in data.split(b"\0") if n]


def atom_entries(path: Path, atom_member: bytes | None):
    """(raw name, a folder's ending in '/'; Entry) of a manifest's entries inside the
    atom (None: the loose files' atom, the top-level names that are no folder)."""
    for entry in manifest.read_entries(path):
        name = entry.name + (b"/" if entry.folder else b"")
        if atom_member is None:
            if b"/" not in entry.name and not entry.folder:
                yield name, entry
        elif entry.name == atom_member or entry.name.startswith(atom_member + b"/"):
            yield name, entry


def newest(settings, store, inventory, atom: str) -> dict:
    """raw name (a folder's ending in '/') -> (archive_key, Entry): the atom as its
    chain holds it now."""
    entry = inventory.atoms[atom]
    name = atom_name(entry.molecule, atom)
    member = None if name == LOOSE_ATOM else name.encode("utf-8", "surrogateescape")
    view = {}
    for step, key in enumerate(entry.chain):
        record = inventory.bags[key]
        if step:
            for gone in deletions(settings, store, key, record):
                for old in [n for n in view if n.rstrip(b"/") == gone or
                            n.startswith(gone + b"/")]:
                    del view[old]
        for raw, line in atom_entries(fetch_manifest(settings, store, record), member):
            view.pop(raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/", None)
            view[raw] = (key, line)
    return view


def _line(entry) -> str:
    """An Entry written back as its manifest line."""
    extra = (f"\t{entry.note}" if entry.note else "") + \
        (f"\t{manifest.CONTENT}{entry.sha256}" if entry.sha256 else "")
    return f"{entry.path}\t{entry.size}\t{entry.mtime}{extra}\n"


def merged_manifest(settings, store, inventory, atom: str, path: Path) -> Path:
    """The atom's newest view written as a manifest (for the check after a restore)."""
    view = newest(settings, store, inventory, atom)
    statefile.write_bytes(path, "".join(_line(e) for _, e in view.values()).encode())
    return path


def touching(settings, store, inventory: dict, atom: str, member: bytes) -> list:
    """The bags of the atom's chain, in order, that hold or delete something at or
    under `member` (a folder inside the atom): the others have nothing for it."""
    entry = inventory.atoms[atom]
    found = []

    def near(name: bytes) -> bool:
        name = name.rstrip(b"/")
        return name == member or name.startswith(member + b"/") or \
            member.startswith(name + b"/")
    for step, key in enumerate(entry.chain):
        record = inventory.bags[key]
        names = (raw for raw, _ in atom_entries(fetch_manifest(settings, store, record),
                                                None if member == b"" else member))
        if any(near(n) for n in names) or (step and any(
                near(n) for n in deletions(settings, store, key, record))):
            found.append(key)
    return found


def apply_deletions(names: list, dest: Path, accept, members: list, key: str) -> None:
    """rm -rf under dest each name of an increment's deletion list that the restore
    asks for (`accept`), or that holds a member asked for (`members`: then that
    member goes, the increment brings it back as it is now)."""
    root = os.fsencode(dest)
    for name in names:
        parts = name.split(b"/")
        if name.startswith(b"/") or b".." in parts or b"" in parts:
            raise RestoreError(f"{key}: its deletion list names "
                               f"{manifest.escape_name(name)}, not a path inside it")
        doomed = [name] if accept(name) else \
            [m for m in members if m.startswith(name + b"/")]
        for each in doomed:
            _remove(os.path.join(root, each))


def _remove(path: bytes) -> None:
    """rm -rf: a folder with all in it, or a file or link (never followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
