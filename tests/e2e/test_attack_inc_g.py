"""Hostile runs against increments (issue 27): kill -9 inside a chain's restore."""

import os
import signal

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, write


def test_attack_kill_restore_between_chain_steps(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "img02.jpg", 10 * KB)
    backup(project, 2026)
    os.remove(atom / "y" / "img03.jpg")
    write(atom / "doomed.txt", 1 * KB)
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    for kill_after in (1, 2):
        dest = tmp_path / f"dest{kill_after}"
        proc = project.popen("restore", "--path", key, "--yes", "--to", str(dest),
                             PYTHONUNBUFFERED="1")
        seen, count = b"", 0
        try:
            while True:
                line = proc.stdout.readline()
                if not line:
                    break
                seen += line
                if b"extracted into" in line:
                    count += 1
                    if count == kill_after:
                        os.killpg(proc.pid, signal.SIGKILL)
                        break
        finally:
            proc.communicate()
        print(kill_after, seen.decode()[-500:])
        again = tool_restore(project, dest, "--path", key)
        print(again.stdout[-800:], again.stderr[-400:])
        assert again.returncode == 0, again.stdout + again.stderr
        assert tree_snapshot(dest / "Photos") == tree_snapshot(atom), kill_after
