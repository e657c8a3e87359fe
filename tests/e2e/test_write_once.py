"""Keys are written once: a key that cannot delete can still overwrite, so the tool
never replaces an object. Every PUT and CompleteMultipartUpload carries
`If-None-Match: *` (seen on the wire through a recording proxy), and through a year of
changes, a lost bag, a damaged bag and a take-over of the host name, no object the
tool wrote is ever replaced."""

import hashlib
import json
import os

import pytest

from tests.support.proxy import LoopbackProxy
from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant


def objects(project) -> dict:
    """key -> (ETag, LastModified) of every object in the bucket."""
    found = {}
    for page in project.s3.get_paginator("list_objects_v2").paginate(
            Bucket=project.bucket):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return found


def proxied_project(root, s3_server, bucket, proxy) -> Project:
    root.mkdir()
    project = Project(root, s3_server, bucket)
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, proxy.endpoint))
    return project


@pytest.mark.parametrize("increment_below", ["0", "0.5"])
def test_no_object_is_ever_replaced_and_every_write_is_conditional(
        tmp_path, s3_server, bucket, increment_below):
    """increment_below 0: A's changes move it whole (superseded keys); 0.5, the
    default: they go up as increments, and a lost or damaged bag of a chain too."""
    proxy = LoopbackProxy(s3_server.port)  # a recorder: no faults
    try:
        project = proxied_project(tmp_path / "one", s3_server, bucket, proxy)
        project.config.write_text(project.config.read_text() +
                                  f"increment_below = {increment_below}\n")
        data = project.root / "data"
        for name in ("A", "B", "C"):
            (data / name).mkdir(parents=True)
            (data / name / "f.bin").write_bytes(os.urandom(2_500_000))
        (data / "C" / "big.bin").write_bytes(os.urandom(17 << 20))  # a multipart bag
        project.write_list(data)
        project.data = data
        written = {}  # what the tool wrote, as first seen

        def run(day, expect_ok=True):
            result = project.run("backup", GLACIER_TODAY=f"2026-{day}")
            assert (result.returncode == 0) == expect_ok, result.stdout + result.stderr
            now = objects(project)
            for key, first in written.items():
                assert now.get(key) == first, f"{key} was replaced or deleted"
            written.update({k: v for k, v in now.items() if k not in written})
            return result

        run("03-01")
        for day in ("04-01", "05-01"):  # A changes twice: no superseded key is reused
            (data / "A" / f"{day}.txt").write_text(day)
            run(day)
        tars = {k for k in written if k.endswith(".tar")}
        if increment_below == "0":
            assert len(tars) >= len(project.inventory["bags"]) + 2
        else:  # two increments of A, each a key of its own, the base kept
            increments = project.inventory["atoms"][f"{data}/A"]["increments"]
            assert len(set(increments)) == 2 and set(increments) < tars
            assert len(tars) == len(project.inventory["bags"])

        bags = sorted(project.inventory["bags"])
        lost, damaged = bags[0], bags[-1]
        project.s3.delete_object(Bucket=bucket, Key=lost)  # sent again under its key
        del written[lost]
        repaired = run("06-01")
        assert f"REPAIRED {lost} missing" in repaired.stdout
        assert lost in project.inventory["bags"]

        project.s3.put_object(Bucket=bucket, Key=damaged, Body=b"junk",
                              StorageClass="DEEP_ARCHIVE")
        written[damaged] = objects(project)[damaged]  # ours now: must stay as it is
        repaired = run("07-01")
        if increment_below == "0":
            assert f"REPAIRED {damaged} has 4 bytes" in repaired.stdout
        else:  # A's last increment: an increment is never packed again, A re-bases
            assert damaged == increments[-1]
            assert "increments" not in project.inventory["atoms"][f"{data}/A"]
        assert damaged not in project.inventory["bags"]  # packed under a new name
        check_invariant(project)
        restore_all(project, tmp_path / "restored")
        assert tree_snapshot(tmp_path / "restored") == tree_snapshot(data)

        # another machine takes the host name over: a new claim, the first one kept
        other = proxied_project(tmp_path / "two", s3_server, bucket, proxy)
        other.write_list(data)
        booted = other.run("bootstrap")  # it only reads; its first backup takes over
        assert booted.returncode == 0, booted.stdout + booted.stderr
        taken_over = other.run("backup", GLACIER_TODAY="2026-07-15",
                               GLACIER_TAKE_OVER_HOST="1")
        assert taken_over.returncode == 0, taken_over.stdout + taken_over.stderr
        claims = sorted(k for k in objects(project) if k.startswith("glacier-hosts/"))
        assert claims == ["glacier-hosts/testhost.json",
                          "glacier-hosts/testhost/000001.json"]
        refused = run("08-01", expect_ok=False)
        assert "was taken over from this machine" in refused.stderr
    finally:
        proxy.stop()

    writes = [(method, path, headers) for method, path, headers in proxy.seen
              if (method == "PUT" and "partNumber=" not in path)
              or (method == "POST" and "uploadId=" in path)]
    assert any("?uploadId=" in path for _, path, _ in writes)  # a multipart completion
    unconditional = [f"{m} {p}" for m, p, h in writes if h.get("if-none-match") != "*"]
    assert unconditional == []


