"""inventory.json: built from the plan and the bags' markers, written atomically.

An atom whose new bag did not finish keeps its previous entry (and that bag's record),
so a failed or interrupted run never loses track of data that is safely in S3.
"""

import datetime
import json
import os
from pathlib import Path

from .. import statefile
from . import layout
from ..errors import StateError, command

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
                         f"'{command('backup')}' or '{command('bootstrap')}' first")
    if data is None:
        return {"version": 1, "atoms": {}, "bags": {}}
    if not (isinstance(data, dict) and all(isinstance(data.get(part), dict)
                                           for part in ("atoms", "bags"))):
        raise StateError(f"{path}: not an inventory (needs 'atoms' and 'bags' objects); "
                         + BOOTSTRAP_ADVICE)
    wrong = wrong_field(data)  # and each entry an object
    if wrong:
        raise StateError(f"{path}: {wrong}; fix it by hand, or {BOOTSTRAP_ADVICE}")
    return data


TEXT, NUMBER, FLAG = (str,), (int,), (bool,)
MAYBE_TEXT = (str, type(None))
# field -> the types a reader relies on; a field that is absent is not checked here
ATOM_FIELDS = {"molecule": TEXT, "archive_key": TEXT, "tar_id": TEXT,
               "last_metadata_hash": TEXT, "pinned": FLAG, "size": NUMBER,
               "files": NUMBER, "apparent_size": NUMBER, "increments": (list,)}
BAG_FIELDS = {"tar_id": TEXT, "molecule": TEXT, "size": NUMBER, "atoms": (list,),
              "manifest_key": TEXT, "sha256": MAYBE_TEXT, "storage_class": MAYBE_TEXT,
              "uploaded_at": MAYBE_TEXT, "crc64nvme": MAYBE_TEXT, "etag": MAYBE_TEXT,
              "content_key": MAYBE_TEXT, "manifest_sha256": MAYBE_TEXT,
              "index_sha256": MAYBE_TEXT, "files": NUMBER, "pending": FLAG,
              "packed_atoms": (list,), "packed_bytes": NUMBER,
              "referenced_bytes": NUMBER, "increment_of": TEXT,
              "deletions_sha256": MAYBE_TEXT}
HISTORY_FIELDS = {"superseded_on": TEXT, "molecule": MAYBE_TEXT, "tar_id": MAYBE_TEXT,
                  "manifest_key": MAYBE_TEXT, "uploaded_at": MAYBE_TEXT,
                  "size": (int, type(None))}
TOP_FIELDS = {"version": NUMBER, "year": NUMBER, "run_date": TEXT, "key_salt": TEXT,
              "written_at": TEXT, "history": (dict,)}
REQUIRED = {"atoms": ("molecule", "archive_key"), "bags": ("size",),
            "history": ("superseded_on",)}
KINDS = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
         dict: "an object", type(None): "null"}


def wrong_field(data: dict) -> str | None:
    """The first field of a well-formed inventory whose type no reader expects (a hand
    edit: `"molecule": 5`, `"history": []`), in words naming it; or an atom naming a
    bag that `bags` lacks. None when every field is as readers rely on."""
    wrong = _wrong_type(data, TOP_FIELDS, "")
    parts = (("atoms", ATOM_FIELDS), ("bags", BAG_FIELDS), ("history", HISTORY_FIELDS))
    for part, fields in parts if not wrong else ():
        for key, entry in data.get(part, {}).items():
            wrong = (f"{part}[{json.dumps(key)}] is {_kind(entry)}, not an object"
                     if not isinstance(entry, dict) else
                     _missing(entry, REQUIRED[part], f"{part}[{json.dumps(key)}]") or
                     _wrong_type(entry, fields, f"{part}[{json.dumps(key)}]."))
            if wrong:
                return wrong
    for key, entry in data.get("history", {}).items() if not wrong else ():
        if not _is_date(entry["superseded_on"]):
            return (f"history[{json.dumps(key)}].superseded_on is "
                    f"{json.dumps(entry['superseded_on'])}, not a date (YYYY-MM-DD)")
    return wrong or dangling_atom(data)


