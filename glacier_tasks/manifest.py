"""Manifest lines: `path<TAB>size<TAB>mtime`, one entry per line, names escaped.

An entry the bag could not hold (a socket) has a fourth field saying so: `skipped: socket`.

A name may hold any byte but NUL and '/'; backslash, TAB, newline, CR and bytes that
are not UTF-8 are escaped (\\\\, \\t, \\n, \\r, \\xNN) so that one line is always one entry.
Folders end with '/'.
"""

import datetime
import re
import stat

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
    name = escape_name(rel)
    if stat.S_ISDIR(st.st_mode):
        name += "/"
    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    when = datetime.datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000,
                                           datetime.timezone.utc)
    note = f"\t{note}" if note else ""
    return f"{name}\t{size}\t{when.strftime('%Y-%m-%dT%H:%M:%SZ')}{note}\n"


def parse_line(line: str) -> tuple[bytes, int, str]:
    name, size, when = line.rstrip("\n").split("\t")[:3]
    return unescape_name(name), int(size), when
