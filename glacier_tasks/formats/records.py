"""The inventory's records, typed: what inventory.json holds, field by field.

    {"version": 1, "year": 2027, "run_date": "2027-03-01", "key_salt": "...",
     "written_at": "...", "atoms": {KEY: AtomEntry}, "bags": {ARCHIVE_KEY: BagRecord},
     "history": {ARCHIVE_KEY: HistoryEntry}}

Each record keeps the fields this version does not know (`unknown`) and writes them
back, so an older tool that rewrites a newer inventory loses nothing. `from_json`
takes data `check` found well formed; `check` names the first field whose type no
reader expects, in one line.
"""

import datetime
import json
from dataclasses import dataclass, field, fields

TEXT, NUMBER, FLAG = (str,), (int,), (bool,)
MAYBE_TEXT, MAYBE_NUMBER = (str, type(None)), (int, type(None))
KINDS = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
         dict: "an object", type(None): "null"}


def _known(cls) -> dict:
    return {f.name: f for f in fields(cls) if f.name != "unknown"}


class _Record:
    """from_json / to_json for a flat record: known fields by name, the rest kept."""
    TYPES: dict = {}
    REQUIRED: tuple = ()
    OPTIONAL: tuple = ()  # written only when set (not None, not False, not empty)

    @classmethod
    def from_json(cls, data: dict):
        known = _known(cls)
        record = cls(**{k: v for k, v in data.items() if k in known})
        record.unknown = {k: v for k, v in data.items() if k not in known}
        return record

    def to_json(self) -> dict:
        out = {}
        for name in _known(type(self)):
            value = getattr(self, name)
            if name in self.OPTIONAL and value in (None, False, [], "", {}):
                continue
            if value is None and type(None) not in self.TYPES.get(name, (type(None),)):
                continue  # never recorded (an older record): a null would not load
            out[name] = list(value) if isinstance(value, (list, tuple)) else value
        return {**out, **self.unknown}

    def copy(self):
        """Another record alike, whose lists the builder may change."""
        return type(self).from_json(self.to_json())


@dataclass
class AtomEntry(_Record):
    """An atom (a top-level folder of a molecule, or its loose files '.') and the bag
    whose tar holds its current version."""
    molecule: str = ""      # required in a file (check), as archive_key
    archive_key: str = ""
    tar_id: str | None = None
    last_metadata_hash: str | None = None
    size: int = 0           # bytes its members take in a tar (GNU tar's own count)
    files: int = 0          # entries that are not folders, as packed
    apparent_size: int | None = None
    pinned: bool = False
    increments: list = field(default_factory=list)  # issue 27: after its base, in order
    unknown: dict = field(default_factory=dict, repr=False)

    TYPES = {"molecule": TEXT, "archive_key": TEXT, "tar_id": TEXT,
             "last_metadata_hash": TEXT, "pinned": FLAG, "size": NUMBER,
             "files": NUMBER, "apparent_size": NUMBER, "increments": (list,)}
    REQUIRED = ("molecule", "archive_key")
    OPTIONAL = ("increments",)

    @property
    def chain(self) -> list:
        """Its bags in the order they are extracted: its base (archive_key), then its
        increments (issue 27); one bag for an atom packed whole."""
        return [self.archive_key, *self.increments]


@dataclass
class BagRecord(_Record):
    """A bag in the bucket: its tar's checksums and storage class, its manifest, the
    atoms that point at it (`atoms`) and those its tar holds (`packed_atoms`: some may
    have moved to a newer bag since, their bytes dead here until compaction)."""
    size: int = 0           # required in a file (check)
    tar_id: str | None = None
    molecule: str | None = None
    atoms: list = field(default_factory=list)
    manifest_key: str | None = None
    sha256: str | None = None
    storage_class: str | None = None
    uploaded_at: str | None = None
    crc64nvme: str | None = None
    etag: str | None = None
    content_key: str | None = None
    manifest_sha256: str | None = None
    index_sha256: str | None = None
    files: int = 0
    encryption: dict | None = None
    packed_atoms: list | None = None
    packed_bytes: int = 0
    referenced_bytes: int = 0
    pending: bool = False   # the dry run's: still to upload, no checksum yet
    reasons: list = field(default_factory=list)
    # an increment bag (issue 27): the atom hash it applies to, its deletion list's
    increment_of: str | None = None
    deletions_sha256: str | None = None
    unknown: dict = field(default_factory=dict, repr=False)

    TYPES = {"tar_id": TEXT, "molecule": TEXT, "size": NUMBER, "atoms": (list,),
             "manifest_key": TEXT, "sha256": MAYBE_TEXT, "storage_class": MAYBE_TEXT,
             "uploaded_at": MAYBE_TEXT, "crc64nvme": MAYBE_TEXT, "etag": MAYBE_TEXT,
             "content_key": MAYBE_TEXT, "manifest_sha256": MAYBE_TEXT,
             "index_sha256": MAYBE_TEXT, "files": NUMBER, "pending": FLAG,
             "packed_atoms": (list,), "packed_bytes": NUMBER,
             "referenced_bytes": NUMBER, "encryption": (dict, type(None)),
             "increment_of": TEXT, "deletions_sha256": MAYBE_TEXT}
    REQUIRED = ("size",)
    OPTIONAL = ("pending", "reasons", "increment_of", "deletions_sha256")

    @property
    def held_atoms(self) -> list:
        """The atoms its tar holds (before issue 23 every atom it held pointed at it)."""
        return self.packed_atoms if self.packed_atoms is not None else self.atoms

    @property
    def dead_bytes(self) -> int:
        """Bytes of atoms its tar holds that no current atom points at (old versions
        of atoms that moved to a newer bag)."""
        if not set(self.held_atoms) - set(self.atoms):
            return 0
        return max(0, self.packed_bytes - self.referenced_bytes)


