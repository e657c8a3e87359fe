"""A disaster drill harms nothing (issue 22, cases 3 to 5): a spare machine that
bootstraps the host only reads; a renamed host is said, not silently split; an upload
interrupted in an earlier year is aborted by a later run."""

import os
import signal
import subprocess
import time

from .helpers import Project, restore_all, tree_snapshot
from .test_cli import SlowParts


def open_uploads(project) -> list:
    return sorted(u["Key"] for u in project.s3.list_multipart_uploads(
        Bucket=project.bucket).get("Uploads", []))


def test_an_upload_interrupted_last_year_is_aborted_by_this_years_run(
        tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    (data / "Big").mkdir(parents=True)
    (data / "Big" / "blob.bin").write_bytes(os.urandom(40 << 20))  # 3 parts of 16 MiB
    project = Project(tmp_path, s3_server, bucket, target_gb=1)
    project.write_list(data)
    direct = project.config.read_text()
    proxy = SlowParts(s3_server.port, rate=0.0, seed=1)
    try:
        project.config.write_text(direct.replace(s3_server.endpoint, proxy.endpoint))
        process = project.popen("backup", GLACIER_TODAY="2026-12-30")
        markers = project.state / "bags"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                '"upload_id"' in m.read_text() for m in markers.glob("*.json")):
            time.sleep(0.05)
        assert process.poll() is None, "the upload ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # the power goes on New Year's Eve
        process.wait(timeout=30)
    finally:
        proxy.stop()
    project.config.write_text(direct)
    stale = open_uploads(project)
    assert len(stale) == 1 and stale[0].startswith("2026-backup/testhost_"), stale
    theirs = project.s3.create_multipart_upload(  # another host's: its own business
        Bucket=bucket, Key="2026-backup/nas_data_bag_001.tar")

    done = project.run("backup", GLACIER_TODAY="2027-01-15")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Aborted an unfinished upload of {stale[0]}" in done.stdout
    assert open_uploads(project) == ["2026-backup/nas_data_bag_001.tar"]
    assert project.s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"] \
        == theirs["UploadId"]
    assert all(k.startswith("2027-backup/") for k in project.inventory["bags"])
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(data)
