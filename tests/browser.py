"""A real browser for the report's tests: headless Chromium takes screenshots and
dumps the DOM it built. Plain code, no pytest. Missing Chromium is a failure that
says what to install (CI's .ci/run installs it), never a skip.

Also a small PNG reader (zlib only), to check a screenshot's size and that it is not
blank, and a DOM reader for the page's `data-figure` elements.
"""

import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("Chromium not found: install it with 'apt-get install -y "
                         "chromium' (Debian's package; .ci/run installs it when missing)")


def _run(args: list, timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, timeout=timeout)


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    """The page as a browser window of this size shows it."""
    result = _run([f"--screenshot={out}", f"--window-size={width},{height}",
                   page.absolute().as_uri()])
    assert out.exists(), result.stderr.decode(errors="replace")[-2000:]
    return out


def dump_dom(page: Path, width: int = 1280) -> str:
    """The DOM after the browser loaded the page."""
    result = _run(["--dump-dom", f"--window-size={width},900", page.absolute().as_uri()])
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result.stdout.decode("utf-8")


class _Figures(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self.open = {}, []

    def handle_starttag(self, tag, attrs):
        name = dict(attrs).get("data-figure")
        self.open.append(name)
        if name:
            self.found[name] = ""

    def handle_endtag(self, tag):
        if self.open:
            self.open.pop()

    def handle_data(self, data):
        for name in self.open:
            if name:
                self.found[name] += data


def figures(dom: str) -> dict:
    """data-figure name -> the text the browser shows for it."""
    parser = _Figures()
    parser.feed(dom)
    return {k: " ".join(v.split()) for k, v in parser.found.items()}


def read_png(path: Path) -> tuple[int, int, list]:
    """(width, height, rows of RGB(A) pixel tuples) of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, channels)
        rows.append([tuple(line[x:x + channels]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        corner = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + pred) & 0xFF


def check_screenshot(path: Path, width: int, height: int) -> None:
    """The expected size, and a real page on it: many colours, much non-background."""
    got_w, got_h, rows = read_png(path)
    assert (got_w, got_h) == (width, height), (got_w, got_h)
    pixels = [p[:3] for row in rows[::4] for p in row[::4]]
    background = max(set(pixels), key=pixels.count)
    drawn = sum(1 for p in pixels if p != background) / len(pixels)
    assert len(set(pixels)) > 50, f"{path}: only {len(set(pixels))} colours: blank?"
    assert drawn > 0.05, f"{path}: {drawn:.1%} of it differs from the background: blank?"
