"""Disaster recovery: rebuild the local state of an empty machine from the bucket.

From the latest (or a chosen) YYYY-backup/system/ folder: the inventory goes where the
config says, list.txt too (unless one is already there), every manifest the inventory
names goes to manifest_dir, and the whole system folder is kept under
STATE/bootstrap/YYYY/. With the inventory back, the next backup finds every unchanged
atom in its bag and uploads nothing.
"""

import json
from pathlib import Path

from . import crypto, layout, statefile
from .errors import StateError


def choose_year(years: list[int], wanted: int | None, bucket: str) -> int:
    if not years:
        raise StateError(f"bucket '{bucket}' holds no YYYY-backup/system/inventory.json; "
                         "nothing to bootstrap from")
    if wanted is None:
        return years[-1]
    if wanted not in years:
        raise StateError(f"bucket '{bucket}' has no system folder for {wanted}; it has "
                         f"{', '.join(map(str, years))}")
    return wanted


def bootstrap(settings, store, wanted_year: int | None, keep_dir) -> list[str]:
    """Do it; return the lines to print. keep_dir(year): where the system folder is kept."""
    if settings.inventory_file.exists():
        raise StateError(f"{settings.inventory_file} exists: bootstrap only fills an empty "
                         "machine; move it away first")
    keys = store.list_objects("")
    year = choose_year(layout.system_years(keys), wanted_year, settings.s3_bucket)
    prefix = layout.system_prefix(year)
    files = {}
    for key in (k for k in keys if k.startswith(prefix)):
        name, data = key[len(prefix):], store.get_bytes(key)
        if name.endswith(".age"):
            name, data = name[:-4], crypto.decrypt_bytes(data, settings.age_identity_file)
        files[name] = data
    try:
        inventory = json.loads(files["inventory.json"])
        bags = inventory["bags"]
    except (KeyError, ValueError, TypeError):
        raise StateError(f"{prefix}inventory.json in the bucket is damaged; try "
                         "another year with --year") from None
    kept = keep_dir(year)
    for name, data in files.items():
        statefile.write_bytes(kept / name, data)
    lines = [f"System folder {prefix}: {len(files)} files kept in {kept}"]
    statefile.write_bytes(settings.inventory_file, files["inventory.json"])
    lines.append(f"Wrote {settings.inventory_file}: {len(inventory['atoms'])} atoms in "
                 f"{len(bags)} bags")
    lines.append(_restore_list(settings.list_file, files.get("list.txt")))
    count = 0
    for key, bag in sorted(bags.items()):
        manifest = bag.get("manifest_key")
        if manifest and manifest in keys:
            target = layout.local_manifest(settings.manifest_dir, manifest)
            data = store.get_bytes(manifest)
            if crypto.is_encrypted(data):
                data = crypto.decrypt_bytes(data, settings.age_identity_file)
            statefile.write_bytes(target, data)
            count += 1
    lines.append(f"Downloaded {count} manifests to {settings.manifest_dir}")
    lines.append("Next: 'doit dryrun' shows what changed since that backup")
    return lines


def _restore_list(list_file: Path, data: bytes | None) -> str:
    if data is None:
        return "The system folder holds no list.txt"
    if list_file.exists() and list_file.read_bytes() != data:
        other = list_file.with_name(list_file.name + ".from-bucket")
        statefile.write_bytes(other, data)
        return f"Kept your {list_file}; the bucket's copy is in {other}"
    statefile.write_bytes(list_file, data)
    return f"Wrote {list_file}"
