"""Drills for issue 11, "exit 0 means restorable": a walk that meets a busy, torn,
unreadable, sparse or oddly dated tree either archives exactly what it says it did or
fails the one bag concerned, naming the file; the other bags go on.

After every backup here the inventory is checked the hard way: each atom's bag is in
the bucket with the recorded size and checksum, and its manifest lists exactly the
members of the tar."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from glacier_tasks.formats import manifest
from tests.support.tmpfs import mounted_tmpfs

from .helpers import Project, make_sample_tree, restore_all, sha256_file, tree_snapshot

# -- the invariant --------------------------------------------------------------------


def tar_members(path: Path) -> list[bytes]:
    with tarfile.open(path, encoding="utf-8", errors="surrogateescape") as tar:
        return [os.fsencode(m.name) for m in tar.getmembers()]


def manifest_members(text: str) -> list[bytes]:
    names = []
    for line in text.splitlines():
        if line.endswith("\tskipped: socket"):
            continue  # listed so a user knows, never in the tar
        names.append(manifest.read_entry(line).name)
    return names


def assert_inventory_holds(project: Project) -> None:
    """Every atom points at a bag in the bucket with the recorded size and checksum,
    whose manifest lists exactly the members the tar holds, in the tar's order."""
    inventory = project.inventory
    for atom, entry in inventory["atoms"].items():
        assert atom in inventory["bags"][entry["archive_key"]]["atoms"], atom
    for key, bag in inventory["bags"].items():
        head = project.s3.head_object(Bucket=project.bucket, Key=key)
        assert head["ContentLength"] == bag["size"], key
        tar = thawed_copy(project, key)
        assert sha256_file(tar) == bag["sha256"], key
        text = project.s3.get_object(Bucket=project.bucket,
                                     Key=bag["manifest_key"])["Body"].read().decode()
        assert manifest_members(text) == tar_members(tar), key
        tar.unlink()


