"""Every figure of `doit report`, gathered (pure): local state + one bucket listing ->
an Overview record, which page.py draws.

The figures come from the same functions as the text commands, so they agree by
construction: the bill per storage class is cost.storage_bill over the listing
(`doit cost`), prunable objects are prune.plan_prune's (`doit prune`), a restore is
cost.restore_cost over the inventory's bags (`doit cost`), the last run is
last-run.json (the run summary's counts, see status.py), health is status.health
(`glacier status`'s exit status).

Words: a *year* is a key prefix `YYYY-backup/` (one yearly run); a bag's *fill* is
its size over target_bag_gb; a *label* is what a chart colours an object by: its bag's
molecule, another host, or EXTRA for manifests and system files.
"""

import datetime
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..errors import command
from .. import cost
from ..formats import inventory as inventory_format, layout
from ..formats.records import Inventory
from . import last_run as status, tally
from ..cost import TIER_DELAY
from ..units import plural

OTHER = "other"
EXTRA = "manifests and system files"
# what GNU tar's end blocks and record padding and age's framing may add to a bag the
# plan filled to the target (formats/tarsize.py): no reason to look at it
SLACK_BYTES, SLACK_SHARE = 64 * 1024, 0.001


@dataclass(frozen=True)
class YearStorage:
    year: str                # "2026", or "other" for objects outside YYYY-backup/
    parts: tuple             # (label, bytes) per molecule, then EXTRA
    objects: int
    size: int


@dataclass(frozen=True)
class ClassBill:
    storage_class: str
    size: int
    objects: int
    monthly: float


@dataclass(frozen=True)
class BagFill:
    key: str
    tar_id: str
    year: str
    molecule: str
    size: int
    atoms: int
    fill: float      # size / target
    pending: bool    # planned, not uploaded yet (size as planned)
    increment: bool = False  # an atom's increment (issue 27): small by nature


@dataclass(frozen=True)
class YearMoney:
    year: str
    monthly: float     # what the objects under the prefix cost a month now
    parts: tuple       # (label, monthly) per molecule, then EXTRA
    bags: int
    bag_bytes: int
    requests: int      # PUT-class requests the bags and manifests took to upload
    upload_fee: float


@dataclass(frozen=True)
class RestoreCost:
    scope: str        # "everything" or a molecule
    tier: str
    delay: str
    size: int
    bags: int
    retrieval: float
    requests: float
    transfer: float
    total: float


@dataclass(frozen=True)
class HealthCheck:
    level: str        # "ok", "info" (normal, said in grey), "warn" or "fail"
    text: str


@dataclass(frozen=True)
class Overview:
    bucket: str
    host: str
    storage_class: str
    today: datetime.date
    target_bytes: int
    max_age_days: int
    molecules: tuple          # the legend's order
    years: tuple              # YearStorage
    bill: tuple               # ClassBill, as `doit cost` lists them
    bags: tuple               # BagFill
    money: tuple              # YearMoney
    prunable: tuple           # prune.Prunable
    restore: tuple            # RestoreCost
    per_file: dict | None     # cost.one_object_per_file of the inventory's data
    last_backup: dict | None  # last-run.json's last backup record
    last_run: dict | None     # last-run.json's record (any command)
    checks: tuple             # HealthCheck
    has_inventory: bool
    dead: tuple = ()          # (archive_key, bytes no atom points at) of kept bags
    dead_monthly: float = 0.0  # what those bytes cost a month
    labels: dict | None = None  # prunable key -> its label (the charts' colour)
    last_upload: dict | None = None  # the newest backup that sent bags (last_run.py)
    year_atoms: dict | None = None   # this year's atoms added, changed, removed

    @property
    def past_target(self) -> list:
        """Bags larger than the target by more than tar's or age's few KB."""
        return [b for b in self.bags if b.size > self.target_bytes * (1 + SLACK_SHARE)
                + SLACK_BYTES]

    @property
    def monthly_total(self) -> float:
        return sum(b.monthly for b in self.bill)

    @property
    def stored_bytes(self) -> int:
        return sum(b.size for b in self.bill)

    @property
    def prunable_bytes(self) -> int:
        return sum(p.size for p in self.prunable)

    @property
    def dead_bytes(self) -> int:
        return sum(n for _, n in self.dead)


