"""How a bag is cut into multipart parts: few and large (every part is billed like a
PUT), each streamed from the staged file, and a part S3 already holds is kept only if
it holds our bytes."""

import hashlib
import io
import math
from pathlib import Path

MIB = 1 << 20
MIN_PART = 16 * MIB  # S3's own floor is 5 MiB; below 16 MiB a bag goes in one PUT
MAX_PART = 5 << 30   # S3's ceiling
TARGET_PARTS = 64    # a 40 GB bag: 64 parts of 640 MiB, ~66 requests in all


def part_size_for(size: int) -> int:
    per_part = math.ceil(size / TARGET_PARTS / MIB) * MIB
    return min(max(MIN_PART, per_part), MAX_PART)


def upload_requests(size: int) -> int:
    """PUT-class requests one object costs: a single PUT, or create + parts + complete."""
    if size <= MIN_PART:
        return 1
    return math.ceil(size / part_size_for(size)) + 2


class FilePart(io.RawIOBase):
    """A read-only window on a file, so a part streams from disk instead of memory.
    It counts nothing: botocore reads a part more than once (its checksum pass, a
    retry), so bytes are counted when S3 acknowledges the part (Store._send_parts)."""

    def __init__(self, path: Path, offset: int, length: int):
        self._file = open(path, "rb")
        self._offset, self._length, self._pos = offset, length, 0
        self._file.seek(offset)

    def readable(self):
        return True

    def seekable(self):
        return True

    def __len__(self):
        return self._length

    def tell(self):
        return self._pos

    def seek(self, pos, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        self._file.seek(self._offset + self._pos)
        return self._pos

    def readinto(self, buffer):
        want = min(len(buffer), self._length - self._pos)
        if want <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:want])
        self._pos += got
        return got

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._length - self._pos
        buffer = bytearray(min(size, self._length - self._pos))
        return bytes(buffer[:self.readinto(buffer)])

    def close(self):
        self._file.close()
        super().close()


def same_part(path: Path, offset: int, length: int, etag: str) -> bool:
    """A part S3 already holds is kept only if its ETag is the MD5 of our bytes there."""
    digest = hashlib.md5(usedforsecurity=False)
    with FilePart(path, offset, length) as part:
        while chunk := part.read(MIB):
            digest.update(chunk)
    return etag.strip('"') == digest.hexdigest()


def part_entry(answer: dict) -> dict:
    entry = {"PartNumber": answer["PartNumber"], "ETag": answer["ETag"]}
    if answer.get("ChecksumCRC64NVME"):
        entry["ChecksumCRC64NVME"] = answer["ChecksumCRC64NVME"]
    return entry
