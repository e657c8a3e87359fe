"""What `--json` prints: one JSON document per command, for scripts. Each shape is
documented in README.md ("JSON output") and starts with `"version": 1`; a field may be
added within a version, never renamed or removed (that is version 2). Sizes are bytes,
money is USD (floats), times are ISO 8601 UTC. tests/e2e/json_shapes.py holds the
schemas the tests check every shape against."""

from .. import cost, units
from ..backup.ledger import BagLedger
from ..formats import layout
from ..restore import space

VERSION = 1


def bag_list(run, plan, tasks, scanned: float | None, notes: list) -> dict:
    """`list --json`: the bags of the last plan and whether each is pending."""
    bags = []
    for task in tasks:
        bag = plan.bag(task.name.partition(":")[2]) if plan else None
        if bag is None:
            continue
        waits = BagLedger.of(run, bag).waiting_for()
        bags.append({"name": bag.name, "molecule": units.printable(bag.molecule),
                     "archive_key": bag.archive_key,
                     "atoms": [units.printable(a) for a in bag.atoms],
                     "size": bag.size, "files": bag.files, "action": bag.action,
                     "reasons": list(bag.reasons), "pending": not task.meta.get("settled"),
                     "waiting_for": waits})
    if plan is None:  # the inventory's bags (a machine just bootstrapped)
        bags = [_kept_bag(*task.meta["kept"]) for task in tasks
                if "kept" in (task.meta or {})]
    return {"version": VERSION, "year": plan.year if plan else None,
            "scanned": units.iso_utc(scanned) if scanned else None,
            "out_of_date": notes, "pending": sum(1 for b in bags if b["pending"]),
            "bags": bags}


def _kept_bag(key: str, bag) -> dict:
    """An inventory's bag as `list --json` shows it without a plan: in the bucket."""
    return {"name": layout.bag_name(key), "molecule": units.printable(bag.molecule or ""),
            "archive_key": key, "atoms": [units.printable(a) for a in bag.atoms],
            "size": bag.size, "files": bag.files, "action": "keep", "reasons": [],
            "pending": False, "waiting_for": ""}


def find_matches(pattern: str, all_years: bool, matches) -> dict:
    """`find --json`: every file whose path matches, with its bag."""
    return {"version": VERSION, "pattern": pattern, "all_years": all_years,
            "matches": [_match(m) for m in matches]}


def _match(m) -> dict:
    """A manifest line's fields: after the time, a checksum and/or a note."""
    mtime, _, extra = m.mtime.partition(" ")
    words = extra.split(" ") if extra else []
    sha = next((w.removeprefix("sha256:") for w in words if w.startswith("sha256:")), None)
    return {"path": m.path, "bag": m.bag, "archive_key": m.archive_key, "size": m.size,
            "mtime": mtime, "sha256": sha,
            "note": " ".join(w for w in words if not w.startswith("sha256:")),
            "year": int(m.archive_key[:4]) if m.archive_key[:4].isdigit() else None}


def _money(figures: dict) -> dict:
    """cost.py's figures, each key ending in _usd."""
    return {f"{k}_usd": v for k, v in figures.items()}


def cost_figures(bill: dict, prunable: int, restore: dict, per_file: dict, bags: int,
                 history: dict) -> dict:
    """`cost --json`: the monthly bill, history, prunable bytes and restore costs."""
    count, size, monthly = history["current"]
    old_count, old_size, old_monthly = history["history"]
    return {"version": VERSION, "prices_date": cost.PRICES_DATE,
            "storage": [{"storage_class": c, "objects": n, "bytes": held,
                         "monthly_usd": m} for c, (held, n, m) in bill.items()],
            "monthly_usd": sum(m for _, _, m in bill.values()),
            "prunable_bytes": prunable,
            "current": {"bags": count, "bytes": size, "monthly_usd": monthly},
            "history": {"bags": old_count, "bytes": old_size, "monthly_usd": old_monthly,
                        "keep_years": history["keep_years"],
                        "per_year_bytes": history["per_year"][0],
                        "per_year_monthly_usd": history["per_year"][1]},
            "full_restore": {tier.lower(): _money(f) for tier, f in restore.items()},
            "one_object_per_file": {"objects": per_file["objects"], "bags": bags,
                                    **_money({k: v for k, v in per_file.items()
                                              if k != "objects"})}}


def cost_by_host(rows: list) -> dict:
    """`cost --all-hosts --json`: (host, objects, bytes, USD a month) rows."""
    return {"version": VERSION, "prices_date": cost.PRICES_DATE,
            "hosts": [{"host": h, "objects": n, "bytes": b, "monthly_usd": m}
                      for h, n, b, m in rows]}


def verify_result(bags: int, problems: list, warnings: list, thawing: int = 0,
                  deep: bool = False, host: str = "") -> dict:
    """`verify --json`: what was checked and what was found."""
    return {"version": VERSION, "host": host, "bags": bags, "deep": deep,
            "ok": not problems and not thawing, "problems": problems,
            "warnings": warnings, "thawing": thawing}


def restore_estimate(what: str, plans, tier: str, prices, needs, problem) -> dict:
    """`restore --json` without --yes: the bags, bytes, time and cost; nothing asked."""
    thawed = sum(p.record.size for p in plans)
    fetched = sum(p.download_size for p in plans)
    figures = cost.restore_cost(thawed, len(plans), tier, prices, transfer_size=fetched)
    return {"version": VERSION, "what": what, "tier": tier,
            "thaw_takes": cost.TIER_DELAY.get(tier, ""),
            "bags": [{"archive_key": p.key, "size": p.record.size,
                      "download": p.download_size, "ranged": p.runs is not None,
                      "why_whole": p.why_whole} for p in plans],
            "thaw_bytes": thawed, "download_bytes": fetched, "cost": _money(figures),
            "space": [{"folder": str(n.folder), "bytes": n.size,
                       "free": space.free_space(n.folder)[0],
                       "for": "files" if n.what == space.FILES else "download"}
                      for n in needs],
            "problem": problem}


def prune_result(today, found, verdicts: dict, held: dict, gone: list, delete: bool,
                 force: bool, min_age_days: int) -> dict:
    """`prune --json` (with or without --delete): each candidate and what --delete does
    (or did) with it, prune.classify's verdict; what this run deleted."""
    deleted = {p.key for p in gone}
    return {"version": VERSION, "date": today.isoformat(), "delete": delete,
            "force": force, "min_age_days": min_age_days,
            "objects": [_prunable(p, verdicts[p.key], held.get(p.key), p.key in deleted)
                        for p in found],
            "deleted": {"objects": len(gone), "bytes": sum(p.size for p in gone)}}


def _prunable(p, verdict: str, held, deleted: bool) -> dict:
    lost = p.lost
    return {"key": p.key, "size": p.size, "storage_class": p.storage_class,
            "uploaded": p.uploaded.isoformat(), "age_days": p.age_days,
            "verdict": verdict, "deleted": deleted,
            "early_deletion_fee_usd": p.fee_now, "free_from": p.free_from.isoformat(),
            "history_until": p.history_until.isoformat() if p.history_until else None,
            "object_lock": None if held is None else {
                "until": units.iso_utc(held.until) if held.until else None,
                "mode": held.mode, "legal_hold": held.legal_hold, "with_bag": held.bag},
            "loses": None if lost is None else {
                "deleted_files": lost.files, "deleted_bytes": lost.size,
                "deleted_examples": [units.printable(n) for n in lost.names],
                "older_versions": lost.older, "older_bytes": lost.older_size,
                "older_examples": [units.printable(n) for n in lost.older_names]}}