def gather(settings, today, inventory: Inventory, plan, objects: dict, prunable: list,
           slugs: dict, status_data: dict | None, pending: list,
           unfinished: bool = False, open_start: dict | None = None) -> Overview:
    """slugs: molecule slug -> its spelling (to name bags the inventory no longer
    has); pending: the names of the plan's bags still to upload."""
    prices = settings.prices
    owners = _bag_owners(inventory, plan, slugs, settings.host)
    bags = _bag_fills(inventory, plan, pending, settings.target_bytes)
    years = storage_by_year(objects, owners)
    dead = inventory_format.dead_bytes(inventory)
    labels = {p.key: molecule_of(p.key, owners) if is_bag(p.key) else EXTRA
              for p in prunable}
    molecules = sorted(({label for y in years for label, _ in y.parts}
                        | {b.molecule for b in bags} | set(labels.values())) - {EXTRA})
    latest = (status_data or {}).get("latest", {})
    overview = Overview(
        bucket=settings.s3_bucket, host=settings.host,
        storage_class=settings.storage_class, today=today,
        target_bytes=settings.target_bytes, max_age_days=settings.max_age_days,
        molecules=tuple(molecules), years=tuple(years),
        bill=tuple(ClassBill(c, held, count, monthly) for c, (held, count, monthly)
                   in cost.storage_bill(objects, prices).items()),
        bags=tuple(bags), money=tuple(money_by_year(objects, today, prices, owners)),
        prunable=tuple(sorted(prunable, key=lambda p: (p.free_from, p.key))),
        restore=tuple(restore_costs(inventory, prices)),
        per_file=_per_file(inventory, settings) if inventory.bags else None,
        last_backup=(status_data or {}).get("latest", {}).get("backup"),
        last_run=status_data, checks=(), has_inventory=bool(inventory.bags),
        dead=tuple(sorted(dead.items())),
        dead_monthly=cost.monthly_storage(sum(dead.values()), 0, settings.storage_class,
                                          prices),
        labels=labels, last_upload=tally.last_upload(status_data, inventory),
        year_atoms=_this_year(latest.get("year_atoms"), today))
    checks = health_checks(overview, status_data, inventory, plan, unfinished, open_start)
    return replace(overview, checks=tuple(checks))


def _this_year(changes: dict | None, today) -> dict | None:
    """last-run.json's tally of atoms added, changed and removed, if it is this year's."""
    return changes if changes and str(changes.get("year")) == str(today.year) else None


# -- storage ---------------------------------------------------------------------------


def year_of(key: str) -> str:
    parsed = layout.parse(key)
    return str(parsed.year) if parsed else OTHER


class Owners(NamedTuple):
    """Who a bag key belongs to: the bags the state knows, this host's slugs."""
    known: dict   # bag key -> molecule (inventory and plan)
    slugs: dict   # slug -> molecule
    host: str


def _bag_owners(inventory: Inventory, plan, slugs: dict, host: str) -> Owners:
    known = {k: b.molecule or "" for k, b in inventory.bags.items()}
    for bag in plan.bags if plan else []:
        known.setdefault(bag.archive_key, bag.molecule)
    return Owners(known, slugs, host)


def molecule_of(key: str, owners: Owners) -> str:
    """The molecule a bag belongs to: the inventory's or plan's word, else its slug's
    (a bag no state names any more), else another host's."""
    if key in owners.known:
        return owners.known[key]
    parsed = layout.parse(key)
    if not parsed or parsed.kind != "bag":
        return OTHER
    if parsed.host != owners.host:
        return f"host {parsed.host}"
    return owners.slugs.get(parsed.slug, parsed.slug)


def is_bag(key: str) -> bool:
    parsed = layout.parse(key)
    return parsed is not None and parsed.kind == "bag"


