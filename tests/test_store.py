"""store.py against a real S3 server: multipart uploads that resume, checksums, errors."""

import base64
import datetime
import hashlib
import os
import time

import pytest
from awscrt import checksums

from glacier_tasks.errors import ObjectExists, StoreError
from glacier_tasks.bucket.objects import ObjectInfo, bag_problem, metadata_for
from glacier_tasks.bucket.parts import MIB, part_size_for
from glacier_tasks.bucket.store import Store


def crc64(data: bytes) -> str:
    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


@pytest.fixture
def store(s3_server, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Store(bucket, s3_server.endpoint, "us-east-1")


def part_requests(server, key, upload_id):
    return [r for r in server.requests() if f"/{key}?uploadId={upload_id}&partNumber" in r]


def test_interrupted_multipart_upload_resumes_from_its_finished_parts(
        store, s3_server, tmp_path):
    data = os.urandom(40 * MIB)
    path = tmp_path / "bag.tar"
    path.write_bytes(data)
    key = "2026-backup/host_mol_bag_001.tar"
    size = part_size_for(len(data))
    assert size == 16 * MIB
    client = store.client
    # an earlier run: one part sent, then killed; and an older upload nobody can resume
    stale = client.create_multipart_upload(Bucket=store.bucket, Key=key)["UploadId"]
    upload_id = client.create_multipart_upload(
        Bucket=store.bucket, Key=key, StorageClass="DEEP_ARCHIVE",
        Metadata={"sha256": "x"}, ChecksumAlgorithm="CRC64NVME",
        ChecksumType="FULL_OBJECT")["UploadId"]
    client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1,
                       Body=data[:size], ChecksumAlgorithm="CRC64NVME")
    # and a part 2 holding other bytes (a file re-packed since): it must be sent again
    client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=2,
                       Body=os.urandom(size), ChecksumAlgorithm="CRC64NVME")
    saved = []
    sent = store.upload_file(path, key, "DEEP_ARCHIVE", {"sha256": "x"}, crc64(data),
                             {"key": key, "upload_id": upload_id, "part_size": size},
                             saved.append)
    assert sent["parts"] == 3
    assert saved == []  # the old upload was reused, no new one created
    sent_parts = [r.split("partNumber=")[1].split()[0]
                  for r in part_requests(s3_server, key, upload_id)]
    assert sorted(sent_parts) == ["1", "2", "2", "3"]  # part 1 was not sent again
    client.restore_object(Bucket=store.bucket, Key=key, RestoreRequest={"Days": 1})
    body = client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    head = store.head(key)
    assert head.storage_class == "DEEP_ARCHIVE"
    assert head.crc64nvme == crc64(data)
    assert client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert stale not in str(client.list_multipart_uploads(Bucket=store.bucket))


def test_upload_without_resume_state_aborts_leftovers_and_uploads_whole(
        store, tmp_path):
    data = os.urandom(20 * MIB)
    path = tmp_path / "bag.tar"
    path.write_bytes(data)
    key = "2026-backup/host_mol_bag_002.tar"
    store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    saved = []
    sent = store.upload_file(path, key, "DEEP_ARCHIVE", {"sha256": "y"}, crc64(data), {},
                             saved.append)
    assert sent["parts"] == 2 and saved and saved[0]["key"] == key
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert store.head(key).size == len(data)


def test_small_bag_is_one_put_with_its_checksum(store, tmp_path):
    data = os.urandom(3 * MIB)
    path = tmp_path / "small.tar"
    path.write_bytes(data)
    sent = store.upload_file(path, "k.tar", "DEEP_ARCHIVE", {"sha256": "z"}, crc64(data),
                             {}, lambda _: None)
    assert sent["parts"] == 1
    head = store.head("k.tar")
    assert head.size == len(data) and head.metadata == {"sha256": "z"}