def test_a_bag_replaced_by_bytes_of_the_same_size_moves_to_a_new_name(project,
                                                                      tmp_path):
    """A LIST shows sizes, not checksums: the bag's own HEAD finds the other bytes,
    fails that bag without replacing the object, and the next run packs its atoms
    into a bag of a new name."""
    assert project.run("backup").returncode == 0
    key = sorted(project.inventory["bags"])[0]
    good = project.s3.head_object(Bucket=project.bucket, Key=key)
    junk = os.urandom(good["ContentLength"])
    project.s3.put_object(Bucket=project.bucket, Key=key, Body=junk,
                          StorageClass="DEEP_ARCHIVE", Metadata=good["Metadata"])
    first = project.run("backup")
    assert first.returncode == 1
    assert f"{key} has another sha256" in first.stdout or \
        f"{key} has another CRC64NVME" in first.stdout, first.stdout
    assert "keys are written once, so it is not replaced" in first.stdout
    second = project.run("backup")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"REPAIRED {key}" in second.stdout and key not in project.inventory["bags"]
    project.s3.restore_object(Bucket=project.bucket, Key=key, RestoreRequest={"Days": 1})
    assert project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read() == junk
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)


def test_a_staged_tar_damaged_on_disk_is_packed_again_not_sent(project, tmp_path):
    """An upload under a bag's key cannot be taken back: a staged tar an earlier run
    left is hashed before it is sent, and one that changed on disk (same size) is
    dropped and packed again."""
    assert project.run("dryrun").returncode == 0
    plan = json.loads((project.state / "plan.json").read_text())
    name = plan["bags"][0]["name"]
    assert project.run(f"tar:{name}").returncode == 0
    staged = project.root / "stage" / f"{name}.tar"
    data = bytearray(staged.read_bytes())
    data[5000] ^= 0xFF  # one flipped bit of a file's contents, as a bad disk may do
    staged.write_bytes(bytes(data))
    first = project.run("backup")
    assert first.returncode == 1
    assert "the staged tar changed on disk since it was packed" in first.stdout
    key = plan["bags"][0]["archive_key"]
    assert key not in project.objects()  # nothing sent under its key
    second = project.run("backup")
    assert second.returncode == 0, second.stdout + second.stderr
    damaged = hashlib.md5(bytes(data)).hexdigest()  # a one-PUT bag's ETag is its MD5
    assert all(project.s3.head_object(Bucket=project.bucket, Key=k)["ETag"].strip('"')
               != damaged for k in project.objects() if k.endswith(".tar"))
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)
