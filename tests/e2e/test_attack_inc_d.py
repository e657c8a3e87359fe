"""Hostile runs against increments (issue 27): a restore into a folder that holds
the user's own files. Without increments the restore refuses ("exists; nothing was
overwritten (use --overwrite ...)"); an increment's step must not quietly overwrite
or delete them either."""

import os

from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, write


def test_attack_single_file_restore_overwrites_users_file(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "new.jpg", 10 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments")
    dest = tmp_path / "dest"
    mine = dest / "Photos" / "y" / "new.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own newer file, not backed up")
    done = tool_restore(project, dest, "--path", f"{atom}/y/new.jpg")
    print(done.returncode, done.stdout, done.stderr)
    assert mine.read_bytes() == b"the user's own newer file, not backed up", \
        "overwritten without --overwrite: " + done.stdout
    assert done.returncode != 0 and "exists" in done.stdout + done.stderr


def test_attack_atom_restore_deletes_users_file(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "brief.jpg", 10 * KB)
    backup(project, 2026)
    os.remove(atom / "y" / "brief.jpg")
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    dest = tmp_path / "dest"
    mine = dest / "Photos" / "y" / "brief.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own file, not backed up")
    done = tool_restore(project, dest, "--path", key)
    print(done.returncode, done.stdout, done.stderr)
    assert mine.exists() and mine.read_bytes() == b"the user's own file, not backed up", \
        "the user's file in the destination was overwritten or deleted: " + done.stdout


def test_attack_atom_restore_overwrites_users_file(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "new.jpg", 10 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments")
    dest = tmp_path / "dest"
    mine = dest / "Photos" / "y" / "new.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own newer file, not backed up")
    done = tool_restore(project, dest, "--path", key)
    print(done.returncode, done.stdout, done.stderr)
    assert mine.read_bytes() == b"the user's own newer file, not backed up", \
        "overwritten without --overwrite: " + done.stdout
