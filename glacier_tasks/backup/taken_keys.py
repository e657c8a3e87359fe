"""Which bag keys a backup may write. Keys are written once (store.py): a key the
bucket holds is never replaced, so the plan must know, before it names a bag, which
keys are taken, and which previous bags the bucket no longer holds as recorded.

*occupied*: this year's keys of this host that no previous bag has (a bag superseded
earlier in the year, a stopped run's upload), each with the content key its object
claims; a new bag takes one only if it claims exactly that bag's contents, and the bag
step adopts it only if it holds the very tar packed here (objects.holds_packed).
*broken*: previous bags of this host whose object is there but not as recorded
(size, storage class): they are packed anew under a new name. A missing whole bag is
not broken: its own key is free, and the bag step sends it again there; a missing bag
of an increment chain is (increment.lost_bags).
"""

from ..formats import layout
from ..formats.records import Inventory
from ..errors import BagError, StoreError
from ..bucket.objects import ObjectStore, adoptable, bag_problem
from . import increment
from .ledger import BagLedger


def bucket_view(store: ObjectStore, previous: Inventory, host: str, year: int,
                storage_class: str, recorded: list,
                proven=None) -> tuple[dict | None, dict]:
    """(occupied, broken) for the plan, with what the bag steps recorded (`recorded`:
    ledger.occupied_records); occupied is None when the bucket cannot be asked (a dry run
    before credentials exist), and the plan is then made again next time."""
    broken = {r["archive_key"]: f"{r.get('key')} {r.get('problem')}" for r in recorded}
    try:
        objects = listing(store, previous, host, year)
        occupied = occupied_keys(store, objects, previous, year, storage_class, proven)
    except StoreError:
        return None, broken
    for key in set(broken) - set(previous.bags):  # never adopted
        occupied[key] = None
    return occupied, {**broken_bags(objects, previous, host), **broken}


def listing(store: ObjectStore, previous: Inventory, host: str, year: int) -> dict:
    """key -> ObjectInfo of this host's bags and manifests in this year and in every
    year the previous inventory's bags are in (one LIST per 1000 keys)."""
    years = {year} | {parsed.year for k in previous.bags
                      if (parsed := layout.parse(k)) and parsed.host == host}
    found = {}
    for each in sorted(years):
        prefix = layout.year_prefix(each)
        found.update(store.list_objects(f"{prefix}{host}_"))
        found.update(store.list_objects(f"{prefix}manifests/{host}_"))
    return found


def broken_bags(objects: dict, previous: Inventory, host: str) -> dict:
    """Previous bags of this host that the listing shows, but not as recorded, and
    the bags of a chain it lacks: key -> what is wrong, in words."""
    broken = increment.lost_bags(objects, previous, host)
    for key, record in previous.bags.items():
        found = objects.get(key)
        if layout.owner(key) != host or found is None:
            continue
        problem = bag_problem(found, record.size, found.sha256, record.storage_class)
        if problem:  # a LIST has no checksums: the bag step's HEAD checks those
            broken[key] = f"{key} {problem}"
    return broken


def occupied_keys(store: ObjectStore, objects: dict, previous: Inventory, year: int,
                  storage_class: str, proven=None) -> dict:
    """archive key -> content key (None: not provably a whole bag) of this year's keys
    in the listing that no previous bag has; one HEAD per such bag object. The content
    key is the object's own claim, checked by the bag step against the tar it packs;
    `proven(key, found)`, when given, must also hold (encrypted bags: a tar packed
    again encrypts to other bytes, so only a stopped run's own tar can prove it)."""
    prefix, known, occupied = layout.year_prefix(year), previous.bags, {}
    for key in sorted(k for k in objects if k.startswith(prefix)):
        archive = layout.archive_of(key)
        if archive in known or archive in occupied:
            continue
        found = store.head(archive) if archive in objects else None
        whole = found is not None and adoptable(found, found.content_key, storage_class) \
            and (proven is None or proven(archive, found))
        occupied[archive] = found.content_key if whole else None
    return occupied


def record_occupied(run, bag, key: str, problem: str):
    """`key` holds something else: record it in the bag's ledger for the next plan,
    fail this bag."""
    BagLedger.of(run, bag).record_occupied(bag.archive_key, key, problem)
    raise BagError(f"{key} {problem}; keys are written once, so it is not replaced: "
                   "the next backup packs these atoms into a bag of a new name")
