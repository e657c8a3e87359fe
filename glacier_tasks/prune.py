"""Prune: find the objects under YYYY-backup/ that nothing references any more.

A decision first, as plain data (`plan_prune`: what is prunable, how old, what deleting
it now would cost; `holds`: what S3's Object Lock keeps for now), then a short
executor. Never touched: anything the inventory or the plan of an unfinished backup
references, anything outside YYYY-backup/, the system folders (tiny, and they are the
archive's history), and every other host's keys.
"""

import datetime
from dataclasses import dataclass

from . import cost
from .bucket import system_folder
from .bucket.objects import ObjectStore
from .restore import find
from .formats import layout, manifest
from .formats.records import BagRecord, Inventory
from .errors import GlacierError, command
from .backup.plan import read_plan
from .formats.layout import BACKUP_KEY, owner
MINIMUM_DAYS = {"DEEP_ARCHIVE": 180, "GLACIER": 90, "GLACIER_IR": 90, "STANDARD_IA": 30,
                "ONEZONE_IA": 30}


@dataclass(frozen=True)
class Lost:
    """What deleting a bag loses: its files that exist in no newer bag (deleted at home
    since), and its older versions of files a newer bag holds edited."""
    files: int
    size: int
    names: tuple  # a few of them, as the manifest spells them
    older: int = 0
    older_size: int = 0
    older_names: tuple = ()

    @property
    def anything(self) -> bool:
        return bool(self.files or self.older)


@dataclass(frozen=True)
class Prunable:
    key: str
    size: int
    storage_class: str
    uploaded: datetime.date
    age_days: int
    fee_now: float          # early-deletion fee if deleted today
    free_from: datetime.date  # first day deleting costs nothing
    history_until: datetime.date | None = None  # kept as history until (keep_years)
    lost: Lost | None = None


def history_dates(inventory: Inventory, keep_years: int) -> dict:
    """key -> last day a superseded bag (and its manifest) is kept as history: keep_years
    after the run that superseded it. Empty with keep_years 0 (a mirror)."""
    dates = {}
    for key, entry in inventory.history.items() if keep_years > 0 else []:
        on = entry.superseded
        until = _add_years(on, keep_years)
        dates[key] = until
        for other in (entry.manifest_key, layout.index_key(key),
                      layout.deletions_key(key)):
            if other:
                dates[other] = until
    return dates


def entries(manifest_lines) -> set:
    """(path, size, mtime) of every file a manifest lists: what identifies a version."""
    found = set()
    for line in manifest_lines:
        entry = manifest.read_entry(line) if line.strip("\n") else None
        if entry and not entry.folder:
            found.add((entry.path, entry.size, entry.mtime))
    return found


def lost_files(old: set, newer: set, shown: int = 3) -> Lost:
    """The files of an older bag that no newer bag holds as they were: those no newer
    bag has at all (deleted since), and older versions of those edited since."""
    paths = {path for path, _, _ in newer}
    gone = sorted(old - newer)
    deleted = [g for g in gone if g[0] not in paths]
    edited = [g for g in gone if g[0] in paths]
    return Lost(len(deleted), sum(int(size or 0) for _, size, _ in deleted),
                tuple(path for path, _, _ in deleted[:shown]),
                len(edited), sum(int(size or 0) for _, size, _ in edited),
                tuple(path for path, _, _ in edited[:shown]))


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def own_objects(objects: dict, host: str) -> dict:
    """The part of a bucket listing that is this host's: its bags, manifests and
    indexes, its system folders (and the shared one of older versions), its claim."""
    def mine(key):
        if BACKUP_KEY.match(key):
            return owner(key) == host
        folder = key.rpartition("/")[0]
        return folder.endswith(("-backup/system", f"-backup/system/{host}")) or \
            layout.claim_number(key, host) is not None
    return {k: o for k, o in objects.items() if mine(k)}


def unsafe_to_delete(inventory: Inventory, objects: dict, host: str) -> str | None:
    """Why `prune --delete` must not run now, or None: deleting old bags is safe only
    while every bag the inventory names is this host's and in the bucket whole (else
    an old bag may hold the only good copy of an atom)."""
    theirs = sorted({owner(k) for k in inventory.bags if owner(k) != host})
    if theirs:
        return (f"this inventory names bags of host {', '.join(map(str, theirs))} (a "
                f"'bootstrap --host'?); prune with that host's own config")
    if not inventory.bags and any(owner(k) == host and k.endswith(".tar")
                                         for k in objects):
        return ("this inventory names no bag, yet the bucket holds bags of host "
                f"{host}: every one would look unreferenced; run '{command('backup')}' "
                "first")
    for key, bag in sorted(inventory.bags.items()):
        found = objects.get(key)
        if found is None or found.size != bag.size:
            what = "missing" if found is None else f"{found.size} bytes, not {bag.size}"
            return (f"{key} is {what} in the bucket, and an older bag may be the only "
                    f"good copy of its atoms; run '{command('backup')}' (it repairs) "
                    "before 'prune --delete'")
    return None


def referenced_keys(inventory: Inventory, plan=None) -> set:
    """Every key the inventory or a (possibly unfinished) plan uploads points at."""
    keys = set()
    for key, bag in inventory.bags.items():
        # an increment's deletion list is part of its chain (never one without it)
        keys.update((key, layout.index_key(key), layout.deletions_key(key)))
        if bag.manifest_key:
            keys.add(bag.manifest_key)
    for entry in inventory.atoms.values():
        keys.update(entry.chain)
    for bag in plan.uploads if plan else []:  # kept ones are the inventory's
        keys.update((bag.archive_key, bag.manifest_key,
                     layout.index_key(bag.archive_key),
                     layout.deletions_key(bag.archive_key)))
    return keys


