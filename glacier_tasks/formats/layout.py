"""Where things live in the bucket, and the local copies that mirror it: the one owner
of every S3 key name.

    YYYY-backup/{host}_{molecule slug}_{tar_id}.tar     a bag, in the bags' storage class
    YYYY-backup/manifests/{same stem}.txt               its manifest, STANDARD
    YYYY-backup/manifests/{same stem}.idx               its member index, STANDARD
    YYYY-backup/system/{host}/{stem}.{NNNNNN}.{rest}    a system file, STANDARD:
        inventory.000007.json(.age), glacier.000007.toml, list.000007.txt(.age),
        glacier-tasks-src.000007.tar.gz
    glacier-hosts/{host}.json                           which machine owns the host name
    glacier-hosts/{host}/NNNNNN.json                    ... after a take-over (newest counts)

A bag's *name* is its key's stem (`rabbit_home-greenc-Backup_bag_003`): the doit task,
the marker, the staged tar and the local manifest are all called by it. Its first part,
up to the first '_', is the host that wrote it (host names hold no '_'): several
machines share a bucket, and each touches only its own keys. A bucket written before
hosts had folders of their own has one YYYY-backup/system/ for all (`host=None` below).

System files are written once, never replaced: a key that cannot delete could still
overwrite, and an older inventory is what a bad run would destroy. Each run that
changes a system file writes it under the run's number, one more than the highest in
that folder of that year; readers take the highest number of each file. Older
versions wrote the names without a number, which count as number 0.
"""

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

SOURCE_ARCHIVE = "glacier-tasks-src.tar.gz"
SYSTEM_FILES = ("inventory.json", "glacier.toml", "list.txt", SOURCE_ARCHIVE)
SECRET_SYSTEM_FILES = ("inventory.json", "list.txt")  # NAME.age when encryption is on

# a bag or a manifest of some year; never a system folder
BACKUP_KEY = re.compile(r"^\d{4}-backup/(?!system/)")
SYSTEM_INVENTORY = re.compile(r"^(\d{4})-backup/system/(?:([A-Za-z0-9][A-Za-z0-9.-]*)/)?"
                              r"inventory(?:\.\d{6,})?\.json(\.age)?$")
# year, host folder (none: the shared one), stem, run number (none: unnumbered), rest
SYSTEM_KEY = re.compile(r"^(\d{4})-backup/system/(?:([A-Za-z0-9][A-Za-z0-9.-]*)/)?"
                        r"([^/.]+)(?:\.(\d{6,}))?(\.[^/]+)$")
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")  # no '_': see above
# a bag, its manifest or its member index: year, folder, host, slug, tar_id, suffix
BAG_KEY = re.compile(r"^(?P<year>\d{4})-backup/(?P<manifests>manifests/)?"
                     r"(?P<host>[^_/]+)_(?P<slug>[^/]+)_(?P<tar_id>bag_[^/_]+)"
                     r"(?P<suffix>\.tar|\.txt|\.idx|\.del)$")
YEAR_FOLDER = re.compile(r"^(\d{4})-backup/")
KINDS = {(".tar", False): "bag", (".txt", True): "manifest", (".idx", True): "index",
         (".del", True): "deletions"}  # an increment's deletion list (issue 27)


@dataclass(frozen=True)
class ParsedKey:
    """What a key under YYYY-backup/ says of itself. kind: 'bag', 'manifest', 'index',
    'system' (host None: the folder older versions shared) or 'other'; slug and tar_id
    only for the first three, whose bag's key is `archive`."""
    year: int
    kind: str
    host: str | None
    slug: str = ""
    tar_id: str = ""

    @property
    def archive(self) -> str:
        return f"{year_prefix(self.year)}{self.host}_{self.slug}_{self.tar_id}.tar"


def parse(key: str) -> ParsedKey | None:
    """The one reader of key names: a bag's, a manifest's, a member index's or a system
    file's key, parsed; kind 'other' for anything else under a year's folder (a stray,
    a part of another tool); None outside the year folders (a claim, another tool's)."""
    match = BAG_KEY.match(key)
    if match and (match["suffix"], bool(match["manifests"])) in KINDS:
        return ParsedKey(int(match["year"]), KINDS[match["suffix"], bool(match["manifests"])],
                         match["host"], match["slug"], match["tar_id"])
    system = parse_system_key(key)
    if system:
        return ParsedKey(system[0], "system", system[1])
    year = YEAR_FOLDER.match(key)
    return ParsedKey(int(year[1]), "other", None) if year else None


def obscured_slug(slug: str, salt: str) -> str:
    """With `obscure_keys`: a molecule's name in keys, a keyed hash of its path (the
    salt is kept in the inventory, so every machine that restores it names it alike)."""
    return "m" + hmac.new(salt.encode(), slug.encode(), hashlib.sha256).hexdigest()[:16]


def year_prefix(year: int) -> str:
    return f"{year}-backup/"


def archive_key(year: int, host: str, slug: str, tar_id: str) -> str:
    return f"{year_prefix(year)}{host}_{slug}_{tar_id}.tar"


def manifest_key(archive: str) -> str:
    folder, _, base = archive.rpartition("/")
    return f"{folder}/manifests/{base.removesuffix('.tar')}.txt"


