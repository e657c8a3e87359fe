"""Increments (issue 27): an atom that changed a little is sent as an increment bag
holding only its new and modified entries, plus the list of what it lost.

The chain's state: each time an atom is packed (whole or as an increment), the entries
tar read (name, kind, size, mtime, mode, symlink target: the atom hash's fields) are
kept in STATE/chains/HASH, HASH being the atom's metadata hash as the inventory records
it. An increment is computed against that file, so it is true to what tar read, not to
what a manifest rounded to the second. No such file (a bootstrap, a new machine, an
atom packed before increments were on): the atom is packed whole, a new base.

An increment bag is a plain GNU tar like any bag; its deletion list (`.del` beside its
manifest, STANDARD) holds the atom's paths gone since the chain's previous bag, raw
bytes, each ended by NUL, only the topmost of a gone folder, so that
`xargs -0 rm -rf --` applies it whatever the names. A path that changed kind (a file
that became a folder) is both deleted and added.
"""

import hashlib
import marshal
import os
from dataclasses import replace
from pathlib import Path

from ..errors import BagError
from . import scan

FORMAT = 1
MAX_CHAIN = 8  # increments after a base; the next change packs the atom whole again


def state_file(state_dir: Path, atom_hash: str) -> Path:
    return Path(state_dir) / "chains" / atom_hash


def entry(molecule_path, rel: bytes, st) -> tuple:
    return entry_of(scan.entry_record(molecule_path, rel, st))


def entry_of(line: bytes) -> tuple:
    """(kind, size, mtime_ns, mode, symlink target) of an atom hash's line."""
    fields = line.split(b"\0")
    return (fields[1], int(fields[2]), int(fields[3]), fields[4],
            b"\0".join(fields[5:])[:-1])


def forget_states(state_dir: Path, keep: set) -> None:
    """Remove the chain states no atom can be an increment of any more."""
    folder = Path(state_dir) / "chains"
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name not in keep:
            path.unlink(missing_ok=True)


