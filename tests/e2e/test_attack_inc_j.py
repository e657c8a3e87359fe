"""Hostile runs against increments (issue 27): hard links across a chain."""

import os

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_attack_inc_b import check_all
from .test_increments import KB, backup, write


def test_attack_hard_link_partner_deleted(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    write(atom / "A.bin", 40 * KB)
    os.link(atom / "A.bin", atom / "y" / "B.bin")
    backup(project, 2025)
    os.remove(atom / "A.bin")
    write(atom / "y" / "c.jpg", 1 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments")
    check_all(project, tmp_path, key, atom, "links")
    one = tmp_path / "one"
    done = tool_restore(project, one, "--path", f"{atom}/y/B.bin")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (one / "Photos" / "y" / "B.bin").read_bytes() == (atom / "y" / "B.bin").read_bytes()
    assert not (one / "Photos" / "A.bin").exists()
    # B changes in place: the increment holds it alone
    with open(atom / "y" / "B.bin", "r+b") as f:
        f.write(b"changed")
    os.link(atom / "y" / "B.bin", atom / "C.bin")
    backup(project, 2027)
    check_all(project, tmp_path, key, atom, "links2")
    two = tmp_path / "two"
    done = tool_restore(project, two, "--path", f"{atom}/C.bin")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (two / "Photos" / "C.bin").read_bytes() == (atom / "C.bin").read_bytes()
