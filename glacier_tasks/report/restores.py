"""Restores left pending (a thaw takes up to two days), from their state files alone
(no S3): what each asked for, where its bags are (restored, downloaded, thawed,
thawing, not requested), since when, and the command that continues it. Shown by
`glacier restore --pending` and by `glacier status` (text and `now.restores`)."""

import os

from ..formats import manifest
from ..restore import state as restorestate
from ..units import plural

SHOWN = 5  # bags named per step; the rest are counted


def pending_restores(run) -> list[tuple[str, restorestate.RestoreState]]:
    return restorestate.pending_states(run.restores_dir)


def restore_record(rid: str, state) -> dict:
    """One pending request, for `status --json`."""
    return {"id": rid, "path": state.request.get("path", ""),
            "all": bool(state.request.get("all")), "dest": state.request.get("dest", ""),
            "started": state.started, "checked": state.checked,
            "readable": state.readable, "thawing_since": state.thawing_since(),
            "bags": state.counts(), "command": state.command,
            "bag_steps": {key: bag.step for key, bag in sorted(state.bags.items())}}


def _what(state) -> str:
    """A name that is not UTF-8 as find prints it (\\xNN)."""
    return "everything (--all)" if state.request.get("all") else \
        manifest.escape_name(os.fsencode(state.request.get("path") or "?"))


def headline(state) -> str:
    """One line: what, into where, and how far its bags are."""
    counts, total = state.counts(), len(state.bags)
    since = state.thawing_since()
    steps = ", ".join(f"{n} {step}" + (f" since {since}" if step == "thawing" and since
                                        else "")
                      for step, n in counts.items() if n)
    checked = f"; last checked {state.checked}" if state.checked else ""
    return (f"{_what(state)} into {state.request.get('dest', '?')}: "
            f"{plural(total, 'bag')} ({steps or 'none yet'}){checked}")


def status_lines(pending: list) -> list[str]:
    """`glacier status`: a line per pending restore and its command."""
    if not pending:
        return []
    lines = [f"Restores pending: {len(pending)}"]
    for _, state in pending:
        lines += [f"  {headline(state)}", f"    continue: {state.command or '?'}"]
    return lines


def pending_lines(pending: list, folder) -> list[str]:
    """`glacier restore --pending`: every pending request, its bags by step."""
    if not pending:
        return [f"No restore pending ({folder} holds none unfinished)."]
    lines = [f"{plural(len(pending), 'restore')} pending (state in {folder}):"]
    for rid, state in pending:
        lines += ["", headline(state), f"  request {rid}, started {state.started}"]
        by_step = {}
        for key, bag in sorted(state.bags.items()):
            by_step.setdefault(bag.step, []).append(key)
        for step in restorestate.STEPS:
            keys = by_step.get(step, [])
            if keys:
                more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
                lines.append(f"  {step}: {', '.join(keys[:SHOWN])}{more}")
        lines.append(f"  continue: {state.command or '?'}")
    return lines