@dataclass
class HistoryEntry(_Record):
    """A bag no atom points at any more, and the day it was superseded: prune keeps it
    keep_years after that day."""
    superseded_on: str = ""  # required in a file (check)
    molecule: str | None = None
    size: int | None = None
    tar_id: str | None = None
    manifest_key: str | None = None
    uploaded_at: str | None = None
    unknown: dict = field(default_factory=dict, repr=False)

    TYPES = {"superseded_on": TEXT, "molecule": MAYBE_TEXT, "tar_id": MAYBE_TEXT,
             "manifest_key": MAYBE_TEXT, "uploaded_at": MAYBE_TEXT, "size": MAYBE_NUMBER}
    REQUIRED = ("superseded_on",)

    @property
    def superseded(self) -> datetime.date:
        return datetime.date.fromisoformat(self.superseded_on)


PARTS = {"atoms": AtomEntry, "bags": BagRecord, "history": HistoryEntry}


@dataclass
class Inventory:
    """Every atom, the bags holding them and the superseded bags still kept."""
    atoms: dict = field(default_factory=dict)    # atom key -> AtomEntry
    bags: dict = field(default_factory=dict)     # archive key -> BagRecord
    history: dict = field(default_factory=dict)  # archive key -> HistoryEntry
    version: int = 1
    year: int | None = None
    run_date: str = ""    # which run wrote it: bootstrap picks the newest
    key_salt: str = ""    # with obscure_keys: the salt of the bags' names
    written_at: str = ""  # the real clock's time of the write (never GLACIER_TODAY)
    unknown: dict = field(default_factory=dict, repr=False)

    TYPES = {"version": NUMBER, "year": NUMBER, "run_date": TEXT, "key_salt": TEXT,
             "written_at": TEXT, "history": (dict,)}

    @classmethod
    def from_json(cls, data: dict) -> "Inventory":
        parts = {part: {key: kind.from_json(entry)
                        for key, entry in (data.get(part) or {}).items()}
                 for part, kind in PARTS.items()}
        names = ("version", "year", "run_date", "key_salt", "written_at")
        tops = {k: data[k] for k in names if data.get(k) is not None}
        known = set(PARTS) | set(names)
        return cls(**parts, **tops,
                   unknown={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict:
        out = {"version": self.version}
        if self.year is not None:
            out["year"] = self.year
        out["atoms"] = {k: e.to_json() for k, e in self.atoms.items()}
        out["bags"] = {k: r.to_json() for k, r in self.bags.items()}
        if self.history:
            out["history"] = {k: h.to_json() for k, h in self.history.items()}
        for name in ("run_date", "key_salt", "written_at"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return {**out, **self.unknown}

    def copy(self) -> "Inventory":
        return Inventory.from_json(json.loads(json.dumps(self.to_json())))

    def holding(self, archive_key: str) -> list:
        """The atoms that point at a bag, sorted."""
        return sorted(a for a, e in self.atoms.items() if e.archive_key == archive_key)


def check(data) -> str | None:
    """Why `data` is not an inventory a reader can use, in one line naming the field
    (a hand edit: `"molecule": 5`, `"history": []`, an atom naming no bag); None when
    every field is as readers rely on."""
    if not (isinstance(data, dict) and all(isinstance(data.get(part), dict)
                                           for part in ("atoms", "bags"))):
        return "not an inventory (needs 'atoms' and 'bags' objects)"
    wrong = _wrong_type(data, Inventory.TYPES, "")
    for part, kind in PARTS.items() if not wrong else ():
        for key, entry in data.get(part, {}).items():
            where = f"{part}[{json.dumps(key)}]"
            wrong = (f"{where} is {_kind(entry)}, not an object"
                     if not isinstance(entry, dict) else
                     _missing(entry, kind.REQUIRED, where) or
                     _wrong_type(entry, kind.TYPES, where + "."))
            if wrong:
                return wrong
    for key, entry in data.get("history", {}).items() if not wrong else ():
        if not _is_date(entry["superseded_on"]):
            return (f"history[{json.dumps(key)}].superseded_on is "
                    f"{json.dumps(entry['superseded_on'])}, not a date (YYYY-MM-DD)")
    return wrong or dangling_atom(Inventory.from_json(data))


def dangling_atom(inventory: Inventory) -> str | None:
    """An atom whose archive_key names no bag of `bags`, in words; None if none."""
    for atom, entry in inventory.atoms.items():
        if entry.archive_key not in inventory.bags:
            return (f"atoms[{json.dumps(atom)}].archive_key names "
                    f"{json.dumps(entry.archive_key)}, which is not in bags")
        for key in entry.increments:
            if key not in inventory.bags:
                return (f"atoms[{json.dumps(atom)}].increments names {json.dumps(key)}, "
                        "which is not in bags")
    return None


def _wrong_type(entry: dict, types: dict, where: str) -> str | None:
    for name, kinds in types.items():
        value = entry.get(name)
        if name in entry and not (isinstance(value, kinds) and not (
                isinstance(value, bool) and bool not in kinds)):
            return (f"{where}{name} is {json.dumps(value)}, not "
                    f"{' or '.join(KINDS[k] for k in kinds)}")
    return None


def _missing(entry: dict, required, where: str) -> str | None:
    absent = [name for name in required if name not in entry]
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
