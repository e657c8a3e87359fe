"""A real browser for the report's tests: one headless Chromium start per view (a page
at one window size) takes its screenshot, dumps the DOM it built and measures it (the
page's width, elements past the edge, tables that scroll, bag bars). Plain code, no
pytest. Missing Chromium is a failure that says what to install (CI's .ci/run
installs it), never a skip.

Also a small PNG reader (zlib only), to check a screenshot's size and that it is not
blank, and a DOM reader for the page's `data-figure` elements.
"""

import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
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


# The page is shown in an iframe of exactly the view's width: headless Chromium lays
# a window out at least 500 px wide until it takes its screenshot, so a script in the
# page itself would measure 500 where a phone has 390. The frame's own viewport is the
# view's (its media queries, innerWidth), and the harness's script reads it once loaded.
HARNESS = """<!doctype html><html><head><meta charset="utf-8"><style>
html,body{{margin:0;overflow:hidden}}iframe{{border:0;display:block}}</style></head>
<body><iframe id="page" src="{src}" width="{width}" height="{height}"></iframe>
<pre id="measured"></pre><script>
addEventListener("load", () => {{
  const win = document.getElementById("page").contentWindow, doc = win.document;
  const name = e => e.tagName.toLowerCase() + (typeof e.className === "string" &&
      e.className ? "." + e.className.trim().replace(/\\s+/g, ".") : "");
  const edge = [...doc.body.querySelectorAll("*")].filter(e => !e.closest(".scroll") &&
      !e.closest("details:not([open])") &&
      e.getBoundingClientRect().right > win.innerWidth + 0.5).map(name);
  const clipped = [...doc.body.querySelectorAll("*")].filter(e =>
      e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
      .map(e => `${{name(e)}} ${{e.scrollWidth}}>${{e.clientWidth}}: ` +
           e.textContent.slice(0, 60));
  const bars = [...doc.querySelectorAll("rect[data-bag]")].map(r => ({{key: r.dataset.bag,
      fill: +r.dataset.fill, width: r.getBoundingClientRect().width}}));
  document.getElementById("measured").textContent = JSON.stringify({{
    inner_width: win.innerWidth, scroll_width: doc.documentElement.scrollWidth,
    past_edge: edge, clipped: clipped, bag_bars: bars,
    dom: doc.documentElement.outerHTML}});
}});
</script></body></html>
"""
MEASURED = re.compile(r'<pre id="measured">(.*?)</pre>', re.DOTALL)


@dataclass
class View:
    """The page as a browser window of one size shows it."""
    screenshot: Path
    dom: str            # the DOM the browser built
    inner_width: int    # the viewport's CSS pixels
    scroll_width: int   # the page's: more than inner_width is a sideways scroll
    past_edge: list     # elements reaching past the right edge (outside scrollers)
    clipped: list       # boxes whose content is wider than they are: a table that
    #                     needs a sideways scroll, a text cut or spilling over
    bag_bars: list      # {key, fill, width in CSS pixels} per bag's bar

    @property
    def figures(self) -> dict:
        return figures(self.dom)


def view(page: Path, out: Path, width: int, height: int) -> View:
    """One Chromium start: a screenshot of the page in a window of this size, and what
    the browser measured in it."""
    harness = page.with_name(f".view-{width}-{page.name}")
    harness.write_text(HARNESS.format(src=page.name, width=width, height=height),
                       encoding="utf-8")
    try:
        result = _run([f"--screenshot={out}", f"--window-size={width},{height}",
                       "--allow-file-access-from-files", "--dump-dom",
                       harness.absolute().as_uri()])
    finally:
        harness.unlink()
    error = result.stderr.decode(errors="replace")[-2000:]
    assert out.exists() and result.returncode == 0, error
    found = MEASURED.search(result.stdout.decode("utf-8"))
    assert found and found[1].strip(), f"the harness measured nothing: {error}"
    return View(screenshot=out, **json.loads(html.unescape(found[1])))


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
