"""Drill: kill -9 anywhere. Before each kill one atom changes, a backup starts and is
killed at a seeded random moment of a run's length (scan, pack, upload, inventory all
get hit), then rerun until done. Afterwards the bucket, the inventory and the restored
bytes must be exactly what clean runs would have left."""

import os
import random
import re
import signal
import time

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

KILLS = int(os.environ.get("GLACIER_DRILL_KILLS", "5"))
SEED = int(os.environ.get("GLACIER_DRILL_SEED", "2026"))


def make_tree(data, rng):
    for n in range(8):
        atom = data / f"atom{n}"
        for d in range(10):
            (atom / f"d{d}").mkdir(parents=True)
            for f in range(20):
                (atom / f"d{d}" / f"f{f}").write_bytes(b"x" * rng.randrange(2000))
        (atom / "blob").write_bytes(rng.randbytes(18_000_000 if n % 3 == 0 else 2_500_000))


def completed_uploads(project) -> dict:
    """bag key -> number of uploads the server completed (single PUT or multipart)."""
    counts = {}
    for line in project.bag_puts():
        if line.startswith("PUT ") or "uploadId=" in line:
            key = re.sub(r"\?.*| HTTP/.*", "", line.split(" ")[1]).split("/", 2)[2]
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_backup_survives_kill_9_anywhere(tmp_path, s3_server, bucket):
    rng = random.Random(SEED)
    data = tmp_path / "data"
    make_tree(data, rng)
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)
    assert project.run("backup").returncode == 0
    started = time.monotonic()
    (data / "atom1" / "d0" / "f0").write_bytes(b"changed once")
    assert project.run("backup").returncode == 0
    run_length = time.monotonic() - started

    kills = 0  # rounds whose backup really died of the SIGKILL, not ones it outran
    for n in range(KILLS):
        changed = data / f"atom{rng.randrange(8)}" / "d1" / "f1"
        changed.write_bytes(b"change %d" % n)
        proc = project.popen("backup")
        time.sleep(rng.uniform(0.0, run_length))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        else:  # it ended before the kill: then it must have ended as a clean run does
            assert proc.returncode == 0, output.decode(errors="replace")
        final = project.run("backup")
        assert final.returncode == 0, final.stdout + final.stderr
        assert project.inventory["atoms"]  # parses, and is whole
        check_invariant(project)
    print(f"kills: {kills} of {KILLS} runs killed before they ended")
    # kill moments are drawn over one run's length, so most rounds must land mid-run;
    # a drill whose kills all come too late would test nothing
    assert kills >= 1 and kills * 2 >= KILLS, f"only {kills} of {KILLS} runs were killed"

    inventory = project.inventory
    tars = {k for k in project.objects() if k.endswith(".tar")}
    assert set(inventory["bags"]) <= tars  # plus the prunable bags of earlier runs
    uploads = completed_uploads(project)
    extra = sum(count - 1 for count in uploads.values())
    print(f"bags uploaded again after a kill: {extra}")
    assert extra <= kills  # at most one bag more per kill than clean runs
    assert set(uploads) == tars
    assert project.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(data)
    again = project.run("backup")
    assert again.returncode == 0 and ", 0 uploaded," in again.stdout
