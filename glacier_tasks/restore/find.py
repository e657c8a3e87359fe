"""Find files in the manifests, without thawing anything.

Manifests are read line by line (never loaded whole); one missing locally is fetched
from S3 Standard first. A pattern is a substring, a glob if it holds * ? or [, or with
--regex a regular expression; it is matched against the file's full original path.
"""

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..bucket.objects import ObjectStore
from ..formats import crypto, layout, manifest
from ..formats.inventory import LOOSE_ATOM, atom_name
from ..formats.records import BagRecord, Inventory
from .. import statefile
from ..errors import UsageError


@dataclass(frozen=True)
class Match:
    path: str
    bag: str
    archive_key: str
    size: int
    mtime: str


def fetch_manifest(settings, store: ObjectStore, bag: BagRecord) -> Path:
    """The bag's manifest in manifest_dir, downloaded if it is not there yet."""
    path = layout.local_manifest(settings.manifest_dir, bag.manifest_key)
    if not path.exists():
        data = store.get_bytes(bag.manifest_key)
        if crypto.is_encrypted(data):
            data = crypto.decrypt_bytes(data, settings.age_identity_file)
        statefile.write_bytes(path, data)
    return path


def matcher(pattern: str, regex: bool):
    if regex:
        try:
            return re.compile(pattern).search
        except re.error as err:
            raise UsageError(f"--regex {pattern!r}: not a regular expression ({err})") \
                from None
    if any(c in pattern for c in "*?["):
        compiled = re.compile(fnmatch.translate(pattern))
        return lambda text: compiled.match(text) or compiled.match(text.rpartition("/")[2])
    return lambda text: pattern in text


def search(settings, store: ObjectStore, inventory: Inventory, pattern: str,
           regex: bool = False):
    """Yield a Match for every manifest line whose full path matches."""
    matches = matcher(pattern, regex)
    # an atom with increments is read as its chain holds it now (below); with
    # --all-years there are no atoms, and every version of every bag is shown
    chained = {a for a, e in inventory.atoms.items() if e.increments}
    in_chains = {k for a in chained for k in inventory.atoms[a].increments}
    for key, bag in sorted(inventory.bags.items()):
        if key in in_chains:
            continue  # read below, with its chain
        prefix = bag.molecule.rstrip("/") + "/"
        current = _current_atoms(bag)
        skip = {manifest.escape_name(os.fsencode(atom_name(bag.molecule, a)))
                for a in bag.atoms if a in chained}
        for entry in manifest.read_entries(fetch_manifest(settings, store, bag)):
            if current is not None and _atom_of(entry.path) not in current:
                continue  # an old version of an atom that moved to a newer bag
            if _atom_of(entry.path) in skip:
                continue  # its newest view is read below
            match = _match(matches, prefix, entry, key)
            if match:
                yield match
    from .chain import newest  # chain reads manifests with this module's helpers
    for atom in sorted(chained):
        prefix = inventory.atoms[atom].molecule.rstrip("/") + "/"
        for key, entry in newest(settings, store, inventory, atom).values():
            match = _match(matches, prefix, entry, key)
            if match:
                yield match


def _match(matches, prefix: str, entry, key: str) -> Match | None:
    full = prefix + entry.path
    if not matches(full):
        return None
    note = f" {entry.note}" if entry.note else ""  # 'skipped: socket'
    return Match(full, layout.bag_name(key), key, entry.size, entry.mtime + note)


def _current_atoms(bag: BagRecord) -> set | None:
    """The escaped names of the atoms that still point at this bag, when some atoms
    moved out of it since it was packed (their old versions stay in it); else None."""
    atoms = bag.atoms
    if set(bag.held_atoms) <= set(atoms):
        return None
    return {manifest.escape_name(os.fsencode(atom_name(bag.molecule, a)))
            for a in atoms}


def _atom_of(path: str) -> str:
    """The atom a manifest path (escaped) belongs to: its top folder, or the loose
    files' atom for a file beside the molecule's folders."""
    top, slash, _ = path.partition("/")
    return top if slash else LOOSE_ATOM


def member_exists(manifest_path: Path, member: bytes, loose: bool = False) -> bool:
    """Is `member` (a path inside the bag) a file or folder listed in this manifest?
    With `loose` (a file lying in the molecule's folder), only a member that is no
    folder: a top-level folder is an atom of its own, and one its bag still lists is
    the old copy of an atom that moved out or was removed (issue 23)."""
    folder = member + b"/"
    for entry in manifest.read_entries(manifest_path):
        if loose:  # its very name, never a folder's line ("NAME/")
            if entry.name == member and not entry.folder:
                return True
            continue
        if entry.name == member or entry.name.startswith(folder):
            return True
    return False
