"""Drill: a flaky network. A proxy injects faults (500, 503 SlowDown, RequestTimeout,
resets mid-body, stalls) at a seeded rate between the tool and the S3 server."""

import json
import os
import time

import pytest

from tests.support.proxy import LoopbackProxy
from .invariant import check_invariant
from .helpers import Project, make_sample_tree, restore_all, tree_snapshot

SEEDS = [int(s) for s in os.environ.get("GLACIER_DRILL_SEEDS", "11").split(",")]


def flaky_project(tmp_path, s3_server, bucket, proxy):
    data = tmp_path / "data"
    data.mkdir()
    make_sample_tree(data)
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, proxy.endpoint))
    project.data = data
    return project


@pytest.mark.parametrize("seed", SEEDS)
def test_everything_completes_at_a_10_percent_fault_rate(tmp_path, s3_server, bucket,
                                                         seed):
    proxy = LoopbackProxy(s3_server.port, faults=0.10, seed=seed, stall_seconds=3)
    env = {"GLACIER_S3_TIMEOUT": "2"}
    try:
        project = flaky_project(tmp_path, s3_server, bucket, proxy)
        backup = project.run("backup", **env)
        for _ in range(2):  # a bag may fail after its retries; a rerun finishes it
            if backup.returncode == 0:
                break
            backup = project.run("backup", **env)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        check_invariant(project)
        found = project.run("find", "notes.txt", **env)
        assert found.returncode == 0 and "Books/sub/notes.txt" in found.stdout
        dest = tmp_path / "via-tool"
        restored = project.run("restore", "--path", f"{project.data}/Photos", "--yes",
                               "--to", str(dest), **env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert project.run("prune", **env).returncode == 0
    finally:
        proxy.stop()
    print(f"seed {seed}: injected {proxy.injected}, forwarded {proxy.forwarded}")
    assert sum(proxy.injected.values()) > 0
    assert tree_snapshot(dest / "Photos") == tree_snapshot(project.data / "Photos")
    direct = tmp_path / "direct"
    restore_all(project, direct)  # straight from the server, checked against sha256
    assert tree_snapshot(direct) == tree_snapshot(project.data)
    assert project.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_dead_network_fails_clearly_and_records_nothing(tmp_path, s3_server, bucket):
    proxy = LoopbackProxy(s3_server.port, faults=1.0, seed=5, stall_seconds=3)
    try:
        project = flaky_project(tmp_path, s3_server, bucket, proxy)
        started = time.monotonic()
        result = project.run("backup", GLACIER_S3_TIMEOUT="2", GLACIER_S3_ATTEMPTS="3")
        took = time.monotonic() - started
    finally:
        proxy.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.stderr.startswith("glacier: ") and len(result.stderr.splitlines()) == 1
    assert took < 120
    assert result.stdout.count("FAILED ") >= 1 or "S3" in result.stderr
    if (project.root / "inventory.json").exists():  # truthful: nothing is backed up
        assert project.inventory["atoms"] == {} and project.inventory["bags"] == {}
    for marker in (project.state / "bags").glob("*.json"):
        assert json.loads(marker.read_text())["uploaded"] is None
    # a bag whose answer was lost may still have reached the bucket: the next run
    # adopts it by its content key instead of uploading it again
