"""Hostile runs against increments (issue 27): modes and empty folders."""

import os

from .test_attack_inc_a import photos_project
from .test_attack_inc_b import check_all
from .test_increments import KB, backup, write


def test_attack_modes_and_empty_folders(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    (atom / "empty" / "deeper").mkdir(parents=True)
    backup(project, 2025)
    os.chmod(atom / "y", 0o700)
    os.chmod(atom / "thing" / "inner.txt", 0o600)
    os.rmdir(atom / "empty" / "deeper")
    (atom / "new-empty").mkdir()
    backup(project, 2026)
    inc = project.inventory["atoms"][key]["increments"]
    assert inc and project.objects()[inc[0]][0] < 200 * KB, project.objects()[inc[0]]
    check_all(project, tmp_path, key, atom, "modes")
    os.chmod(atom / "y", 0o755)
    os.rmdir(atom / "new-empty")
    write(atom / "empty" / "deeper" / "z", 1 * KB)
    backup(project, 2027)
    check_all(project, tmp_path, key, atom, "modes2")
