"""The system folder: what a bare machine needs to find and restore everything.

YYYY-backup/system/ (see layout.py) holds inventory.json, glacier.toml, list.txt and the tool's own
source archive (pip-installable), all in STANDARD so they download instantly.
"""

import gzip
import io
import tarfile
from pathlib import Path

from . import crypto
from .layout import SOURCE_ARCHIVE, system_key
from .config import PROJECT_DIR

SOURCE_FILES = ("pyproject.toml", "README.md", "Makefile", "dodo.py", "glacier.toml")
SOURCE_DOCS = "docs"  # every file under it goes in too: the restore-by-hand steps
# An installed copy (pip install .) has no checkout around it: pyproject.toml ships
# SOURCE_FILES and docs/ inside the package as glacier_tasks/_source/ instead.
SHIPPED_SOURCE = "_source"


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
    found += [(p.relative_to(PROJECT_DIR).as_posix(), p) for p in tree(package, "*.py")
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
    """Upload into this host's folder, YYYY-backup/system/HOST/, what the bucket lacks
    or holds otherwise (by sha256 metadata, one HEAD each: the bucket, not a local
    record, says what is there). `secret`: the key that hashes what leaves encrypted."""
    sent, store = [], get_store()
    for name, data in system_files(settings).items():
        key = system_key(year, name, settings.host)
        # of the plain bytes (age output differs each time), keyed when encrypted
        sha = crypto.fingerprint(data, secret if name.endswith(".age") else None)
        found = store.head(key)
        if not (found and found.sha256 == sha):
            if name.endswith(".age"):
                data = crypto.encrypt_bytes(data, settings.age_recipients)
            store.put_bytes(key, data, "STANDARD", {"sha256": sha})
            sent.append(key)
    return sent
