"""marker.py: a bag's marker survives JSON, and a stale or damaged one reads as fresh."""

import json

import pytest

from glacier_tasks.backup.marker import (BagMarker, ManifestReceipt, Packed, Receipt,
                                         read_marker, write_marker)

KEY = "c" * 64


def full_marker() -> BagMarker:
    return BagMarker(
        content_key=KEY,
        packed=Packed(size=12345, sha256="5" * 64, crc64nvme="crc==",
                      atom_hashes={"/data/m/A": "a1", "/data/m/B": "dirty:b1"},
                      content_key=KEY, dirty=["/data/m/B"],
                      encryption={"method": "age", "recipients": ["age1xyz"]}),
        upload={"key": "2026-backup/h_m_bag_001.tar", "upload_id": "u-1",
                "part_size": 16 << 20},
        uploaded=Receipt(key="2026-backup/h_m_bag_001.tar", size=12345, etag="etag-1",
                         sha256="5" * 64, crc64nvme="crc==", storage_class="DEEP_ARCHIVE",
                         uploaded_at="2026-01-15T10:00:00Z", reused=False,
                         recorded_at="2026-01-15T10:00:01Z", parts=3),
        manifest=ManifestReceipt(key="2026-backup/manifests/h_m_bag_001.txt", size=321,
                                 sha256="m" * 64),
        done=True)


@pytest.mark.parametrize("marker", [full_marker(), BagMarker(KEY),
                                    BagMarker(KEY, packed=full_marker().packed)])
def test_marker_round_trips_through_json(marker):
    text = json.dumps(marker.to_json())
    again = BagMarker.from_json(json.loads(text))
    assert again == marker
    assert isinstance(again.packed, (Packed, type(None)))
    assert json.dumps(again.to_json()) == text


def test_written_marker_reads_back(tmp_path):
    path = tmp_path / "bags" / "h_m_bag_001.json"
    write_marker(path, full_marker())
    assert read_marker(path, KEY) == full_marker()
    assert list(path.parent.iterdir()) == [path]  # no temp file left beside it


def test_marker_of_other_contents_reads_as_fresh(tmp_path):
    path = tmp_path / "h_m_bag_001.json"
    write_marker(path, full_marker())
    fresh = read_marker(path, "d" * 64)
    assert fresh == BagMarker("d" * 64)
    assert fresh.packed is None and fresh.uploaded is None and not fresh.done
    assert fresh.upload == {}


@pytest.mark.parametrize("text", ['{"content_key": "' + KEY + '", "packed": {',
                                  "\xff\xfe garbage", "[]", "null", '"a string"',
                                  '{"packed": {}}',
                                  '{"content_key": "' + KEY + '", "packed": 3}',
                                  '{"content_key": "' + KEY + '", "uploaded": {"key": 1}}'])
def test_damaged_marker_reads_as_fresh(tmp_path, text):
    path = tmp_path / "h_m_bag_001.json"
    path.write_bytes(text.encode("latin-1"))
    assert read_marker(path, KEY) == BagMarker(KEY)


def test_missing_marker_reads_as_fresh(tmp_path):
    assert read_marker(tmp_path / "none.json", KEY) == BagMarker(KEY)


def test_old_marker_with_packed_object_key_reads_as_content_key(tmp_path):
    old = full_marker().to_json()
    old["packed"]["object_key"] = old["packed"].pop("content_key")  # the old field name
    path = tmp_path / "h_m_bag_001.json"
    path.write_text(json.dumps(old))
    marker = read_marker(path, KEY)
    assert marker.packed.content_key == KEY
    assert marker == full_marker()


def test_unknown_fields_of_a_newer_marker_are_ignored(tmp_path):
    data = full_marker().to_json()
    data["packed"]["future"] = 1
    data["uploaded"]["also_future"] = "x"
    path = tmp_path / "h_m_bag_001.json"
    path.write_text(json.dumps(data))
    assert read_marker(path, KEY) == full_marker()


def test_a_finished_marker_written_before_the_typed_records_reads_as_done(tmp_path):
    # what the previous version wrote for a bag it had uploaded: plain dicts,
    # packed.object_key, no upload entry left, no parts count
    old = {"content_key": KEY, "done": True,
           "packed": {"size": 12345, "sha256": "5" * 64, "crc64nvme": "crc==",
                      "atom_hashes": {"/data/m/A": "a1"}, "dirty": [],
                      "object_key": KEY, "encryption": None},
           "uploaded": {"key": "2026-backup/h_m_bag_001.tar", "size": 12345,
                        "etag": "etag-1", "sha256": "5" * 64, "crc64nvme": "crc==",
                        "storage_class": "DEEP_ARCHIVE",
                        "uploaded_at": "2026-01-15T10:00:00Z", "reused": False,
                        "recorded_at": "2026-01-15T10:00:01Z"},
           "manifest": {"key": "2026-backup/manifests/h_m_bag_001.txt", "size": 321,
                        "sha256": "m" * 64}}
    path = tmp_path / "h_m_bag_001.json"
    path.write_text(json.dumps(old))
    marker = read_marker(path, KEY)
    assert marker.done is True
    assert marker.packed.content_key == KEY and marker.packed.atom_hashes == {
        "/data/m/A": "a1"}
    assert marker.uploaded.etag == "etag-1" and marker.uploaded.parts is None
    assert marker.manifest.sha256 == "m" * 64
