"""Draw an Overview (overview.py) as one self-contained HTML page: inline CSS, inline
SVG, no script, no font or image from anywhere, so it reads offline and on a phone.

Charts are hand-written SVG: each bar is a row of HTML (label, an SVG strip stretched
to the row's width, value), so text stays at reading size at any width and only the
rectangles scale. Key figures carry `data-figure` names (tests and scripts read them);
their text is formatted as `doit cost`, `doit prune` and the run summary print it.
"""

import html
from pathlib import Path

from ..errors import command
from .. import cost
from .figures import EXTRA, OTHER
from ..units import duration, human, plural, printable

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6")
GREY = "#bab0ac"
FILL_CAP = 1.5  # the bag chart shows fills up to 150% of the target


# the page's style sheet lives beside this module, inlined into every page
CSS = (Path(__file__).parent / "page.css").read_text(encoding="utf-8")


def esc(text) -> str:
    """Text from the state (names that may hold any byte) made safe for HTML."""
    return html.escape(printable(str(text)), quote=True)


def usd(amount: float, places: int = 2) -> str:
    return f"${amount:.{places}f}"


def figure(name: str, text: str, tag: str = "span") -> str:
    return f'<{tag} data-figure="{esc(name)}">{esc(text)}</{tag}>'


def colours(labels) -> dict:
    return {label: GREY if label in (EXTRA, OTHER) else PALETTE[i % len(PALETTE)]
            for i, label in enumerate(labels)}


def render(ov, version: str) -> str:
    title = f"Glacier archive {ov.bucket} ({ov.host}), {ov.today}"
    body = "\n".join([_header(ov), "<main>", _health(ov), _storage(ov), _bags(ov),
                      _money(ov), _last_run(ov), "</main>", _footer(ov, version)])
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


# -- building blocks -------------------------------------------------------------------


def bar_row(label: str, parts, scale: float, value: str, figure_name: str = "") -> str:
    """One horizontal bar: parts are (colour, amount, hover text), scale the amount
    the full width stands for."""
    x, rects = 0.0, []
    for colour, amount, hover in parts:
        width = 1000 * amount / scale if scale else 0
        if width > 0:
            rects.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="10" '
                         f'fill="{colour}"><title>{esc(hover)}</title></rect>')
        x += width
    shown_value = figure(figure_name, value) if figure_name else esc(value)
    return (f'<div class="row"><span class="lab">{esc(label)}</span>'
            f'<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" '
            f'role="img" aria-label="{esc(label)}: {esc(value)}">'
            f'<rect width="1000" height="10" class="track"/>{"".join(rects)}</svg>'
            f'<span class="val">{shown_value}</span></div>')


def legend(palette: dict) -> str:
    items = "".join(f'<li><span class="sw" style="background:{c}"></span>{esc(label)}</li>'
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
                  f"{len(ov.oversized)} past the target"),
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


