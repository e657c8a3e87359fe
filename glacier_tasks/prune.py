"""Prune: find the objects under YYYY-backup/ that nothing references any more.

A decision first, as plain data (`plan_prune`: what is prunable, how old, what deleting
it now would cost), then a short executor. Never touched: anything the inventory or the
plan of an unfinished backup references, anything outside YYYY-backup/, the system
folders (tiny, and they are the archive's history), and every other host's keys.
"""

import datetime
from dataclasses import dataclass

from . import cost, layout
from .layout import BACKUP_KEY, owner
MINIMUM_DAYS = {"DEEP_ARCHIVE": 180, "GLACIER": 90, "GLACIER_IR": 90, "STANDARD_IA": 30,
                "ONEZONE_IA": 30}


@dataclass(frozen=True)
class Prunable:
    key: str
    size: int
    storage_class: str
    uploaded: datetime.date
    age_days: int
    fee_now: float          # early-deletion fee if deleted today
    free_from: datetime.date  # first day deleting costs nothing


def referenced_keys(inventory: dict, plan=None) -> set:
    """Every key the inventory or a (possibly unfinished) plan uploads points at."""
    keys = set()
    for key, bag in inventory.get("bags", {}).items():
        keys.update((key, layout.index_key(key)))
        if bag.get("manifest_key"):
            keys.add(bag["manifest_key"])
    for entry in inventory.get("atoms", {}).values():
        keys.add(entry.get("archive_key"))
    for bag in plan.uploads if plan else []:  # kept ones are the inventory's
        keys.update((bag.archive_key, bag.manifest_key,
                     layout.index_key(bag.archive_key)))
    return keys


def plan_prune(objects: dict, referenced: set, today: datetime.date,
               prices: dict | None = None, host: str | None = None) -> list[Prunable]:
    """objects: key -> ObjectInfo, as the bucket lists them. Only `host`'s bags and
    manifests are candidates: another machine's keys never are, whatever this
    inventory says (it knows nothing of them)."""
    found = []
    for key, info in sorted(objects.items()):
        if not BACKUP_KEY.match(key) or key in referenced or owner(key) != host:
            continue
        size, storage_class, modified = info.size, info.storage_class, info.last_modified
        uploaded = modified.date() if isinstance(modified, datetime.datetime) else modified
        age = (today - uploaded).days
        minimum = MINIMUM_DAYS.get(storage_class, 0)
        left = max(0, minimum - age)
        fee = early_deletion_fee(size, storage_class, left, prices)
        found.append(Prunable(key, size, storage_class, uploaded, age, fee,
                              uploaded + datetime.timedelta(days=minimum)))
    return found


def early_deletion_fee(size: int, storage_class: str, days_left: int, prices=None) -> float:
    """S3 bills the unexpired part of the minimum storage time at the storage price."""
    if days_left <= 0 or storage_class not in MINIMUM_DAYS:
        return 0.0
    monthly = cost.monthly_storage(size, 1, storage_class, prices)
    return monthly * days_left / 30


def split_by_age(prunable: list[Prunable], min_age_days: int, force: bool):
    """(to delete, to keep) for `prune --delete`."""
    delete = [p for p in prunable if force or p.age_days >= min_age_days]
    keep = [p for p in prunable if p not in delete]
    return delete, keep
