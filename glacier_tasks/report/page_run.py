"""The report's Last run section: the last backup (and the last one that uploaded,
when a later run sent nothing), a dry run's plan before any backup, and what this
year's backups changed."""

from ..units import duration, human, plural
from .blocks import esc, figure, small, usd, when

SHOWN_NAMES = 50  # atoms named per list; the rest are counted


def last_run_section(ov) -> str:
    backup, last = ov.last_backup, ov.last_run
    parts = ['<section id="last-run"><h2>Last run</h2>']
    if backup is None:
        parts.append('<p class="empty">No backup recorded yet.</p>')
        if last and last.get("command") == "dryrun":
            parts.append(_planned(last))
    else:
        parts.append(_backup_facts(backup, ov.last_upload))
    if last and backup and last.get("command") != "backup":
        parts.append(f'<p class="note">Since then: {esc(last["command"])} on '
                     f'{esc(last["run_date"])} ({_result(last)}).</p>')
    parts.append(_this_year(ov))
    return "".join(parts) + "</section>"


def _this_year(ov) -> str:
    """Atoms added, changed and removed by this year's backups, each list folded."""
    year = ov.year_atoms
    if not year:
        return ""
    lists = []
    for kind in ("changed", "added", "removed"):
        names = year.get(kind, [])
        shown = "".join(f"<li>{esc(n)}</li>" for n in names[:SHOWN_NAMES])
        more = (f"<li>... and {len(names) - SHOWN_NAMES} more</li>"
                if len(names) > SHOWN_NAMES else "")
        lists.append(f'<details><summary>{figure("year-atoms-" + kind, str(len(names)))} '
                     f'{kind}</summary><ul class="names">{shown}{more}</ul></details>'
                     if names else f'<p>{figure("year-atoms-" + kind, "0")} {kind}</p>')
    return (f"<h3>What changed in {esc(year['year'])}</h3><p>The atoms the backups of "
            f"{esc(year['year'])} stored anew or let go:</p>"
            f'<div class="changes">{"".join(lists)}</div>')


def _upload_fact(upload: dict | None) -> list:
    """The newest backup that sent bags, as one fact (none if there is none)."""
    if not upload:
        return []
    s = upload["sent"]
    return [("Last upload", f"{figure('last-upload-date', upload['run_date'])}: "
             f"{plural(s['bags'], 'bag')}, {human(s['bytes'])}" +
             (f", fee about {usd(s['fee'], 4)}" if "fee" in s else ""))]


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


def _backup_facts(b, upload: dict | None) -> str:
    if b.get("stopped_before_report"):  # it never counted its bags (last_run.py)
        items = "".join(f"<dt>Stopped</dt><dd>{esc(why)}</dd>"
                        for why in b["stopped_before_report"])
        items += "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in _upload_fact(upload))
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
    if not sent["bags"]:  # a later run that sent nothing hides no upload
        facts += _upload_fact(upload)
    for name, why in b.get("failed", {}).items():
        facts.append(("Failed", f"{esc(name)}: {esc(why)}"))
    for line in b.get("repaired", []):
        facts.append(("Repaired", esc(line)))
    for molecule, why in b.get("missing_molecules", {}).items():
        facts.append(("Missing", f"{esc(molecule)}: {esc(why)}"))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f'<p>Backup {esc(b["year"])}:</p><dl class="facts">{items}</dl>'
