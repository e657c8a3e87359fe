"""Restore, the decisions: which bags a path needs, what each gives back, what is
downloaded from it, and what that costs (restorer.py carries them out).

Words: a *target* is what one bag must give back (an atom, or a folder or a file in
one). A bag's *plan* says what is downloaded: only the byte *runs* of the members asked
for when the bag has a member index and is not encrypted (S3 still thaws the whole
object), else the whole bag.
"""

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..bucket.objects import ObjectStore
from ..formats import checksum, layout, manifest, memberindex
from .. import config, cost, statefile
from ..errors import StateError, command
from .find import fetch_manifest, member_exists
from ..formats.inventory import LOOSE_ATOM, atom_name, find_atom
from . import chain as chain_view
from ..formats.records import AtomEntry, BagRecord, Inventory
from ..units import human, plural

@dataclass(frozen=True)
class Target:
    """What one bag gives back: a member path inside it (b"" with a loose atom: all
    its files), under `folder` of the destination (the molecule's, with --all)."""
    atom: str
    archive_key: str
    member: bytes
    whole: bool = False  # the whole atom
    folder: str = ""
    size: int | None = None  # the whole atom's, as the inventory records it
    step: int = 0  # its bag's place among those this restore reads for its atom
    # an atom with increments: the names (a folder's ending in '/') whose newest
    # version this bag holds; its other, older versions stay in the bag
    names: frozenset | None = None


def resolve_targets(inventory: Inventory, path: str) -> list[Target]:
    """The atoms (or the part of one) that a user's path names."""
    path = path.rstrip("/") or "/"
    atoms = inventory.atoms
    whole = [k for k, a in atoms.items() if a.molecule.rstrip("/") == path.rstrip("/")]
    if whole:
        return [_target(k, atoms[k], k) for k in sorted(whole)]
    atom = find_atom(inventory, path)
    if atom is None:
        raise StateError(f"{shown(path)}: not in the inventory (no atom holds it); "
                         f"'{command('find NAME')}' searches the manifests, 'restore "
                         "--all' restores every molecule")
    return [_target(atom, atoms[atom], path)]


def real_path(settings, store: ObjectStore, inventory: Inventory, path: str) -> str:
    """The path a user means: as typed, or as `find` prints it, with the part inside
    its molecule escaped as the manifests spell names (\\xNN a byte that is not UTF-8,
    \\\\ a backslash). The first spelling that names something backed up wins; with
    none, the path as typed (whose error then names it)."""
    for spelling in _spellings(inventory, path):
        try:
            targets = resolve_targets(inventory, spelling)
            check_members(settings, store, inventory, targets)
        except StateError:
            continue
        return spelling
    return path


def _spellings(inventory: Inventory, path: str):
    yield path
    molecules = [m for m in {a.molecule.rstrip("/") + "/"
                             for a in inventory.atoms.values()} if path.startswith(m)]
    if "\\" in path and molecules:
        molecule = max(molecules, key=len)  # find prints the molecule as it is
        try:
            yield molecule + os.fsdecode(manifest.unescape_name(path[len(molecule):]))
        except ValueError:  # a '\\x' not followed by two hex digits
            pass


def shown(path: str) -> str:
    """A path for a line on the terminal: a byte that is not UTF-8 as \\xNN."""
    return manifest.escape_name(os.fsencode(path))


def resolve_all(inventory: Inventory) -> list[Target]:
    """Every atom, each molecule under a folder of its own named by its slug."""
    atoms = inventory.atoms
    if not atoms:
        raise StateError("the inventory holds no atom: nothing to restore")
    folders = molecule_folders({a.molecule for a in atoms.values()})
    return [_target(k, a, k, folders[a.molecule]) for k, a in sorted(atoms.items())]


def molecule_folders(molecules) -> dict:
    """molecule -> its folder name under --to: its slug, with a short hash appended
    when two slugs collide (as the bags' keys do)."""
    slugs = {m: config.slugify(m) for m in molecules}
    taken = list(slugs.values())
    return {m: s if taken.count(s) == 1 else
            f"{s}-{hashlib.sha1(m.encode()).hexdigest()[:6]}" for m, s in slugs.items()}


