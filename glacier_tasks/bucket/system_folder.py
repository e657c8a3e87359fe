"""The system folder: what a bare machine needs to find and restore everything.

YYYY-backup/system/HOST/ (see layout.py) holds inventory.json, glacier.toml, list.txt
and the tool's own source archive (pip-installable), all in STANDARD so they download
instantly. Each is written once, under the number of the run that changed it
(inventory.000007.json); the highest number of each file is the current one.
Read back by bootstrap (every file of the chosen folder) and by find, verify and
restore of other hosts and years (the inventories alone).
"""

import datetime
import gzip
import io
import json
import tarfile
from pathlib import Path

from ..formats import crypto, layout
from ..errors import GlacierError, StateError, StoreError, command
from ..formats.inventory import stale_against, well_formed
from ..formats.records import BagRecord, Inventory
from ..formats.layout import SOURCE_ARCHIVE
from .objects import ObjectStore

SOURCE_FILES = ("pyproject.toml", "README.md", "Makefile", "dodo.py", "glacier.toml")
SOURCE_DOCS = "docs"  # every file under it goes in too: the restore-by-hand steps
# An installed copy (pip install .) has no checkout around it: pyproject.toml ships
# SOURCE_FILES and docs/ inside the package as glacier_tasks/_source/ instead.
SHIPPED_SOURCE = "_source"
PROJECT_DIR = Path(__file__).resolve().parents[2]  # a checkout: the top of the repository
WRITE_ATTEMPTS = 5  # another writer took our number: list again, take the next one


