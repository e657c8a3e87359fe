"""A small tmpfs mounted for one test, to fill a disk on purpose."""

import contextlib
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted_tmpfs(path: Path, size: str):
    """Mount a tmpfs of `size` (mount's spelling: "4m") on the folder `path` for the
    block, then unmount it. Where no tmpfs can be mounted (not root, no CAP_SYS_ADMIN in
    a container, no mount command) the test fails, saying why: a skipped test would
    pass for what it never checked."""
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    try:
        mounted = subprocess.run(command, capture_output=True, text=True)
    except OSError as err:
        pytest.fail(f"cannot mount a tmpfs on {path}: {err}")
    if mounted.returncode != 0:
        lines = mounted.stderr.strip().splitlines()
        why = lines[0] if lines else f"mount exited with status {mounted.returncode}"
        pytest.fail(f"cannot mount a tmpfs on {path}: {why}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
