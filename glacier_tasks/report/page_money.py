"""The report's Money section: the monthly bill by year (split by molecule), upload
fees, prunable objects and the dates they become free to delete, restore costs."""

from .. import cost
from ..errors import command
from ..units import human, plural
from .blocks import GREY, bar_row, esc, figure, folded, small, table, usd
from .figures import EXTRA, OTHER


def money_section(ov, palette: dict) -> str:
    parts = ['<section id="money"><h2>Money</h2>', _bill_by_year(ov, palette),
             _prunable(ov, palette), _restore(ov)]
    if ov.per_file:
        p = ov.per_file
        parts.append(f'<p class="note">The same data as one object per file: '
                     f"{plural(p['objects'], 'object')} instead of "
                     f"{plural(p['bags'], 'bag')}, upload "
                     f"{usd(p['upload_fee'])}, {usd(p['monthly'])}/month, Bulk restore "
                     f"{usd(p['restore_bulk'])}.</p>")
    return "".join(parts) + "</section>"


def _bill_by_year(ov, palette: dict) -> str:
    if not ov.money:
        return "<h3>Monthly bill by year</h3><p class='empty'>Nothing stored yet.</p>"
    scale = max(m.monthly for m in ov.money)
    rows = [bar_row(m.year, [(palette.get(label, GREY), monthly,
                              f"{label}: {usd(monthly, 4)}/month", label)
                             for label, monthly in m.parts],
                    scale, usd(m.monthly), f"year-{m.year}-monthly") for m in ov.money]
    fees = [[esc(m.year), str(m.bags), human(m.bag_bytes), str(m.requests),
             figure(f"year-{m.year}-upload-fee", usd(m.upload_fee, 4))]
            for m in ov.money if m.bags or m.year != OTHER]
    sent = ""
    upload = ov.last_upload if ov.last_upload and "fee" in ov.last_upload["sent"] \
        else None  # the last backup that sent bags (last-run.json)
    if upload:
        s = upload["sent"]
        sent = (f'<p class="note">The last backup that uploaded ({esc(upload["run_date"])})'
                f' sent {plural(s["bags"], "bag")}, {human(s["bytes"])}, in '
                f'{plural(s["requests"], "request")}: fee about '
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
            f'newer bag or were deleted: {plural(len(ov.dead), "bag")}, '
            f'{figure("dead-bytes", human(ov.dead_bytes))} no atom points at any more, '
            f'about {figure("dead-monthly", usd(ov.dead_monthly))}/month; such a bag is '
            "packed again once less than compact_below of it is referenced.</p>")


def _prunable(ov, palette: dict) -> str:
    if not ov.prunable:
        return ("<h3>Prunable</h3><p>Nothing to prune: every object under YYYY-backup/ "
                "is referenced.</p>" + _dead(ov))
    by_date = {}
    for p in ov.prunable:
        day = max(p.free_from, _history(p) or p.free_from, ov.today)
        label = (ov.labels or {}).get(p.key, EXTRA)
        parts = by_date.setdefault(day, {})
        parts[label] = parts.get(label, 0) + p.size
    scale = max(sum(parts.values()) for parts in by_date.values())
    rows = [bar_row("now" if day <= ov.today else str(day),
                    [(palette.get(label, GREY), size, f"{label}: {human(size)}", label)
                     for label, size in sorted(parts.items(),
                                               key=lambda x: (x[0] == EXTRA, x[0]))],
                    scale, human(sum(parts.values())))
            for day, parts in sorted(by_date.items())]
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
