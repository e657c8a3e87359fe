"""A bucket in memory with S3's semantics for the object half of the store, for unit
tests of the rules about the bucket (adoption, occupied keys, repair, write-once),
as restic's mem backend is for its repository code.

What it keeps of S3: keys are written once (If-None-Match: *, ObjectExists when
taken), S3's own full-object CRC64NVME is computed from the bytes stored (so a forged
object cannot fake it), metadata is what the writer chose, an archived class must be
thawed before a GET (request_restore, then readable at once, or after `thaw_requests`
HEADs while thawing), a LIST knows no metadata or checksum, and an object under
Object Lock is not deleted.
"""

import base64
import datetime
from dataclasses import replace
from pathlib import Path

from ..errors import ObjectExists, StoreError
from .objects import ARCHIVED, ObjectInfo
from .store import Store

_EPOCH = datetime.datetime(2026, 1, 15, 3, 0, tzinfo=datetime.timezone.utc)


def crc64nvme(data: bytes) -> str:
    """S3's full-object CRC64NVME of these bytes, base64 of the big-endian value."""
    from awscrt import checksums
    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


_crc64nvme = crc64nvme  # upload_file's parameter of that name is ObjectStore's


class MemoryStore:
    """The object half of bucket.store.Store (objects.ObjectStore), in memory."""

    def __init__(self, bucket: str = "memory", thaw_requests: int = 0):
        self.bucket, self.endpoint = bucket, "memory://"
        self.objects = {}   # key -> (bytes, ObjectInfo)
        self.requests = []  # ("PUT"|"HEAD"|"GET"|"DELETE"|"RESTORE"|"LIST", key)
        self.thaw_requests = thaw_requests  # HEADs an archived object stays thawing
        self._thawing = {}
        self._clock = 0

    # -- writing

    def put_bytes(self, key: str, data: bytes, storage_class: str, metadata: dict) -> dict:
        self.requests.append(("PUT", key))
        if key in self.objects:
            raise ObjectExists(f"{key} is already in the bucket; keys are written once, "
                               "never replaced")
        self._clock += 1
        info = ObjectInfo(key=key, size=len(data), storage_class=storage_class,
                          last_modified=_EPOCH + datetime.timedelta(seconds=self._clock),
                          etag=f"etag-{self._clock}", crc64nvme=crc64nvme(data),
                          metadata=dict(metadata))
        self.objects[key] = (bytes(data), info)
        return {"ETag": f'"{info.etag}"'}

    put_new = Store.put_new  # the same rule over this put_bytes

    def upload_file(self, path: Path, key: str, storage_class: str, metadata: dict,
                    crc64nvme: str, resume: dict, save_resume, progress=None) -> dict:
        """One PUT of the whole file; S3 refuses a full-object checksum that is not the
        stored bytes' own."""
        data = Path(path).read_bytes()
        if _crc64nvme(data) != crc64nvme:
            raise StoreError(f"S3 answered BadDigest while uploading {key}: the "
                             "CRC64NVME you specified did not match the calculated one")
        answer = self.put_bytes(key, data, storage_class, metadata)
        save_resume({})
        if progress:
            progress(len(data), False)
        return {"etag": answer["ETag"].strip('"'), "parts": 1}

    def abort_uploads(self, key: str, keep: str | None = None) -> list:
        return []

    def abort_open_uploads(self, prefix: str, keep=frozenset(), exact=False,
                           mine=lambda key: True) -> list:
        return []

    def delete(self, key: str, version_id: str | None = None) -> None:
        self.requests.append(("DELETE", key))
        info = self.objects[key][1] if key in self.objects else None
        now = datetime.datetime.now(datetime.timezone.utc)
        if info and (info.legal_hold or info.retain_until and info.retain_until > now):
            raise StoreError(f"access to bucket '{self.bucket}' denied (AccessDenied) "
                             f"while deleting {key}: check the credentials and their "
                             "IAM policy")
        self.objects.pop(key, None)

    # -- reading

    def check_bucket(self) -> None:
        pass

    def has_credentials(self) -> bool:
        return True

    def head(self, key: str) -> ObjectInfo | None:
        self.requests.append(("HEAD", key))
        if key not in self.objects:
            return None
        info = self.objects[key][1]
        if key in self._thawing:
            if self._thawing[key] > 0:
                self._thawing[key] -= 1
                return replace(info, restore='ongoing-request="true"')
            return replace(info, restore='ongoing-request="false", expiry-date="Fri, '
                                         '23 Jan 2026 00:00:00 GMT"')
        return info

    def list_objects(self, prefix: str = "") -> dict:
        self.requests.append(("LIST", prefix))
        return {k: replace(info, crc64nvme=None, metadata={}, etag=info.etag)
                for k, (_, info) in sorted(self.objects.items()) if k.startswith(prefix)}

    def request_restore(self, key: str, days: int, tier: str) -> None:
        self.requests.append(("RESTORE", key))
        if key not in self.objects:
            raise StoreError(f"S3 answered NoSuchKey while requesting the thaw of {key}")
        self._thawing.setdefault(key, self.thaw_requests)

    def get_bytes(self, key: str) -> bytes:
        self.requests.append(("GET", key))
        return self._readable(key)

    def read_range(self, key: str, start: int, end: int):
        self.requests.append(("GET", key))
        yield self._readable(key)[start:end + 1]

    def _readable(self, key: str) -> bytes:
        if key not in self.objects:
            raise StoreError(f"S3 answered NoSuchKey while downloading {key}")
        data, info = self.objects[key]
        if info.storage_class in ARCHIVED and self._thawing.get(key, 1) != 0:
            raise StoreError(f"S3 answered InvalidObjectState while downloading {key}: "
                             "the object is archived; thaw it first")
        return data

    # -- what a test does behind the tool's back

    def lock(self, key: str, until: datetime.datetime | None = None,
             mode: str = "GOVERNANCE", legal_hold: bool = False) -> None:
        """Object Lock on the object's version: a retention until a date, or a legal
        hold; S3 refuses to delete it meanwhile, and a HEAD shows it."""
        data, info = self.objects[key]
        self.objects[key] = (data, replace(info, retain_until=until,
                                           lock_mode=mode if until else None,
                                           legal_hold=legal_hold))

    def replace_behind(self, key: str, data: bytes, metadata: dict | None = None) -> None:
        """Someone else's write (a key that can overwrite, a forger): S3 computes the
        checksum of what it stores; the metadata is the forger's choice."""
        old = self.objects[key][1]
        self.objects[key] = (data, replace(old, size=len(data), crc64nvme=crc64nvme(data),
                                           metadata=dict(metadata or old.metadata)))
