"""Hostile runs against increments (issue 27): reruns of a restore, the clock."""

import os

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_attack_inc_b import check_all
from .test_increments import KB, backup, write, year_env


def test_attack_rerun_refill_does_not_resurrect(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "img02.jpg", 10 * KB)
    backup(project, 2026)
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    os.remove(dest / "Photos" / "y" / "img01.jpg")  # the user loses one
    os.remove(dest / "Photos" / "y" / "img02.jpg")  # and one the increment holds
    again = tool_restore(project, dest, "--path", key)
    print(again.stdout, again.stderr)
    assert again.returncode == 0, again.stdout + again.stderr
    assert tree_snapshot(dest / "Photos") == tree_snapshot(atom), again.stdout


def test_attack_file_changed_twice_find_and_restore(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img04.jpg", 50 * KB)
    backup(project, 2026)
    write(atom / "y" / "img04.jpg", 60 * KB)
    write(atom / "y" / "x.jpg", 1 * KB)
    backup(project, 2027)
    inc = project.inventory["atoms"][key]["increments"]
    assert len(inc) == 2
    found = project.run("find", "img04.jpg")
    assert found.returncode == 0 and inc[1] in found.stdout, found.stdout
    dest = tmp_path / "one"
    done = tool_restore(project, dest, "--path", f"{atom}/y/img04.jpg")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "Photos" / "y" / "img04.jpg").read_bytes() == \
        (atom / "y" / "img04.jpg").read_bytes()
    old = tmp_path / "old"
    done = tool_restore(project, old, "--path", f"{atom}/y/img04.jpg", "--year", "2026")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (old / "Photos" / "y" / "img04.jpg").stat().st_size == 50 * KB


def test_attack_clock_backwards_forced(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2027)
    write(atom / "y" / "a.jpg", 10 * KB)
    os.remove(atom / "doomed.txt")
    force = {"GLACIER_ALLOW_EARLIER_DATE": "1"}
    done = project.run("backup", **year_env(2025), **force)
    print(done.returncode, done.stdout[-600:], done.stderr[-600:])
    write(atom / "y" / "b.jpg", 10 * KB)
    os.remove(atom / "y" / "img00.jpg")
    done2 = project.run("backup", **year_env(2026), **force)
    print(done2.returncode, done2.stdout[-600:], done2.stderr[-600:])
    if done.returncode == 0 and done2.returncode == 0:
        check_all(project, tmp_path, key, atom, "back")
        ok = project.run("verify", **year_env(2026))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        write(atom / "y" / "c.jpg", 10 * KB)
        backup(project, 2028)
        check_all(project, tmp_path, key, atom, "fwd")
    else:
        assert "Traceback" not in done.stderr + done2.stderr