def storage_by_year(objects: dict, owners: Owners) -> list[YearStorage]:
    """Bytes per year prefix, split by molecule (bags) and the rest."""
    table = {}
    for key, info in objects.items():
        label = molecule_of(key, owners) if is_bag(key) else EXTRA
        parts = table.setdefault(year_of(key), {})
        size, count = parts.get(label, (0, 0))
        parts[label] = (size + info.size, count + 1)
    found = []
    for year in sorted(table, key=lambda y: (y == OTHER, y)):
        parts = table[year]
        order = sorted(k for k in parts if k != EXTRA) + ([EXTRA] if EXTRA in parts else [])
        found.append(YearStorage(year, tuple((k, parts[k][0]) for k in order),
                                 sum(c for _, c in parts.values()),
                                 sum(s for s, _ in parts.values())))
    return found


# -- bags ------------------------------------------------------------------------------


def _bag_fills(inventory: Inventory, plan, pending: list, target: int) -> list[BagFill]:
    """The inventory's bags, and the plan's still to upload (pending)."""
    found = [BagFill(key, bag.tar_id or layout.bag_name(key), year_of(key),
                     bag.molecule or "", bag.size, len(bag.atoms), bag.size / target, False,
                     bool(bag.increment_of))
             for key, bag in inventory.bags.items() if not bag.pending]
    waiting = set(pending)
    for bag in plan.bags if plan else []:
        if bag.name in waiting and bag.archive_key not in inventory.bags:
            found.append(BagFill(bag.archive_key, bag.tar_id, year_of(bag.archive_key),
                                 bag.molecule, bag.size, len(bag.atoms),
                                 bag.size / target, True, bool(bag.increment_of)))
    return sorted(found, key=lambda b: (b.year, b.molecule, b.key))


# -- money -----------------------------------------------------------------------------


def money_by_year(objects: dict, today, prices, owners=None) -> list[YearMoney]:
    """Per year prefix, from the first to this year: the monthly bill of what it
    holds now (split by label), and what its bags (with their manifests) cost to
    upload."""
    owners = owners or Owners({}, {}, "")
    grouped = {}
    for key, info in objects.items():
        grouped.setdefault(year_of(key), {})[key] = info
    years = sorted(int(y) for y in grouped if y != OTHER)
    span = [str(y) for y in range(years[0], max(years[-1], today.year) + 1)] \
        if years else []
    found = []
    for year in span + ([OTHER] if OTHER in grouped else []):
        held = grouped.get(year, {})
        bags = [info for key, info in held.items() if is_bag(key)]
        by_class = {}
        for info in bags:
            by_class.setdefault(info.storage_class, []).append(info.size)
        uploads = [cost.upload_estimate(sizes, c, prices) for c, sizes in by_class.items()]
        by_label = {}
        for key, info in held.items():
            label = molecule_of(key, owners) if is_bag(key) else EXTRA
            by_label.setdefault(label, {})[key] = info
        parts = tuple((label, _monthly(by_label[label], prices)) for label in
                      sorted(by_label, key=lambda k: (k == EXTRA, k)))
        found.append(YearMoney(
            year, _monthly(held, prices), parts,
            len(bags), sum(i.size for i in bags), sum(u["requests"] for u in uploads),
            sum(u["fee"] for u in uploads)))
    return found


def _monthly(objects: dict, prices) -> float:
    return sum(m for _, _, m in cost.storage_bill(objects, prices).values())


def restore_costs(inventory: Inventory, prices) -> list[RestoreCost]:
    """A full restore by tier (as `doit cost` prices it), then each molecule's."""
    bags = inventory.bags.values()
    if not bags:
        return []
    scopes = {"everything": [b.size for b in bags]}
    for bag in bags:
        scopes.setdefault(bag.molecule or "", []).append(bag.size)
    found = []
    for scope, sizes in scopes.items():
        for tier in cost.TIERS:
            figures = cost.restore_cost(sum(sizes), len(sizes), tier, prices)
            found.append(RestoreCost(scope, tier, TIER_DELAY[tier], sum(sizes),
                                     len(sizes), **figures))
    return found


