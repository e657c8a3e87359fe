"""Hostile runs against increments (issue 27): the setting changed mid-chain, bad
values."""

import os

from .test_attack_inc_a import photos_project
from .test_attack_inc_b import check_all
from .test_increments import KB, backup, write, year_env


def test_attack_setting_flipped_mid_chain(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "a.jpg", 10 * KB)
    os.remove(atom / "doomed.txt")
    backup(project, 2026)
    project.write_config("target_bag_gb = 0.05\nincrement_below = 0")
    write(atom / "y" / "b.jpg", 10 * KB)
    backup(project, 2027)
    assert not project.inventory["atoms"][key].get("increments")
    check_all(project, tmp_path, key, atom, "off")
    project.write_config("target_bag_gb = 0.05\nincrement_below = 0.9")
    write(atom / "y" / "c.jpg", 10 * KB)
    os.remove(atom / "y" / "a.jpg")
    backup(project, 2028)
    check_all(project, tmp_path, key, atom, "on")


def test_attack_bad_increment_below(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    for bad in ('"half"', "-1", "7"):
        project.write_config(f"target_bag_gb = 0.05\nincrement_below = {bad}")
        done = project.run("backup", **year_env(2025))
        print(bad, done.returncode, done.stdout[-200:], done.stderr[-300:])
        assert done.returncode != 0, (bad, done.stdout)
        assert "Traceback" not in done.stderr and "increment_below" in done.stderr, bad
