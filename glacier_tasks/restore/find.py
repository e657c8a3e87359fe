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
from .. import statefile
from ..errors import UsageError


@dataclass(frozen=True)
class Match:
    path: str
    bag: str
    archive_key: str
    size: int
    mtime: str


def fetch_manifest(settings, store: ObjectStore, bag: dict) -> Path:
    """The bag's manifest in manifest_dir, downloaded if it is not there yet."""
    path = layout.local_manifest(settings.manifest_dir, bag["manifest_key"])
    if not path.exists():
        data = store.get_bytes(bag["manifest_key"])
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


def search(settings, store: ObjectStore, inventory: dict, pattern: str,
           regex: bool = False):
    """Yield a Match for every manifest line whose full path matches."""
    matches = matcher(pattern, regex)
    for key, bag in sorted(inventory["bags"].items()):
        prefix = bag["molecule"].rstrip("/") + "/"
        name = layout.bag_name(key)
        current = _current_atoms(bag)
        with open(fetch_manifest(settings, store, bag), encoding="utf-8") as lines:
            for line in lines:
                path, _, rest = line.rstrip("\n").partition("\t")
                if current is not None and _atom_of(path) not in current:
                    continue  # an old version of an atom that moved to a newer bag
                full = prefix + path
                if matches(full):
                    size, _, mtime = rest.partition("\t")
                    mtime = mtime.replace("\t", " ")  # keeps a 'skipped: socket' note
                    yield Match(full, name, key, int(size or 0), mtime)


def _current_atoms(bag: dict) -> set | None:
    """The escaped names of the atoms that still point at this bag, when some atoms
    moved out of it since it was packed (their old versions stay in it); else None."""
    atoms = bag.get("atoms", [])
    if set(bag.get("packed_atoms") or atoms) <= set(atoms):
        return None
    return {manifest.escape_name(os.fsencode(atom_name(bag["molecule"], a)))
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
    with open(manifest_path, encoding="utf-8") as lines:
        for line in lines:
            raw = manifest.parse_line(line)[0]
            name = raw.rstrip(b"/")
            if loose:  # its very name, never a folder's line ("NAME/")
                if raw == member:
                    return True
                continue
            if name == member or name.startswith(folder):
                return True
    return False
