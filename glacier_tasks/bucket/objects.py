"""What S3 says about one object (HEAD or LIST), as a typed record; the one answer
to "does this object hold this bag"; and ObjectStore, what the rest of the tool asks
of a bucket's objects."""

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

ARCHIVED = ("DEEP_ARCHIVE", "GLACIER")  # classes that must be thawed before a GET
# the object's metadata (x-amz-meta-*): what the uploader sent, to check S3's view against
META_SHA256, META_CONTENT_KEY, META_SIZE, META_CRC = "sha256", "content-key", "size", \
    "crc64nvme"


@dataclass(frozen=True)
class ObjectInfo:
    """One object as S3 reports it (HEAD or LIST; a LIST knows no metadata or checksum)."""
    key: str
    size: int
    storage_class: str
    last_modified: datetime.datetime
    etag: str = ""
    crc64nvme: str | None = None  # S3's own full-object checksum, base64
    metadata: dict = field(default_factory=dict)
    restore: str = ""  # the x-amz-restore header of an archived object
    # HEAD alone reports these: the current version (versioned buckets), and its Object
    # Lock, which S3 shows only to holders of s3:GetObjectRetention / GetObjectLegalHold
    version_id: str | None = None
    lock_mode: str | None = None  # GOVERNANCE or COMPLIANCE
    retain_until: datetime.datetime | None = None
    legal_hold: bool = False

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(META_SHA256)

    @property
    def content_key(self) -> str | None:
        return self.metadata.get(META_CONTENT_KEY)

    @property
    def encryption(self) -> str | None:
        return self.metadata.get("encryption")

    @property
    def recipients(self) -> list[str]:
        return [r for r in self.metadata.get("recipients", "").split(",") if r]

    @property
    def thaw_state(self) -> str:
        """'readable', 'thawing' or 'archived' (ongoing-request="true" while thawing)."""
        if self.storage_class not in ARCHIVED:
            return "readable"
        if not self.restore:
            return "archived"
        return "thawing" if 'ongoing-request="true"' in self.restore else "readable"

    @property
    def sent(self) -> dict:
        """What the uploader recorded it sent (size, sha256, CRC64NVME), or {}."""
        try:
            return {"size": int(self.metadata[META_SIZE]), "sha256": self.metadata[META_SHA256],
                    "crc64nvme": self.metadata[META_CRC]}
        except (KeyError, ValueError):
            return {}


@runtime_checkable
class ObjectStore(Protocol):
    """The object half of the store, passed in (run.store) to the bag steps, taken
    keys, verify, prune, find, restore and the system folder. store.Store speaks it to
    S3 (its bucket settings are another half: settings.py); memory.MemoryStore keeps
    it in memory, with S3's rules, for unit tests. Every key is written once: a write
    to a taken key raises errors.ObjectExists, never replaces it."""
    bucket: str
    endpoint: str

    def check_bucket(self) -> None: ...

    def has_credentials(self) -> bool: ...

    def head(self, key: str) -> ObjectInfo | None:
        """None when there is no such object; with S3's CRC64NVME when it has one."""

    def list_objects(self, prefix: str = "") -> dict[str, ObjectInfo]:
        """key -> ObjectInfo (no metadata, no checksum) of every object under prefix."""

    def put_bytes(self, key: str, data: bytes, storage_class: str,
                  metadata: dict) -> dict: ...

    def put_new(self, key: str, data: bytes, metadata: dict) -> bool:
        """A STANDARD object if the key is free; False when it is taken."""

    def upload_file(self, path: Path, key: str, storage_class: str, metadata: dict,
                    crc64nvme: str, resume: dict, save_resume: Callable,
                    progress: Callable | None = None) -> dict:
        """{"etag", "parts"}; S3 refuses bytes whose CRC64NVME is not `crc64nvme`."""

    def abort_uploads(self, key: str, keep: str | None = None) -> list: ...

    def abort_open_uploads(self, prefix: str, keep=frozenset(), exact: bool = False,
                           mine: Callable = ...) -> list: ...

    def delete(self, key: str, version_id: str | None = None) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]: ...

    def request_restore(self, key: str, days: int, tier: str) -> None: ...


def bag_problem(info: ObjectInfo | None, size: int, sha256: str | None,
                storage_class: str | None, crc64nvme: str | None = None) -> str | None:
    """Does this object hold the bag we mean? None if so, else what differs, in words.

    The one answer used after an upload, before adopting an object, and by verify."""
    if info is None:
        return "missing"
    if info.size != size:
        return f"has {info.size} bytes, expected {size}"
    if storage_class and info.storage_class != storage_class:
        return f"has storage class {info.storage_class}, expected {storage_class}"
    if info.sha256 != sha256:
        return "has another sha256 in its metadata"
    if crc64nvme and info.crc64nvme != crc64nvme:  # a HEAD of ours always shows one:
        return "has another CRC64NVME checksum"     # none is a replaced object
    return None


def adoptable(found, content: str, storage_class: str) -> bool:
    """Does this object hold these contents, by S3's own account? Its metadata names the
    contents and records what was sent; S3's size, checksum and class must agree."""
    if found is None or found.content_key != content or not found.sent:
        return False
    sent = found.sent
    return found.crc64nvme is not None and bag_problem(
        found, sent["size"], sent["sha256"], storage_class, sent["crc64nvme"]) is None


def holds_packed(found, packed, storage_class: str) -> bool:
    """Does the object hold the tar we packed? S3 computes its full-object CRC64NVME
    from the bytes it stored: equal to the one taken while the tar was written, with
    the same size, sha256 metadata and class. A CRC is no signature: whoever knows our
    tar's CRC (it leaves this machine in the object's metadata only once the upload is
    complete, and the key is then taken) could make other bytes with it."""
    return (found is not None and packed is not None and found.crc64nvme is not None
            and found.crc64nvme == packed.crc64nvme and found.size == packed.size
            and found.sha256 == packed.sha256 and found.storage_class == storage_class)


def metadata_for(size: int, sha256: str, crc64nvme: str, content_key: str,
                 extra: dict | None = None) -> dict:
    """The metadata a bag is uploaded with: what was sent, so a later run can check it."""
    return {META_SHA256: sha256, META_CONTENT_KEY: content_key, META_SIZE: str(size),
            META_CRC: crc64nvme, **(extra or {})}


def object_info(key: str, answer: dict) -> ObjectInfo:
    """The record of a HEAD answer or a LIST entry."""
    return ObjectInfo(key=key, size=answer.get("ContentLength", answer.get("Size", 0)),
                      storage_class=answer.get("StorageClass", "STANDARD"),
                      last_modified=answer["LastModified"],
                      etag=answer.get("ETag", "").strip('"'),
                      crc64nvme=answer.get("ChecksumCRC64NVME"),
                      metadata=dict(answer.get("Metadata", {})),
                      restore=answer.get("Restore") or "",
                      version_id=answer.get("VersionId"),
                      lock_mode=answer.get("ObjectLockMode"),
                      retain_until=answer.get("ObjectLockRetainUntilDate"),
                      legal_hold=answer.get("ObjectLockLegalHoldStatus") == "ON")
