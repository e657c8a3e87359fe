"""inventory.json: built from the plan and the bags' markers, written atomically.

An atom whose new bag did not finish keeps its previous entry (and that bag's record),
so a failed or interrupted run never loses track of data that is safely in S3.
"""

import datetime
import os
from pathlib import Path

from .. import statefile
from . import layout
from .records import AtomEntry, BagRecord, HistoryEntry, Inventory, check, dangling_atom
from ..errors import StateError, command

LOOSE_ATOM = "."
# never its .bak: an older inventory does not know the newest run's bags (prune would
# take them for unreferenced); the bucket holds the newest one
BOOTSTRAP_ADVICE = "move it away and run 'glacier bootstrap' (the bucket's newest copy)"  # the atom made of the files lying directly in the molecule's folder


def atom_name(molecule: str, key: str) -> str:
    """An atom's folder name inside its molecule, from its key (`MOLECULE/NAME`)."""
    return key[len(molecule.rstrip("/")) + 1:]


def load_inventory(path: Path, required_by: str | None = None) -> Inventory:
    """The inventory, or an empty one; with required_by, a missing file is an error."""
    data = statefile.read_json(path, default=None, what="inventory",
                               advice=BOOTSTRAP_ADVICE)
    if data is None and required_by:
        raise StateError(f"{path}: no inventory, and {required_by} needs one; run "
                         f"'{command('backup')}' or '{command('bootstrap')}' first")
    if data is None:
        return Inventory()
    wrong = check(data)
    if wrong and wrong.startswith("not an inventory"):
        raise StateError(f"{path}: {wrong}; " + BOOTSTRAP_ADVICE)
    if wrong:
        raise StateError(f"{path}: {wrong}; fix it by hand, or {BOOTSTRAP_ADVICE}")
    return Inventory.from_json(data)


def parse_inventory(data, where: str) -> Inventory:
    """An inventory read from elsewhere (the bucket's copy), checked as a local one."""
    wrong = check(data)
    if wrong:
        raise StateError(f"{where}: {wrong}")
    return Inventory.from_json(data)


def well_formed(data) -> bool:
    """Has it the shape every reader relies on: atoms and bags, each an object of
    objects? (bootstrap skips a copy in the bucket that has not)"""
    return isinstance(data, dict) and all(
        isinstance(data.get(part), dict) and
        all(isinstance(k, str) and isinstance(v, dict) for k, v in data[part].items())
        for part in ("atoms", "bags"))


def stale_against(local: Inventory, newest: Inventory, present) -> str | None:
    """Why `local` is older than `newest` (the bucket's), or None: it knows neither as
    a bag nor as history some bag `newest` names that is still in the bucket (`present`:
    its keys). Those are exactly the bags a plan or prune from `local` would drop."""
    known = set(local.bags) | set(local.history)
    unknown = sorted(k for k in newest.bags if k in present and k not in known)
    if not unknown:
        return None
    return f"it does not know {len(unknown)} of its bags (e.g. {unknown[0]})"


def other_hosts(inventory: Inventory, host: str) -> list[str]:
    """The hosts other than `host` whose bags the inventory names (a `bootstrap --host
    OTHER` to restore that host's files): a backup of `host` must not count them as its
    own, since only their host's prune decides when they go."""
    return sorted({layout.owner(k) or "?" for k in inventory.bags} - {host})