def dangling_atom(inventory: dict) -> str | None:
    """An atom whose archive_key names no bag of `bags`, in words; None if none."""
    for atom, entry in inventory["atoms"].items():
        if entry.get("archive_key") not in inventory["bags"]:
            return (f"atoms[{json.dumps(atom)}].archive_key names "
                    f"{json.dumps(entry.get('archive_key'))}, which is not in bags")
        for key in entry.get("increments", []):
            if key not in inventory["bags"]:
                return (f"atoms[{json.dumps(atom)}].increments names {json.dumps(key)}, "
                        "which is not in bags")
    return None


def chain(entry: dict) -> list:
    """An atom's bags in the order they are extracted: its base, then its increments
    (issue 27); one bag for an atom packed whole."""
    return [entry["archive_key"], *entry.get("increments", [])]


def _wrong_type(entry: dict, fields: dict, where: str) -> str | None:
    for field, kinds in fields.items():
        value = entry.get(field)
        if field in entry and not (isinstance(value, kinds) and not (
                isinstance(value, bool) and bool not in kinds)):
            return (f"{where}{field} is {json.dumps(value)}, not "
                    f"{' or '.join(KINDS[k] for k in kinds)}")
    return None


def _missing(entry: dict, required, where: str) -> str | None:
    absent = [field for field in required if field not in entry]
    return f"{where} has no {absent[0]}" if absent else None


def _kind(value) -> str:
    return next((KINDS[k] for k in (bool, int, str, list, dict, type(None))
                 if isinstance(value, k)), type(value).__name__)


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
        return True
    except ValueError:
        return False


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


def other_hosts(inventory: dict, host: str) -> list[str]:
    """The hosts other than `host` whose bags the inventory names (a `bootstrap --host
    OTHER` to restore that host's files): a backup of `host` must not count them as its
    own, since only their host's prune decides when they go."""
    return sorted({layout.owner(k) or "?" for k in inventory.get("bags", {})} - {host})


def build_inventory(plan, markers: dict, previous: dict, pending_ok=False) -> dict:
    """markers: bag name -> BagMarker. With pending_ok (the dry run), bags still to
    upload are entered as if done, with `"pending": true` and no checksum yet."""
    atoms, bags, packed_here = {}, {}, set()
    prev_atoms, prev_bags = previous.get("atoms", {}), previous.get("bags", {})
    # an atom sent as an increment is entered by its increment bag (as sent, or as it
    # was if that failed), never by its base bag, which it stays on either way
    by_increment = {b.atoms[0] for b in plan.bags if getattr(b, "increment_of", "")}
    for bag in plan.bags:
        key = bag.archive_key
        marker, left_out = markers.get(bag.name), {}
        if bag.action == "keep":  # as it was, or as a repair re-uploaded it
            record = _uploaded_record(bag, marker) if marker is not None and marker.done \
                and marker.uploaded.key == key else dict(prev_bags.get(key, {}))
            if marker is not None and marker.manifest is not None and \
                    marker.manifest.key == record.get("manifest_key"):
                record["manifest_sha256"] = marker.manifest.sha256  # a lost one, sent
            hashes, files = {}, {}
            prev = prev_bags.get(key, {})
            for field in ("increment_of", "deletions_sha256"):
                if prev.get(field) and not record.get(field):
                    record[field] = prev[field]
            if prev.get("packed_atoms") is not None:  # what its tar holds stays so
                record["packed_atoms"] = prev["packed_atoms"]
                record["packed_bytes"] = prev.get("packed_bytes", 0)
            elif prev:  # recorded before issue 23: every atom its tar holds was
                # referenced, and its tar's size is what they took (atom sizes of then
                # counted content only, before tar's headers)
                record["packed_atoms"] = sorted(prev.get("atoms", []))
                record["packed_bytes"] = prev.get("size") or 0
        elif marker is not None and marker.done:
            record = _uploaded_record(bag, marker)
            hashes, files = marker.packed.atom_hashes, marker.packed.atom_files or {}
            if files:
                packed_here.add(key)
            left_out = marker.packed.left_out or {}
            record["packed_atoms"] = sorted(a for a in bag.atoms if a not in left_out)
            record["packed_bytes"] = sum(plan.atoms[a].get("size", 0)
                                         for a in record["packed_atoms"])
            if record.get("increment_of"):
                record["packed_bytes"] = record["size"]
        elif pending_ok:
            record = _pending_record(bag)
            hashes, files = {}, {}
        else:
            for atom in bag.atoms:
                _keep_previous(atom, atoms, bags, prev_atoms, prev_bags)
            continue
        for atom in bag.atoms:
            if atom in by_increment and not getattr(bag, "increment_of", ""):
                continue
            if atom in left_out:  # a file in it kept moving: it keeps its previous bag
                _keep_previous(atom, atoms, bags, prev_atoms, prev_bags)
                continue
            entry = dict(plan.atoms[atom])
            # as packed: a file may have come or gone since the scan
            entry["last_metadata_hash"] = hashes.get(atom, entry["last_metadata_hash"])
            entry["files"] = files.get(atom, entry.get("files", 0))
            atoms[atom] = entry
        bags[key] = record
    _keep_other_atoms(plan, atoms, bags, prev_bags)
    holding = {}  # a bag's atoms are those that point at it, whatever it listed
    for atom, entry in atoms.items():
        for key in chain(entry):  # an increment is referenced while a chain holds it
            holding.setdefault(key, []).append(atom)
    for key, record in bags.items():
        record["atoms"] = sorted(holding.get(key, []))
        if record.get("increment_of"):  # its own bytes, all of them live
            record["referenced_bytes"] = record.get("packed_bytes") or record["size"]
            continue
        if key in packed_here:
            record["files"] = sum(atoms[a].get("files", 0) for a in record["atoms"])
        # what prune and cost call dead: packed_bytes less this
        record["referenced_bytes"] = sum(atoms[a].get("size", 0) for a in record["atoms"])
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


