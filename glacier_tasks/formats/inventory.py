"""inventory.json: built from the plan and the bags' markers, written atomically.

An atom whose new bag did not finish keeps its previous entry (and that bag's record),
so a failed or interrupted run never loses track of data that is safely in S3.
"""

import datetime
import os
from pathlib import Path

from .. import statefile
from ..errors import StateError

LOOSE_ATOM = "."
# never its .bak: an older inventory does not know the newest run's bags (prune would
# take them for unreferenced); the bucket holds the newest one
BOOTSTRAP_ADVICE = "move it away and run 'glacier bootstrap' (the bucket's newest copy)"  # the atom made of the files lying directly in the molecule's folder


def atom_name(molecule: str, key: str) -> str:
    """An atom's folder name inside its molecule, from its key (`MOLECULE/NAME`)."""
    return key[len(molecule.rstrip("/")) + 1:]


def load_inventory(path: Path, required_by: str | None = None) -> dict:
    """The inventory, or an empty one; with required_by, a missing file is an error."""
    data = statefile.read_json(path, default=None, what="inventory",
                               advice=BOOTSTRAP_ADVICE)
    if data is None and required_by:
        raise StateError(f"{path}: no inventory, and {required_by} needs one; run "
                         "'doit backup' or 'doit bootstrap' first")
    if data is None:
        return {"version": 1, "atoms": {}, "bags": {}}
    if not well_formed(data):
        raise StateError(f"{path}: not an inventory (needs 'atoms' and 'bags' objects); "
                         + BOOTSTRAP_ADVICE)
    return data


def well_formed(data) -> bool:
    """Has it the shape every reader relies on: atoms and bags, each an object of
    objects? (bootstrap skips a copy in the bucket that has not)"""
    return isinstance(data, dict) and all(
        isinstance(data.get(part), dict) and
        all(isinstance(k, str) and isinstance(v, dict) for k, v in data[part].items())
        for part in ("atoms", "bags"))


def stale_against(local: dict, newest: dict, present) -> str | None:
    """Why `local` is older than `newest` (the bucket's), or None: it knows neither as
    a bag nor as history some bag `newest` names that is still in the bucket (`present`:
    its keys). Those are exactly the bags a plan or prune from `local` would drop."""
    known = set(local.get("bags", {})) | set(local.get("history", {}))
    unknown = sorted(k for k in newest.get("bags", {}) if k in present and k not in known)
    if not unknown:
        return None
    return f"it does not know {len(unknown)} of its bags (e.g. {unknown[0]})"


def build_inventory(plan, markers: dict, previous: dict, pending_ok=False) -> dict:
    """markers: bag name -> BagMarker. With pending_ok (the dry run), bags still to
    upload are entered as if done, with `"pending": true` and no checksum yet."""
    atoms, bags = {}, {}
    prev_atoms, prev_bags = previous.get("atoms", {}), previous.get("bags", {})
    for bag in plan.bags:
        key = bag.archive_key
        marker = markers.get(bag.name)
        if bag.action == "keep":  # as it was, or as a repair re-uploaded it
            record = _uploaded_record(bag, marker) if marker is not None and marker.done \
                and marker.uploaded.key == key else dict(prev_bags.get(key, {}))
            if marker is not None and marker.manifest is not None and \
                    marker.manifest.key == record.get("manifest_key"):
                record["manifest_sha256"] = marker.manifest.sha256  # a lost one, sent
            hashes = {}
        elif marker is not None and marker.done:
            record = _uploaded_record(bag, marker)
            hashes = marker.packed.atom_hashes
        elif pending_ok:
            record = _pending_record(bag)
            hashes = {}
        else:
            for atom in bag.atoms:
                old = prev_atoms.get(atom)
                if old and old.get("archive_key") in prev_bags:
                    atoms[atom] = dict(old)
                    bags[old["archive_key"]] = dict(prev_bags[old["archive_key"]])
            continue
        for atom in bag.atoms:
            entry = dict(plan.atoms[atom])
            entry["last_metadata_hash"] = hashes.get(atom, entry["last_metadata_hash"])
            atoms[atom] = entry
        bags[key] = record
    _keep_other_atoms(plan, atoms, bags, prev_bags)
    for key, record in bags.items():
        record["atoms"] = sorted(a for a in record.get("atoms", [])
                                 if atoms.get(a, {}).get("archive_key") == key)
    built = {"version": 1, "year": plan.year, "atoms": dict(sorted(atoms.items())),
             "bags": {k: r for k, r in sorted(bags.items()) if r["atoms"]}}
    history = _history(previous, built["bags"], plan.date)
    if history:
        built["history"] = history
    if plan.date:  # which run wrote it: bootstrap picks the newest, a backup dated
        built["run_date"] = plan.date  # before it is refused
    if plan.key_salt:
        built["key_salt"] = plan.key_salt
    return built