def build_inventory(plan, markers: dict, previous: Inventory, pending_ok=False) -> Inventory:
    """markers: bag name -> BagMarker. With pending_ok (the dry run), bags still to
    upload are entered as if done, with `"pending": true` and no checksum yet."""
    atoms, bags, packed_here = {}, {}, set()
    # an atom sent as an increment is entered by its increment bag (as sent, or as it
    # was if that failed), never by its base bag, which it stays on either way
    by_increment = {b.atoms[0] for b in plan.bags if getattr(b, "increment_of", "")}
    for bag in plan.bags:
        key = bag.archive_key
        marker, left_out = markers.get(bag.name), {}
        if bag.action == "keep":  # as it was, or as a repair re-uploaded it
            record = _kept_record(bag, marker, previous.bags.get(key))
            hashes, files = {}, {}
        elif marker is not None and marker.done:
            record = _uploaded_record(bag, marker)
            hashes, files = marker.packed.atom_hashes, marker.packed.atom_files or {}
            if files:
                packed_here.add(key)
            left_out = marker.packed.left_out or {}
            record.packed_atoms = sorted(a for a in bag.atoms if a not in left_out)
            record.packed_bytes = sum(plan.atoms[a].size for a in record.packed_atoms)
            if record.increment_of:
                record.packed_bytes = record.size
        elif pending_ok:
            record = _pending_record(bag)
            hashes, files = {}, {}
        else:
            for atom in bag.atoms:
                _keep_previous(atom, atoms, bags, previous)
            continue
        for atom in bag.atoms:
            if atom in by_increment and not getattr(bag, "increment_of", ""):
                continue
            if atom in left_out:  # a file in it kept moving: it keeps its previous bag
                _keep_previous(atom, atoms, bags, previous)
                continue
            entry = plan.atoms[atom].copy()
            # as packed: a file may have come or gone since the scan
            entry.last_metadata_hash = hashes.get(atom, entry.last_metadata_hash)
            entry.files = files.get(atom, entry.files)
            atoms[atom] = entry
        bags[key] = record
    _keep_other_atoms(plan, atoms, bags, previous)
    holding = {}  # a bag's atoms are those that point at it, whatever it listed
    for atom, entry in atoms.items():
        for key in entry.chain:  # an increment is referenced while a chain holds it
            holding.setdefault(key, []).append(atom)
    for key, record in bags.items():
        record.atoms = sorted(holding.get(key, []))
        if record.increment_of:  # its own bytes, all of them live
            record.referenced_bytes = record.packed_bytes or record.size
            continue
        if key in packed_here:
            record.files = sum(atoms[a].files for a in record.atoms)
        # what prune and cost call dead: packed_bytes less this
        record.referenced_bytes = sum(atoms[a].size for a in record.atoms)
    kept = {k: r for k, r in sorted(bags.items()) if r.atoms}
    # run_date: which run wrote it: bootstrap picks the newest, a backup dated before
    # it is refused
    return Inventory(atoms=dict(sorted(atoms.items())), bags=kept,
                     history=_history(previous, kept, plan.date), year=plan.year,
                     run_date=plan.date or "", key_salt=plan.key_salt or "")


def _kept_record(bag, marker, previous: BagRecord | None) -> BagRecord:
    """A kept bag's record: as it was, or as a repair re-uploaded it; what its tar
    holds stays as it was packed."""
    if marker is not None and marker.done and marker.uploaded.key == bag.archive_key:
        record = _uploaded_record(bag, marker)
    else:
        record = previous.copy() if previous else BagRecord(size=0)
    if previous is not None:  # an increment stays one (issue 27)
        record.increment_of = record.increment_of or previous.increment_of
        record.deletions_sha256 = record.deletions_sha256 or previous.deletions_sha256
    if marker is not None and marker.manifest is not None and \
            marker.manifest.key == record.manifest_key:
        record.manifest_sha256 = marker.manifest.sha256  # a lost one, sent again
    if previous is not None and previous.packed_atoms is not None:
        record.packed_atoms, record.packed_bytes = previous.packed_atoms, previous.packed_bytes
    elif previous is not None:  # recorded before issue 23: every atom its tar holds was
        # referenced, and its tar's size is what they took (atom sizes of then counted
        # content only, before tar's headers)
        record.packed_atoms = sorted(previous.atoms)
        record.packed_bytes = previous.size or 0
    return record


def _history(previous: Inventory, bags: dict, date: str) -> dict:
    """Bags no atom points at any more, with the day they were superseded: `prune`
    keeps them keep_years after it. Those back in use leave the history."""
    history = {k: v for k, v in previous.history.items() if k not in bags}
    for key, record in previous.bags.items():
        if key not in bags and key not in history and date:
            history[key] = history_entry(record, date)
    return dict(sorted(history.items()))


def history_entry(record: BagRecord, date: str) -> HistoryEntry:
    """A bag leaving the inventory on `date` (superseded, or its molecule dropped), as
    history remembers it until keep_years after that day."""
    return HistoryEntry(superseded_on=date, molecule=record.molecule, size=record.size,
                        tar_id=record.tar_id, manifest_key=record.manifest_key,
                        uploaded_at=record.uploaded_at)


def _keep_previous(atom, atoms, bags, previous: Inventory) -> None:
    """An atom not packed this run keeps its previous entry and bag, if it had one."""
    old = previous.atoms.get(atom)
    if old and all(k in previous.bags for k in old.chain):
        atoms[atom] = old.copy()
        for key in old.chain:
            bags.setdefault(key, previous.bags[key].copy())


