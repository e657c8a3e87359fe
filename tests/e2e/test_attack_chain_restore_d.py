"""Hostile runs against the restore of an atom with increments (issue 27): the same
command again after the chain grew by a year."""

import os

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, write


def test_attack_rerun_after_the_chain_grew(tmp_path, s3_server, bucket):
    """A finished restore, then a new year's increment, then the same command again:
    a file the new year changed is in the way (refused, one line, nothing written);
    with --overwrite it is updated, what the new year lost stays the user's, and the
    rest is not written again."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img01.jpg", 100 * KB)
    backup(project, 2026)
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    write(atom / "y" / "img02.jpg", 100 * KB)
    os.remove(atom / "doomed.txt")
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    before = tree_snapshot(dest)
    again = tool_restore(project, dest, "--path", key)
    out = again.stdout + again.stderr
    assert again.returncode != 0 and "Traceback" not in out, out
    assert "img02.jpg" in out, out
    assert tree_snapshot(dest) == before
    again = tool_restore(project, dest, "--path", key, "--overwrite")
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "all match the manifest" in again.stdout, out
    snap = tree_snapshot(dest / "Photos")
    assert snap.pop(b"doomed.txt")[0] == "file"
    assert snap == tree_snapshot(atom)



def test_attack_overwrite_rerun_after_a_finished_restore(tmp_path, s3_server, bucket):
    """A finished restore of a chained atom; the user edits two restored files (one
    whose newest version is in the base, one in the increment) and runs the same
    command again with --overwrite to get them back as backed up (as the README
    says). Before the fix the finished request wrote nothing: the rerun named the two
    files as not matching and exited 1, and the user kept the edited bytes while
    asking to have them replaced."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img01.jpg", 100 * KB)
    backup(project, 2026)
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    for rel in ("y/img01.jpg", "y/img02.jpg"):
        (dest / "Photos" / rel).write_bytes(b"edited")
    again = tool_restore(project, dest, "--path", key, "--overwrite")
    out = again.stdout + again.stderr
    assert "Traceback" not in out, out
    assert again.returncode == 0, out
    assert tree_snapshot(dest / "Photos") == tree_snapshot(atom)
