"""Reading a GNU tar stream member by member, in Python, without extracting it.

A *member* is everything GNU tar writes for one entry: its long-name ('L'),
long-link ('K') and pax ('x', 'g') blocks, its header, a sparse file's extension headers, then its data
rounded up to 512 bytes. `copy_members` passes on the members asked for (to GNU tar,
which extracts them) and leaves out the rest; a hard link whose target is left out is
left out too and reported, since tar cannot link to a file it never wrote. Each header's
checksum is checked, so a byte range that does not start on a member is caught.
`content_digests` hashes each file's content (a sparse file's holes as zeros) as the
stream passes, for the manifest's per-file checksum; a sparse file with more than
HOLES_HASHED of holes gets none (a terabyte thin disk would cost ten minutes of
hashing zeros, here and again at every restore check).
"""

import hashlib
from dataclasses import dataclass

from ..errors import GlacierError

BLOCK = 512
CHUNK = 1 << 20
ZERO = bytes(BLOCK)
HOLES_HASHED = 1 << 30


class TarStreamError(GlacierError):
    """The bytes are not the GNU tar members they should be."""


@dataclass(frozen=True)
class Header:
    offset: int      # where the member's first block starts in the stream
    name: bytes      # as tar stores it: a folder's ends in '/'
    kind: bytes      # typeflag: b'0' file, b'1' hard link, b'2' symlink, b'5' folder...
    linkname: bytes  # a link's target
    head: bytes      # the member's blocks before its data
    data: int        # bytes of data after them (a multiple of 512)
    length: int = 0  # of those, the bytes stored (the rest is padding)
    sparse: tuple = ()  # a sparse file's (offset, bytes) segments, in order
    realsize: int = 0   # a sparse file's size on disk, holes included

    @property
    def size(self) -> int:
        return len(self.head) + self.data


class Reader:
    """A binary stream read member by member; `seekable` skips data without reading."""

    def __init__(self, stream, seekable: bool = False):
        self.stream, self.seekable, self.pos = stream, seekable, 0

    def read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self.stream.read(size - len(data))
            if not chunk:
                break
            data += chunk
        self.pos += len(data)
        return bytes(data)

    def skip(self, size: int) -> None:
        if self.seekable:
            self.stream.seek(size, 1)
            self.pos += size
            return
        while size:
            got = len(self.read(min(size, CHUNK)))
            if not got:
                raise TarStreamError(f"the tar ends inside a member at byte {self.pos}")
            size -= got

    def copy(self, size: int, out) -> None:
        while size:
            chunk = self.read(min(size, CHUNK))
            if not chunk:
                raise TarStreamError(f"the tar ends inside a member at byte {self.pos}")
            out.write(chunk)
            size -= len(chunk)

    def next_header(self) -> Header | None:
        """The next member's header blocks (None at the end of the archive)."""
        offset, head, longname, longlink = self.pos, bytearray(), None, None
        while True:
            block = self.read(BLOCK)
            if len(block) < BLOCK or block == ZERO:
                if head:
                    raise TarStreamError(f"the tar ends inside a header at byte "
                                         f"{self.pos}")
                return None
            _check(block, self.pos - BLOCK)
            head += block
            kind, size = block[156:157], _number(block[124:136])
            if kind in (b"L", b"K", b"x", b"g"):
                text = self.read(_padded(size))
                head += text
                value = text[:size].split(b"\0", 1)[0]
                if kind == b"L":
                    longname = value
                elif kind == b"K":
                    longlink = value
                elif kind == b"x":
                    pax = _pax(text[:size])
                    longname = pax.get(b"path", longname)
                    longlink = pax.get(b"linkpath", longlink)
                continue
            sparse, realsize = (), 0
            if kind == b"S":
                sparse, realsize = _segments(block[386:482]), _number(block[483:495])
            extended = kind == b"S" and block[482]
            while extended:
                extra = self.read(BLOCK)
                head += extra
                sparse += _segments(extra[:504])
                extended = extra[504]
            name = longname or block[:100].split(b"\0", 1)[0]
            link = longlink or block[157:257].split(b"\0", 1)[0]
            stored = 0 if kind in (b"1", b"2", b"3", b"4", b"5", b"6") else size
            return Header(offset, name, kind, link, bytes(head), _padded(stored), stored,
                          sparse, realsize)


