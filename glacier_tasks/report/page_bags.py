"""The report's Bags section: one labelled bar per bag, in its molecule's colour, its
length its size against target_bag_gb (the dashed line), so 2x and 3x differ."""

from ..errors import command
from ..units import human, plural
from .blocks import GREY, esc, folded, legend, small, table

CAP = 4.0       # the bars' scale ends at 4x the target; a larger bag's bar is cut
PER_YEAR = 24   # a year with more bags folds them away


def bags_section(ov, palette: dict) -> str:
    if not ov.bags:
        return ('<section id="bags"><h2>Bags</h2><p class="empty">No bags yet: '
                f"'{command('dryrun')}' plans them.</p></section>")
    stored = [b for b in ov.bags if not b.pending]
    pending = [b for b in ov.bags if b.pending]
    target = ov.target_bytes / 1e9
    intro = (f'<p><span data-figure="bags-stored">{len(stored)}</span> bags stored, '
             f'<span data-figure="bags-pending">{len(pending)}</span> pending upload; '
             f"each bar is one bag in its molecule's colour, its length its size against "
             f"target_bag_gb ({target:g} GB, the dashed line). Pale bars are still to "
             "upload.</p>")
    shown = {b.molecule for b in ov.bags}
    key = legend({k: v for k, v in palette.items() if k in shown})
    return (f'<section id="bags"><h2>Bags</h2>{intro}{key}{fill_chart(ov.bags, palette)}'
            f"{_past_target(ov)}</section>")


def fill_chart(bags, palette: dict) -> str:
    """Rows grouped by year, each bag's name, bar and size with its fill."""
    scale = min(max([b.fill for b in bags] + [1.0]), CAP)
    years = {}
    for bag in sorted(bags, key=lambda b: (b.year, b.pending, b.molecule, b.tar_id)):
        years.setdefault(bag.year, []).append(bag)
    parts = []
    for year, held in years.items():
        rows = "".join(_bag_row(b, palette.get(b.molecule, GREY), scale) for b in held)
        head = f"{year}: {plural(len(held), 'bag')}"
        parts.append(f'<div class="chart bags"><div class="yr">{esc(head)}</div>'
                     f"{rows}</div>" if len(held) <= PER_YEAR else
                     f'<details><summary>{esc(head)}</summary>'
                     f'<div class="chart bags">{rows}</div></details>')
    return "".join(parts)


def _bag_row(bag, colour: str, scale: float) -> str:
    width = 1000 * min(bag.fill, scale) / scale
    line = 1000 / scale
    pale = ' fill-opacity="0.4"' if bag.pending else ""
    hover = (f"{bag.key}: {human(bag.size)}, {bag.fill:.0%} of the target, "
             f"{plural(bag.atoms, 'atom')} of {bag.molecule}"
             + (", pending" if bag.pending else ""))
    cut = ('<rect x="930" y="0" width="14" height="10" fill="#fff"/>'
           if bag.fill > scale else "")  # past the scale's end: the bar is cut short
    value = f"{human(bag.size)} · {bag.fill:.0%}"  # pending: the pale bar says it
    return (f'<div class="row"><span class="lab" title="{esc(bag.key)}">'
            f'{esc(bag.tar_id)}</span>'
            f'<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" '
            f'role="img" aria-label="{esc(bag.tar_id)}: {esc(value)}">'
            f'<rect width="1000" height="10" class="track"/>'
            f'<rect x="0" y="0" width="{width:.2f}" height="10" fill="{colour}"{pale} '
            f'data-label="{esc(bag.molecule)}" data-bag="{esc(bag.key)}" '
            f'data-fill="{bag.fill:.4f}"><title>{esc(hover)}</title></rect>{cut}'
            f'<line x1="{line:.2f}" x2="{line:.2f}" y1="0" y2="10" class="target" '
            f'vector-effect="non-scaling-stroke"/></svg>'
            f'<span class="val">{esc(value)}</span></div>')


def _past_target(ov) -> str:
    """The bags past the target by more than tar's few KB, each with why."""
    past = ov.past_target
    if not past:
        return ""
    rows = [[f"{esc(b.key)}<br>" + small(f"{b.molecule} · " + (
                "one atom larger than the target: normal" if b.atoms == 1 else
                f"{plural(b.atoms, 'atom')}: needs a look")),
             human(b.size), f"{b.fill:.0%}"] for b in past]
    return (f"<h3>Past the target size ({len(past)})</h3>" +
            folded(plural(len(past), "bag"), table(["Bag", "Size", "Fill"], rows, "num"),
                   len(rows)))