def _per_file(inventory: Inventory, settings) -> dict:
    held = [bag.size for bag in inventory.bags.values()]
    files = sum(a.files for a in inventory.atoms.values())
    return {**cost.one_object_per_file(files, sum(held), settings.storage_class,
                                       settings.prices), "bags": len(held)}


# -- health ----------------------------------------------------------------------------


def health_checks(overview: Overview, data, inventory, plan, unfinished,
                  open_start: dict | None = None) -> list[HealthCheck]:
    """open_start: the newest backup's start when its end was never recorded."""
    today, limit = overview.today, overview.max_age_days
    problems = status.health(data, inventory, today, limit, open_start)
    checks = [HealthCheck("fail", p[0].upper() + p[1:]) for p in problems]
    good = (data or {}).get("latest", {}).get("successful_backup")
    if good and not any("days old" in p for p in problems):
        checks.append(HealthCheck("ok", f"Last successful backup {good['run_date']}, "
                                  f"{plural(status.age_days(good, today), 'day')} ago "
                                  f"(max_age_days {limit})"))
    verify = _verify_check((data or {}).get("latest", {}).get("verify"),
                           overview.has_inventory, today, limit)
    checks += [verify] if verify else []
    missing = dict((overview.last_backup or {}).get("missing_molecules", {}))
    missing.update(dict.fromkeys(plan.missing_molecules if plan else [], ""))
    for molecule in sorted(missing):
        reason = missing[molecule] or (plan.missing_reasons.get(molecule, "")
                                       if plan else "")
        checks.append(HealthCheck("fail", f"Missing molecule {molecule}: {reason}"))
    for name, why in (overview.last_backup or {}).get("failed", {}).items():
        checks.append(HealthCheck("fail", f"Failed bag {name}: {why}"))
    if unfinished and not open_start:  # a plan or marker newer than the record
        checks.append(HealthCheck("warn", "A newer run did not finish (killed, or stopped "
                                    f"before its report): run '{command('backup')}' again"))
    return checks + _size_checks(overview.past_target)


def _size_checks(past: list) -> list[HealthCheck]:
    """A bag whose one atom is larger than the target is how big atoms are stored
    (said in grey); one holding several atoms past the target is not."""
    alone = [b for b in past if b.atoms == 1]
    checks = [HealthCheck("info", f"{plural(len(alone), 'bag')} larger than "
                          "target_bag_gb, each holding one atom larger than the target: "
                          "normal, such an atom gets a bag of its own")] if alone else []
    for bag in past:
        if bag.atoms > 1:
            checks.append(HealthCheck("warn", f"Bag {bag.key} holds {bag.fill:.0%} of "
                                      f"target_bag_gb in {plural(bag.atoms, 'atom')} "
                                      "(was target_bag_gb lowered since it was packed?)"))
    return checks


def _verify_check(verify: dict | None, has_inventory: bool, today,
                  limit: int) -> HealthCheck | None:
    if verify is None:
        return HealthCheck("warn", f"Never verified: '{command('verify')}' checks every "
                                   "bag in the "
                             "bucket") if has_inventory else None
    age = status.age_days(verify, today)
    if verify["exit_status"] == 0 and age > limit:
        return HealthCheck("warn", f"Last verify {verify['run_date']} is "
                           f"{plural(age, 'day')} old, more than max_age_days ({limit}): "
                           f"run '{command('verify')}'")
    if verify["exit_status"] == 0:
        return HealthCheck("ok", f"Last verify {verify['run_date']}: all "
                           f"{plural(verify['bags']['checked'], 'bag')} as recorded")
    return HealthCheck("fail", f"Last verify {verify['run_date']}: "
                         f"{plural(verify.get('problem_count', 0), 'problem')}, "
                         f"{plural(verify['bags'].get('thawing', 0), 'bag')} thawing")
