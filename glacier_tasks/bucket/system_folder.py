"""The system folder: what a bare machine needs to find and restore everything.

YYYY-backup/system/HOST/ (see layout.py) holds inventory.json, glacier.toml, list.txt
and the tool's own source archive (pip-installable), all in STANDARD so they download
instantly. Each is written once, under the number of the run that changed it
(inventory.000007.json); the highest number of each file is the current one.
"""

import gzip
import io
import tarfile
from pathlib import Path

from ..formats import crypto, layout
from ..errors import StoreError
from ..formats.layout import SOURCE_ARCHIVE

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


def upload_system(settings, get_store, year: int, secret: bytes | None = None) -> list:
    """Upload into this host's folder, YYYY-backup/system/HOST/, each file whose newest
    copy there is missing or holds otherwise (by sha256 metadata: one LIST, then one
    HEAD per file; the bucket, not a local record, says what is there), all under one
    new number; return the keys written. `secret`: the key that hashes what leaves
    encrypted."""
    store, host, sent = get_store(), settings.host, []
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


def _put_new(store, settings, year: int, number: int, stale: dict) -> list:
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


def _stale_files(store, newest: dict, files: dict, secret) -> dict:
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