def _storage(ov) -> str:
    palette = colours(list(ov.molecules) + [EXTRA])
    scale = max([y.size for y in ov.years] + [0])
    rows = [bar_row(y.year, [(palette.get(label, GREY), size, f"{label}: {human(size)}")
                             for label, size in y.parts], scale, human(y.size),
                    f"year-{y.year}-bytes") for y in ov.years]
    by_year = (legend({k: v for k, v in palette.items()
                       if any(k == label for y in ov.years for label, _ in y.parts)}) +
               f'<div class="chart">{"".join(rows)}</div>') if rows else \
        '<p class="empty">The bucket holds nothing yet.</p>'
    bill = [[esc(b.storage_class), figure(f"bill-{b.storage_class}-objects", str(b.objects)),
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


def _bags(ov) -> str:
    if not ov.bags:
        return ('<section id="bags"><h2>Bags</h2><p class="empty">No bags yet: '
                f"'{command('dryrun')}' plans them.</p></section>")
    years = sorted({b.year for b in ov.bags})
    palette = colours(years)
    stored = [b for b in ov.bags if not b.pending]
    pending = [b for b in ov.bags if b.pending]
    target = ov.target_bytes / 1e9
    intro = (f'<p><span data-figure="bags-stored">{len(stored)}</span> bags stored, '
             f'<span data-figure="bags-pending">{len(pending)}</span> pending upload; '
             f"each bar is one bag, its height its size against target_bag_gb "
             f"({target:g} GB, the dashed line). Pale bars are still to upload.</p>")
    oversized = ov.oversized
    over = ""
    if oversized:
        rows = [[f"{esc(b.key)}<br>" + small(f"{b.molecule} · {plural(b.atoms, 'atom')}"),
                 human(b.size), f"{b.fill:.0%}"] for b in oversized]
        over = (f"<h3>Past the target size ({len(oversized)})</h3>" +
                folded(plural(len(oversized), "bag"), table(
                    ["Bag", "Size", "Fill"], rows, "num"), len(rows)))
    return (f'<section id="bags"><h2>Bags</h2>{intro}{legend(palette)}'
            f"{_fill_chart(ov.bags, palette)}{over}</section>")


def _fill_chart(bags, palette) -> str:
    ordered = sorted(bags, key=lambda b: (b.year, b.pending, -b.fill, b.key))
    slots = max(len(ordered), 24)  # a few bags stay slim
    width, line = slots * 10, 100 - 100 / FILL_CAP
    bars = []
    for i, bag in enumerate(ordered):
        height = 100 * min(bag.fill, FILL_CAP) / FILL_CAP
        style = ' fill-opacity="0.35"' if bag.pending else ""
        bars.append(f'<rect x="{i * 10 + 1}" y="{100 - height:.2f}" width="8" '
                    f'height="{height:.2f}" fill="{palette[bag.year]}"{style}>'
                    f"<title>{esc(bag.key)}: {human(bag.size)}, {bag.fill:.0%} of the "
                    f"target{', pending' if bag.pending else ''}</title></rect>")
    return ('<div class="fill"><div class="axis"><span style="top:0">150%</span>'
            f'<span style="top:{line:.1f}%">100%</span><span style="bottom:0">0</span></div>'
            f'<svg viewBox="0 0 {width} 100" preserveAspectRatio="none" role="img" '
            f'aria-label="fill of {plural(len(bags), "bag")}">'
            f'<rect width="{width}" height="100" class="track"/>{"".join(bars)}'
            f'<line x1="0" x2="{width}" y1="{line:.2f}" y2="{line:.2f}" class="target" '
            'vector-effect="non-scaling-stroke"/></svg></div>')


def _money(ov) -> str:
    parts = ['<section id="money"><h2>Money</h2>', _bill_by_year(ov), _prunable(ov),
             _restore(ov)]
    if ov.per_file:
        p = ov.per_file
        parts.append(f'<p class="note">The same data as one object per file: '
                     f"{plural(p['objects'], 'object')} instead of "
                     f"{plural(p['bags'], 'bag')}, upload "
                     f"{usd(p['upload_fee'])}, {usd(p['monthly'])}/month, Bulk restore "
                     f"{usd(p['restore_bulk'])}.</p>")
    return "".join(parts) + "</section>"


def _bill_by_year(ov) -> str:
    if not ov.money:
        return "<h3>Monthly bill by year</h3><p class='empty'>Nothing stored yet.</p>"
    scale = max(m.monthly for m in ov.money)
    rows = [bar_row(m.year, [(PALETTE[0], m.monthly, f"{usd(m.monthly, 4)}/month")],
                    scale, usd(m.monthly), f"year-{m.year}-monthly") for m in ov.money]
    fees = [[esc(m.year), str(m.bags), human(m.bag_bytes), str(m.requests),
             figure(f"year-{m.year}-upload-fee", usd(m.upload_fee, 4))]
            for m in ov.money if m.bags or m.year != OTHER]
    sent = ""
    if ov.last_backup and ov.last_backup.get("sent"):
        s = ov.last_backup["sent"]
        sent = (f'<p class="note">The last backup sent {plural(s["bags"], "bag")}, '
                f'{human(s["bytes"])}, in {s["requests"]} requests: fee about '
                f'{figure("last-run-fee", usd(s["fee"], 4))}.</p>')
    return ("<h3>Monthly bill by year</h3>"
            f'<p>What each yearly run\'s objects cost a month now; '
            f"total {usd(ov.monthly_total)}/month.</p>"
            f'<div class="chart">{"".join(rows)}</div>'
            "<h3>Upload fees by run</h3>" +
            table(["Run", "Bags", "Size", "Requests", "Fee"], fees, "num", wrap=()) +
            '<p class="note">For the bags still in the bucket, each with its manifest.</p>'
            + sent)


def _dead(ov) -> str:
    """Kept bags some atoms moved out of: their old copies stay, referenced."""
    if not ov.dead:
        return ""
    return (f'<p class="note">Kept bags holding old versions of atoms that moved to a '
            f'newer bag: {plural(len(ov.dead), "bag")}, '
            f'{figure("dead-bytes", human(ov.dead_bytes))} no atom points at any more, '
            f'about {figure("dead-monthly", usd(ov.dead_monthly))}/month; such a bag is '
            "packed again once less than compact_below of it is referenced.</p>")


def _prunable(ov) -> str:
    if not ov.prunable:
        return ("<h3>Prunable</h3><p>Nothing to prune: every object under YYYY-backup/ "
                "is referenced.</p>" + _dead(ov))
    by_date = {}
    for p in ov.prunable:
        day = max(p.free_from, _history(p) or p.free_from, ov.today)
        by_date[day] = by_date.get(day, 0) + p.size
    scale = max(by_date.values())
    rows = [bar_row("now" if day <= ov.today else str(day),
                    [(PALETTE[2], size, human(size))], scale, human(size))
            for day, size in sorted(by_date.items())]
    lines = [[f"{esc(p.key)}<br>" + small(f"{human(p.size)} · {p.storage_class} · "
                                           f"{plural(p.age_days, 'day')} old" +
                                           (f" · history until {_history(p)} (keep_years)"
                                            if _history(p) else "")),
              figure(f"fee-now:{p.key}", usd(p.fee_now, 4)),
              figure(f"free-from:{p.key}", str(p.free_from))] for p in ov.prunable]
    return (f"<h3>Prunable</h3><p>{plural(len(ov.prunable), 'object')}, "
            f"{human(ov.prunable_bytes)} no longer referenced. Deleting an archived "
            "object before its minimum time (180 days in Deep Archive) costs the rest of "
            "that time; each becomes free to delete on this date:</p>"
            f'<div class="chart dates">{"".join(rows)}</div>' +
            folded(f"the {len(lines)} prunable objects", table(
                ["Object", "Fee if<br>deleted now", "Free from"], lines, "num"),
                len(lines)) +
            f"<p class=\"note\">'{command('prune --delete')}' deletes those past "
            "--min-age-days (default 180).</p>" + _dead(ov))


def _history(prunable):
    """The day keep_years keeps a superseded bag as history until, if it does."""
    return getattr(prunable, "history_until", None)


def _restore(ov) -> str:
    if not ov.restore:
        return "<h3>Restore</h3><p class='empty'>Nothing to restore yet.</p>"
    scopes = {}
    for r in ov.restore:
        scopes.setdefault(r.scope, {})[r.tier] = r
    head = ["What"] + [f"{t}<br>" + small(scopes["everything"][t].delay)
                       for t in cost.TIERS]
    rows = []
    for scope, tiers in scopes.items():
        first = tiers[cost.TIERS[0]]
        name = "<b>everything</b>" if scope == "everything" else esc(scope)
        rows.append([f"{name}<br>" + small(f"{plural(first.bags, 'bag')}, "
                                           f"{human(first.size)}")] +
                    [figure(f"restore-{scope}-{t}", usd(tiers[t].total)) if scope ==
                     "everything" else usd(tiers[t].total) for t in cost.TIERS])
    return ("<h3>Restore</h3><p>Thawing, requests and download (the first 100 GB a "
            "month free), for everything and for one molecule alone:</p>" +
            table(head, rows, "num"))


def _last_run(ov) -> str:
    backup, last = ov.last_backup, ov.last_run
    parts = ['<section id="last-run"><h2>Last run</h2>']
    if backup is None:
        parts.append('<p class="empty">No backup recorded yet.</p>')
        if last and last.get("command") == "dryrun":
            parts.append(_planned(last))
    else:
        parts.append(_backup_facts(backup))
    if last and backup and last.get("command") != "backup":
        parts.append(f'<p class="note">Since then: {esc(last["command"])} on '
                     f'{esc(last["run_date"])} ({_result(last)}).</p>')
    return "".join(parts) + "</section>"


def _result(record) -> str:
    return "ok" if record.get("exit_status") == 0 else \
        f"failed, exit {record.get('exit_status')}"


def _planned(record) -> str:
    p = record["planned"]
    return (f"<p>The last dry run ({esc(record['run_date'])}) plans "
            f"{plural(p['bags'], 'bag')} to upload, {human(p['bytes'])}, {p['requests']} "
            "requests, "
            f"fee about {usd(p['fee'], 4)}; then {plural(p['stored_bags'], 'bag')}, "
            f"{human(p['stored_bytes'])}, about {usd(p['monthly'])} per month.</p>")


def _backup_facts(b) -> str:
    if b.get("stopped_before_report"):  # it never counted its bags (last_run.py)
        items = "".join(f"<dt>Stopped</dt><dd>{esc(why)}</dd>"
                        for why in b["stopped_before_report"])
        return (f'<p>Backup {esc(b["year"])} of {esc(b["run_date"])} failed before its '
                f'report:</p><dl class="facts">{items}</dl>')
    bags, atoms, sent = b["bags"], b["atoms"], b["sent"]
    facts = [
        ("When", f"{esc(b['run_date'])} " + small(f"(from {when(b['started_at'])} to "
                                                  f"{when(b['ended_at'])})")),
        ("How long", esc(duration(b["seconds"]))),
        ("Result", figure("last-run-result", _result(b))),
        ("Atoms", ", ".join(f"{figure('atoms-' + k, str(atoms[k]))} {k}"
                           for k in ("added", "changed", "removed"))),
        ("Bags", f"{figure('last-run-planned', str(bags['planned']))} in the plan: " +
         ", ".join(f"{figure('last-run-' + k, str(bags[k]))} {k}"
                   for k in ("unchanged", "uploaded", "repaired", "failed"))),
        ("Sent", f"{figure('last-run-bytes', human(sent['bytes']))} in "
                 f"{plural(sent['bags'], 'bag')}, {plural(sent['requests'], 'request')}, "
                 f"fee about {usd(sent['fee'], 4)}")]
    for name, why in b.get("failed", {}).items():
        facts.append(("Failed", f"{esc(name)}: {esc(why)}"))
    for line in b.get("repaired", []):
        facts.append(("Repaired", esc(line)))
    for molecule, why in b.get("missing_molecules", {}).items():
        facts.append(("Missing", f"{esc(molecule)}: {esc(why)}"))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f'<p>Backup {esc(b["year"])}:</p><dl class="facts">{items}</dl>'


def _footer(ov, version: str) -> str:
    return (f"<footer>glacier-tasks {esc(version)} · from the inventory, the last plan, "
            "last-run.json and one listing of the bucket · figures as "
            f"'{command('cost')}', "
            f"'{command('prune')}' and '{command('status')}' print them · prices of "
            f"{cost.PRICES_DATE} (AWS us-east-1 unless glacier.toml's [prices] says "
            "otherwise)</footer>")
