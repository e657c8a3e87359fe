"""Where things live in the bucket, and the local copies that mirror it: the one owner
of every S3 key name.

    YYYY-backup/{host}_{molecule slug}_{tar_id}.tar     a bag, in the bags' storage class
    YYYY-backup/manifests/{same stem}.txt               its manifest, STANDARD
    YYYY-backup/system/                                 inventory, config, list, source

A bag's *name* is its key's stem (`rabbit_home-greenc-Backup_bag_003`): the doit task,
the marker, the staged tar and the local manifest are all called by it.
"""

import os
import re
from pathlib import Path

SOURCE_ARCHIVE = "glacier-tasks-src.tar.gz"
SYSTEM_FILES = ("inventory.json", "glacier.toml", "list.txt", SOURCE_ARCHIVE)
SECRET_SYSTEM_FILES = ("inventory.json", "list.txt")  # NAME.age when encryption is on

# a bag or a manifest of some year; never a system folder
BACKUP_KEY = re.compile(r"^\d{4}-backup/(?!system/)")
SYSTEM_INVENTORY = re.compile(r"^(\d{4})-backup/system/inventory\.json(\.age)?$")


def year_prefix(year: int) -> str:
    return f"{year}-backup/"


def archive_key(year: int, host: str, slug: str, tar_id: str) -> str:
    return f"{year_prefix(year)}{host}_{slug}_{tar_id}.tar"


def manifest_key(archive: str) -> str:
    folder, _, base = archive.rpartition("/")
    return f"{folder}/manifests/{base.removesuffix('.tar')}.txt"


def bag_name(archive: str) -> str:
    return archive.rpartition("/")[2].removesuffix(".tar")


def system_prefix(year: int) -> str:
    return f"{year_prefix(year)}system/"


def system_key(year: int, name: str) -> str:
    return system_prefix(year) + name


def system_years(keys) -> list[int]:
    """The years whose system folder holds an inventory."""
    return sorted({int(m.group(1)) for k in keys if (m := SYSTEM_INVENTORY.match(k))})


def local_manifest(manifest_dir: Path, key: str) -> Path:
    """The local copy of the manifest with this key, laid out as in the bucket (year
    included: two years may hold bags of the same name)."""
    return manifest_dir / key


def migrate_flat_manifests(manifest_dir: Path, inventory: dict) -> int:
    """Move the copies an older version kept flat (manifest_dir/NAME.txt) to their
    place; a name two bags share, or no bag has, is dropped: it may describe another
    bag than the one its name says, and the bucket's copy is fetched when needed."""
    flat = sorted(manifest_dir.glob("*.txt")) if manifest_dir.is_dir() else []
    if not flat:
        return 0
    owners = {}
    for bag in inventory.get("bags", {}).values():
        key = bag.get("manifest_key") or ""
        owners.setdefault(Path(key).name, []).append(key)
    moved = 0
    for path in flat:
        keys = owners.get(path.name, [])
        target = local_manifest(manifest_dir, keys[0]) if len(keys) == 1 else None
        if target is not None and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved += 1
        else:
            path.unlink()
    return moved
