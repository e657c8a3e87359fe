"""Disaster recovery: rebuild the local state of an empty machine from the bucket.

From a host's latest (or a chosen year's) system folder, YYYY-backup/system/HOST/ (or
the YYYY-backup/system/ that older versions shared, when its bags are that host's),
the newest copy of each file in it (see layout.py): the inventory goes where the
config says, list.txt too (unless one is already there), every manifest the inventory
names goes to manifest_dir, and those files are kept under STATE/bootstrap/YYYY/. With
the inventory back, the next backup finds every unchanged atom in its bag and uploads
nothing.
"""

from pathlib import Path

from .. import statefile
from ..bucket import system_folder
from ..bucket.objects import ObjectStore
from ..errors import StateError, command
from ..formats import crypto, layout
from ..units import plural


def bootstrap(settings, store: ObjectStore, wanted_year: int | None, keep_dir,
              host: str | None = None) -> list[str]:
    """Do it for `host` (default: this machine's); return the lines to print.
    keep_dir(year): where the system folder is kept."""
    host = host or settings.host
    if settings.inventory_file.exists():
        raise StateError(f"{settings.inventory_file} exists: bootstrap only fills an empty "
                         "machine; move it away first")
    keys = store.list_objects("")
    found, damaged = system_folder.inventories(settings, store, keys, host)
    if wanted_year is not None:
        if wanted_year not in {year for year, _ in found}:
            have = sorted({year for year, _ in found}) or "none"
            raise StateError(f"bucket '{settings.s3_bucket}' has no system folder of "
                             f"host {host} for {wanted_year}; it has {have}")
    folder = system_folder.newest_folder(found, keys, wanted_year)
    data, inventory = found[folder]
    files = {**system_folder.folder_files(settings, store, keys, folder),
             "inventory.json": data}
    year, prefix = folder[0], layout.system_prefix(*folder)
    kept = keep_dir(year)
    for name, data in files.items():
        statefile.write_bytes(kept / name, data)
    lines = [f"System folder {prefix}: {plural(len(files), 'file')} kept in {kept}"]
    lines += _missing_bags(found, keys, folder)
    lines += damaged
    statefile.write_bytes(settings.inventory_file, files["inventory.json"])
    lines.append(f"Wrote {settings.inventory_file}: "
                 f"{plural(len(inventory.atoms), 'atom')} in "
                 f"{plural(len(inventory.bags), 'bag')}")
    lines.append(_restore_list(settings.list_file, files.get("list.txt")))
    count = _fetch_manifests(settings, store, keys, inventory)
    lines.append(f"Downloaded {plural(count, 'manifest')} to {settings.manifest_dir}")
    if host != settings.host:
        lines.append(f"This is host {host}'s inventory: restore and find its files with "
                     f"this config; back this machine up with its own")
    lines.append(f"Next: '{command('dryrun')}' shows what changed since that backup")
    return lines


def _missing_bags(found: dict, keys: dict, chosen) -> list[str]:
    """A warning when the chosen inventory names bags the bucket lacks, with the other
    system folders and how complete each is."""
    def gone(folder):
        return [k for k in found[folder][1].bags if k not in keys]
    if not gone(chosen):
        return []
    others = [f"{f[0]} ({len(gone(f))} of {plural(len(found[f][1].bags), 'bag')} "
              "missing)"
              for f in sorted(found, key=lambda f: (f[0], f[1] or "")) if f != chosen]
    return [f"WARNING the {chosen[0]} inventory names {plural(len(gone(chosen)), 'bag')} "
            f"the bucket does not hold (e.g. {gone(chosen)[0]}); other system folders: "
            f"{', '.join(others) or 'none'}; '{command('bootstrap --year YYYY')}' picks "
            "one"]


def _fetch_manifests(settings, store: ObjectStore, keys, inventory) -> int:
    count = 0
    for key, bag in sorted(inventory.bags.items()):
        manifest = bag.manifest_key
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
