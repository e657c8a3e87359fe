"""The bucket in memory keeps the S3 semantics the rules rely on (bucket/memory.py)."""

import datetime
import inspect

import pytest

from glacier_tasks.bucket.memory import MemoryStore, crc64nvme
from glacier_tasks.bucket.objects import ObjectStore
from glacier_tasks.bucket.store import Store
from glacier_tasks.errors import ObjectExists, StoreError


def test_keys_are_written_once():
    store = MemoryStore()
    store.put_bytes("k", b"one", "STANDARD", {"sha256": "a"})
    with pytest.raises(ObjectExists):
        store.put_bytes("k", b"two", "STANDARD", {})
    assert store.get_bytes("k") == b"one"
    assert store.put_new("k", b"three", {}) is False


def test_the_checksum_is_the_stored_bytes_own_and_a_wrong_one_is_refused(tmp_path):
    store = MemoryStore()
    path = tmp_path / "bag.tar"
    path.write_bytes(b"x" * 1000)
    with pytest.raises(StoreError, match="BadDigest"):
        store.upload_file(path, "bag", "DEEP_ARCHIVE", {}, crc64nvme(b"y"), {}, dict)
    assert store.head("bag") is None
    store.upload_file(path, "bag", "DEEP_ARCHIVE", {}, crc64nvme(b"x" * 1000), {},
                      lambda resume: None)
    assert store.head("bag").crc64nvme == crc64nvme(b"x" * 1000)
    assert store.list_objects()["bag"].crc64nvme is None  # a LIST knows no checksum


def test_an_archived_object_is_read_only_once_thawed():
    store = MemoryStore(thaw_requests=2)
    store.put_bytes("bag", b"data", "DEEP_ARCHIVE", {})
    with pytest.raises(StoreError, match="InvalidObjectState"):
        store.get_bytes("bag")
    store.request_restore("bag", 1, "Bulk")
    assert store.head("bag").thaw_state == "thawing"
    assert store.head("bag").thaw_state == "thawing"
    assert store.head("bag").thaw_state == "readable"
    assert store.get_bytes("bag") == b"data"
    assert b"".join(store.read_range("bag", 1, 2)) == b"at"


def test_both_stores_speak_the_object_store_protocol():
    """What the tool asks of a bucket's objects (objects.ObjectStore): the S3 store and
    the one in memory answer it alike, parameter for parameter."""
    members = [name for name, value in vars(ObjectStore).items()
               if callable(value) and not name.startswith("_")]
    assert {"head", "put_new", "upload_file", "delete", "list_objects"} <= set(members)
    for name in members:
        wanted = list(inspect.signature(getattr(ObjectStore, name)).parameters)
        for store in (Store, MemoryStore):
            assert list(inspect.signature(getattr(store, name)).parameters) == wanted, \
                (store.__name__, name)
    assert isinstance(MemoryStore(), ObjectStore)


def test_an_object_under_object_lock_is_not_deleted():
    store = MemoryStore()
    store.put_bytes("k", b"one", "DEEP_ARCHIVE", {})
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    store.lock("k", later)
    assert store.head("k").retain_until == later and store.head("k").lock_mode
    with pytest.raises(StoreError, match="AccessDenied"):
        store.delete("k")
    store.lock("k", None, legal_hold=True)
    with pytest.raises(StoreError, match="AccessDenied"):
        store.delete("k")
    store.lock("k", None)
    store.delete("k")
    assert store.head("k") is None
