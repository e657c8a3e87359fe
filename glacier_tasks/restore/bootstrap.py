"""Disaster recovery: rebuild the local state of an empty machine from the bucket.

From a host's latest (or a chosen year's) system folder, YYYY-backup/system/HOST/ (or
the YYYY-backup/system/ that older versions shared, when its bags are that host's),
the newest copy of each file in it (see layout.py): the inventory goes where the
config says, list.txt too (unless one is already there), every manifest the inventory
names goes to manifest_dir, and those files are kept under STATE/bootstrap/YYYY/. With
the inventory back, the next backup finds every unchanged atom in its bag and uploads
nothing.
"""

import datetime
import json
from pathlib import Path

from ..formats import crypto, layout
from .. import statefile
from ..errors import GlacierError, StateError
from ..formats.inventory import well_formed


def bootstrap(settings, store, wanted_year: int | None, keep_dir,
              host: str | None = None) -> list[str]:
    """Do it for `host` (default: this machine's); return the lines to print.
    keep_dir(year): where the system folder is kept."""
    host = host or settings.host
    if settings.inventory_file.exists():
        raise StateError(f"{settings.inventory_file} exists: bootstrap only fills an empty "
                         "machine; move it away first")
    keys = store.list_objects("")
    found, damaged = _candidates(settings, store, keys, host)
    if wanted_year is not None:
        if wanted_year not in {year for year, _ in found}:
            have = sorted({year for year, _ in found}) or "none"
            raise StateError(f"bucket '{settings.s3_bucket}' has no system folder of "
                             f"host {host} for {wanted_year}; it has {have}")
    # the newest run by the real time it wrote its inventory, not by its folder's year:
    # a machine whose clock was wrong may have written an older year later
    folder = max((f for f in found if wanted_year in (None, f[0])),
                 key=lambda f: _written(found[f][1], keys, f))
    files, inventory = found[folder]
    year, prefix = folder[0], layout.system_prefix(*folder)
    kept = keep_dir(year)
    for name, data in files.items():
        statefile.write_bytes(kept / name, data)
    lines = [f"System folder {prefix}: {len(files)} files kept in {kept}"]
    lines += _missing_bags(found, keys, folder)
    lines += damaged
    statefile.write_bytes(settings.inventory_file, files["inventory.json"])
    lines.append(f"Wrote {settings.inventory_file}: {len(inventory['atoms'])} atoms in "
                 f"{len(inventory['bags'])} bags")
    lines.append(_restore_list(settings.list_file, files.get("list.txt")))
    count = _fetch_manifests(settings, store, keys, inventory)
    lines.append(f"Downloaded {count} manifests to {settings.manifest_dir}")
    if host != settings.host:
        lines.append(f"This is host {host}'s inventory: restore and find its files with "
                     f"this config; back this machine up with its own")
    lines.append("Next: 'doit dryrun' shows what changed since that backup")
    return lines


def latest_inventory(settings, store, host: str) -> dict:
    """A host's inventory as its last run wrote it to the bucket (for `find --host`,
    `verify --all-hosts`), read from the system folder without touching local state."""
    keys = store.list_objects("")
    found, _ = _candidates(settings, store, keys, host)
    return found[max(found, key=lambda f: _written(found[f][1], keys, f))][1]


def year_inventory(settings, store, host: str, year: int) -> dict:
    """The inventory that year's run of `host` archived (`restore --year`)."""
    keys = store.list_objects("")
    found, _ = _candidates(settings, store, keys, host)
    folders = [f for f in found if f[0] == year]
    if not folders:
        have = ", ".join(str(y) for y in sorted({f[0] for f in found})) or "none"
        raise StateError(f"bucket '{settings.s3_bucket}' has no system folder of host "
                         f"{host} for {year}; it has {have}")
    return found[max(folders, key=lambda f: _written(found[f][1], keys, f))][1]


def every_bag(settings, store, host: str, local: dict) -> dict:
    """bag key -> its record (molecule, manifest_key) for every bag of `host` still in
    the bucket, from every year's system inventory and `local`'s: `find --all-years`."""
    keys = store.list_objects("")
    try:
        found, _ = _candidates(settings, store, keys, host)
    except StateError:
        found = {}
    known = {}
    for inventory in [f[1] for f in found.values()] + [local]:
        for key, bag in {**inventory.get("history", {}), **inventory["bags"]}.items():
            if bag.get("molecule") and bag.get("manifest_key"):
                known[key] = {"molecule": bag["molecule"],
                              "manifest_key": bag["manifest_key"]}
    return {k: v for k, v in sorted(known.items())
            if k in keys and v["manifest_key"] in keys}


def hosts_in(keys) -> list[str]:
    """Every host that wrote a bag or a system folder of its own to this bucket."""
    return sorted({layout.owner(k) for k in keys if layout.owner(k)} |
                  {h for _, h in layout.system_folders(keys) if h})


