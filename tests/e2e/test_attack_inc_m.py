"""Hostile runs against increments (issue 27): find and --from-file."""

import os
from pathlib import Path

from .test_attack_inc_a import photos_project
from .test_increments import KB, backup, write


def test_attack_find_recreated_and_from_file_base(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "n.jpg", 1 * KB)
    backup(project, 2026)
    write(atom / "doomed.txt", 2 * KB)
    backup(project, 2027)
    inc = project.inventory["atoms"][key]["increments"]
    found = project.run("find", "doomed.txt")
    print("FIND", found.stdout)
    assert found.returncode == 0 and inc[-1] in found.stdout, found.stdout
    assert found.stdout.count("doomed.txt") == 1, found.stdout
    base = project.inventory["atoms"][key]["archive_key"]
    tar = project.thaw_and_download(base, tmp_path / Path(base).name)
    done = project.run("restore", "--from-file", str(tar), "--path", key, "--to",
                       str(tmp_path / "from-base"))
    print("FROMFILE", done.returncode, done.stdout[-700:], done.stderr[-300:])
    said = done.stdout + done.stderr
    # the base alone is not the atom as it is now: the user must be told
    assert "increment" in said and inc[-1] in said, said
