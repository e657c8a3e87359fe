"""A bag's marker (STATE/bags/NAME.json): which of its steps are finished.

doit's database is lost on kill -9; the marker is not (each step rewrites it
atomically before the next starts). It belongs to one set of contents, the bag's
content key: a marker holding another key is stale and read as a fresh one.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .. import statefile


def _from(cls, data):
    if data is None:
        return None
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Packed:
    """The staged tar as written: what was sent, and the atoms as tar saw them."""
    size: int
    sha256: str
    crc64nvme: str | None
    atom_hashes: dict  # atom key -> metadata hash of what went in ("dirty:..." if torn)
    content_key: str
    dirty: list = field(default_factory=list)
    encryption: dict | None = None  # {"method": "age", "recipients": [...]}
    atom_files: dict | None = None  # atom key -> files (non-folders) it went in with
    left_out: dict | None = None  # atom key -> why it is not in the tar (keeps its bag)


@dataclass
class Receipt:
    """The bag's object in the bucket, as S3 reported it once it held these contents."""
    key: str
    size: int
    etag: str
    sha256: str | None
    crc64nvme: str | None
    storage_class: str
    uploaded_at: str
    reused: bool  # adopted: already in the bucket, not sent by this run
    recorded_at: str = ""
    parts: int | None = None
    seconds: float | None = None  # how long the upload took (None: adopted)


@dataclass
class ManifestReceipt:
    key: str
    size: int
    sha256: str  # of the plain text, which stays local
    index_sha256: str | None = None  # the member index uploaded beside it, if any


@dataclass
class BagMarker:
    content_key: str
    packed: Packed | None = None
    upload: dict = field(default_factory=dict)  # an unfinished multipart upload
    uploaded: Receipt | None = None
    manifest: ManifestReceipt | None = None
    done: bool = False
    repair: str = ""  # why the bucket's copy is being replaced (it lost or broke it)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "BagMarker":
        packed = data.get("packed")
        if packed and "content_key" not in packed:  # written before the name was one
            packed = {**packed, "content_key": packed.get("object_key", "")}
        marker = cls(content_key=data["content_key"], packed=_from(Packed, packed),
                     upload=data.get("upload") or {},
                     uploaded=_from(Receipt, data.get("uploaded")),
                     manifest=_from(ManifestReceipt, data.get("manifest")),
                     repair=data.get("repair") or "")
        # done only with the records that prove it: a damaged marker is not trusted
        marker.done = bool(data.get("done")) and None not in (
            marker.packed, marker.uploaded, marker.manifest)
        return marker


def read_marker(path: Path, content_key: str) -> BagMarker:
    """The marker if it belongs to these contents, else a fresh one."""
    try:
        data = json.loads(path.read_text())
        if data.get("content_key") == content_key:
            return BagMarker.from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return BagMarker(content_key)


def write_marker(path: Path, marker: BagMarker) -> None:
    statefile.write_json(path, marker.to_json())

