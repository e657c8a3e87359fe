"""Drill: kill -9 anywhere. A multi-bag backup is killed at seeded random moments
spread over scan, pack, upload and inventory, then rerun until it finishes."""

import os
import random
import signal
import time

from .helpers import Project, restore_all, tree_snapshot

KILLS = int(os.environ.get("GLACIER_DRILL_KILLS", "5"))
SEED = int(os.environ.get("GLACIER_DRILL_SEED", "2026"))


def test_backup_survives_kill_9_anywhere(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    rng = random.Random(SEED)
    for n in range(10):
        atom = data / f"atom{n}"
        for d in range(20):
            (atom / f"d{d}").mkdir(parents=True)
            for f in range(25):
                (atom / f"d{d}" / f"f{f}").write_bytes(b"x" * rng.randrange(2000))
        (atom / "blob").write_bytes(rng.randbytes(18_000_000 if n % 3 == 0 else 2_500_000))
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)

    clean = project.run("dryrun")  # how long a step takes here, to aim the kills
    assert clean.returncode == 0
    survived = 0
    for _ in range(KILLS):
        proc = project.popen("backup")
        time.sleep(rng.uniform(0.05, 1.5))
        if proc.poll() is not None:
            break  # finished before the kill
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        survived += 1
    final = project.run("backup")
    assert final.returncode == 0, final.stdout + final.stderr
    print(f"kills survived: {survived}")

    inventory = project.inventory
    tars = {k for k in project.objects() if k.endswith(".tar")}
    assert set(inventory["bags"]) <= tars
    assert len(tars) == len(inventory["bags"])  # one object per bag, no strays
    extra = 0
    for key in inventory["bags"]:
        finished = [line for line in project.bag_puts() if f"/{key}" in line and
                    (line.startswith("PUT ") or "uploadId=" in line)]
        assert finished, key
        extra += len(finished) - 1
    print(f"bags uploaded again after a kill: {extra}")
    assert extra <= survived  # at most one bag more per kill than a clean run
    assert project.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(data)
    again = project.run("backup")
    assert again.returncode == 0 and ", 0 uploaded," in again.stdout