@pytest.mark.parametrize("size", [3 * MIB, 20 * MIB], ids=["one PUT", "multipart"])
def test_a_second_write_of_a_key_is_refused_by_the_server(store, tmp_path, size):
    """Every write carries If-None-Match: * and the server (moto, which implements S3's
    conditional writes on PutObject and CompleteMultipartUpload) refuses the second:
    the first object stays, byte for byte, and no billed parts are left open. Not
    checked here: a bucket policy that *requires* the header (moto does not enforce
    bucket policies), and S3's 409 for two writes of one key in flight at once."""
    first, second = os.urandom(size), os.urandom(size)
    key = "2026-backup/host_mol_bag_007.tar"
    for data in (first, second):
        path = tmp_path / "bag.tar"
        path.write_bytes(data)
        saved = []
        if data is first:
            store.upload_file(path, key, "STANDARD", {}, crc64(data), {}, saved.append)
            continue
        with pytest.raises(ObjectExists, match="written once"):
            store.upload_file(path, key, "STANDARD", {}, crc64(data), {}, saved.append)
    body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert body == first
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    with pytest.raises(ObjectExists):
        store.put_bytes(key, b"small", "STANDARD", {})
    assert store.put_new(key, b"small", {}) is False
    assert store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read() == first


def test_missing_key_heads_as_none_and_missing_bucket_is_named(store, s3_server):
    assert store.head("no/such/key") is None
    with pytest.raises(StoreError, match="bucket 'nope-nope' does not exist"):
        Store("nope-nope", s3_server.endpoint, "us-east-1").check_bucket()


def test_interrupted_download_resumes_from_the_bytes_on_disk(store, s3_server, tmp_path):
    import hashlib as _hashlib

    from glacier_tasks.restore.download import download_bag
    from glacier_tasks.errors import RestoreError
    data = os.urandom(5 * MIB)
    store.client.put_object(Bucket=store.bucket, Key="2026-backup/b.tar", Body=data)
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "b.tar.partial").write_bytes(data[:2 * MIB])  # what a killed run left
    before = len(s3_server.requests())
    path = download_bag(store, "2026-backup/b.tar", folder, len(data),
                        _hashlib.sha256(data).hexdigest())
    assert path.read_bytes() == data and not (folder / "b.tar.partial").exists()
    deadline = time.monotonic() + 5  # the server logs a request after answering it
    while time.monotonic() < deadline and not any(
            r.startswith("GET ") for r in s3_server.requests()[before:]):
        time.sleep(0.05)
    gets = [r for r in s3_server.requests()[before:] if r.startswith("GET ")]
    assert len(gets) == 1  # one ranged GET for the rest, from byte 2 MiB on
    # a partial that does not match is thrown away, never extracted
    (folder / "b.tar").unlink()
    (folder / "b.tar.partial").write_bytes(b"x" * (2 * MIB))
    with pytest.raises(RestoreError, match="do not match the inventory's sha256"):
        download_bag(store, "2026-backup/b.tar", folder, len(data),
                     _hashlib.sha256(data).hexdigest())
    assert not (folder / "b.tar.partial").exists() and not (folder / "b.tar").exists()


def test_list_objects_gives_each_object_under_the_prefix(store):
    client = store.client
    client.put_object(Bucket=store.bucket, Key="2026-backup/a.tar", Body=b"a" * 10,
                      StorageClass="DEEP_ARCHIVE")
    client.put_object(Bucket=store.bucket, Key="2026-backup/manifests/a.txt", Body=b"m")
    client.put_object(Bucket=store.bucket, Key="elsewhere/b", Body=b"b")
    found = store.list_objects("2026-backup/")
    assert sorted(found) == ["2026-backup/a.tar", "2026-backup/manifests/a.txt"]
    bag = found["2026-backup/a.tar"]
    assert isinstance(bag, ObjectInfo)
    assert (bag.key, bag.size, bag.storage_class) == ("2026-backup/a.tar", 10,
                                                      "DEEP_ARCHIVE")
    assert found["2026-backup/manifests/a.txt"].storage_class == "STANDARD"
    assert bag.last_modified.year >= 2024
    assert sorted(store.list_objects()) == sorted([*found, "elsewhere/b"])


# ---------------------------------------------------------------- ObjectInfo, pure

WHEN = datetime.datetime(2026, 1, 10, tzinfo=datetime.timezone.utc)
SHA = "a" * 64


