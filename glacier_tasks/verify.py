"""Verify: every bag and manifest the inventory names is in the bucket as recorded.

The quick check reads only headers (size, storage class, sha256 metadata, CRC64NVME);
--deep also thaws, downloads and re-hashes every bag, which is slow and paid.
"""

import hashlib

from .restore import thaw_state

SYSTEM_FILES = ("inventory.json", "glacier.toml", "list.txt", "glacier-tasks-src.tar.gz")


def check_headers(store, inventory: dict) -> list[str]:
    """One line per problem found; an empty list means all is as recorded."""
    problems = []
    for key, bag in sorted(inventory["bags"].items()):
        problems += _check_bag(key, bag, store.head(key))
        manifest = bag.get("manifest_key")
        head = store.head(manifest) if manifest else None
        if head is None:
            problems.append(f"{manifest or key + ' (manifest)'}: missing")
        elif bag.get("manifest_sha256") and \
                head.get("Metadata", {}).get("sha256") != bag["manifest_sha256"]:
            problems.append(f"{manifest}: sha256 differs from the inventory's")
    year = inventory.get("year")
    if year:
        for name in SYSTEM_FILES:
            key = f"{year}-backup/system/{name}"
            # with encryption on, the inventory and the list are stored as NAME.age
            if store.head(key) is None and store.head(key + ".age") is None:
                problems.append(f"{key}: missing")
    return problems


def _check_bag(key, bag, head) -> list[str]:
    if head is None:
        return [f"{key}: missing"]
    found = []
    if head["ContentLength"] != bag["size"]:
        found.append(f"{key}: {head['ContentLength']} bytes, the inventory says "
                     f"{bag['size']}")
    storage_class = head.get("StorageClass", "STANDARD")
    if bag.get("storage_class") and storage_class != bag["storage_class"]:
        found.append(f"{key}: storage class {storage_class}, the inventory says "
                     f"{bag['storage_class']}")
    if head.get("Metadata", {}).get("sha256") != bag.get("sha256"):
        found.append(f"{key}: sha256 in its metadata differs from the inventory's")
    crc = head.get("ChecksumCRC64NVME")
    if crc and bag.get("crc64nvme") and crc != bag["crc64nvme"]:
        found.append(f"{key}: CRC64NVME {crc} differs from the inventory's")
    return found


def deep_check(store, inventory: dict, days: int, tier: str, say) -> tuple[list, int]:
    """Thaw what is archived, re-hash what is readable: (problems, bags still thawing)."""
    problems, waiting = [], 0
    for key, bag in sorted(inventory["bags"].items()):
        head = store.head(key)
        if head is None:
            problems.append(f"{key}: missing")
            continue
        state = thaw_state(head)
        if state == "archived":
            store.request_restore(key, days, tier)
            head = store.head(key) or head
            state = thaw_state(head)
        if state != "readable":
            say(f"{key}: thawing; run 'doit verify --deep --yes' again later")
            waiting += 1
            continue
        digest = hashlib.sha256()
        for chunk in store.read_range(key, 0, head["ContentLength"] - 1):
            digest.update(chunk)
        if digest.hexdigest() != bag["sha256"]:
            problems.append(f"{key}: its bytes hash to another sha256 than the inventory's")
        else:
            say(f"{key}: re-hashed, sha256 matches")
    return problems, waiting
