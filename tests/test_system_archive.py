"""system.source_archive(): the tool's own source in the bucket's system folder, README.md
and docs/ included (the restore-by-hand steps), from a checkout and from an installed
copy (pip install ., no checkout around it) alike, byte for byte."""

import importlib.util
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from glacier_tasks.bucket import system_folder as system
from glacier_tasks.bucket.system_folder import PROJECT_DIR

ARCHIVE_OF = ("import sys; from glacier_tasks.bucket import system_folder as system; "
              "sys.stdout.write(system.__file__ + '\\n'); sys.stdout.flush(); "
              "sys.stdout.buffer.write(system.source_archive())")


def members(archive: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def archive_made_in(path_dir: Path, cwd: Path) -> bytes:
    """source_archive() of the glacier_tasks found in path_dir, run in a fresh Python."""
    done = subprocess.run([sys.executable, "-c", ARCHIVE_OF], cwd=cwd, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(path_dir)},
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    where, _, archive = done.stdout.partition(b"\n")
    assert Path(where.decode()).is_relative_to(path_dir), where  # not the checkout's
    return archive


def install(src: Path, target: Path) -> None:
    """What `pip install .` puts in site-packages, offline: pip itself when setuptools
    can build a wheel here (its own bdist_wheel from 70.1, else the `wheel` package),
    else setuptools' build_py, which fills the wheel in the first place."""
    if (importlib.util.find_spec("setuptools.command.bdist_wheel")
            or importlib.util.find_spec("wheel")):
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                   "--no-build-isolation", "--no-index", "--target", str(target), str(src)]
    else:
        command = [sys.executable, "-c", "from setuptools import setup; setup()", "--quiet",
                   "build_py", "--build-lib", str(target)]
    done = subprocess.run(command, cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkout_archive_holds_readme_and_every_doc():
    names = members(system.source_archive())
    assert names["glacier-tasks/README.md"] == (PROJECT_DIR / "README.md").read_bytes()
    docs = sorted(p.relative_to(PROJECT_DIR).as_posix()
                  for p in (PROJECT_DIR / "docs").rglob("*") if p.is_file())
    assert "docs/reliability.md" in docs
    for doc in docs:
        assert names[f"glacier-tasks/{doc}"] == (PROJECT_DIR / doc).read_bytes()
    assert "glacier-tasks/pyproject.toml" in names and "glacier-tasks/dodo.py" in names
    assert system.source_archive() == system.source_archive()  # same sources, same bytes


def test_installed_copy_archives_the_same_bytes(tmp_path):
    src = tmp_path / "glacier-tasks"  # the checkout's sources, as the archive lists them
    for rel, path in system._source_paths():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(path.read_bytes())
    target = tmp_path / "site-packages"
    install(src, target)
    assert not (target / "README.md").exists()  # only what a wheel holds
    assert (target / "glacier_tasks" / system.SHIPPED_SOURCE / "README.md").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    installed = archive_made_in(target, elsewhere)
    names = members(installed)
    assert names["glacier-tasks/README.md"] == (src / "README.md").read_bytes()
    assert names["glacier-tasks/docs/reliability.md"] == (
        src / "docs" / "reliability.md").read_bytes()
    assert not any(system.SHIPPED_SOURCE in name or "__pycache__" in name for name in names)
    from_checkout = archive_made_in(src, elsewhere)
    missing = sorted(set(members(from_checkout)) - set(names))
    assert not missing, ("an installed copy lacks these: are their packages in "
                         f"pyproject.toml's [tool.setuptools] packages? {missing}")
    assert installed == from_checkout  # byte for byte
