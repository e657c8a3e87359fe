"""Where things live in the bucket, and the local copies that mirror it: the one owner
of every S3 key name.

    YYYY-backup/{host}_{molecule slug}_{tar_id}.tar     a bag, in the bags' storage class
    YYYY-backup/manifests/{same stem}.txt               its manifest, STANDARD
    YYYY-backup/system/                                 inventory, config, list, source

A bag's *name* is its key's stem (`rabbit_home-greenc-Backup_bag_003`): the doit task,
the marker, the staged tar and the local manifest are all called by it.
"""

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
    """The local copy of a manifest (or of the manifest written for a bag's key)."""
    return manifest_dir / Path(key).name
