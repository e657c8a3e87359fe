"""Hostile runs against increments (issue 27): the loose files' atom."""

import os

from .helpers import restore_all, tree_snapshot
from .test_increments import KB, backup, small_project, write


def test_attack_loose_files_atom_chain(tmp_path, s3_server, bucket):
    project = small_project(tmp_path, s3_server, bucket)
    data = project.data
    for n in range(10):
        write(data / f"loose{n}.bin", 50 * KB)
    backup(project, 2025)
    os.remove(data / "notes.txt")
    write(data / "new-loose.txt", 2 * KB)
    backup(project, 2026)
    loose = [a for a, e in project.inventory["atoms"].items() if e.get("increments")]
    print("chained:", loose)
    write(data / "notes.txt", 3 * KB)  # back, other bytes
    os.remove(data / "loose3.bin")
    backup(project, 2027)
    dest = tmp_path / "hand"
    restore_all(project, dest)
    assert tree_snapshot(dest) == tree_snapshot(data)
    tool = tmp_path / "tool"
    done = project.run("restore", "--all", "--yes", "--to", str(tool))
    assert done.returncode == 0, done.stdout + done.stderr
    one = tmp_path / "one"
    done = project.run("restore", "--path", str(data / "loose3.bin"), "--yes", "--to",
                       str(one))
    print(done.returncode, done.stdout[-500:], done.stderr[-300:])
    assert not any(p.name == "loose3.bin" for p in one.rglob("*")) if one.exists() else True
    two = tmp_path / "two"
    done = project.run("restore", "--path", str(data / "notes.txt"), "--yes", "--to",
                       str(two))
    assert done.returncode == 0, done.stdout + done.stderr
    got = [p for p in two.rglob("notes.txt")]
    assert got and got[0].read_bytes() == (data / "notes.txt").read_bytes()
