"""A bag's member index: where each tar member starts, so that one file or one folder
can be fetched with ranged GETs instead of the whole bag.

    # glacier-tasks member index v1; bag sha256 HEX
    BLOCK<TAB>path
    ...

One line per tar member, in the tar's order (the manifest's order too, sockets aside).
BLOCK is the member's first 512-byte block, its long-name and sparse headers included,
as GNU tar's `--block-number` reports it while it writes the bag (`--index-file` sends
that listing to a file). The path is escaped as in the manifest; a folder ends in '/'.
A member ends where the next one starts; the last one where the tar ends. The first line
names the bag it describes by its sha256: an index is only used with that bag.

Written for unencrypted bags only (age has no random access), and stored beside the
manifest: `YYYY-backup/manifests/NAME.idx`, STANDARD.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from . import manifest
from .. import statefile

BLOCK = 512
HEADER = "# glacier-tasks member index v1; bag sha256 "
_LISTED = re.compile(rb"^block (\d+): (.*)$")
_TAR_ESCAPES = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r",
                b"t": b"\t", b"v": b"\v"}


@dataclass(frozen=True)
class Member:
    start: int   # byte offset of its first block in the tar
    name: bytes  # the member's path as tar stores it: a folder's ends in '/'


@dataclass(frozen=True)
class Span:
    """Consecutive members asked for: the bytes start..end-1 of the tar."""
    start: int
    end: int
    members: tuple  # of Member

    @property
    def size(self) -> int:
        return self.end - self.start


def listing_for(tar_path: Path) -> Path:
    """Where tar writes its verbose listing while packing this tar (or its .partial)."""
    return Path(str(tar_path).removesuffix(".partial") + ".members")


def tar_options(tar_path: Path) -> list[str]:
    """What `tar --create` needs to write the listing for this tar."""
    return ["--verbose", "--block-number", f"--index-file={listing_for(tar_path)}"]


def index_beside(manifest_path: Path) -> Path:
    """The local copy of the index, beside the local manifest (NAME.idx by NAME.txt)."""
    return manifest_path.with_suffix(".idx")


def settle(tar_path: Path, manifest_path: Path, bag_sha256: str, encrypted: bool) -> None:
    """Once the tar is complete: its listing becomes the index beside the manifest;
    an encrypted bag gets none (and loses any an earlier packing left)."""
    listing = listing_for(tar_path)
    if encrypted or not listing.exists():
        listing.unlink(missing_ok=True)
        index_beside(manifest_path).unlink(missing_ok=True)
        return
    write_index(listing, index_beside(manifest_path), bag_sha256)


def write_index(listing: Path, out: Path, bag_sha256: str) -> str:
    """Turn tar's listing (`block N: NAME`, names in tar's escape quoting) into the
    index at `out`; return the index's sha256. The listing is removed."""
    lines = [HEADER + bag_sha256 + "\n"]
    with open(listing, "rb") as raw:
        for line in raw:
            found = _LISTED.match(line.rstrip(b"\n"))
            if found:
                name = unquote(found.group(2))
                lines.append(f"{int(found.group(1))}\t{manifest.escape_name(name)}\n")
    data = "".join(lines).encode()
    statefile.write_bytes(out, data)
    listing.unlink()
    return hashlib.sha256(data).hexdigest()


def bag_of(path: Path) -> str | None:
    """The sha256 of the bag this index describes (None if it is no index)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return None
    return first[len(HEADER):].strip() if first.startswith(HEADER) else None


def read_index(path: Path) -> list[Member]:
    members = []
    with open(path, encoding="utf-8") as lines:
        next(lines, None)
        for line in lines:
            block, _, name = line.rstrip("\n").partition("\t")
            members.append(Member(int(block) * BLOCK, manifest.unescape_name(name)))
    return members


def runs(members: list[Member], wanted, tar_size: int) -> list[Span]:
    """The byte runs holding the members `wanted(name)` accepts: consecutive ones are
    one run, from the first one's start to the start of the member after the last."""
    found, first = [], None
    for i, member in enumerate(members + [None]):
        if member is not None and wanted(member.name):
            first = i if first is None else first
            continue
        if first is not None:
            end = member.start if member is not None else tar_size
            found.append(Span(members[first].start, end, tuple(members[first:i])))
            first = None
    return found


def unquote(name: bytes) -> bytes:
    """A name in GNU tar's 'escape' quoting (its listings and messages) back to bytes."""
    return re.sub(rb"\\([0-7]{3}|.)", _unescape, name)


def _unescape(match) -> bytes:
    code = match.group(1)
    if len(code) == 3:
        return bytes([int(code, 8) & 0xFF])
    return _TAR_ESCAPES.get(code, code)