def _target(atom: str, entry: AtomEntry, path: str, folder: str = "") -> Target:
    name = atom_name(entry.molecule, atom)
    if name == LOOSE_ATOM:
        root = entry.molecule.rstrip("/")
        member = path[len(root):].lstrip("/") if path != atom else ""
    else:
        rest = path[len(atom):].lstrip("/")
        member = f"{name}/{rest}" if rest else name
    whole = path == atom
    return Target(atom, entry.archive_key, os.fsencode(member), whole, folder,
                  entry.size if whole else None)


def wanted(targets) -> callable:
    """name -> is it asked for? Names as tar and the manifest spell them (a folder
    ends in '/'); a member asked for brings everything under it, but from a bag of a
    chain only the names whose newest version it holds."""
    newest = frozenset().union(*(t.names for t in targets if t.names is not None))
    accept = _under([t for t in targets if t.names is None])
    return (lambda name: name in newest or accept(name)) if newest else accept


def _under(targets) -> callable:
    members = {t.member for t in targets if t.member}
    loose = any(not t.member for t in targets)

    def accept(name: bytes) -> bool:
        if loose and b"/" not in name:
            return True
        base = name.rstrip(b"/")
        if base in members:
            return True
        cut = base.find(b"/")
        while cut != -1:
            if base[:cut] in members:
                return True
            cut = base.find(b"/", cut + 1)
        return False
    return accept


def tier_problem(tier: str, storage_classes) -> str | None:
    """Why this thaw tier cannot serve bags of these storage classes, or None."""
    if tier not in cost.TIER_DELAY:
        return f"--tier {tier}: not a thaw tier; use Bulk (about 48 h, cheapest) or " \
               "Standard (about 12 h)"
    if tier == "Expedited" and "DEEP_ARCHIVE" in storage_classes:
        return "--tier Expedited: Deep Archive offers no Expedited tier; use Bulk " \
               "(about 48 h, cheapest) or Standard (about 12 h); only GLACIER class bags " \
               "may use it"
    return None


def check_members(settings, store: ObjectStore, inventory: Inventory, targets) -> None:
    """A path inside an atom must be in its bag's manifest (fetched if needed)."""
    for t in targets:
        name = atom_name(inventory.atoms[t.atom].molecule, t.atom)
        if t.whole or not t.member or t.member == os.fsencode(name):
            continue
        bag = inventory.bags[t.archive_key]
        loose = name == LOOSE_ATOM
        if inventory.atoms[t.atom].increments:  # as its chain holds it now
            view = chain_view.newest(settings, store, inventory, t.atom)
            found = t.member in view or (not loose and any(
                n.rstrip(b"/") == t.member or n.startswith(t.member + b"/")
                for n in view))
            if not found:
                raise StateError(f"{manifest.escape_name(t.member)}: not in the atom "
                                 f"{shown(t.atom)} as its last backup left it; "
                                 f"'{command('find')}' shows what was backed up")
            continue
        if not member_exists(fetch_manifest(settings, store, bag), t.member, loose):
            raise StateError(f"{manifest.escape_name(t.member)}: not in the manifest "
                             f"of {t.archive_key}; '{command('find')}' shows what was "
                             "backed up")


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class BagFetch:
    key: str
    record: BagRecord
    targets: tuple
    runs: tuple | None  # the byte runs to download; None: the whole bag
    why_whole: str = ""  # why the whole bag is downloaded
    index: Path | None = None

    @property
    def name(self) -> str:
        return layout.bag_name(self.key)

    @property
    def folder(self) -> str:
        return self.targets[0].folder

    @property
    def everything(self) -> bool:
        """Every atom the bag holds is asked for: tar reads it all, nothing is left
        out. A bag some atoms moved out of (issue 23) also holds their old versions,
        which only the atoms' own names keep out."""
        return set(self.record.held_atoms) <= {t.atom for t in self.targets
                                               if t.whole and t.names is None}

    @property
    def wanted(self):
        return None if self.everything else wanted(self.targets)

    @property
    def step(self) -> int:
        """Its place in its atom's chain (0: a base, or a bag of whole atoms)."""
        return max(t.step for t in self.targets)

    @property
    def download_size(self) -> int:
        return self.record.size if self.runs is None else \
            sum(r.size for r in self.runs)


