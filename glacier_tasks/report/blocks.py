"""The report page's building blocks: escaping, money, one bar of a chart, a legend, a
table, a card. Every chart colours by label (a molecule, another host, or EXTRA) from
one palette per page, so a molecule has the same colour on every chart.
"""

import html
import math

from .figures import EXTRA, OTHER
from ..units import printable

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6")
GREY = "#bab0ac"
TINY = 0.000001  # dollars: the smallest amount shown as a number


def esc(text) -> str:
    """Text from the state (names that may hold any byte) made safe for HTML."""
    return html.escape(printable(str(text)), quote=True)


def usd(amount: float, places: int = 2) -> str:
    """Dollars to `places` decimals, or to two significant digits when fewer would
    show a real amount as $0.00 (a few GB cost a tenth of a cent a month), down to
    a millionth of a dollar; less than that says so."""
    if 0 < abs(amount) < TINY / 2:
        return f"<${TINY:.6f}"
    if amount and round(abs(amount), places) == 0:
        places = min(1 - math.floor(math.log10(abs(amount))), 6)
    return f"${amount:.{places}f}"


def figure(name: str, text: str, tag: str = "span") -> str:
    return f'<{tag} data-figure="{esc(name)}">{esc(text)}</{tag}>'


def colours(labels) -> dict:
    """label -> colour: the palette's ten, then hues a golden angle apart; grey for
    manifests, system files and keys outside the years."""
    found, i = {}, 0
    for label in labels:
        if label in (EXTRA, OTHER):
            found[label] = GREY
            continue
        found[label] = PALETTE[i] if i < len(PALETTE) else \
            f"hsl({(i * 137.508) % 360:.0f},45%,52%)"
        i += 1
    return found


def bar_row(label: str, parts, scale: float, value: str, figure_name: str = "",
            extra: str = "") -> str:
    """One horizontal bar: parts are (colour, amount, hover text, label), scale the
    amount the full width stands for; extra: more SVG drawn over the bar."""
    x, rects = 0.0, []
    for colour, amount, hover, part in parts:
        width = 1000 * amount / scale if scale else 0
        if width > 0:
            rects.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="10" '
                         f'fill="{colour}" data-label="{esc(part)}">'
                         f'<title>{esc(hover)}</title></rect>')
        x += width
    shown_value = figure(figure_name, value) if figure_name else esc(value)
    return (f'<div class="row"><span class="lab">{esc(label)}</span>'
            f'<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" '
            f'role="img" aria-label="{esc(label)}: {esc(value)}">'
            f'<rect width="1000" height="10" class="track"/>{"".join(rects)}{extra}</svg>'
            f'<span class="val">{shown_value}</span></div>')


def legend(palette: dict) -> str:
    items = "".join(f'<li><span class="sw" style="background:{c}" '
                    f'data-label="{esc(label)}"></span>{esc(label)}</li>'
                    for label, c in palette.items())
    return f'<ul class="legend">{items}</ul>'


def table(head, rows, classes: str = "", wrap=(0,)) -> str:
    """rows: lists of cell HTML (already escaped); the `wrap` columns may break long
    names over lines, the others keep to one line (and the table scrolls sideways)."""
    top = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="w">{c}</td>' if i in wrap else
                                    f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return (f'<div class="scroll"><table class="{classes}"><thead><tr>{top}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def folded(summary: str, inner: str, rows: int, limit: int = 12) -> str:
    """A long table folds away (no script: <details>)."""
    if rows <= limit:
        return inner
    return f"<details><summary>{esc(summary)}</summary>{inner}</details>"


def small(text: str) -> str:
    return f'<small>{esc(text)}</small>'


def when(iso_time: str) -> str:
    """'2026-11-26T11:16:31Z' as people read it: '2026-11-26 11:16 UTC'."""
    return iso_time[:16].replace("T", " ") + " UTC" if iso_time else ""


def card(key: str, value_html: str, note: str, level: str = "") -> str:
    return (f'<div class="card {level}"><div class="k">{esc(key)}</div>'
            f'<div class="v">{value_html}</div><div class="n">{esc(note)}</div></div>')