def headers(stream, seekable: bool = False):
    """Every member's header, data skipped."""
    reader = Reader(stream, seekable)
    while (header := reader.next_header()) is not None:
        yield header
        reader.skip(header.data)


def copy_members(stream, out, wanted, seekable: bool = False) -> list[Header]:
    """Write the members `wanted(name)` accepts to `out`, then the end-of-archive
    blocks; return the hard links left out because their target was not wanted."""
    reader, orphans = Reader(stream, seekable), []
    while (header := reader.next_header()) is not None:
        keep = wanted(header.name)
        if keep and header.kind == b"1" and not wanted(header.linkname):
            orphans.append(header)
            keep = False
        if keep:
            out.write(header.head)
            reader.copy(header.data, out)
        else:
            reader.skip(header.data)
    out.write(ZERO * 2)
    return orphans


def content_digests(stream):
    """(header, sha256 hex of the file's content or None) for every member of a tar
    stream read once: a regular file's bytes, a sparse file's with its holes as zeros,
    a hard link's target's (None for folders, symlinks and other entries)."""
    reader, targets, links = Reader(stream), {}, {}
    while (header := reader.next_header()) is not None:
        if header.kind in (b"0", b"\0", b"7", b"S"):
            digest = _hash_content(reader, header)
            targets[header.name] = digest
        else:
            reader.skip(header.data)
            digest = targets.get(header.linkname) if header.kind == b"1" else None
        yield header, digest


def _hash_content(reader, header: Header) -> str | None:
    sha = hashlib.sha256()
    if header.kind == b"S" and \
            header.realsize - sum(size for _, size in header.sparse) > HOLES_HASHED:
        reader.skip(header.data)
        return None
    if header.kind != b"S":
        _hash_bytes(reader, header.length, sha)
    else:
        at = 0
        for offset, size in header.sparse:
            _hash_zeros(offset - at, sha)
            _hash_bytes(reader, size, sha)
            at = offset + size
        _hash_zeros(header.realsize - at, sha)
    reader.skip(header.data - header.length)
    return sha.hexdigest()


def _hash_bytes(reader, size: int, sha) -> None:
    while size > 0:
        chunk = reader.read(min(size, CHUNK))
        if not chunk:
            raise TarStreamError(f"the tar ends inside a member at byte {reader.pos}")
        sha.update(chunk)
        size -= len(chunk)


_ZEROS = memoryview(bytes(CHUNK))


def _hash_zeros(size: int, sha) -> None:
    while size > 0:
        sha.update(_ZEROS[:min(size, CHUNK)])
        size -= CHUNK


def _segments(field: bytes) -> tuple:
    """The (offset, bytes) pairs of a GNU sparse map field (24 bytes each)."""
    found = []
    for at in range(0, len(field) - 23, 24):
        offset, size = _number(field[at:at + 12]), _number(field[at + 12:at + 24])
        if field[at:at + 12].strip(b"\0") == b"":
            break
        found.append((offset, size))
    return tuple(found)


def _pax(text: bytes) -> dict:
    """A pax header's records ('LEN key=value\\n') as key -> value."""
    records, at = {}, 0
    while at < len(text):
        length, _, rest = text[at:].partition(b" ")
        if not length.isdigit() or int(length) <= 0:
            break
        record = text[at + len(length) + 1:at + int(length)].rstrip(b"\n")
        key, _, value = record.partition(b"=")
        records[key] = value
        at += int(length)
    return records


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU's base-256 for big values."""
    if field[:1] and field[0] & 0x80:
        value = int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _check(block: bytes, offset: int) -> None:
    stored = block[148:156].split(b"\0", 1)[0].strip()
    try:
        expected = int(stored, 8)
    except ValueError:
        raise TarStreamError(f"no tar header at byte {offset}") from None
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = unsigned - 2 * sum(b for b in block[:148] + block[156:] if b > 127)
    if expected not in (unsigned, signed):
        raise TarStreamError(f"no tar header at byte {offset} (checksum differs)")