def _keep_previous(atom, atoms, bags, prev_atoms, prev_bags) -> None:
    """An atom not packed this run keeps its previous entry and bag, if it had one."""
    old = prev_atoms.get(atom)
    if old and all(k in prev_bags for k in chain(old)):
        atoms[atom] = dict(old)
        for key in chain(old):
            bags.setdefault(key, dict(prev_bags[key]))


def _keep_other_atoms(plan, atoms, bags, prev_bags):
    """Atoms of missing molecules are in the plan but in no planned bag of theirs."""
    for atom, entry in plan.atoms.items():
        if atom not in atoms and entry.get("archive_key") in prev_bags and \
                all(k in prev_bags for k in chain(entry)):
            atoms[atom] = dict(entry)
            for key in chain(entry):
                bags.setdefault(key, dict(prev_bags[key]))


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
            "encryption": packed.encryption,
            **({"increment_of": bag.increment_of, "deletions_sha256":
                marker.manifest.deletions_sha256 if marker.manifest else None}
               if getattr(bag, "increment_of", "") else {})}


def _pending_record(bag) -> dict:
    return {"tar_id": bag.tar_id, "molecule": bag.molecule, "size": bag.size,
            "sha256": None, "storage_class": None, "uploaded_at": None,
            "atoms": list(bag.atoms), "manifest_key": bag.manifest_key,
            "content_key": bag.content_key, "files": bag.files, "pending": True,
            "reasons": bag.reasons,
            **({"increment_of": bag.increment_of} if getattr(bag, "increment_of", "")
               else {})}


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
    dangling = dangling_atom(inventory)
    if dangling:  # a bug, never written: readers would find the atom in no bag
        raise StateError(f"{path} not written: {dangling}")
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


def dead_bytes(inventory: dict) -> dict:
    """archive_key -> bytes of atoms its tar holds that no current atom points at (old
    versions of atoms that moved to a newer bag, issue 23), for bags that have some."""
    dead = {}
    for key, bag in inventory.get("bags", {}).items():
        lost = (bag.get("packed_bytes") or 0) - (bag.get("referenced_bytes") or 0)
        if bag.get("packed_atoms") and set(bag["packed_atoms"]) - set(bag["atoms"]) \
                and lost > 0:
            dead[key] = lost
    return dead
