"""Issue 21, case 1: what is packed is what was planned. A drive that goes away after
the scan (its mount point left empty), or an atom renamed during the run, must never be
archived as empty: that bag fails, its atoms keep their previous bag, and prune offers
none of those previous bags.

The S3 server sits behind a slow line and staging holds one bag, so the later bags
are packed only after the first one's upload, while the test takes the drive away."""

import os
import shutil
import threading
import time

import pytest

from tests.support.proxy import LoopbackProxy

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

BAG_BYTES = 3_000_000
YEAR_ONE = {"GLACIER_TODAY": "2025-03-01"}
YEAR_TWO = {"GLACIER_TODAY": "2026-03-01"}


@pytest.fixture
def line(s3_server):
    proxy = LoopbackProxy(s3_server.port, rate=1_000_000)  # 1 MB/s: 3 s a bag
    yield proxy
    proxy.stop()


def four_atoms(tmp_path, s3_server, bucket, proxy):
    data = tmp_path / "drive"
    for n in range(4):  # one atom, one bag each
        (data / f"atom{n}").mkdir(parents=True)
        (data / f"atom{n}" / "blob").write_bytes(os.urandom(BAG_BYTES))
        (data / f"atom{n}" / "notes.txt").write_text(f"atom {n}\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.0035\nstaging_bags = 1\n")
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, proxy.endpoint))
    project.write_list(data)
    project.data = data
    return project


def change_every_atom(project):
    for n in range(4):
        (project.data / f"atom{n}" / "blob").write_bytes(os.urandom(BAG_BYTES))


def backup_while(project, disturb, **env):
    """Run a backup; once the first bag's tar is done (its upload then takes seconds
    on the slow line, and no other bag packs meanwhile), call disturb()."""
    process = project.popen("-n", "2", "backup", **env)
    lines = []

    def read():
        for raw in process.stdout:
            lines.append(raw.decode(errors="replace"))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any(" tar " in line and " done" in line for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        time.sleep(0.02)
    disturb()
    process.wait(timeout=300)
    reader.join(timeout=10)
    return process.returncode, "".join(lines)


def first_packed_atom(output: str) -> int:
    for line in output.splitlines():
        if " tar " in line and " done" in line:
            bag = line.split(" tar ")[1].split()[0]
            return int(bag.rsplit("_", 1)[1]) - 1  # bags are named in atom order here
    raise AssertionError(output)


def atom_bags(project) -> dict:
    return {atom.rsplit("/", 1)[1]: entry["archive_key"]
            for atom, entry in project.inventory["atoms"].items()}


@pytest.mark.parametrize("how", ["unmounted", "renamed"])
def test_an_atom_gone_after_the_scan_fails_its_bag_and_keeps_its_previous_one(
        how, tmp_path, s3_server, bucket, line):
    project = four_atoms(tmp_path, s3_server, bucket, line)
    first = project.run("backup", **YEAR_ONE)
    assert first.returncode == 0, first.stdout + first.stderr
    before = atom_bags(project)
    snapshot = tree_snapshot(project.data)
    change_every_atom(project)
    aside = tmp_path / "aside"

    def unmount():  # the drive goes: its folders leave, the mount point stays, empty
        aside.mkdir()
        for child in list(project.data.iterdir()):
            shutil.move(str(child), str(aside / child.name))

    def rename():
        for n in range(4):
            os.rename(project.data / f"atom{n}", project.data / f"atom{n}-renamed")

    code, output = backup_while(project, unmount if how == "unmounted" else rename,
                                **YEAR_TWO)
    assert code != 0, output
    assert "during the run" in output and "previous bag stays" in output, output
    assert "Traceback" not in output, output
    packed = first_packed_atom(output)
    after = atom_bags(project)
    assert set(after) == set(before)  # no atom recorded as gone, none as empty
    for atom, key in after.items():
        if atom == f"atom{packed}":
            assert key.startswith("2026-backup/"), (atom, key)  # packed before it went
        else:
            assert key == before[atom], (atom, key)  # the previous bag, kept
    for key, bag in project.inventory["bags"].items():
        assert bag["files"] > 0, (key, bag)  # nothing empty is ever recorded
    # prune offers none of the bags the atoms still need
    offered = project.run("prune", **YEAR_TWO)
    for key in after.values():
        assert key not in offered.stdout, offered.stdout
    # the drive comes back: the next run packs the rest, and everything restores
    if how == "unmounted":
        for child in aside.iterdir():
            shutil.move(str(child), str(project.data / child.name))
    else:
        for n in range(4):
            os.rename(project.data / f"atom{n}-renamed", project.data / f"atom{n}")
    again = project.run("backup", **YEAR_TWO)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(key.startswith("2026-backup/") for key in atom_bags(project).values())
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)
    assert tree_snapshot(project.data) != snapshot  # the new year's contents


def test_a_drive_gone_on_the_first_run_records_nothing_empty(tmp_path, s3_server, bucket,
                                                             line):
    project = four_atoms(tmp_path, s3_server, bucket, line)
    aside = tmp_path / "aside"

    def unmount():
        aside.mkdir()
        for child in list(project.data.iterdir()):
            shutil.move(str(child), str(aside / child.name))

    code, output = backup_while(project, unmount, **YEAR_ONE)
    assert code != 0, output
    assert "previous bag stays" in output, output
    inventory = project.inventory
    assert len(inventory["atoms"]) == 1, inventory["atoms"]  # only the bag packed before
    for bag in inventory["bags"].values():
        assert bag["files"] > 0, bag
    status = project.glacier("status")
    assert status.returncode != 0, status.stdout
