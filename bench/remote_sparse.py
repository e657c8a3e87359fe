#!/usr/bin/env python3
"""A 1 GB sparse file on a remote molecule (issue 21, case 9): what the bag stores,
how long the backup takes, and what a restore allocates, against GNU tar run over the
sshfs mount (what the tool did before: sshfs reports no holes, so it stored it full).

Starts its own sshd on loopback (tests/e2e/test_remote.Sshd) and a moto S3 server, in
bench/work-sparse/ (deleted and recreated). Run: .venv/bin/python bench/remote_sparse.py
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from glacier_tasks.backup import remote  # noqa: E402
from tests.e2e.helpers import Project, sparse_file  # noqa: E402
from tests.e2e.test_remote import Sshd  # noqa: E402
from tests.support.s3server import S3Server  # noqa: E402

SIZE = 1 << 30
WORK = REPO / "bench" / "work-sparse"


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "sshd").mkdir(parents=True)
    (WORK / "moto").mkdir()
    server = S3Server(WORK / "moto")
    sshd = None
    try:
        sshd = Sshd(WORK / "sshd")
        served = WORK / "served"
        (served / "VMs").mkdir(parents=True)
        disk = sparse_file(served / "VMs" / "disk.img", SIZE)
        spelling = f"root@127.0.0.1:{served}"
        print(f"file: {SIZE} bytes, {os.stat(disk).st_blocks * 512} allocated")
        print(f"before (tar over the sshfs mount): {_over_mount(spelling, sshd)}")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        server.client().create_bucket(Bucket=bucket)
        (WORK / "project").mkdir()
        project = Project(WORK / "project", server, bucket)
        project.write_config(f'target_bag_gb = 2\nsshfs_options = "{sshd.options()}"')
        project.write_list(spelling)
        started = time.monotonic()
        done = project.run("backup")
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        [bag] = project.inventory["bags"].values()
        dest = WORK / "restored"
        back = project.run("restore", "--path", f"{spelling}/VMs", "--yes", "--to",
                           str(dest))
        assert back.returncode == 0, back.stdout + back.stderr
        allocated = os.stat(dest / "VMs" / "disk.img").st_blocks * 512
        print(f"now (tar on the remote host): bag {bag['size']} bytes, backup "
              f"{seconds:.1f} s, restored file allocates {allocated} bytes")
    finally:
        server.stop()
        if sshd is not None:
            sshd.stop()
        shutil.rmtree(WORK, ignore_errors=True)


def _over_mount(spelling: str, sshd) -> str:
    point = WORK / "mnt"
    point.mkdir()
    subprocess.run(remote.sshfs_command(spelling, point, sshd.options()), check=True)
    try:
        started = time.monotonic()
        tar = subprocess.run(f"tar --create --format=gnu --sparse -f - -C {point} VMs "
                             "| wc -c", shell=True, capture_output=True, text=True,
                             check=True)
        return f"bag {int(tar.stdout)} bytes in {time.monotonic() - started:.1f} s"
    finally:
        subprocess.run(["fusermount", "-u", str(point)], check=True)


if __name__ == "__main__":
    main()
