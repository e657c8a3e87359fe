"""Draw an Overview (figures.py) as one self-contained HTML page: inline CSS, inline
SVG, no script, no font or image from anywhere, so it reads offline and on a phone.

Charts are hand-written SVG: each bar is a row of HTML (label, an SVG strip stretched
to the row's width, value), so text stays at reading size at any width and only the
rectangles scale. Key figures carry `data-figure` names (tests and scripts read them);
their text is formatted as `doit cost`, `doit prune` and the run summary print it.
The sections live beside it: page_bags, page_money, page_run; blocks holds the parts.
"""

from pathlib import Path

from ..errors import command
from .. import cost
from .blocks import GREY, bar_row, card, colours, esc, figure, legend, table, usd
from .figures import EXTRA
from .page_bags import bags_section
from .page_money import money_section
from .page_run import last_run_section
from ..units import human, plural

# the page's style sheet lives beside this module, inlined into every page
CSS = (Path(__file__).parent / "page.css").read_text(encoding="utf-8")


def render(ov, version: str) -> str:
    title = f"Glacier archive {ov.bucket} ({ov.host}), {ov.today}"
    palette = colours(list(ov.molecules) + [EXTRA])  # one colour per molecule
    body = "\n".join([_header(ov), "<main>", _health(ov), _storage(ov, palette),
                      bags_section(ov, palette), money_section(ov, palette),
                      last_run_section(ov), "</main>", _footer(ov, version)])
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


# -- sections --------------------------------------------------------------------------


def _header(ov) -> str:
    backup = ov.last_backup
    if backup:
        ok = backup["exit_status"] == 0
        last = card("Last backup", figure("last-backup-date", backup["run_date"]),
                    "complete" if ok else f"FAILED (exit {backup['exit_status']})",
                    "good" if ok else "bad")
    else:
        last = card("Last backup", "none yet", "no backup recorded", "warn")
    bulk = next((r for r in ov.restore if r.scope == "everything" and r.tier == "Bulk"),
                None)
    cards = [card("Stored", figure("stored-bytes", human(ov.stored_bytes)),
                  f"{plural(sum(b.objects for b in ov.bill), 'object')} in the bucket"),
             card("Monthly bill", figure("monthly-total", usd(ov.monthly_total)),
                  "per month, every object"),
             card("Prunable", figure("prunable-bytes", human(ov.prunable_bytes)),
                  f"{plural(len(ov.prunable), 'object')} nothing references"),
             last,
             card("Bags", esc(str(sum(1 for b in ov.bags if not b.pending))),
                  f"{sum(1 for b in ov.bags if b.pending)} pending upload, "
                  f"{len(ov.past_target)} past the target"),
             card("Full restore", figure("card-restore-bulk", usd(bulk.total))
                  if bulk else "nothing yet", "Bulk tier, " + (bulk.delay if bulk else
                                                              "about 48 hours"))]
    worst = "fail" if any(c.level == "fail" for c in ov.checks) else \
        "warn" if any(c.level == "warn" for c in ov.checks) else "ok"
    verdict = {"ok": "All is well", "warn": "Needs a look",
               "fail": "Needs attention"}[worst]
    return (f'<header><h1>Glacier archive <span class="bucket">{esc(ov.bucket)}</span>'
            f'</h1><p class="sub">host {esc(ov.host)} · {esc(ov.storage_class)} · bags '
            f"up to {ov.target_bytes / 1e9:g} GB · as of {ov.today} · "
            f'<span class="verdict {worst}" data-figure="verdict">{verdict}</span></p>'
            f'<div class="cards">{"".join(cards)}</div></header>')


def _health(ov) -> str:
    items = "".join(f'<li class="{c.level}">{esc(c.text)}</li>' for c in ov.checks)
    return f'<section id="health"><h2>Health</h2><ul class="checks">{items}</ul></section>'


def _storage(ov, palette: dict) -> str:
    scale = max([y.size for y in ov.years] + [0])
    rows = [bar_row(y.year, [(palette.get(label, GREY), size, f"{label}: {human(size)}",
                              label) for label, size in y.parts], scale, human(y.size),
                    f"year-{y.year}-bytes") for y in ov.years]
    by_year = (legend({k: v for k, v in palette.items()
                       if any(k == label for y in ov.years for label, _ in y.parts)}) +
               f'<div class="chart">{"".join(rows)}</div>') if rows else \
        '<p class="empty">The bucket holds nothing yet.</p>'
    bill = [[esc(b.storage_class),
             figure(f"bill-{b.storage_class}-objects", str(b.objects)),
             figure(f"bill-{b.storage_class}-bytes", human(b.size)),
             figure(f"bill-{b.storage_class}-monthly", usd(b.monthly))]
            for b in ov.bill]
    bill.append(["<b>total</b>", str(sum(b.objects for b in ov.bill)),
                 human(ov.stored_bytes), f"<b>{usd(ov.monthly_total)}</b>"])
    return ('<section id="storage"><h2>Storage</h2><h3>By year and molecule</h3>'
            f"{by_year}<h3>By storage class</h3>"
            + table(["Class", "Objects", "Size", "Per month"], bill, "num", wrap=()) +
            f'<p class="note">Every object in the bucket (other: keys outside '
            f"YYYY-backup/), with the 40 KB S3 adds to each archived object; prices of "
            f"{cost.PRICES_DATE}.</p></section>")


def _footer(ov, version: str) -> str:
    return (f"<footer>glacier-tasks {esc(version)} · from the inventory, the last plan, "
            "last-run.json and one listing of the bucket · figures as "
            f"'{command('cost')}', "
            f"'{command('prune')}' and '{command('status')}' print them · prices of "
            f"{cost.PRICES_DATE} (AWS us-east-1 unless glacier.toml's [prices] says "
            "otherwise)</footer>")