def thawed_copy(project: Project, key: str) -> Path:
    try:
        project.s3.restore_object(Bucket=project.bucket, Key=key, RestoreRequest={
            "Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
    except ClientError:
        pass  # thawed already, by an earlier check
    return project.download(key, project.root / "check" / Path(key).name)


def output(result) -> str:
    return result.stdout + result.stderr


# -- helper processes that disturb the tree while a backup runs ------------------------

CHURN = """
import os, sys, time
folder, seconds = sys.argv[1], float(sys.argv[2])
end, n = time.monotonic() + seconds, 0
while time.monotonic() < end:
    batch = [os.path.join(folder, "~tmp%09d" % (n + i)) for i in range(400)]
    n += len(batch)
    for name in batch:  # unique names: a later file is never mistaken for this one
        with open(name, "wb") as f:
            f.write(b"t")
    for name in batch:
        os.unlink(name)
"""

REWRITE = """
import os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
size = os.path.getsize(path)
fills = [bytes([n]) * size for n in range(4)]
end, n = time.monotonic() + seconds, 0
fd = os.open(path, os.O_WRONLY)
while time.monotonic() < end:
    os.pwrite(fd, fills[n % 4], 0)  # same size, new bytes, in place
    n += 1
"""


def start(script: str, *args) -> subprocess.Popen:
    """A disturbing process, bounded by its own deadline should a test die early."""
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


# -- case 1: a busy folder -------------------------------------------------------------


def entries_that_vanish_under(folder: Path, tries: int = 50) -> int:
    """How many listed entries vanished before their stat, over a few listings: the
    fault the walk must survive really happens here."""
    vanished = 0
    for _ in range(tries):
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    vanished += 1
        if vanished:
            break
    return vanished


def test_busy_folder_keeps_every_file_its_walk_saw(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    busy = data / "Busy"
    busy.mkdir(parents=True)
    for n in range(20_000):
        (busy / f"file{n:05d}").write_bytes(b"%d\n" % n)
    (data / "Quiet").mkdir()
    (data / "Quiet" / "a.txt").write_text("calm\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    churn = start(CHURN, busy, 300)
    try:
        assert entries_that_vanish_under(busy) > 0, "the churn never raced a stat"
        result = project.run("backup")
    finally:
        stop(churn)
    assert result.returncode == 0, output(result)
    entry = project.inventory["atoms"][f"{data}/Busy"]
    assert entry["files"] >= 20_000
    bag = project.inventory["bags"][entry["archive_key"]]
    text = project.s3.get_object(Bucket=bucket, Key=bag["manifest_key"])["Body"].read()
    names = set(manifest_members(text.decode()))
    assert {b"Busy/file%05d" % n for n in range(20_000)} <= names
    assert_inventory_holds(project)


# -- case 2: a file rewritten while it is read -----------------------------------------


def test_file_rewritten_while_packed_fails_its_atom_then_succeeds(project, tmp_path):
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    before = project.inventory
    books = f"{project.data}/Books"
    target = project.data / "Books" / "a.bin"
    before_mtime = target.stat().st_mtime_ns
    writer = start(REWRITE, target, 300)
    try:
        deadline = time.monotonic() + 30
        while target.stat().st_mtime_ns == before_mtime and time.monotonic() < deadline:
            time.sleep(0.01)  # until the writer has really begun
        assert target.stat().st_mtime_ns != before_mtime, "the writer never wrote"
        result = project.run("backup", GLACIER_TODAY="2027-02-01")
    finally:
        stop(writer)
    assert result.returncode != 0, output(result)
    assert f"{target} changed while it was read, twice" in result.stdout, output(result)
    assert "Traceback" not in output(result)
    assert f"FAILED atom {books}: " in result.stdout, output(result)
    plan = json.loads((project.state / "plan.json").read_text())
    books_bag = next(b for b in plan["bags"] if books in b["atoms"])
    assert books_bag["action"] == "upload"
    assert not list((project.root / "stage").glob(f"{books_bag['name']}*"))
    after = project.inventory
    assert after["atoms"][books] == before["atoms"][books]  # the previous good bag
    # issue 21 case 12: the busy file costs its own atom, not its bag's other atoms
    others = [a for a in books_bag["atoms"] if a != books]
    assert others, books_bag
    for atom in others:
        assert after["atoms"][atom]["archive_key"] == books_bag["archive_key"], atom
    assert books_bag["archive_key"] in project.objects()
    assert books not in after["bags"][books_bag["archive_key"]]["atoms"]
    status = project.glacier("status")
    assert status.returncode != 0 and "Books" in status.stdout, status.stdout
    assert_inventory_holds(project)

    again = project.run("backup", GLACIER_TODAY="2027-02-01")
    assert again.returncode == 0, output(again)
    assert project.inventory["atoms"][books]["archive_key"].startswith("2027-backup/")
    assert_inventory_holds(project)
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(project.data)


# -- case 9: one folder the user cannot read -------------------------------------------

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def open_to_nobody(tmp_path: Path, *keep_root: Path) -> None:
    """nobody may enter the temp folders and owns the project, but not `keep_root`."""
    for folder in [tmp_path, *tmp_path.parents]:
        if folder == Path("/tmp") or folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o055)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(tmp_path)], check=True)
    for path in keep_root:
        subprocess.run(["chown", "-R", "root:root", str(path)], check=True)
        path.chmod(0o700)


def test_unreadable_folder_fails_only_its_bag(tmp_path, s3_server, bucket):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.fail("needs root and setpriv to run the backup as the user nobody")
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    make_sample_tree(data)
    lost = data / "lost+found"
    lost.mkdir()
    (lost / "#1234").write_text("a block fsck found\n")
    (other / "Docs").mkdir(parents=True)
    (other / "Docs" / "letter.txt").write_text("dear nobody\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data, other)
    first = project.run("backup", GLACIER_TODAY="2026-06-15")  # root reads it all
    assert first.returncode == 0, output(first)
    previous = project.inventory["atoms"][f"{data}/lost+found"]

    (other / "New").mkdir()
    (other / "New" / "fresh.txt").write_text("made in 2027\n")
    (data / "Music").mkdir()  # a bag of its own (above the target size), in data too
    (data / "Music" / "song.flac").write_bytes(os.urandom(5_000_000))
    open_to_nobody(tmp_path, lost)
    result = subprocess.run(AS_NOBODY + project.command("backup"),
                            env=project.env(GLACIER_TODAY="2027-02-01", HOME=str(tmp_path)),
                            cwd=project.root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, output(result)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED bag")]
    assert len(failed) == 1, output(result)
    assert f"cannot read folder {lost}: Permission denied" in failed[0]
    assert "Traceback" not in output(result)
    atoms = project.inventory["atoms"]
    assert atoms[f"{data}/lost+found"] == previous
    assert atoms[f"{other}/New"]["archive_key"].startswith("2027-backup/")
    assert atoms[f"{data}/Music"]["archive_key"].startswith("2027-backup/")
    assert_inventory_holds(project)


# -- case 10: a sparse disk image ------------------------------------------------------

THIN = 200 * 10**9
MIDDLE = 50 * 10**9


def test_sparse_file_is_sized_by_what_tar_writes(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    (data / "VMs").mkdir(parents=True)
    disk = data / "VMs" / "thin.img"
    payload = os.urandom(5_000_000)
    with open(disk, "wb") as f:
        f.truncate(THIN)
        f.seek(MIDDLE)
        f.write(payload)
        f.seek(THIN - 16)
        f.write(b"end of the disk!")
    assert disk.stat().st_blocks * 512 < 20_000_000  # really sparse here
    stage = tmp_path / "stage"
    stage.mkdir()
    project = Project(tmp_path, s3_server, bucket, target_gb=1)
    with mounted_tmpfs(stage, "64m"):
        project.write_config(f'target_bag_gb = 1\nstaging_dir = "{stage}"')
        project.write_list(data)
        dry = project.run("dryrun")
        assert dry.returncode == 0, output(dry)
        assert " GB" not in dry.stdout.split("To upload:")[1].splitlines()[0]
        result = project.run("backup")
    assert result.returncode == 0, output(result)
    entry = project.inventory["atoms"][f"{data}/VMs"]
    assert entry["size"] < 20_000_000
    bag = project.inventory["bags"][entry["archive_key"]]
    assert bag["size"] < 20_000_000
    record = next(json.loads(p.read_text()) for p in (project.state / "atoms").iterdir()
                  if json.loads(p.read_text())["atom"] == f"{data}/VMs")
    assert record["apparent_size"] == THIN and record["size"] < 20_000_000
    assert_inventory_holds(project)

    restored = tmp_path / "restored"
    restore_all(project, restored)
    back = restored / "VMs" / "thin.img"
    st = back.stat()
    assert st.st_size == THIN and st.st_blocks * 512 < 50_000_000
    with open(back, "rb") as f:
        f.seek(MIDDLE)
        assert hashlib.sha256(f.read(len(payload))).digest() == \
            hashlib.sha256(payload).digest()
        f.seek(THIN - 16)
        assert f.read() == b"end of the disk!"
        f.seek(MIDDLE // 2)
        assert f.read(4096) == bytes(4096)


# -- case 12: odd metadata -------------------------------------------------------------

FAR_FUTURE = 300_000_000_000  # seconds: the year 11476


def test_mtime_past_year_9999_is_archived_and_the_run_goes_on(tmp_path, s3_server, bucket):
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    (other / "Plain").mkdir(parents=True)
    (other / "Plain" / "a.txt").write_text("ordinary\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data, other)
    with mounted_tmpfs(data, "16m"):
        (data / "Future").mkdir()
        future = data / "Future" / "from-the-future.txt"
        future.write_text("hello from 11476\n")
        os.utime(future, ns=(FAR_FUTURE * 10**9, FAR_FUTURE * 10**9))
        if future.stat().st_mtime_ns // 10**9 != FAR_FUTURE:
            pytest.skip("this tmpfs does not keep an mtime past 9999")
        result = project.run("backup")
        listed = project.run("find", "from-the-future")
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result)
    atoms = project.inventory["atoms"]
    assert f"{data}/Future" in atoms and f"{other}/Plain" in atoms
    bag = project.inventory["bags"][atoms[f"{data}/Future"]["archive_key"]]
    text = project.s3.get_object(Bucket=bucket, Key=bag["manifest_key"])["Body"].read()
    assert "Future/from-the-future.txt\t17\t9999-12-31T23:59:59Z" in text.decode()
    assert listed.returncode == 0 and "from-the-future.txt" in listed.stdout
    assert_inventory_holds(project)


def test_undecodable_atom_name_does_not_crash_the_report(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    odd = os.path.join(os.fsencode(data), b"caf\xe9-\xff")
    os.makedirs(odd)
    with open(os.path.join(odd, b"r\xe9sum\xe9.txt"), "wb") as f:
        f.write(b"latin-1 names\n")
    (data / "Plain").mkdir()
    (data / "Plain" / "a.txt").write_text("ordinary\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    strict = {"PYTHONIOENCODING": "utf-8:strict"}
    first = project.run("backup", **strict)
    assert first.returncode == 0, output(first)
    assert_inventory_holds(project)
    shutil.rmtree(odd)  # the closing report now names it: it left the inventory
    (data / "Plain" / "b.txt").write_text("more\n")
    dry = project.run("dryrun", **strict)
    assert dry.returncode == 0, output(dry)
    assert "caf\\xe9-\\xff" in dry.stdout
    result = project.run("backup", **strict)
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result)
    assert "caf\\xe9-\\xff" in result.stdout
    assert_inventory_holds(project)
