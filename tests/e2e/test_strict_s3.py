"""What only an S3 that refuses as AWS does can show (LocalStack, S3_SERVER=localstack;
moto stores or allows each of these, so on moto they fail: `make test` deselects them
there): a corrupted part, a wrong full-object CRC64NVME and a wrong Content-MD5 are
refused and the bag fails cleanly, then the next run sends it again; a multipart bag in
an Object Lock bucket cannot be deleted; a restore waits while the bag thaws; a backup
over HTTPS, where boto3 sends its checksums in aws-chunked trailers."""

import os

import pytest

from tests.support.s3server import S3Server

from .helpers import Project, restore_all, tree_snapshot
from .tamper_proxy import TamperProxy, flip_part_byte, wrong_full_crc, wrong_md5

pytestmark = pytest.mark.strict_s3

BIG = 18_000_000  # over 16 MiB (bucket/parts.py MIN_PART): the bag goes up in parts


def one_atom(tmp_path, size: int):
    data = tmp_path / "data"
    (data / "Disk").mkdir(parents=True)
    (data / "Disk" / "image.bin").write_bytes(os.urandom(size))
    return data


def bag_keys(project) -> list:
    return [key for key in project.objects() if key.endswith(".tar")]


@pytest.mark.parametrize("tamper, size", [(flip_part_byte, BIG), (wrong_full_crc, BIG),
                                          (wrong_full_crc, 3_000_000),
                                          (wrong_md5, 3_000_000)],
                         ids=["corrupted-part", "wrong-full-crc-multipart",
                              "wrong-full-crc-put", "wrong-content-md5"])
def test_a_damaged_upload_is_refused_and_the_next_run_sends_the_bag_again(
        tmp_path, s3_server, bucket, tamper, size):
    data = one_atom(tmp_path, size)
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    proxy = TamperProxy(s3_server.port, tamper)
    try:
        project.config.write_text(project.config.read_text().replace(
            s3_server.endpoint, proxy.endpoint))
        first = project.run("backup")
    finally:
        proxy.stop()
    assert len(proxy.tampered) == 1, proxy.tampered
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert "Traceback" not in out
    assert "FAILED" in first.stdout and "run 'doit backup' again" in out, out
    assert bag_keys(project) == []  # S3 kept nothing of it
    project.write_config()  # straight to the server again
    second = project.run("backup")
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(bag_keys(project)) == 1
    verify = project.run("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    dest = tmp_path / "restored"
    restore_all(project, dest)
    assert tree_snapshot(dest / "Disk") == tree_snapshot(data / "Disk")


def test_a_multipart_bag_in_an_object_lock_bucket_cannot_be_deleted(
        tmp_path, s3_server):
    data = one_atom(tmp_path, BIG)
    project = Project(tmp_path, s3_server, f"locked-{os.urandom(5).hex()}")
    project.write_list(data)
    setup = project.run("setup_bucket", "--object-lock", "1")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    backup = project.run("backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    [key] = bag_keys(project)
    stored = project.s3.head_object(Bucket=project.bucket, Key=key)
    assert stored["ContentLength"] > 16 * 2**20 and "-" in stored["ETag"]  # multipart
    assert stored["ObjectLockMode"] == "GOVERNANCE"
    version = stored["VersionId"]
    refused = None
    try:
        project.s3.delete_object(Bucket=project.bucket, Key=key, VersionId=version)
    except project.s3.exceptions.ClientError as err:
        refused = err.response["Error"]["Code"]
    assert refused == "AccessDenied"
    after = project.s3.head_object(Bucket=project.bucket, Key=key, VersionId=version)
    assert after["ContentLength"] == stored["ContentLength"]
    verify = project.run("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_restore_waits_while_the_bag_thaws(tmp_path):
    """The server keeps a thawing bag ongoing-request="true" for 20 s (GET refused, a
    second restore 409), as Deep Archive does for hours; no proxy fakes HEAD."""
    (tmp_path / "thawing").mkdir()
    server = S3Server(tmp_path / "thawing", extra_env={"GLACIER_TEST_THAW_SECONDS": "20"})
    try:
        bucket = f"thaw-{os.urandom(5).hex()}"
        server.client().create_bucket(Bucket=bucket)
        data = one_atom(tmp_path, 3_000_000)
        project = Project(tmp_path, server, bucket)
        project.write_list(data)
        assert project.run("backup").returncode == 0
        dest = tmp_path / "out"
        args = ("restore", "--path", f"{data}/Disk", "--yes", "--to", str(dest))
        first = project.run(*args)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "still thawing" in first.stdout and "run the same command again" in \
            first.stdout
        waited = project.run(*args, "--wait", "--poll-seconds", "1",
                             GLACIER_MIN_POLL_SECONDS="1")
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert "still thawing" in waited.stdout
        [key] = bag_keys(project)
        heads = [r for r in server.requests() if r.startswith(f"HEAD /{bucket}/{key}")]
        assert len(heads) >= 3  # asked, still thawing, polled until readable
    finally:
        server.stop()
    assert tree_snapshot(dest / "Disk") == tree_snapshot(data / "Disk")


def test_a_backup_over_https_sends_trailer_checksums_s3_accepts(tmp_path, s3_server, bucket):
    """Over HTTPS boto3 streams each part aws-chunked with its CRC64NVME in a trailer
    (over HTTP, in a header): S3 checks those, then the full-object one."""
    data = one_atom(tmp_path, BIG)
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, s3_server.https_endpoint))
    tls = {"AWS_CA_BUNDLE": str(s3_server.certificate)}  # its own self-signed one
    backup = project.run("backup", **tls)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    [key] = bag_keys(project)
    parts = [r for r in s3_server.requests()
             if r.startswith(f"PUT /{bucket}/{key}?") and "partNumber=" in r]
    assert len(parts) >= 2
    verify = project.run("verify", **tls)
    assert verify.returncode == 0, verify.stdout + verify.stderr