def write_state(state_dir: Path, atom_key: str, atom_hash: str, entries: dict) -> None:
    """entries: name -> entry(); written once per hash (atomically: a torn file would
    make the next increment wrong, so it goes under its final name only when whole)."""
    path = state_file(state_dir, atom_hash)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(path.name + f".{os.getpid()}.partial")
    with open(draft, "wb") as out:
        marshal.dump((FORMAT, atom_key, atom_hash, list(entries.items())), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(draft, path)


def read_state(state_dir: Path, atom_key: str, atom_hash: str) -> dict | None:
    """The chain's entries for the atom at that hash; None when not here, or not
    exactly that atom at that hash (its own hash is checked again)."""
    try:
        with open(state_file(state_dir, atom_hash), "rb") as f:
            version, key, recorded, items = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != FORMAT or key != atom_key or recorded != atom_hash:
        return None
    digest = hashlib.sha256()
    for rel, (kind, size, mtime, mode, target) in items:
        digest.update(b"%s\0%s\0%d\0%d\0%s\0%s\n" % (rel, kind, size, mtime, mode, target))
    return dict(items) if digest.hexdigest() == atom_hash else None


def changed(before: dict, rel: bytes, now: tuple) -> bool:
    """Does the entry go into the increment: new, or any of its fields moved (a folder
    too: its mode and time are restored from its member)."""
    return before.get(rel) != now


def kind_changed(before: dict, rel: bytes, now: tuple) -> bool:
    old = before.get(rel)
    return old is not None and old[0] != now[0]


def deletions(before: dict, now: dict) -> list:
    """The paths to remove before extracting the increment, topmost only: gone, or
    of another kind now (a file that became a folder)."""
    gone = sorted(rel for rel, old in before.items()
                  if rel not in now or now[rel][0] != old[0])
    top, kept = None, []
    for rel in gone:
        if top is not None and rel.startswith(top + b"/"):
            continue
        kept.append(rel)
        top = rel
    return kept


def write_deletions(path: Path, names: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(path.name + ".partial")
    draft.write_bytes(b"".join(n + b"\0" for n in names))
    os.replace(draft, path)


def read_deletions(data: bytes) -> list:
    return [n for n in data.split(b"\0") if n]


def increment_bytes(molecule_path, atom: str, before: dict) -> int:
    """What the atom's increment would hold now, in tar's bytes (headers, padding,
    sparse maps; a hard link whose first name is not in it counts as a whole file)."""
    root, links, total = os.fsencode(molecule_path), {}, 0
    for rel, st in scan.walk_atom(molecule_path, atom):
        if not changed(before, rel, entry(molecule_path, rel, st)):
            continue
        total += scan.member_bytes(root, rel, st, links)
    return total


# -- packing an increment (pack.py) ---------------------------------------------------


def before(bag, chains) -> dict | None:
    """The chain's state an increment bag is packed against (None: a whole bag)."""
    if not getattr(bag, "increment_of", ""):
        return None
    state = read_state(chains, bag.atoms[0], bag.increment_of) \
        if chains is not None else None
    if state is None:  # the plan saw it; gone since (a cleaned state folder)
        raise BagError(f"{bag.name}: the state of {bag.atoms[0]} it would be an "
                       f"increment of is gone from the state folder; run backup again "
                       "(the atom is then packed whole)")
    return state


class ChainStates:
    """What tar reads of each atom of a bag, kept as its chain's state (one atom in
    memory at a time: the records come in the walk's order, atom after atom); for an
    increment bag, `before` is the state it is packed against and its deletions are
    what `before` had that tar did not read."""

    def __init__(self, bag, chains: Path, before: dict | None):
        self.bag, self.chains, self.before = bag, chains, before
        self.index, self.entries, self.deletions = None, {}, []

    def add(self, index: int, rel: bytes, line: bytes, digests) -> None:
        if index != self.index:
            self._flush(digests)
            self.index = index
        self.entries[rel] = entry_of(line)

    def finish(self, digests) -> None:
        self._flush(digests)
        self.index = None

    def _flush(self, digests) -> None:
        if self.index is None:
            return
        atom_hash = digests[self.index].copy().hexdigest()
        write_state(self.chains, self.bag.atoms[self.index], atom_hash, self.entries)
        if self.before is not None:
            self.deletions = deletions(self.before, self.entries)
        self.entries = {}

    def settle(self, manifest_path: Path) -> None:
        """The bag is packed as it is: an increment's deletion list goes beside its
        manifest."""
        if self.before is not None:
            write_deletions(deletions_path(manifest_path), self.deletions)


def deletions_path(manifest_path: Path) -> Path:
    """The local deletion list, beside the local manifest (NAME.del by NAME.txt)."""
    return Path(manifest_path).with_suffix(".del")


# -- the plan's rules (plan.py) ------------------------------------------------------


def planned(current, known, mine, broken, increment_below, sizes) -> dict:
    """Changed atoms sent as an increment: atom -> its increment's bytes. Only an atom
    still on its base bag, not pinned, whose chain is whole and shorter than
    MAX_CHAIN, and whose increments with this one stay under increment_below of its
    size; any other is packed whole (a re-base)."""
    going = {}
    for atom, estimate in sorted(sizes.items()):
        info = known.get(atom)
        if increment_below <= 0 or info is None or atom not in current or \
                info.pinned or info.archive_key not in mine or \
                len(info.increments) >= MAX_CHAIN or \
                any(k in broken or k not in mine for k in info.chain) or \
                info.last_metadata_hash == current[atom].hash:
            continue
        sent = sum(mine[k].size for k in info.increments)
        if sent + estimate < increment_below * current[atom].size:
            going[atom] = estimate
    return going


def as_planned(current, known, going, broken) -> dict:
    """The inventory as the bag rules should see it: an atom sent as an increment
    stays on its base (unchanged there); one whose chain lost a bag moves (changed)."""
    seen = dict(known)
    for atom in going:
        info = known[atom]
        seen[atom] = replace(info, last_metadata_hash=current[atom].hash, unknown={
            **info.unknown, "previous_hash": info.last_metadata_hash})
    for atom, info in known.items():
        if atom not in going and any(k in broken for k in info.increments):
            seen[atom] = replace(info, last_metadata_hash="a bag of its chain is broken")
    return seen


def previous_hash(entry) -> str:
    """The hash of the chain state an increment planned by as_planned applies to."""
    return entry.unknown.get("previous_hash", "")
