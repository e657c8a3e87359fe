"""Hostile runs against increments (issue 27): partial restores across a chain."""

import os
import shutil

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_attack_inc_b import check_all
from .test_increments import KB, backup, write, year_env


def test_attack_folder_restore_drops_files_deleted_later(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "y" / "img05.jpg")
    write(atom / "y" / "img06.jpg", 100 * KB)
    backup(project, 2026)
    os.remove(atom / "y" / "img07.jpg")
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    dest = tmp_path / "folder"
    done = tool_restore(project, dest, "--path", f"{atom}/y")
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos" / "y") == tree_snapshot(atom / "y")
    # a folder gone in a later increment does not come back
    shutil.rmtree(atom / "thing")
    backup(project, 2028)
    gone = tmp_path / "gone"
    done = tool_restore(project, gone, "--path", f"{atom}/thing")
    assert not (gone / "Photos" / "thing").exists(), done.stdout + done.stderr
    found = project.run("find", "inner.txt")
    print("find inner.txt:", found.returncode, found.stdout, found.stderr)
    assert "2025-backup" not in found.stdout or "--all-years" in found.stdout, found.stdout


def test_attack_atom_removed_then_recreated(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    backup(project, 2026)
    saved = tmp_path / "saved"
    shutil.copytree(atom, saved, symlinks=True)
    shutil.rmtree(atom)
    (atom.parent / "Other").mkdir()
    (atom.parent / "Other" / "x").write_bytes(b"x")
    backup(project, 2027)
    shutil.copytree(saved, atom, symlinks=True)  # back as it was, same mtimes
    write(atom / "y" / "new.jpg", 3 * KB)
    backup(project, 2028)
    check_all(project, tmp_path, key, atom, "back")


def test_attack_year_inside_a_live_chain_after_plain_prune(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    snaps = {}
    for n, year in enumerate(range(2020, 2025)):
        if n:
            write(atom / "y" / f"add{year}.jpg", 5 * KB)
            if n == 2:
                os.remove(atom / "doomed.txt")
        backup(project, year)
        snaps[year] = tree_snapshot(atom)
    pruned = project.run("prune", "--delete", **year_env(2031))
    print(pruned.stdout[-1000:])
    check_all(project, tmp_path, key, atom, "after-prune")
    for year in (2021, 2022, 2023):
        dest = tmp_path / f"year-{year}"
        done = tool_restore(project, dest, "--path", key, "--year", str(year))
        assert done.returncode == 0, (year, done.stdout + done.stderr)
        assert tree_snapshot(dest / "Photos") == snaps[year], year


def test_attack_dir_becomes_symlink_to_outside(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"do not delete me")
    backup(project, 2025)
    shutil.rmtree(atom / "thing")
    os.symlink(str(outside), atom / "thing")
    backup(project, 2026)
    shutil.copytree(outside, tmp_path / "outside-copy")
    os.remove(atom / "thing")
    write(atom / "thing" / "inner.txt", 2 * KB)
    backup(project, 2027)
    check_all(project, tmp_path, key, atom, "links")
    assert (outside / "precious").read_bytes() == b"do not delete me"
    one = tmp_path / "one"
    done = tool_restore(project, one, "--path", f"{atom}/thing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (outside / "precious").read_bytes() == b"do not delete me"
