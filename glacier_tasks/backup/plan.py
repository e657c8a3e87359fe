"""Pure planning: current atoms + previous inventory -> the bags of this year's run.

Rules (the spec's sections 5 and 9):
- a previous bag whose atoms are all present and unchanged is kept as it is: same
  tar_id, same archive_key, nothing uploaded;
- a changed atom moves alone (Scenario B, issue 23): a bag some of whose atoms changed
  or left is kept with the others, which still point at it; the changed and the new
  atoms are packed first-fit-decreasing into bags of at most the target size (an atom
  larger than the target gets a bag of its own), uploaded under this year's prefix; a
  bag's size is GNU tar's: its atoms' (headers included) plus the end blocks and
  padding;
- a bag is dissolved (all its present atoms packed again) when the atom bytes still
  referenced fall below compact_below of what it was packed with, when it holds a
  pinned atom that changed, when the bucket broke it, or when another kept bag has
  its name;
- a pinned atom whose bag is dissolved keeps its tar_id: its bag is rebuilt around it
  under the new year's prefix (within the same year its old key is never overwritten);
- new bags reuse the tar_ids of dissolved bags where the key is free, then take fresh
  numbers, so adding or removing an atom never renumbers an unchanged bag;
- keys are written once: a key is free only if the bucket has nothing under it (nor
  under its manifest's key), or holds exactly these contents (a stopped run's upload,
  adopted); a previous bag whose key was found holding something else (`broken`) is
  dissolved, its atoms packed into a bag of a new name;
- a molecule whose folder is missing or empty (an unmounted drive, even on a first run),
  keeps everything it had: an unmounted drive never looks like deleted data; so does
  one that left list.txt, until it is dropped on purpose.
"""

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace

from .. import statefile
from ..errors import StateError, command
from ..formats import layout, tarsize
from ..formats.layout import archive_key, bag_name, manifest_key
from . import increment
from .increment import bag_hashes
from ..formats.records import AtomEntry, BagRecord

ARCHIVE_FORMAT = "gnu-tar-1"  # part of every content key: a new format rebuilds bags
TAR_ID_RE = re.compile(r"^bag_(\d+)$")


@dataclass(frozen=True)
class AtomState:
    key: str
    molecule: str
    hash: str
    size: int  # what tar writes for its members: headers, long names, data in blocks
    files: int
    apparent_size: int = 0  # what `ls -l` adds up to, for information


@dataclass
class PlannedBag:
    name: str
    tar_id: str
    molecule: str
    archive_key: str
    manifest_key: str
    atoms: list
    size: int
    files: int
    action: str  # "keep" or "upload"
    reasons: list = field(default_factory=list)
    content_key: str = ""
    repairs: list = field(default_factory=list)  # broken bags whose atoms it takes in
    dead: list = field(default_factory=list)  # a kept bag's atoms that moved out of it
    # a kept bag as the inventory records it, so the steps check the bucket against it
    # without opening the inventory (an uploaded bag's are in its marker)
    sha256: str | None = None
    crc64nvme: str | None = None
    storage_class: str | None = None
    manifest_sha256: str | None = None
    # an increment bag (issue 27): the hash of its atom's chain state it is packed
    # against, and the chain's bags before it (base first)
    increment_of: str = ""
    chain: list = field(default_factory=list)
    deletions_sha256: str | None = None  # a kept increment's, as the inventory has it

    @classmethod
    def from_json(cls, data: dict) -> "PlannedBag":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class MoleculeState:
    spelling: str
    slug: str
    present: bool  # False: folder missing or unmounted; its atoms are kept untouched
    path: str = ""  # where its atoms are read (a mount point for a remote molecule)
    missing_reason: str = ""  # why it is not present, in words