def _candidates(settings, store, keys, host) -> tuple[dict, list]:
    """(year, folder host) -> (files, inventory) of every system folder of `host`, the
    shared ones of older versions included when their bags are that host's; and the
    warnings of what was damaged."""
    found, damaged = {}, []
    for year, owner in layout.system_folders(keys):
        if owner not in (host, None):
            continue
        try:
            files, inventory, skipped = _read_system_folder(settings, store, keys, year,
                                                             owner)
        except StateError:
            damaged.append(f"WARNING the {layout.system_prefix(year, owner)} inventory "
                           "is damaged; skipped")
            continue
        damaged += skipped
        if owner is None and not _holds_host(inventory, host):
            continue
        found[(year, owner)] = files, inventory
    if not found:
        if damaged:
            raise StateError(f"every system folder of host {host} in bucket "
                             f"'{settings.s3_bucket}' has a damaged inventory; nothing to "
                             "bootstrap from")
        others = sorted({h for _, h in layout.system_folders(keys) if h})
        raise StateError(f"bucket '{settings.s3_bucket}' holds no system folder of host "
                         f"{host}; nothing to bootstrap from" +
                         (f" (hosts there: {', '.join(others)}; --host NAME)" if others
                          else ""))
    return found, damaged


def _holds_host(inventory: dict, host: str) -> bool:
    return any(layout.owner(key) == host for key in inventory["bags"])


def _read_system_folder(settings, store, keys, year, host) -> tuple[dict, dict, list]:
    """name -> plain bytes of the newest copy of each file of one system folder, its
    inventory, and a warning for each newer copy of the inventory found damaged (a key
    that may only add objects can add a higher number: the older copies stay whole)."""
    newest = layout.newest_system_keys(keys, year, host)
    files, warnings = {}, []
    for name, key in newest.items():
        if name != "inventory.json":
            files[name] = _plain(settings, store, key)
    for key in _inventory_copies(keys, year, host):
        try:
            data = _plain(settings, store, key)
            inventory = json.loads(data)
            if not well_formed(inventory):
                raise TypeError
        except (ValueError, TypeError, GlacierError):
            warnings.append(f"WARNING {key} in the bucket is damaged; skipped")
            continue
        files["inventory.json"] = data
        return files, inventory, warnings
    raise StateError(f"{newest.get('inventory.json')} in the bucket is damaged; try "
                     "another year with --year")


def _inventory_copies(keys, year, host) -> list[str]:
    """The folder's copies of the inventory, the highest number first."""
    copies = [(p[3], k) for k in keys if (p := layout.parse_system_key(k))
              and p[:2] == (year, host) and p[2].removesuffix(".age") == "inventory.json"]
    return [k for _, k in sorted(copies, reverse=True)]


def _plain(settings, store, key: str) -> bytes:
    data = store.get_bytes(key)
    return crypto.decrypt_bytes(data, settings.age_identity_file) \
        if key.endswith(".age") else data


def _written(inventory: dict, keys: dict, folder) -> str:
    """When the run that wrote it happened: its `written_at` (the real clock, whatever
    GLACIER_TODAY said), never later than S3's own date of the object, which no writer
    chooses (an inventory claiming to be from the future does not win)."""
    info = keys[layout.newest_system_keys(keys, *folder)["inventory.json"]]
    stored = info.last_modified.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    when = inventory.get("written_at")
    return min(when, stored) if isinstance(when, str) and when else stored


def _missing_bags(found: dict, keys: dict, chosen) -> list[str]:
    """A warning when the chosen inventory names bags the bucket lacks, with the other
    system folders and how complete each is."""
    def gone(folder):
        return [k for k in found[folder][1]["bags"] if k not in keys]
    if not gone(chosen):
        return []
    others = [f"{f[0]} ({len(gone(f))} of {len(found[f][1]['bags'])} bags missing)"
              for f in sorted(found, key=lambda f: (f[0], f[1] or "")) if f != chosen]
    return [f"WARNING the {chosen[0]} inventory names {len(gone(chosen))} bags the bucket "
            f"does not hold (e.g. {gone(chosen)[0]}); other system folders: "
            f"{', '.join(others) or 'none'}; 'doit bootstrap --year YYYY' picks one"]


def _fetch_manifests(settings, store, keys, inventory) -> int:
    count = 0
    for key, bag in sorted(inventory["bags"].items()):
        manifest = bag.get("manifest_key")
        if manifest and manifest in keys:
            data = store.get_bytes(manifest)
            if crypto.is_encrypted(data):
                data = crypto.decrypt_bytes(data, settings.age_identity_file)
            statefile.write_bytes(layout.local_manifest(settings.manifest_dir, manifest),
                                  data)
            count += 1
    return count


def _restore_list(list_file: Path, data: bytes | None) -> str:
    if data is None:
        return "The system folder holds no list.txt"
    if list_file.exists() and list_file.read_bytes() != data:
        other = list_file.with_name(list_file.name + ".from-bucket")
        statefile.write_bytes(other, data)
        return f"Kept your {list_file}; the bucket's copy is in {other}"
    statefile.write_bytes(list_file, data)
    return f"Wrote {list_file}"