def source_archive() -> bytes:
    """A deterministic sdist-like tar.gz of this tool: same sources, same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, path in _source_paths():
            info = tarfile.TarInfo(f"glacier-tasks/{rel}")
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _source_paths() -> list[tuple[str, Path]]:
    """(name in the archive, file): SOURCE_FILES, docs/ and the package's modules, the
    same names and bytes from a checkout as from an installed copy."""
    package = PROJECT_DIR / "glacier_tasks"
    shipped = package / SHIPPED_SOURCE
    checkout = (PROJECT_DIR / "pyproject.toml").is_file() or not shipped.is_dir()
    top = PROJECT_DIR if checkout else shipped

    def tree(folder: Path, pattern: str) -> list:  # as setuptools' globs: no dotfiles
        return [p for p in folder.rglob(pattern) if p.is_file() and not any(
            part.startswith(".") or part == "__pycache__"
            for part in p.relative_to(folder).parts)]

    found = [(name, top / name) for name in SOURCE_FILES if (top / name).is_file()]
    found += [(p.relative_to(top).as_posix(), p) for p in tree(top / SOURCE_DOCS, "*")]
    found += [(p.relative_to(PROJECT_DIR).as_posix(), p)
              for p in tree(package, "*.py") + tree(package, "*.css")
              if p.relative_to(package).parts[0] != SHIPPED_SOURCE]
    return sorted(found)


def system_files(settings) -> dict:
    """Object name in the system folder -> plain bytes; with encryption on, the
    inventory and the list (every path backed up) go as NAME.age."""
    secret = ".age" if settings.encryption == "age" else ""
    return {f"inventory.json{secret}": settings.inventory_file.read_bytes(),
            "glacier.toml": settings.config_file.read_bytes(),
            f"list.txt{secret}": settings.list_file.read_bytes(),
            SOURCE_ARCHIVE: source_archive()}


def upload_system(settings, store: ObjectStore, year: int,
                  secret: bytes | None = None) -> list:
    """Upload into this host's folder, YYYY-backup/system/HOST/, each file whose newest
    copy there is missing or holds otherwise (by sha256 metadata: one LIST, then one
    HEAD per file; the bucket, not a local record, says what is there), all under one
    new number; return the keys written. `secret`: the key that hashes what leaves
    encrypted."""
    host, sent = settings.host, []
    files = system_files(settings)
    for _ in range(WRITE_ATTEMPTS):
        keys = store.list_objects(layout.system_prefix(year, host))
        stale = _stale_files(store, layout.newest_system_keys(keys, year, host), files,
                             secret)
        number = layout.next_system_number(keys, year, host)
        written = _put_new(store, settings, year, number, stale)
        sent += written
        if len(written) == len(stale):
            return sent
    raise StoreError(f"could not write the system files to "
                     f"{layout.system_prefix(year, host)}: another writer took each new "
                     f"number, {WRITE_ATTEMPTS} times; is another backup of host {host} "
                     "running? Run again once it has finished")


def _put_new(store: ObjectStore, settings, year: int, number: int, stale: dict) -> list:
    """Write each file under `number`; stop at the first key another writer took (what
    is there is theirs and stays: the caller lists again and takes the next number)."""
    written = []
    for name, (data, sha) in stale.items():
        if name.endswith(".age"):
            data = crypto.encrypt_bytes(data, settings.age_recipients)
        key = layout.system_key(year, name, settings.host, number)
        if not store.put_new(key, data, {"sha256": sha}):
            break
        written.append(key)
    return written


def _stale_files(store: ObjectStore, newest: dict, files: dict, secret) -> dict:
    """name -> (plain bytes, fingerprint) of the files whose newest copy differs."""
    stale = {}
    for name, data in files.items():
        # of the plain bytes (age output differs each time), keyed when encrypted
        sha = crypto.fingerprint(data, secret if name.endswith(".age") else None)
        key = newest.get(name.removesuffix(".age"))
        found = store.head(key) if key else None
        if not (found and found.sha256 == sha):
            stale[name] = data, sha
    return stale


# -- reading it back: every reader fetches inventories only, bootstrap the rest ---------


def latest_inventory(settings, store: ObjectStore, host: str) -> Inventory:
    """A host's inventory as its last run wrote it to the bucket (for `find --host`,
    `verify --all-hosts`), read from the system folder without touching local state."""
    keys = store.list_objects("")
    found, _ = inventories(settings, store, keys, host)
    return found[newest_folder(found, keys)][1]


def newest_inventory(settings, store: ObjectStore, host: str,
                     keys: dict) -> tuple[Inventory, str] | None:
    """(inventory, when written) of the host's newest system inventory in the bucket,
    or None when it has none that reads (a first run, or every copy damaged)."""
    try:
        found, _ = inventories(settings, store, keys, host)
    except StateError:
        return None
    folder = newest_folder(found, keys)
    return found[folder][1], written_at(found[folder][1], keys, folder)


def check_fresh(settings, store: ObjectStore, local: Inventory,
                keys: dict | None = None) -> None:
    """The bucket outranks local state: refuse a local inventory that does not know
    bags this host's newest inventory in the bucket names (an old .bak, a project
    folder rolled back to a snapshot): backing up or pruning from it would make them
    look unreferenced."""
    if not settings.inventory_file.exists():
        return  # nothing local to be stale: a first run, or state lost (adoption)
    keys = store.list_objects("") if keys is None else keys
    newest = newest_inventory(settings, store, settings.host, keys)
    if newest is not None:
        problem = stale_against(local, newest[0], keys)
        if problem:
            raise StateError(f"{settings.inventory_file} is older than host "
                             f"{settings.host}'s newest inventory in the bucket (written "
                             f"{newest[1][:19]}Z): {problem}; move it away and run "
                             f"'{command('bootstrap')}'")


def year_inventory(settings, store: ObjectStore, host: str, year: int) -> Inventory:
    """The inventory that year's run of `host` archived (`restore --year`)."""
    keys = store.list_objects("")
    found, _ = inventories(settings, store, keys, host)
    if year not in {f[0] for f in found}:
        have = ", ".join(str(y) for y in sorted({f[0] for f in found})) or "none"
        raise StateError(f"bucket '{settings.s3_bucket}' has no system folder of host "
                         f"{host} for {year}; it has {have}")
    return found[newest_folder(found, keys, year)][1]


def every_bag(settings, store: ObjectStore, host: str, local: Inventory) -> dict:
    """bag key -> its record (molecule, manifest_key, size) for every bag of `host`
    still in the bucket, from every year's system inventory and `local`'s (history
    included): `find --all-years`."""
    keys = store.list_objects("")
    try:
        found, _ = inventories(settings, store, keys, host)
    except StateError:
        found = {}
    known = {}
    for inventory in [f[1] for f in found.values()] + [local]:
        for key, bag in {**inventory.history, **inventory.bags}.items():
            if bag.molecule and bag.manifest_key:
                known[key] = BagRecord(size=bag.size or 0, molecule=bag.molecule,
                                       manifest_key=bag.manifest_key, tar_id=bag.tar_id)
    return {k: v for k, v in sorted(known.items())
            if k in keys and v.manifest_key in keys}


