"""The system folder: what a bare machine needs to find and restore everything.

YYYY-backup/system/ holds inventory.json, glacier.toml, list.txt and the tool's own
source archive (pip-installable), all in STANDARD so they download instantly.
"""

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from . import crypto, statefile
from .config import PROJECT_DIR

SOURCE_ARCHIVE = "glacier-tasks-src.tar.gz"
SOURCE_FILES = ("pyproject.toml", "README.md", "Makefile", "dodo.py", "glacier.toml")


def system_prefix(year: int) -> str:
    return f"{year}-backup/system/"


def source_archive() -> bytes:
    """A deterministic sdist-like tar.gz of this tool: same sources, same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in _source_paths():
            rel = path.relative_to(PROJECT_DIR).as_posix()
            info = tarfile.TarInfo(f"glacier-tasks/{rel}")
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _source_paths() -> list[Path]:
    package = sorted(p for p in (PROJECT_DIR / "glacier_tasks").rglob("*.py")
                     if "__pycache__" not in p.parts)
    top = [PROJECT_DIR / name for name in SOURCE_FILES if (PROJECT_DIR / name).exists()]
    return top + package


def system_files(settings, inventory_path: Path) -> dict:
    """Object name in the system folder -> plain bytes; with encryption on, the
    inventory and the list (every path backed up) go as NAME.age."""
    secret = ".age" if settings.encryption == "age" else ""
    return {f"inventory.json{secret}": inventory_path.read_bytes(),
            "glacier.toml": settings.config_file.read_bytes(),
            f"list.txt{secret}": settings.list_file.read_bytes(),
            SOURCE_ARCHIVE: source_archive()}


def upload_system(settings, get_store, year: int, inventory_path: Path) -> list:
    """Upload what differs from the bucket's copy (compared by sha256 metadata).

    STATE/system.json remembers what is already there, so a run that changed nothing
    sends no request at all; `doit verify` checks the bucket's copies."""
    record_file = settings.state_dir / "system.json"
    record = statefile.read_json(record_file, default={}, what="system record")
    sent = []
    for name, data in system_files(settings, inventory_path).items():
        key = system_prefix(year) + name
        sha = hashlib.sha256(data).hexdigest()
        if record.get(key) == sha:
            continue
        store = get_store()  # only now: a run that changed nothing never connects
        head = store.head(key)  # sha256 of the plain bytes: age output differs each time
        if not (head and head.get("Metadata", {}).get("sha256") == sha):
            if name.endswith(".age"):
                data = crypto.encrypt_bytes(data, settings.age_recipients)
            store.put_bytes(key, data, "STANDARD", {"sha256": sha})
            sent.append(key)
        record[key] = sha
        statefile.write_json(record_file, record)
    return sent