def _keep_other_atoms(plan, atoms, bags, previous: Inventory):
    """Atoms of missing molecules are in the plan but in no planned bag of theirs."""
    for atom, entry in plan.atoms.items():
        if atom not in atoms and all(k in previous.bags for k in entry.chain):
            atoms[atom] = entry.copy()
            for key in entry.chain:
                bags.setdefault(key, previous.bags[key].copy())


def _uploaded_record(bag, marker) -> BagRecord:
    receipt, packed = marker.uploaded, marker.packed
    return BagRecord(
        tar_id=bag.tar_id, molecule=bag.molecule, size=receipt.size,
        sha256=receipt.sha256, storage_class=receipt.storage_class,
        uploaded_at=receipt.uploaded_at, atoms=list(bag.atoms),
        manifest_key=bag.manifest_key, etag=receipt.etag, crc64nvme=receipt.crc64nvme,
        content_key=packed.content_key, files=bag.files,
        manifest_sha256=marker.manifest.sha256 if marker.manifest else None,
        index_sha256=marker.manifest.index_sha256 if marker.manifest else None,
        encryption=packed.encryption, increment_of=getattr(bag, "increment_of", "") or None,
        deletions_sha256=marker.manifest.deletions_sha256
        if marker.manifest and getattr(bag, "increment_of", "") else None)


def _pending_record(bag) -> BagRecord:
    return BagRecord(tar_id=bag.tar_id, molecule=bag.molecule, size=bag.size,
                     atoms=list(bag.atoms), manifest_key=bag.manifest_key,
                     content_key=bag.content_key, files=bag.files, pending=True,
                     reasons=list(bag.reasons),
                     increment_of=getattr(bag, "increment_of", "") or None)


ALLOW_EARLIER = "GLACIER_ALLOW_EARLIER_DATE"


def check_date(inventory: Inventory, today) -> None:
    """A run dated before the one that wrote the inventory would file this year's bags
    under an older year and make newer ones look prunable: refused unless forced."""
    last = inventory.run_date
    if last and today.isoformat() < last and os.environ.get(ALLOW_EARLIER) != "1":
        raise StateError(f"today is {today.isoformat()}, before the last backup "
                         f"({last}) that wrote {inventory.year}'s inventory: is the "
                         f"clock (or GLACIER_TODAY) wrong? {ALLOW_EARLIER}=1 runs anyway")


def find_atom(inventory: Inventory, path: str) -> str | None:
    """The atom a path names: the atom itself, or the atom holding that path."""
    path = path.rstrip("/")
    if path in inventory.atoms:
        return path
    holders = [k for k in inventory.atoms if path.startswith(k.rstrip("/") + "/")]
    if holders:
        return max(holders, key=len)
    # a file lying directly in a molecule belongs to that molecule's '.' atom
    loose = path.rpartition("/")[0] + "/."
    return loose if loose in inventory.atoms else None


def write_inventory(path: Path, inventory: Inventory) -> bool:
    """Write if the content changed, keeping the previous file as inventory.json.bak.
    `written_at` is the real clock's time of that write (never GLACIER_TODAY's): it
    orders the runs for bootstrap even when a machine's date was wrong."""
    dangling = dangling_atom(inventory)
    if dangling:  # a bug, never written: readers would find the atom in no bag
        raise StateError(f"{path} not written: {dangling}")
    old = statefile.read_json(path, default=None, what="inventory",
                              advice=BOOTSTRAP_ADVICE)
    new = inventory.to_json()
    if old is not None and _content(old) == _content(new):
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    inventory.written_at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    statefile.write_json(path, inventory.to_json(), backup=True)
    return True


def _content(inventory: dict) -> dict:
    return {k: v for k, v in inventory.items() if k != "written_at"}


def dead_bytes(inventory: Inventory) -> dict:
    """archive_key -> bytes of atoms its tar holds that no current atom points at (old
    versions of atoms that moved to a newer bag, issue 23), for bags that have some."""
    return {key: bag.dead_bytes for key, bag in inventory.bags.items()
            if bag.packed_atoms and bag.dead_bytes > 0}


def chain(entry: AtomEntry) -> list:
    """An atom's bags in the order they are extracted: its base, then its increments
    (issue 27)."""
    return entry.chain