def hosts_in(keys) -> list[str]:
    """Every host that wrote a bag or a system folder of its own to this bucket."""
    return sorted({layout.owner(k) for k in keys if layout.owner(k)} |
                  {h for _, h in layout.system_folders(keys) if h})


def inventories(settings, store: ObjectStore, keys, host) -> tuple[dict, list]:
    """(year, folder host) -> (the inventory's plain bytes, the inventory) of every
    system folder of `host`, the shared ones of older versions included when their bags
    are that host's; and the warnings of what was damaged."""
    found, damaged = {}, []
    for year, owner in layout.system_folders(keys):
        if owner not in (host, None):
            continue
        try:
            data, inventory, skipped = _newest_whole_inventory(settings, store, keys,
                                                               year, owner)
        except StateError:
            damaged.append(f"WARNING the {layout.system_prefix(year, owner)} inventory "
                           "is damaged; skipped")
            continue
        damaged += skipped
        if owner is None and not _holds_host(inventory, host):
            continue
        found[(year, owner)] = data, inventory
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


def newest_folder(found: dict, keys: dict, year: int | None = None):
    """The folder of the newest run (of `year`, if given) by the real time it wrote its
    inventory, not by its folder's year: a machine whose clock was wrong may have
    written an older year later."""
    return max((f for f in found if year in (None, f[0])),
               key=lambda f: written_at(found[f][1], keys, f))


def folder_files(settings, store: ObjectStore, keys, folder) -> dict:
    """name -> plain bytes of the newest copy of each file of one system folder but
    its inventory (which `inventories` read)."""
    newest = layout.newest_system_keys(keys, *folder)
    return {name: plain_bytes(settings, store, key) for name, key in newest.items()
            if name != "inventory.json"}


def written_at(inventory: Inventory, keys: dict, folder) -> str:
    """When the run that wrote it happened: its `written_at` (the real clock, whatever
    GLACIER_TODAY said), never later than S3's own date of the object, which no writer
    chooses (an inventory claiming to be from the future does not win)."""
    info = keys[layout.newest_system_keys(keys, *folder)["inventory.json"]]
    stored = info.last_modified.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    when = inventory.written_at
    return min(when, stored) if isinstance(when, str) and when else stored


def plain_bytes(settings, store: ObjectStore, key: str) -> bytes:
    data = store.get_bytes(key)
    return crypto.decrypt_bytes(data, settings.age_identity_file) \
        if key.endswith(".age") else data


def _holds_host(inventory: Inventory, host: str) -> bool:
    return any(layout.owner(key) == host for key in inventory.bags)


def _newest_whole_inventory(settings, store: ObjectStore, keys, year,
                            host) -> tuple[bytes, Inventory, list]:
    """The newest intact copy of one folder's inventory (bytes, parsed), and a warning
    for each newer copy found damaged (a key that may only add objects can add a higher
    number: the older copies stay whole)."""
    warnings = []
    for key in _inventory_copies(keys, year, host):
        try:
            data = plain_bytes(settings, store, key)
            raw = json.loads(data)
            if not well_formed(raw):
                raise TypeError
            inventory = Inventory.from_json(raw)
        except (ValueError, TypeError, GlacierError):
            warnings.append(f"WARNING {key} in the bucket is damaged; skipped")
            continue
        return data, inventory, warnings
    newest = layout.newest_system_keys(keys, year, host)
    raise StateError(f"{newest.get('inventory.json')} in the bucket is damaged; try "
                     "another year with --year")


def _inventory_copies(keys, year, host) -> list[str]:
    """The folder's copies of the inventory, the highest number first."""
    copies = [(p[3], k) for k in keys if (p := layout.parse_system_key(k))
              and p[:2] == (year, host) and p[2].removesuffix(".age") == "inventory.json"]
    return [k for _, k in sorted(copies, reverse=True)]