def index_key(archive: str) -> str:
    """The bag's member index (see memberindex), beside its manifest."""
    return manifest_key(archive).removesuffix(".txt") + ".idx"


def deletions_key(archive: str) -> str:
    """An increment bag's deletion list (issue 27), beside its manifest."""
    return manifest_key(archive).removesuffix(".txt") + ".del"


def archive_of(key: str) -> str:
    """The bag key a bag, manifest or member index key belongs to."""
    folder, _, base = key.rpartition("/")
    if folder.endswith("/manifests"):
        folder = folder.removesuffix("/manifests")
        base = base.removesuffix(".txt").removesuffix(".idx").removesuffix(".del") + ".tar"
    return f"{folder}/{base}"


def bag_name(archive: str) -> str:
    return archive.rpartition("/")[2].removesuffix(".tar")


def slug_of(key: str) -> str:
    """The molecule part of a bag's (or its manifest's) key: host_SLUG_bag_NNN."""
    return Path(key).stem.partition("_")[2].rpartition("_bag_")[0]


def system_prefix(year: int, host: str | None = None) -> str:
    """A host's system folder of that year (host None: the one older versions shared)."""
    return f"{year_prefix(year)}system/" + (f"{host}/" if host else "")


def system_key(year: int, name: str, host: str | None = None,
               number: int | None = None) -> str:
    """The key of run `number`'s copy of a system file (`inventory.json.age`): the
    number after the name's first part, `inventory.000007.json.age`; None: the name
    without a number, as older versions wrote it."""
    if number is None:
        return system_prefix(year, host) + name
    stem, _, rest = name.partition(".")
    return f"{system_prefix(year, host)}{stem}.{number:06d}.{rest}"


def parse_system_key(key: str) -> tuple[int, str | None, str, int] | None:
    """(year, host, name, number) of a system file's key, name as system_key takes it
    and number 0 when unnumbered; None for any other key."""
    match = SYSTEM_KEY.match(key)
    if not match:
        return None
    year, host, stem, number, rest = match.groups()
    name = stem + rest
    if name.removesuffix(".age") not in SYSTEM_FILES or (
            name.endswith(".age") and name[:-4] not in SECRET_SYSTEM_FILES):
        return None
    return int(year), host, name, int(number or 0)


def newest_system_keys(keys, year: int, host: str | None = None) -> dict[str, str]:
    """{file: key} of the highest-numbered copy of each system file in that folder,
    the file named as in SYSTEM_FILES whether or not that copy is encrypted (its key
    then ends in .age; at the same number the .age one, as older versions read)."""
    best = {}
    for key in keys:
        parsed = parse_system_key(key)
        if parsed and parsed[:2] == (year, host):
            file, rank = parsed[2].removesuffix(".age"), (parsed[3], key)
            best[file] = max(best.get(file, rank), rank)
    return {file: key for file, (_, key) in sorted(best.items())}


def next_system_number(keys, year: int, host: str | None = None) -> int:
    """The number the next run writes its system files under in that folder."""
    return 1 + max((p[3] for k in keys if (p := parse_system_key(k)) and
                    p[:2] == (year, host)), default=0)


def system_folders(keys) -> list[tuple[int, str | None]]:
    """(year, host) of every system folder holding an inventory; host None: shared."""
    return sorted({(int(m.group(1)), m.group(2)) for k in keys
                   if (m := SYSTEM_INVENTORY.match(k))}, key=lambda f: (f[0], f[1] or ""))


def system_years(keys, host: str | None = None) -> list[int]:
    """The years with an inventory in that host's system folder (None: the shared)."""
    return sorted({year for year, owner in system_folders(keys) if owner == host})


def owner(key: str) -> str | None:
    """The host that wrote a bag or a manifest; None for any other key."""
    return bag_name(key).partition("_")[0] if BACKUP_KEY.match(key) else None


def host_claim_key(host: str, number: int = 0) -> str:
    """A host's claims: the first, then each take-over's (numbered, never replaced)."""
    return f"glacier-hosts/{host}.json" if number == 0 else \
        f"{host_claims_prefix(host)}{number:06d}.json"


def host_claims_prefix(host: str) -> str:
    return f"glacier-hosts/{host}/"


def claim_number(key: str, host: str) -> int | None:
    """The number of a host's claim key, or None for any other key."""
    if key == host_claim_key(host):
        return 0
    rest = key.removeprefix(host_claims_prefix(host))
    if rest != key and re.fullmatch(r"\d{6,}\.json", rest):  # past 999999 too: a
        return int(rest.removesuffix(".json"))  # forged high number is taken over
    return None


def local_manifest(manifest_dir: Path, key: str) -> Path:
    """The local copy of the manifest with this key, laid out as in the bucket (year
    included: two years may hold bags of the same name)."""
    return manifest_dir / key


def migrate_flat_manifests(manifest_dir: Path, inventory) -> int:
    """Move the copies an older version kept flat (manifest_dir/NAME.txt) to their
    place; a name two bags share, or no bag has, is dropped: it may describe another
    bag than the one its name says, and the bucket's copy is fetched when needed."""
    flat = sorted(manifest_dir.glob("*.txt")) if manifest_dir.is_dir() else []
    if not flat:
        return 0
    owners = {}
    for bag in inventory.bags.values():
        key = bag.manifest_key or ""
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