def plan_prune(objects: dict, referenced: set, today: datetime.date,
               prices: dict | None = None, host: str | None = None,
               history: dict | None = None, lost: dict | None = None) -> list[Prunable]:
    """objects: key -> ObjectInfo, as the bucket lists them. Only `host`'s bags and
    manifests are candidates: another machine's keys never are, whatever this
    inventory says (it knows nothing of them). history: key -> last day kept as
    history (history_dates); lost: key -> Lost, what deleting it loses."""
    history, lost = history or {}, lost or {}
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
        until = history.get(key)
        found.append(Prunable(key, size, storage_class, uploaded, age, fee,
                              uploaded + datetime.timedelta(days=minimum),
                              until if until and today <= until else None, lost.get(key)))
    return found


def early_deletion_fee(size: int, storage_class: str, days_left: int, prices=None) -> float:
    """S3 bills the unexpired part of the minimum storage time at the storage price."""
    if days_left <= 0 or storage_class not in MINIMUM_DAYS:
        return 0.0
    monthly = cost.monthly_storage(size, 1, storage_class, prices)
    return monthly * days_left / 30


# What becomes of a candidate, the same in the dry run and with --delete (and in
# `prune --json`): deleted; kept as history (keep_years), whatever else holds it; kept
# by S3's Object Lock; kept for being under --min-age-days.
DELETE, HISTORY, HELD, YOUNG = "delete", "history", "held", "young"


def classify(prunable: list[Prunable], held: dict, min_age_days: int,
             force: bool) -> dict:
    """key -> verdict. History comes first (an object Object Lock also holds is still
    history: that is why it stays, the lock only says until when S3 would refuse);
    --force overrides history and age, never the lock."""
    verdicts = {}
    for p in prunable:
        if p.history_until and not force:
            verdicts[p.key] = HISTORY
        elif p.key in held:
            verdicts[p.key] = HELD
        elif p.age_days < min_age_days and not force:
            verdicts[p.key] = YOUNG
        else:
            verdicts[p.key] = DELETE
    return verdicts


@dataclass(frozen=True)
class Held:
    """An object S3 will not delete yet: its version is under Object Lock retention
    until a date, or under a legal hold (until someone releases it), or it is the
    manifest or member index of a bag that is held."""
    key: str
    until: datetime.datetime | None = None  # the retention's end, when still ahead
    mode: str | None = None                 # GOVERNANCE or COMPLIANCE
    legal_hold: bool = False
    bag: str | None = None                  # held with this bag


def holds(infos: dict, now: datetime.datetime) -> dict:
    """key -> Held for each object (key -> ObjectInfo from a HEAD) S3 would refuse to
    delete now, and for the manifest and index of each held bag: a bag that stays
    keeps what describes it. `now` is the real time, not the tool's date: S3's clock
    decides when a retention ends."""
    found = {}
    for key, info in infos.items():
        retained = info.retain_until is not None and info.retain_until > now
        if retained or info.legal_hold:
            found[key] = Held(key, info.retain_until if retained else None,
                              info.lock_mode if retained else None, info.legal_hold)
    for key in [k for k in found if k.endswith(".tar")]:
        for other in (layout.manifest_key(key), layout.index_key(key),
                      layout.deletions_key(key)):
            if other in infos and other not in found:
                found[other] = Held(other, bag=key)
    return found


def free_after(held: list) -> datetime.datetime | None:
    """When the first held object can go: the earliest retention end with no legal
    hold (None if every one waits for a legal hold to be released)."""
    return min((h.until for h in held if h.until and not h.legal_hold), default=None)


# -- gathered from the bucket: the decision above, fed ---------------------------------


def prunable(run, store: ObjectStore, inv, with_losses=False):
    """This host's objects in the bucket, and the prunable ones among them (with what
    deleting each bag loses, when asked: it reads their manifests)."""
    listing = store.list_objects("")
    objects = own_objects(listing, run.settings.host)
    referenced = referenced_keys(inv, read_plan(run, required=False))
    # what a bootstrap would rebuild from stays, even when the local inventory moved on
    # (its system upload not done yet): the bucket's newest inventory is the last resort
    newest = system_folder.newest_inventory(run.settings, store, run.settings.host, listing)
    referenced |= referenced_keys(newest[0]) if newest else set()
    history = history_dates(inv, run.settings.keep_years)
    found = plan_prune(objects, referenced, run.today, run.settings.prices,
                             run.settings.host, history)
    if not with_losses:
        return objects, found
    lost = losses(run, store, inv, objects, [p.key for p in found if p.key.endswith(".tar")])
    return objects, plan_prune(objects, referenced, run.today, run.settings.prices,
                                     run.settings.host, history, lost)


def losses(run, store: ObjectStore, inv, objects, doomed) -> dict:
    """key -> Lost for each bag about to go: its files that no newer bag of the
    same molecule holds (the current ones, or any uploaded after it)."""
    host, found = run.settings.host, {}
    mine = {k: o for k, o in objects.items() if k.endswith(".tar") and
            layout.owner(k) == host}
    listed = {}

    def files_of(key):
        if key not in listed:
            bag = inv.bags.get(key) or BagRecord(size=0, manifest_key=layout.manifest_key(key))
            try:
                with open(find.fetch_manifest(run.settings, store, bag),
                          encoding="utf-8") as lines:
                    listed[key] = entries(lines)
            except GlacierError:  # no manifest in the bucket any more: nothing known
                listed[key] = set()
        return listed[key]

    for key in doomed:
        slug = layout.slug_of(key)
        newer = set()
        for other, info in mine.items():
            if other != key and layout.slug_of(other) == slug and (
                    other in inv.bags or info.last_modified > mine[key].last_modified):
                newer |= files_of(other)
        found[key] = lost_files(files_of(key), newer)
    return found
