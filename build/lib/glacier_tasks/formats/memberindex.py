"""A bag's member index: where each tar member starts, so that one file or one folder
can be fetched with ranged GETs instead of the whole bag.

    # glacier-tasks member index v1; bag sha256 HEX
    BLOCK<TAB>path
    ...

One line per tar member, in the tar's order (the manifest's order too, sockets aside).
BLOCK is the member's first 512-byte block: its long-name, long-link or pax header when
it has one (GNU tar's `--block-number` names the block after a long-link header, so
the index is read from the tar stream itself while the bag is packed, and checked
against the staged tar's headers before it is kept). The path is escaped as in the manifest; a folder ends in '/'.
A member ends where the next one starts; the last one where the tar ends. The first line
names the bag it describes by its sha256: an index is only used with that bag.

Written for unencrypted bags only (age has no random access), and stored beside the
manifest: `YYYY-backup/manifests/NAME.idx`, STANDARD.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from . import manifest, tarstream
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
    """Where the index of this tar (or its .partial) waits until the tar is complete."""
    return Path(str(tar_path).removesuffix(".partial") + ".members")


def index_beside(manifest_path: Path) -> Path:
    """The local copy of the index, beside the local manifest (NAME.idx by NAME.txt)."""
    return manifest_path.with_suffix(".idx")


def settle(tar_path: Path, manifest_path: Path, bag_sha256: str, encrypted: bool) -> None:
    """Once the tar is complete: its index, checked against the tar's own headers,
    goes beside the manifest; an encrypted bag gets none (and loses any an earlier
    packing left), and so does one whose index does not match (never expected: a
    restore then reads the whole bag, as for a bag without one)."""
    draft = listing_for(tar_path)
    if encrypted or not draft.exists() or bag_of(draft) != bag_sha256 or \
            mismatch(draft, tar_path):
        draft.unlink(missing_ok=True)
        index_beside(manifest_path).unlink(missing_ok=True)
        return
    statefile.move(draft, index_beside(manifest_path))


def write_index(members, out: Path, bag_sha256: str) -> str:
    """Write the index of `members` ((byte offset, name) in the tar's order) to out;
    return its sha256."""
    lines = [HEADER + bag_sha256 + "\n"]
    lines += [f"{offset // BLOCK}\t{manifest.escape_name(name)}\n"
              for offset, name in members]
    data = "".join(lines).encode()
    statefile.write_bytes(out, data)
    return hashlib.sha256(data).hexdigest()


def mismatch(index: Path, tar_path: Path) -> str | None:
    """Where the index and the tar's headers disagree, or None: every member listed at
    its first header block, with its name, and no member left out."""
    listed = iter(read_index(index))
    try:
        with open(tar_path, "rb") as tar:
            for header in tarstream.headers(tar, seekable=True):
                member = next(listed, None)
                if member != Member(header.offset, header.name):
                    return f"{header.name!r} at byte {header.offset}, the index says " \
                           f"{member}"
    except tarstream.TarStreamError as err:
        return str(err)
    extra = next(listed, None)
    return None if extra is None else f"{extra} is not in the tar"


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
