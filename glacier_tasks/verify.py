"""Verify: every bag and manifest the inventory names is in the bucket as recorded.

The quick check reads only headers (size, storage class, sha256 metadata, CRC64NVME);
--deep also thaws, downloads and re-hashes every bag, which is slow and paid.
"""

import hashlib

from .errors import command
from .formats import layout
from .formats.records import Inventory
from .bucket.objects import ObjectStore, bag_problem


def check_headers(store: ObjectStore, inventory: Inventory, host: str) -> list[str]:
    """One line per problem found; an empty list means all is as recorded."""
    problems = []
    for key, bag in sorted(inventory.bags.items()):
        problem = bag_problem(store.head(key), bag.size, bag.sha256,
                              bag.storage_class, bag.crc64nvme)
        if problem:
            problems.append(f"{key}: {problem}")
        manifest = bag.manifest_key
        found = store.head(manifest) if manifest else None
        if found is None:
            problems.append(f"{manifest or key + ' (manifest)'}: missing")
        elif bag.manifest_sha256 and found.sha256 != bag.manifest_sha256:
            problems.append(f"{manifest}: sha256 differs from the inventory's")
        if bag.increment_of:  # without its deletion list its chain is not true
            deletions = layout.deletions_key(key)
            found = store.head(deletions)
            if found is None:
                problems.append(f"{deletions}: missing")
            elif found.sha256 != bag.deletions_sha256:
                problems.append(f"{deletions}: sha256 differs from the inventory's")
    year = inventory.year
    if year:
        # each file is there if some copy is: readers take the newest (see layout.py)
        newest = layout.newest_system_keys(
            store.list_objects(layout.system_prefix(year, host)), year, host)
        problems += [f"{layout.system_prefix(year, host)}{name}: missing"
                     for name in layout.SYSTEM_FILES if name not in newest]
    return problems


def index_warnings(store: ObjectStore, inventory: Inventory) -> list[str]:
    """Bags whose member index is lost or changed: still restorable (a restore checks
    an index against the inventory's sha256 and, without a good one, reads the whole
    bag), only slower and dearer for a single file."""
    warnings = []
    for key, bag in sorted(inventory.bags.items()):
        if not bag.index_sha256:
            continue  # packed before bags had one, or encrypted
        index = layout.index_key(key)
        found = store.head(index)
        if found is None or found.sha256 != bag.index_sha256:
            warnings.append(f"{index}: {'missing' if found is None else 'changed'}; a "
                            "restore of one file from this bag reads the whole bag")
    return warnings


def deep_check(store: ObjectStore, inventory: Inventory, days: int, tier: str,
               say) -> tuple[list, int]:
    """Thaw what is archived, re-hash what is readable: (problems, bags still thawing)."""
    problems, waiting = [], 0
    for key, bag in sorted(inventory.bags.items()):
        found = store.head(key)
        if found is None:
            problems.append(f"{key}: missing")
            continue
        if found.thaw_state == "archived":
            store.request_restore(key, days, tier)
            found = store.head(key) or found
        if found.thaw_state != "readable":
            say(f"{key}: thawing; run '{command('verify --deep --yes')}' again later")
            waiting += 1
            continue
        digest = hashlib.sha256()
        for chunk in store.read_range(key, 0, found.size - 1):
            digest.update(chunk)
        if digest.hexdigest() != bag.sha256:
            problems.append(f"{key}: its bytes hash to another sha256 than the inventory's")
        else:
            say(f"{key}: re-hashed, sha256 matches")
    return problems, waiting
