"""Small state files written atomically, and the lock that keeps two runs apart."""

import errno
import fcntl
import json
import os
import shutil
import threading
import time
from pathlib import Path

from .errors import LockError, StateError

_held_locks = {}
_taking = threading.Lock()  # doit's worker threads share their process's lock


def write_bytes(path: Path, data: bytes, backup: bool = False) -> None:
    """Write via a temp file, fsync and os.replace, so a reader sees old or new, never half.

    With backup, the file being replaced is first copied to PATH.bak.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    bak = path.with_name(path.name + ".bak")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if backup and path.exists():
            shutil.copy2(path, bak.with_name(bak.name + ".tmp"))
            os.replace(bak.with_name(bak.name + ".tmp"), bak)
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a read-only folder: the old file stays whole
        for left in (tmp, bak.with_name(bak.name + ".tmp")):
            left.unlink(missing_ok=True)
        raise StateError(f"{path}: cannot write: {err.strerror or err}" + (
            "; free some space on that disk (or move state_dir) and run again"
            if err.errno == errno.ENOSPC else "")) from None


def move(source: Path, target: Path) -> None:
    """Put `source` at `target` atomically, as os.replace does, also when the two are
    on different disks (a staging folder on its own disk): then copied to a temp name
    beside the target, fsynced, renamed, and the source removed."""
    try:
        os.replace(source, target)
        return
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    source.unlink()


def write_json(path: Path, data, backup: bool = False) -> None:
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n"
    write_bytes(path, text.encode(), backup=backup)


def read_json(path: Path, default=None, what: str = "state file", advice: str = ""):
    """Read a JSON file; a missing file gives `default`, a damaged one a StateError
    ending in `advice` (what to do), by default: its .bak or the system folder."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (ValueError, UnicodeDecodeError) as err:
        raise StateError(f"{path}: {what} is damaged ({err}); " + (
            advice or f"restore it from {path.name}.bak or the bucket's system folder")) \
            from None


def holds_lock(path: Path) -> bool:
    """Does this process hold the lock on this file?"""
    return str(path) in _held_locks


def take_lock(path: Path) -> None:
    """Hold an exclusive lock on this file for the life of this process."""
    with _taking:
        _take_lock(path)


def _take_lock(path: Path) -> None:
    if str(path) in _held_locks:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LockError(f"another glacier run holds {path} ({holder}); wait for it to "
                        "finish, then run again") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
              .encode(), 0)
    _held_locks[str(path)] = fd
