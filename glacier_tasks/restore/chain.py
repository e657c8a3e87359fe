"""An atom's chain (issue 27), as readers see it: its base bag, then its increment bags
in order, each increment with the deletion list of what left the atom before it.

The *newest view* of an atom is its base's manifest lines for the atom, then, for each
increment, the names its deletion list removes (a name and all under it) taken out
and its own lines put in: each name of the atom as it is now, with the bag that holds
that version. `find` reads it, and a restore takes from each bag of the chain only
the names whose newest version it holds: what the atom lost is then in no bag's share,
so the tool deletes nothing (the deletion lists are for a restore by hand, where tar
extracts each bag whole).
"""

import hashlib
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


_VIEWS: dict = {}  # the last atom's view: a restore asks for it up to three times


def newest(settings, store, inventory, atom: str) -> dict:
    """raw name (a folder's ending in '/') -> (archive_key, Entry): the atom as its
    chain holds it now. Kept for the last atom asked about (its bags are written once,
    so the same chain is the same view; one atom at a time, a big atom's is big)."""
    memo = (str(settings.manifest_dir), atom, tuple(inventory.atoms[atom].chain))
    if memo not in _VIEWS:
        _VIEWS.clear()
        _VIEWS[memo] = _newest(settings, store, inventory, atom)
    return _VIEWS[memo]


def _newest(settings, store, inventory, atom: str) -> dict:
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