def plan_restore(settings, store: ObjectStore, inventory: Inventory,
                 targets: list) -> list[BagFetch]:
    by_bag = {}
    for t in targets:
        for each in chain_targets(settings, store, inventory, t):
            by_bag.setdefault(each.archive_key, []).append(each)
    plans = [plan_bag(settings, store, key, inventory.bags[key], tuple(mine))
             for key, mine in sorted(by_bag.items())]
    return sorted(plans, key=lambda p: (p.step, p.key))


def chain_targets(settings, store, inventory: Inventory, target: Target) -> list[Target]:
    """What each bag of the target's atom gives back (issue 27): an atom sent whole is
    its one bag; one with increments is, from each bag of its chain in order, the
    names asked for whose newest version that bag holds. A name the atom lost is in
    no bag's share, so nothing is deleted and nothing old comes back; a bag with no
    share is not read at all."""
    keys = inventory.atoms[target.atom].chain
    if len(keys) == 1:
        return [target]
    view = chain_view.newest(settings, store, inventory, target.atom)
    asked = _under([target])
    shares = {}
    for name, (key, _) in view.items():
        if asked(name):
            shares.setdefault(key, set()).add(name)
    # step: its place among the bags this restore reads (0 writes first)
    return [replace(target, archive_key=key, step=step, names=frozenset(shares[key]))
            for step, key in enumerate(k for k in keys if k in shares)]


def plan_bag(settings, store: ObjectStore, key: str, record: BagRecord,
             targets: tuple) -> BagFetch:
    """The runs to download, or why the whole bag is."""
    plan = BagFetch(key, record, targets, None)
    why = "every file in it is asked for" if plan.everything else \
        "encrypted: age has no random access" if record.encryption else \
        "packed before bags had a member index" if not record.index_sha256 else ""
    if why:
        return BagFetch(key, record, targets, None, why)
    index, why = _index_file(settings, store, key, record)
    if index is None:
        return BagFetch(key, record, targets, None, why)
    members = memberindex.read_index(index)
    runs = memberindex.runs(members, wanted(targets), record.size)
    return BagFetch(key, record, targets, tuple(runs), "", index)


def _index_file(settings, store: ObjectStore, key: str,
                record: BagRecord) -> tuple[Path | None, str]:
    """The bag's member index in manifest_dir, fetched from S3 Standard if needed; or
    None and why it cannot be used (the whole bag is downloaded then)."""
    index_key = layout.index_key(key)
    path = layout.local_manifest(settings.manifest_dir, index_key)
    if path.exists() and checksum.sha256_of(path) == record.index_sha256:
        return path, ""
    if store.head(index_key) is None:
        return None, f"its member index {index_key} is missing from the bucket"
    data = store.get_bytes(index_key)
    if hashlib.sha256(data).hexdigest() != record.index_sha256:
        return None, f"its member index {index_key} is not the one the inventory records"
    statefile.write_bytes(path, data)
    return path, ""


def estimate_lines(plans: list[BagFetch], tier: str, prices) -> list[str]:
    """What the restore thaws and downloads, how long the thaw takes, what it costs."""
    lines = []
    for p in plans:
        size = human(p.record.size)
        lines.append(f"  {p.key}  {size} to thaw; downloads " + (
            f"{human(p.download_size)}: only the members asked for" if p.runs is not None
            else f"all of it ({p.why_whole})"))
    thawed = sum(p.record.size for p in plans)
    fetched = sum(p.download_size for p in plans)
    figures = cost.restore_cost(thawed, len(plans), tier, prices, transfer_size=fetched)
    lines.append(f"{plural(len(plans), 'bag')}, {human(thawed)} to thaw, {human(fetched)} "
                 "to "
                 f"download; {tier} thaw takes {cost.TIER_DELAY.get(tier, '?')}; estimated "
                 f"cost ${figures['total']:.2f} (retrieval ${figures['retrieval']:.2f}, "
                 f"requests ${figures['requests']:.4f}, transfer out "
                 f"${figures['transfer']:.2f})")
    return lines