def info(storage_class="DEEP_ARCHIVE", restore="", size=100, metadata=None,
         crc="crc=") -> ObjectInfo:
    return ObjectInfo(key="2026-backup/h_m_bag_001.tar", size=size,
                      storage_class=storage_class, last_modified=WHEN, etag="e",
                      crc64nvme=crc, metadata=metadata or {}, restore=restore)


@pytest.mark.parametrize("storage_class, restore, state", [
    ("STANDARD", "", "readable"),
    ("STANDARD_IA", "", "readable"),
    ("DEEP_ARCHIVE", "", "archived"),
    ("GLACIER", "", "archived"),
    ("DEEP_ARCHIVE", 'ongoing-request="true"', "thawing"),
    ("GLACIER", 'ongoing-request="true"', "thawing"),
    ("DEEP_ARCHIVE", 'ongoing-request="false", expiry-date="Fri, 23 Jan 2026 00:00:00 GMT"',
     "readable"),
])
def test_thaw_state(storage_class, restore, state):
    assert info(storage_class, restore).thaw_state == state


def test_sent_reads_what_the_uploader_recorded():
    meta = metadata_for(100, SHA, "crc=", "content-1", {"encryption": "age"})
    got = info(metadata=meta)
    assert got.sent == {"size": 100, "sha256": SHA, "crc64nvme": "crc="}
    assert got.sha256 == SHA and got.content_key == "content-1"
    assert got.encryption == "age"
    assert all(isinstance(v, str) for v in meta.values())  # S3 metadata is text


@pytest.mark.parametrize("metadata", [
    {},  # a LIST, or an object uploaded by something else
    {"sha256": SHA, "crc64nvme": "crc="},  # no size
    {"size": "many", "sha256": SHA, "crc64nvme": "crc="},  # a size that is no number
    {"size": "100", "crc64nvme": "crc="},  # no sha256
])
def test_sent_is_empty_when_incomplete(metadata):
    assert info(metadata=metadata).sent == {}


def test_recipients_are_split():
    assert info(metadata={"recipients": "age1a,age1b"}).recipients == ["age1a", "age1b"]
    assert info().recipients == []


def test_bag_problem_all_good():
    good = info(metadata=metadata_for(100, SHA, "crc=", "k"))
    assert bag_problem(good, 100, SHA, "DEEP_ARCHIVE", "crc=") is None
    # a storage class or CRC not asked about is not checked
    assert bag_problem(good, 100, SHA, None) is None
    assert bag_problem(info(metadata={"sha256": SHA}, crc=None), 100, SHA,
                       "DEEP_ARCHIVE") is None
    # but an object without the CRC we recorded is not the one we sent (S3 shows the
    # checksum of every upload that carried one): replaced, metadata copied or not
    assert bag_problem(info(metadata={"sha256": SHA}, crc=None), 100, SHA, "DEEP_ARCHIVE",
                       "crc=") == "has another CRC64NVME checksum"


def test_bag_problem_missing():
    assert bag_problem(None, 100, SHA, "DEEP_ARCHIVE") == "missing"


def test_bag_problem_size():
    problem = bag_problem(info(size=99, metadata={"sha256": SHA}), 100, SHA, "DEEP_ARCHIVE")
    assert "99" in problem and "100" in problem


def test_bag_problem_storage_class():
    problem = bag_problem(info("STANDARD", metadata={"sha256": SHA}), 100, SHA,
                          "DEEP_ARCHIVE")
    assert "STANDARD" in problem and "DEEP_ARCHIVE" in problem


def test_bag_problem_sha256():
    assert "sha256" in bag_problem(info(metadata={"sha256": "b" * 64}), 100, SHA,
                                   "DEEP_ARCHIVE")
    assert "sha256" in bag_problem(info(), 100, SHA, "DEEP_ARCHIVE")  # none recorded


def test_bag_problem_crc():
    problem = bag_problem(info(metadata={"sha256": SHA}, crc="other="), 100, SHA,
                          "DEEP_ARCHIVE", "crc=")
    assert "CRC64NVME" in problem
