"""An object's metadata proves nothing: its writer chose it. A writer with the everyday
key (PutObject with If-None-Match is all it needs) plants junk at a key the plan will
use, with metadata naming the bag's content key and describing the junk's own size and
CRC64NVME. The backup must not adopt it: only an object holding the very tar this
machine packed (S3's CRC64NVME of it equal to ours) is adopted. The planted object is
left as it is, the bag fails this run, and the next one packs it under a new name."""
import json

import pytest

from .helpers import restore_all, tree_snapshot
from .invariant import check_invariant, check_written_once


def plant(p, key, content_key, body=b"ransom note " * 1000):
    s3 = p.s3
    scratch = key + ".scratch"
    s3.put_object(Bucket=p.bucket, Key=scratch, Body=body, ChecksumAlgorithm="CRC64NVME")
    crc = s3.head_object(Bucket=p.bucket, Key=scratch, ChecksumMode="ENABLED")[
        "ChecksumCRC64NVME"]
    s3.put_object(Bucket=p.bucket, Key=key, Body=body, IfNoneMatch="*",
                  StorageClass="DEEP_ARCHIVE", ChecksumAlgorithm="CRC64NVME",
                  Metadata={"sha256": "0" * 64, "content-key": content_key,
                            "size": str(len(body)), "crc64nvme": crc})


@pytest.mark.parametrize("when", ["stale-plan", "before-plan"])
def test_a_planted_object_is_never_adopted(project, tmp_path, when):
    assert project.run("backup").returncode == 0
    (project.data / "Books" / "new.txt").write_text("changed\n")
    dry = project.run("dryrun")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = json.loads((project.state / "plan.json").read_text())
    bag = next(b for b in plan["bags"] if b["action"] == "upload")
    plant(project, bag["archive_key"], bag["content_key"])
    written = {}
    check_written_once(project, written)
    if when == "before-plan":
        (project.state / "plan.json").unlink()
        (project.state / "doit-db.json").unlink(missing_ok=True)
    first = project.run("backup")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "adopted" not in first.stdout
    assert f"{bag['archive_key']} holds " in first.stdout
    assert "keys are written once, so it is not replaced" in first.stdout
    second = project.run("backup")
    assert second.returncode == 0, second.stdout + second.stderr
    assert bag["archive_key"] not in project.inventory["bags"]
    check_written_once(project, written)
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)