@dataclass
class Plan:
    """This year's run, decided: every bag to keep or upload, and what each atom becomes.

    `atoms` maps an atom key to the inventory entry the plan gives it; the lists say
    what left the inventory and why. Stored as STATE/plan.json between tasks."""
    year: int
    bags: list
    atoms: dict
    removed_atoms: list
    missing_molecules: list
    dropped_molecules: list
    superseded_bags: list
    superseded_molecules: dict
    molecule_paths: dict = field(default_factory=dict)
    missing_reasons: dict = field(default_factory=dict)
    date: str = ""  # the day of the run (YYYY-MM-DD); the inventory records it
    key_salt: str = ""  # with obscure_keys: the salt of the bags' names (inventory keeps it)
    bucket_checked: bool = False  # were the names checked against the bucket's keys?
    before: dict = field(default_factory=dict)  # a packed atom's previous entry: what changed
    version: int = 1

    @property
    def uploads(self) -> list:
        return [b for b in self.bags if b.action == "upload"]

    def bag(self, name: str):
        """The planned bag of that name, or None."""
        return next((b for b in self.bags if b.name == name), None)

    def to_json(self) -> dict:
        return {**asdict(replace(self, atoms={})),
                "atoms": {k: e.to_json() for k, e in self.atoms.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["bags"] = [PlannedBag.from_json(b) for b in data["bags"]]
        values["atoms"] = {k: AtomEntry.from_json(e) for k, e in data["atoms"].items()}
        return cls(**values)


def content_key(archive: str, atom_hashes: dict) -> str:
    """Identity of a bag's contents: a marker or object holding another key is stale."""
    payload = json.dumps([ARCHIVE_FORMAT, archive, sorted(atom_hashes.items())])
    return hashlib.sha256(payload.encode("utf-8", "surrogateescape")).hexdigest()


def plan_bags(atoms: list[AtomState], molecules: list[MoleculeState], previous: dict,
              target_bytes: int, year: int, host: str, date: str = "",
              key_salt: str = "", occupied: dict | None = None,
              broken: dict | None = None, compact_below: float = 0.5,
              bag_bytes=tarsize.archive, increment_below: float = 0.0,
              increments: dict | None = None) -> Plan:
    """Decide the bags of this run, and what happens to each molecule.

    `occupied`: this year's keys of this host in the bucket that no previous bag has,
    each with the content key its object holds (None: unknown, or not a bag); `broken`:
    previous bags' keys found holding something else -> what, in words; `bag_bytes`: a
    bag's size from its atoms' sizes summed (GNU tar's end blocks and record padding;
    the hand-worked tests use plain sums); `increments`: changed atoms whose chain
    state is at hand -> the bytes of their increment (increment.py), of which those
    under increment_below of the atom become increment bags."""
    prev_atoms, prev_bags = previous.atoms, previous.bags
    bags, plan_atoms, removed, missing = [], {}, [], []
    listed = {m.spelling for m in molecules}
    for mol in molecules:
        mine = {k: b for k, b in prev_bags.items() if b.molecule == mol.spelling}
        known = {k: a for k, a in prev_atoms.items() if a.molecule == mol.spelling}
        current = {a.key: a for a in atoms if a.molecule == mol.spelling}
        # an empty molecule is an unmounted drive, even on the first run (nothing known)
        if not mol.present or not current:
            missing.append(mol.spelling)
            bags += [_kept_bag(k, b) for k, b in sorted(mine.items())]
            plan_atoms.update(known)
            continue
        taken = _Taken(set(prev_bags), occupied or {}, year, host, mol.slug,
                       {k: a.hash for k, a in current.items()})
        going = increment.planned(current, known, mine, broken or {},
                                  increment_below, increments or {})
        known = increment.as_planned(current, known, going, broken or {})
        mol_bags = _plan_molecule(mol, current, known, mine, taken, target_bytes,
                                  broken or {}, compact_below, bag_bytes, going)
        bags += mol_bags
        removed += sorted(set(known) - set(current))
        for bag in mol_bags:
            if bag.increment_of:
                continue  # its atom's entry is its base bag's, with the chain added
            for key in bag.atoms:
                a = current[key]
                plan_atoms[key] = AtomEntry(
                    molecule=mol.spelling, last_metadata_hash=a.hash, size=a.size,
                    apparent_size=a.apparent_size, files=a.files, tar_id=bag.tar_id,
                    archive_key=bag.archive_key, pinned=_pinned(known, key))
                if bag.action == "keep" and key in known:  # on its base: the chain too
                    plan_atoms[key].increments = list(known[key].increments)
        for bag in mol_bags:
            if bag.increment_of:
                plan_atoms[bag.atoms[0]].increments = bag.chain[1:] + [bag.archive_key]
        held = {k for a in current if a in plan_atoms for k in plan_atoms[a].increments}
        bags += [_kept_bag(k, b) for k, b in sorted(mine.items())
                 if b.increment_of and k in held]
    # a molecule that left list.txt keeps everything, like a missing one, until the
    # user says to drop it (`glacier drop`): an edited list never deletes a backup
    for spelling in sorted({a.molecule for a in prev_atoms.values()} - listed):
        missing.append(spelling)
        bags += [_kept_bag(k, b) for k, b in sorted(prev_bags.items())
                 if b.molecule == spelling]
        plan_atoms.update({k: a for k, a in prev_atoms.items()
                           if a.molecule == spelling})
    dropped = []
    superseded = sorted(set(prev_bags) - {b.archive_key for b in bags})
    before = {a: {"files": prev_atoms[a].files, "size": prev_atoms[a].size,
                  "last_metadata_hash": prev_atoms[a].last_metadata_hash}
              for b in bags if b.action == "upload" for a in b.atoms if a in prev_atoms}
    return Plan(year=year, bags=bags, atoms=plan_atoms, removed_atoms=removed,
                missing_molecules=missing, dropped_molecules=dropped,
                superseded_bags=superseded,
                superseded_molecules={k: prev_bags[k].molecule for k in superseded},
                molecule_paths={m.spelling: m.path for m in molecules if m.path},
                missing_reasons={m: _missing_reason(molecules, m) for m in missing},
                date=date, key_salt=key_salt, bucket_checked=occupied is not None,
                before=before)


def _missing_reason(molecules, spelling: str) -> str:
    mol = next((m for m in molecules if m.spelling == spelling), None)
    if mol is None:
        return (f"no longer in list.txt; its atoms stay in the inventory until "
                f"'{command('drop ' + spelling)}' drops them")
    return mol.missing_reason or "folder is empty (drive not mounted?)"


def _pinned(known: dict, atom: str) -> bool:
    return atom in known and known[atom].pinned


def _kept_bag(key: str, bag: BagRecord) -> PlannedBag:
    return PlannedBag(name=bag_name(key), tar_id=bag.tar_id, molecule=bag.molecule,
                      archive_key=key, manifest_key=bag.manifest_key or manifest_key(key),
                      atoms=sorted(bag.atoms), size=bag.size, files=bag.files,
                      action="keep", content_key=bag.content_key or "",
                      dead=sorted(_dead_atoms(bag)), sha256=bag.sha256,
                      crc64nvme=bag.crc64nvme, storage_class=bag.storage_class,
                      manifest_sha256=bag.manifest_sha256,
                      increment_of=bag.increment_of or "",
                      deletions_sha256=bag.deletions_sha256)


@dataclass
class _Taken:
    """Which of a molecule's bag keys this run may write: none a previous bag has, and
    none the bucket holds, unless it holds exactly the contents planned for it."""
    previous: set
    occupied: dict
    year: int
    host: str
    slug: str
    hashes: dict

    def key(self, tar_id: str) -> str:
        return archive_key(self.year, self.host, self.slug, tar_id)

    def free(self, tar_id: str, atoms=None) -> bool:
        key = self.key(tar_id)
        if key in self.previous:
            return False
        if key not in self.occupied:
            return True
        held = self.occupied[key]
        return atoms is not None and held is not None and held == content_key(
            key, {a: self.hashes[a] for a in atoms})

    def holding(self, atoms) -> str | None:
        """The tar_id of a key the bucket holds with exactly these atoms (a stopped
        run's upload, whatever number it had): adopted rather than sent again."""
        for key in sorted(self.occupied):
            parsed = layout.parse(key)
            if parsed and parsed.kind == "bag" and \
                    (parsed.year, parsed.host, parsed.slug) == (self.year, self.host, self.slug) \
                    and TAR_ID_RE.match(parsed.tar_id) and self.free(parsed.tar_id, atoms):
                return parsed.tar_id
        return None


def _plan_molecule(mol, current, known, mine, taken, target, broken,
                   compact_below=0.5, bag_bytes=tarsize.archive, going=None):
    kept, dissolved, why, repairs = [], [], {}, increment.repairs(known, broken)
    year, host = taken.year, taken.host
    for key, bag in sorted(mine.items()):
        if bag.increment_of:
            continue  # kept while a chain holds it (plan_bags), else history
        reasons = _bag_changes(key, bag, current, known)
        if key in broken:
            reasons.add("changed in the bucket")
        staying = _staying(key, bag, current, known)
        compacted = _compacted(bag, staying, current, known, compact_below) \
            if reasons or _dead_atoms(bag) else ""
        if not reasons and not compacted:
            kept.append((key, bag))
        elif staying and key not in broken and not compacted and \
                not any(_pinned(known, a) for a in bag.atoms):
            # Scenario B: only the changed atoms move; the others stay in this bag,
            # which stays referenced (and never prunable) while one atom points at it
            kept.append((key, replace(bag, atoms=staying,
                                      packed_atoms=bag.packed_atoms or bag.atoms)))
            for atom in set(bag.atoms) - set(staying):
                why[atom] = _atom_change(atom, key, current, known)
            continue
        else:
            dissolved.append((key, bag))
        for atom in bag.atoms:
            why[atom] = reasons | ({compacted} if compacted else set()) or {"repacked"}
            if key in broken:
                repairs[atom] = broken[key]
    # two kept bags of one tar_id (a pinned atom's bag rebuilt under this year while
    # an atom whose new bag failed stays in the old one) would share a name, and bag
    # tasks, markers and failures go by name: the older one's atoms are packed anew
    newest = {}
    for key, bag in sorted(kept):
        newest[bag.tar_id] = key
    for key, bag in [(k, b) for k, b in kept if newest.get(b.tar_id) != k]:
        kept.remove((key, bag))
        dissolved.append((key, bag))
        for atom in bag.atoms:
            why[atom] = {"another kept bag has its name"}
    in_kept = {a for _, b in kept for a in b.atoms}
    # an increment's tar_id is never given again, whether it stays or goes
    used_ids = {b.tar_id for _, b in kept} | \
        {b.tar_id for b in mine.values() if b.increment_of}
    pinned = {}
    for key in sorted(set(current) - in_kept):
        info = known.get(key)
        # a second run in the same year would overwrite the pinned bag's own key, which
        # other atoms may still point at if their new bag fails: it takes a new tar_id
        if info and info.pinned and info.tar_id and info.tar_id not in used_ids \
                and taken.free(info.tar_id):
            pinned.setdefault(info.tar_id, []).append(key)
    loose = sorted((k for k in current if k not in in_kept and
                    not any(k in v for v in pinned.values())),
                   key=lambda k: (-current[k].size, k))
    bins = [[tar_id, keys, sum(current[k].size for k in keys)]
            for tar_id, keys in sorted(pinned.items())]
    for key in loose:
        size = current[key].size
        home = next((b for b in bins if bag_bytes(b[2] + size) <= target and
                     bag_bytes(b[2]) < target), None)
        if home is None or bag_bytes(size) >= target:
            bins.append([None, [key], size])
        else:
            home[1].append(key)
            home[2] += size
    _assign_tar_ids(bins, dissolved, used_ids, known, mine, taken)
    result = [_kept_bag(k, b) for k, b in kept]
    for tar_id, keys, size in bins:
        key = archive_key(year, host, mol.slug, tar_id)
        reasons = set()
        for atom in keys:
            reasons |= why.get(atom, {"new atom"})
            if _pinned(known, atom):
                reasons.add("pinned")
        hashes = {a: current[a].hash for a in keys}
        result.append(PlannedBag(
            name=bag_name(key), tar_id=tar_id, molecule=mol.spelling, archive_key=key,
            manifest_key=manifest_key(key), atoms=sorted(keys), size=bag_bytes(size),
            files=sum(current[a].files for a in keys), action="upload",
            reasons=sorted(reasons), content_key=content_key(key, hashes),
            repairs=sorted({repairs[a] for a in keys if a in repairs})))
    # an atom whose base is packed again after all (compacted, renamed) goes whole
    going = {a: size for a, size in (going or {}).items() if a in in_kept}
    result += _increment_bags(mol, current, known, taken, going, used_ids, mine,
                              bag_bytes)
    return sorted(result, key=lambda b: _tar_number(b.tar_id))


def _increment_bags(mol, current, known, taken, going, used_ids, mine,
                    bag_bytes) -> list:
    """One increment bag per atom sent as one, under this year's prefix."""
    bins = [[None, [atom], size] for atom, size in sorted(going.items())]
    for atom in going:  # a stopped run's upload of this increment is adopted, not
        # one of a whole bag of the atom: its content key names what it applies to
        taken.hashes[atom] = f"{current[atom].hash}+{increment.previous_hash(known[atom])}"
    _assign_tar_ids(bins, [], used_ids, known, mine, taken)
    result = []
    for tar_id, (atom,), size in bins:
        key = archive_key(taken.year, taken.host, mol.slug, tar_id)
        info = known[atom]
        bag = PlannedBag(
            name=bag_name(key), tar_id=tar_id, molecule=mol.spelling, archive_key=key,
            manifest_key=manifest_key(key), atoms=[atom], size=bag_bytes(size),
            files=current[atom].files, action="upload", reasons=["increment"],
            increment_of=increment.previous_hash(info), chain=list(info.chain))
        bag.content_key = content_key(key, bag_hashes(bag, {atom: current[atom].hash}))
        result.append(bag)
    return result


def _staying(key, bag, current, known) -> list:
    """The bag's atoms still on disk as it holds them, its inventory entry pointing at it."""
    return sorted(a for a in bag.atoms if a in current and
                  not _atom_change(a, key, current, known))


def _atom_change(atom, key, current, known) -> set:
    info = known.get(atom)
    if atom not in current:
        return {"atom removed"}
    if info is None or info.archive_key != key:
        return {"inventory mismatch"}
    if info.last_metadata_hash != current[atom].hash:
        return {"changed atom"}
    return set()


def _dead_atoms(bag) -> set:
    """Atoms the bag's tar holds that no current atom entry points at any more."""
    return set(bag.packed_atoms or bag.atoms) - set(bag.atoms)


def packed_bytes(bag, known) -> int:
    """The atom bytes the bag was packed with (recorded since Scenario B; before, every
    atom of a bag was referenced, so its atoms' recorded sizes)."""
    if bag.packed_atoms is not None:
        return bag.packed_bytes
    return bag.size or sum(known[a].size for a in bag.atoms if a in known)


def _compacted(bag, staying, current, known, compact_below) -> str:
    """Why the bag's staying atoms are packed again, or "": the atom bytes still
    referenced fell below compact_below of what it was packed with (1: at any change,
    the whole bag is sent again; 0: never)."""
    if not staying or compact_below <= 0:
        return ""
    total = packed_bytes(bag, known)
    referenced = sum(current[a].size for a in staying)
    if compact_below < 1 and (not total or referenced >= compact_below * total):
        return ""
    share = f"{referenced * 100 // total}%" if total else "none"
    return f"compacted: {share} of its bytes still referenced, compact_below is " \
           f"{compact_below:g}"


def _bag_changes(key, bag, current, known) -> set:
    reasons = set()
    for atom in bag.atoms:
        reasons |= _atom_change(atom, key, current, known)
    if not bag.atoms:
        reasons.add("empty bag")
    return reasons


def _assign_tar_ids(bins, dissolved, used_ids, known, mine, taken):
    def free(tar_id, atoms=None):
        return tar_id not in used_ids and taken.free(tar_id, atoms)
    reusable = sorted({b.tar_id for _, b in dissolved}, key=_tar_number)
    seen = [b.tar_id or "" for b in mine.values()] + [a.tar_id or "" for a in known.values()]
    counter = max([_tar_number(t) for t in seen] + [0])
    used_ids |= {b[0] for b in bins if b[0]}
    for b in bins:
        if b[0]:
            continue
        # free: unused, or holding these very contents (then adopted, not sent again)
        reuse = taken.holding(b[1])
        if reuse is None or reuse in used_ids:
            reuse = next((t for t in reusable if free(t, b[1])), None)
        if reuse is not None:
            if reuse in reusable:
                reusable.remove(reuse)
            b[0] = reuse
        else:
            counter += 1
            while not free(f"bag_{counter:03d}", b[1]):
                counter += 1
            b[0] = f"bag_{counter:03d}"
        used_ids.add(b[0])


def _tar_number(tar_id: str) -> int:
    match = TAR_ID_RE.match(tar_id or "")
    return int(match.group(1)) if match else 0


# -- the plan on disk, as the actions read it --------------------------------------


_PLANS = {}  # plan.json's identity -> Plan: the many bag tasks read it once


def read_plan(run, required: bool = True) -> Plan | None:
    try:
        stat = os.stat(run.plan_file)
        ident = (str(run.plan_file), stat.st_mtime_ns, stat.st_size)
    except OSError:
        ident = None
    if ident in _PLANS:
        return _PLANS[ident]
    data = statefile.read_json(run.plan_file, what="plan")
    if data is None:
        if required:
            raise StateError(f"{run.plan_file}: no plan yet; run '{command('dryrun')}' or "
                             f"'{command('backup')}'")
        return None
    plan = Plan.from_json(data)
    _PLANS.clear()
    _PLANS[ident] = plan
    return plan
