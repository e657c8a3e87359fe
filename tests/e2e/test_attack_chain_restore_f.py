"""Hostile runs against the restore of an atom with increments (issue 27): kill -9
between the chain's bags then rm of restored files, a hard link inside an increment
whose first name a later increment replaced, two requests into one destination."""

import os
import signal

from .helpers import tree_snapshot
from .test_attack_chain_restore_a import folder_times
from .test_attack_chain_restore_b import drop_indexes
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, write


def test_attack_kill_after_the_base_then_rm_then_rerun(tmp_path, s3_server, bucket):
    """kill -9 once the base is extracted; the user then removes one of its files and
    a folder it made; the rerun refills the base's share and extracts the
    increment: the atom equals the disk, folder times included."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img02.jpg", 100 * KB)
    os.remove(atom / "doomed.txt")
    backup(project, 2026)
    dest = tmp_path / "dest"
    proc = project.popen("restore", "--path", key, "--yes", "--to", str(dest),
                         PYTHONUNBUFFERED="1")
    seen = b""
    try:
        for line in iter(proc.stdout.readline, b""):
            seen += line
            if b"extracted into" in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.communicate()
    assert b"extracted into" in seen, seen.decode()
    got = dest / "Photos"
    assert not (got / "y" / "img02.jpg").exists(), seen.decode()  # killed in between
    os.remove(got / "y" / "img03.jpg")
    for name in os.listdir(got / "thing"):
        os.remove(got / "thing" / name)
    os.rmdir(got / "thing")
    again = tool_restore(project, dest, "--path", key)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "all match the manifest" in again.stdout, again.stdout
    assert tree_snapshot(got) == tree_snapshot(atom)
    assert folder_times(got) == folder_times(atom)


def test_attack_link_in_an_increment_whose_first_name_is_replaced(tmp_path, s3_server,
                                                                  bucket):
    """2026 adds a.bin and b.bin, one file under two names (the increment stores b as
    a link to a); 2027 replaces a. b's newest version is in the 2026 increment, as a
    link to a name whose newest version is not: ranged and whole, the atom and b
    alone give b the 2026 bytes."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "n" / "a.bin", 30 * KB)
    os.link(atom / "n" / "a.bin", atom / "n" / "b.bin")
    backup(project, 2026)
    old = (atom / "n" / "b.bin").read_bytes()
    os.remove(atom / "n" / "a.bin")
    write(atom / "n" / "a.bin", 20 * KB)
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    for mode in ("ranged", "whole"):
        if mode == "whole":
            drop_indexes(project)
        dest = tmp_path / f"atom-{mode}"
        done = tool_restore(project, dest, "--path", key)
        assert done.returncode == 0, done.stdout + done.stderr
        assert tree_snapshot(dest / "Photos") == tree_snapshot(atom), mode
        assert (dest / "Photos" / "n" / "b.bin").read_bytes() == old
        one = tmp_path / f"b-{mode}"
        done = tool_restore(project, one, "--path", f"{atom}/n/b.bin")
        assert done.returncode == 0, done.stdout + done.stderr
        assert os.listdir(one / "Photos" / "n") == ["b.bin"], mode
        assert (one / "Photos" / "n" / "b.bin").read_bytes() == old, mode


def test_attack_folder_then_atom_into_one_destination(tmp_path, s3_server, bucket):
    """The folder y restored first, then the whole atom into the same folder: refused
    without --overwrite (y's files are in the way, nothing written); with it, the
    atom is complete and equals the disk."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img02.jpg", 100 * KB)
    write(atom / "thing" / "new.txt", 1 * KB)
    backup(project, 2026)
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", f"{atom}/y")
    assert done.returncode == 0, done.stdout + done.stderr
    before = tree_snapshot(dest)
    done = tool_restore(project, dest, "--path", key)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out, out
    assert tree_snapshot(dest) == before
    done = tool_restore(project, dest, "--path", key, "--overwrite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos") == tree_snapshot(atom)
    assert folder_times(dest / "Photos") == folder_times(atom)
