"""Disaster recovery: rebuild the local state of an empty machine from the bucket.

From the latest (or a chosen) YYYY-backup/system/ folder: the inventory goes where the
config says, list.txt too (unless one is already there), every manifest the inventory
names goes to manifest_dir, and the whole system folder is kept under
STATE/bootstrap/YYYY/. With the inventory back, the next backup finds every unchanged
atom in its bag and uploads nothing.
"""

import datetime
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
    years = layout.system_years(keys)
    choose_year(years, wanted_year, settings.s3_bucket)  # none, or not that one: say so
    found, damaged = {}, []
    for year in years:  # all of them: the alternatives are named when one falls short
        try:
            found[year] = _read_system_folder(settings, store, keys, year)
        except StateError:
            if year == wanted_year or len(years) == 1:
                raise
            damaged.append(year)
    if not found:
        raise StateError(f"every system folder's inventory in bucket "
                         f"'{settings.s3_bucket}' is damaged; nothing to bootstrap from")
    # the newest run by the real time it wrote its inventory, not by its folder's year:
    # a machine whose clock was wrong may have written an older year later
    year = wanted_year or max(found, key=lambda y: _written(found[y][1], keys, y))
    files, inventory = found[year]
    prefix = layout.system_prefix(year)
    bags = inventory["bags"]
    kept = keep_dir(year)
    for name, data in files.items():
        statefile.write_bytes(kept / name, data)
    lines = [f"System folder {prefix}: {len(files)} files kept in {kept}"]
    lines += _missing_bags(found, keys, year)
    lines += [f"WARNING the {y} system folder's inventory is damaged; skipped" for y in
              damaged]
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


def _read_system_folder(settings, store, keys, year) -> tuple[dict, dict]:
    """name -> plain bytes of one year's system folder, and its inventory."""
    prefix = layout.system_prefix(year)
    files = {}
    for key in (k for k in keys if k.startswith(prefix)):
        name, data = key[len(prefix):], store.get_bytes(key)
        if name.endswith(".age"):
            name, data = name[:-4], crypto.decrypt_bytes(data, settings.age_identity_file)
        files[name] = data
    try:
        inventory = json.loads(files["inventory.json"])
        if not isinstance(inventory["bags"], dict):
            raise TypeError
    except (KeyError, ValueError, TypeError):
        raise StateError(f"{prefix}inventory.json in the bucket is damaged; try "
                         "another year with --year") from None
    return files, inventory


def _written(inventory: dict, keys: dict, year: int) -> str:
    """When the run that wrote it happened (older inventories: the object's date)."""
    when = inventory.get("written_at")
    if when:
        return when
    info = keys.get(layout.system_key(year, "inventory.json")) or \
        keys.get(layout.system_key(year, "inventory.json.age"))
    return info.last_modified.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _missing_bags(found: dict, keys: dict, chosen: int) -> list[str]:
    """A warning when the chosen inventory names bags the bucket lacks, with the other
    system folders and how complete each is."""
    def gone(year):
        return [k for k in found[year][1]["bags"] if k not in keys]
    if not gone(chosen):
        return []
    others = [f"{y} ({len(gone(y))} of {len(found[y][1]['bags'])} bags missing)"
              for y in sorted(found) if y != chosen]
    return [f"WARNING the {chosen} inventory names {len(gone(chosen))} bags the bucket "
            f"does not hold (e.g. {gone(chosen)[0]}); other system folders: "
            f"{', '.join(others) or 'none'}; 'doit bootstrap --year YYYY' picks one"]


def _restore_list(list_file: Path, data: bytes | None) -> str:
    if data is None:
        return "The system folder holds no list.txt"
    if list_file.exists() and list_file.read_bytes() != data:
        other = list_file.with_name(list_file.name + ".from-bucket")
        statefile.write_bytes(other, data)
        return f"Kept your {list_file}; the bucket's copy is in {other}"
    statefile.write_bytes(list_file, data)
    return f"Wrote {list_file}"
