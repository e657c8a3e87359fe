"""Manifest lines: `path<TAB>size<TAB>mtime`, one entry per line, names escaped.

An entry the bag could not hold (a socket) has a fourth field saying so: `skipped: socket`.
A file's line may end in its content checksum, `sha256:HEX` (a sparse file's holes read
as zeros, a hard link's is its target's); manifests written before it have none.
The mtime is ISO 8601 UTC; one past the year 9999 is written as 9999-12-31T23:59:59Z
(one before the year 1 as 0001-01-01T00:00:00Z).

A name may hold any byte but NUL and '/'; backslash, TAB, newline, CR and bytes that
are not UTF-8 are escaped (\\\\, \\t, \\n, \\r, \\xNN) so that one line is always one entry.
Folders end with '/'.
"""

import datetime
import re
import stat
from dataclasses import dataclass
from typing import Iterator

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z, Python's first date
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, its last
CONTENT = "sha256:"  # the optional field of a file's content checksum
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_SPECIAL = re.compile(r"[\\\t\n\r]|[\udc80-\udcff]")


def escape_name(raw: bytes) -> str:
    text = raw.decode("utf-8", "surrogateescape")
    return _SPECIAL.sub(_escape_char, text)


def _escape_char(match) -> str:
    char = match.group(0)
    if char in _ESCAPES:
        return _ESCAPES[char]
    return "\\x%02x" % (ord(char) - 0xDC00)


def unescape_name(text: str) -> bytes:
    out, i = bytearray(), 0
    simple = {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += simple.get(nxt, nxt.encode())
            i += 2
            continue
        out += char.encode()
        i += 1
    return bytes(out)


def manifest_line(rel: bytes, st, note: str = "") -> str:
    return entry_line(rel, st.st_mode, st.st_size, st.st_mtime_ns, note)


def entry_line(rel: bytes, mode: int, size: int, mtime_ns: int, note: str = "",
               sha256: str | None = None) -> str:
    name = escape_name(rel)
    if stat.S_ISDIR(mode):
        name += "/"
    size = size if stat.S_ISREG(mode) else 0
    note = f"\t{note}" if note else ""
    content = f"\t{CONTENT}{sha256}" if sha256 and stat.S_ISREG(mode) else ""
    return f"{name}\t{size}\t{iso_time(mtime_ns)}{note}{content}\n"


def iso_time(mtime_ns: int) -> str:
    """UTC, to the second; a time outside the years 1 to 9999 (a filesystem allows
    them, Python's dates do not) is written as the nearest end of that range."""
    seconds = min(max(mtime_ns // 1_000_000_000, FIRST_SECOND), LAST_SECOND)
    when = EPOCH + datetime.timedelta(seconds=seconds)
    return when.replace(tzinfo=None).isoformat() + "Z"  # isoformat pads the year


@dataclass(frozen=True)
class Entry:
    """One manifest line, read: the only reader of the format (find, prune, the
    restore's check and the backup's change counts all read through it)."""
    path: str                  # as written: escaped, a folder's ending in '/'
    size: int
    mtime: str                 # ISO 8601 UTC, to the second
    note: str = ""             # why the bag could not hold it: 'skipped: socket'
    sha256: str | None = None  # content checksum (hex); None in older manifests

    @property
    def name(self) -> bytes:
        """The path's real bytes, without a folder's '/'."""
        return unescape_name(self.path.rstrip("/"))

    @property
    def folder(self) -> bool:
        return self.path.endswith("/")

    @property
    def skipped(self) -> bool:
        return self.note.startswith("skipped")


def read_entry(line: str) -> Entry:
    path, size, mtime, *extra = line.rstrip("\n").split("\t")
    content = next((e[len(CONTENT):] for e in extra if e.startswith(CONTENT)), None)
    note = "\t".join(e for e in extra if not e.startswith(CONTENT))
    return Entry(path, int(size or 0), mtime, note, content)


def read_entries(path) -> Iterator[Entry]:
    """The entries of the manifest file at `path`, in the bag's order, line by line
    (a manifest of millions of files is never held whole)."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip("\n"):
                yield read_entry(line)