def _history(previous: dict, bags: dict, date: str) -> dict:
    """Bags no atom points at any more, with the day they were superseded: `prune`
    keeps them keep_years after it. Those back in use leave the history."""
    history = {k: v for k, v in previous.get("history", {}).items() if k not in bags}
    for key, record in previous.get("bags", {}).items():
        if key not in bags and key not in history and date:
            history[key] = history_entry(record, date)
    return dict(sorted(history.items()))


def history_entry(record: dict, date: str) -> dict:
    """A bag leaving the inventory on `date` (superseded, or its molecule dropped), as
    history remembers it until keep_years after that day."""
    return {"superseded_on": date, "molecule": record.get("molecule"),
            "size": record.get("size"), "tar_id": record.get("tar_id"),
            "manifest_key": record.get("manifest_key"),
            "uploaded_at": record.get("uploaded_at")}


def _keep_other_atoms(plan, atoms, bags, prev_bags):
    """Atoms of missing molecules are in the plan but in no planned bag of theirs."""
    for atom, entry in plan.atoms.items():
        if atom not in atoms and entry.get("archive_key") in prev_bags:
            atoms[atom] = dict(entry)
            bags.setdefault(entry["archive_key"], dict(prev_bags[entry["archive_key"]]))


def _uploaded_record(bag, marker) -> dict:
    receipt, packed = marker.uploaded, marker.packed
    return {"tar_id": bag.tar_id, "molecule": bag.molecule,
            "size": receipt.size, "sha256": receipt.sha256,
            "storage_class": receipt.storage_class,
            "uploaded_at": receipt.uploaded_at, "atoms": list(bag.atoms),
            "manifest_key": bag.manifest_key, "etag": receipt.etag,
            "crc64nvme": receipt.crc64nvme, "content_key": packed.content_key,
            "files": bag.files,
            "manifest_sha256": marker.manifest.sha256 if marker.manifest else None,
            "index_sha256": marker.manifest.index_sha256 if marker.manifest else None,
            "encryption": packed.encryption}


def _pending_record(bag) -> dict:
    return {"tar_id": bag.tar_id, "molecule": bag.molecule, "size": bag.size,
            "sha256": None, "storage_class": None, "uploaded_at": None,
            "atoms": list(bag.atoms), "manifest_key": bag.manifest_key,
            "content_key": bag.content_key, "files": bag.files, "pending": True,
            "reasons": bag.reasons}


ALLOW_EARLIER = "GLACIER_ALLOW_EARLIER_DATE"


def check_date(inventory: dict, today) -> None:
    """A run dated before the one that wrote the inventory would file this year's bags
    under an older year and make newer ones look prunable: refused unless forced."""
    last = inventory.get("run_date", "")
    if last and today.isoformat() < last and os.environ.get(ALLOW_EARLIER) != "1":
        raise StateError(f"today is {today.isoformat()}, before the last backup "
                         f"({last}) that wrote {inventory.get('year')}'s inventory: is the "
                         f"clock (or GLACIER_TODAY) wrong? {ALLOW_EARLIER}=1 runs anyway")


def find_atom(inventory: dict, path: str) -> str | None:
    """The atom a path names: the atom itself, or the atom holding that path."""
    path = path.rstrip("/")
    if path in inventory["atoms"]:
        return path
    holders = [k for k in inventory["atoms"] if path.startswith(k.rstrip("/") + "/")]
    if holders:
        return max(holders, key=len)
    # a file lying directly in a molecule belongs to that molecule's '.' atom
    loose = path.rpartition("/")[0] + "/."
    return loose if loose in inventory["atoms"] else None


def write_inventory(path: Path, inventory: dict) -> bool:
    """Write if the content changed, keeping the previous file as inventory.json.bak.
    `written_at` is the real clock's time of that write (never GLACIER_TODAY's): it
    orders the runs for bootstrap even when a machine's date was wrong."""
    old = statefile.read_json(path, default=None, what="inventory",
                              advice=BOOTSTRAP_ADVICE)
    if old is not None and _content(old) == _content(inventory):
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    statefile.write_json(path, {**inventory, "written_at": now.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")}, backup=True)
    return True


def _content(inventory: dict) -> dict:
    return {k: v for k, v in inventory.items() if k != "written_at"}
