"""Hostile runs against increments (issue 27): a lost bag, prune --force."""

import os

import pytest

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_attack_inc_b import check_all, healed
from .test_increments import KB, backup, write, year_env


def test_attack_increment_tar_lost_from_bucket(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "a.jpg", 10 * KB)
    backup(project, 2026)
    inc = project.inventory["atoms"][key]["increments"][0]
    project.s3.delete_object(Bucket=project.bucket, Key=inc)
    bad = project.run("verify", **year_env(2026))
    assert bad.returncode != 0, bad.stdout
    dest = tmp_path / "early"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode != 0, "restore said success with a bag of the chain gone"
    write(atom / "y" / "b.jpg", 10 * KB)
    healed(project, key, inc, 2027)
    check_all(project, tmp_path, key, atom, "rebased")
    ok = project.run("verify", **year_env(2027))
    assert ok.returncode == 0, ok.stdout + ok.stderr


@pytest.mark.parametrize("lost", ["base", "increment", "base manifest",
                                  "increment manifest"])
def test_attack_chain_bag_lost_atom_unchanged(tmp_path, s3_server, bucket, lost):
    """Nothing changed on disk since the chain's last bag: the lost bag is still not
    accepted (as a lost whole bag is sent again), and never re-packed from today's disk
    under its old key, where its manifest and the increments after it would lie (nor
    its manifest, which would list today's files for a tar that holds others)."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "a.jpg", 10 * KB)
    backup(project, 2026)
    entry = project.inventory["atoms"][key]
    gone = entry["archive_key"] if lost.startswith("base") else entry["increments"][0]
    if lost.endswith("manifest"):
        gone = project.inventory["bags"][gone]["manifest_key"]
    project.s3.delete_object(Bucket=project.bucket, Key=gone)
    healed(project, key, gone, 2027)
    assert gone not in project.objects(), "a chain's bag re-packed from today's disk"
    found = project.run("find", "a.jpg")
    assert found.returncode == 0 and entry["increments"][0] not in found.stdout, \
        found.stdout
    check_all(project, tmp_path, key, atom, lost)
    ok = project.run("verify", **year_env(2027))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    again = project.run("backup", **year_env(2027))
    assert again.returncode == 0 and "REPAIRED" not in again.stdout, again.stdout


def test_attack_prune_force_old_base_of_live_chain(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    snaps = {}
    for n, year in enumerate(range(2020, 2025)):
        if n:
            write(atom / "y" / f"add{year}.jpg", 5 * KB)
            if n == 2:
                os.remove(atom / "doomed.txt")
        backup(project, year)
        snaps[year] = tree_snapshot(atom)
    before = set(project.objects())
    pruned = project.run("prune", "--delete", "--force", **year_env(2040))
    print(pruned.stdout[-1500:])
    chain = [project.inventory["atoms"][key]["archive_key"],
             *project.inventory["atoms"][key]["increments"]]
    assert all(k in project.objects() for k in chain), (before - set(project.objects()))
    check_all(project, tmp_path, key, atom, "after-prune")
    for year in (2021, 2023):
        dest = tmp_path / f"year-{year}"
        done = tool_restore(project, dest, "--path", key, "--year", str(year))
        assert done.returncode == 0, (year, done.stdout + done.stderr)
        assert tree_snapshot(dest / "Photos") == snaps[year], year
