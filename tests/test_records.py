"""formats/records.py: the inventory's typed records round-trip, keep what a newer
version wrote, and name the first field of a wrong type."""

import json

import pytest

from glacier_tasks.formats.records import (AtomEntry, BagRecord, HistoryEntry, Inventory,
                                           check)

KEY = "2026-backup/h_m_bag_001.tar"
DATA = {
    "version": 1, "year": 2026, "run_date": "2026-03-01", "written_at": "2026-03-01T10:00:00Z",
    "atoms": {"/m/a": {"molecule": "/m", "archive_key": KEY, "tar_id": "bag_001",
                       "last_metadata_hash": "h1", "size": 10, "files": 2,
                       "apparent_size": 8, "pinned": False}},
    "bags": {KEY: {"tar_id": "bag_001", "molecule": "/m", "size": 10240, "atoms": ["/m/a"],
                   "manifest_key": "2026-backup/manifests/h_m_bag_001.txt",
                   "sha256": "ab", "storage_class": "DEEP_ARCHIVE",
                   "uploaded_at": "2026-03-01T10:00:00Z", "crc64nvme": "AA==", "etag": "e",
                   "content_key": "ck", "manifest_sha256": "cd", "index_sha256": None,
                   "files": 2, "encryption": None, "packed_atoms": ["/m/a", "/m/b"],
                   "packed_bytes": 30, "referenced_bytes": 10}},
    "history": {"2025-backup/h_m_bag_001.tar": {
        "superseded_on": "2026-03-01", "molecule": "/m", "size": 99, "tar_id": "bag_001",
        "manifest_key": "2025-backup/manifests/h_m_bag_001.txt", "uploaded_at": None}},
}


def test_an_inventory_round_trips_field_for_field():
    inventory = Inventory.from_json(json.loads(json.dumps(DATA)))
    assert inventory.to_json() == DATA
    atom = inventory.atoms["/m/a"]
    assert isinstance(atom, AtomEntry) and (atom.size, atom.files, atom.pinned) == (10, 2, False)
    bag = inventory.bags[KEY]
    assert isinstance(bag, BagRecord) and bag.dead_bytes == 20 and bag.held_atoms == ["/m/a", "/m/b"]
    entry = inventory.history["2025-backup/h_m_bag_001.tar"]
    assert isinstance(entry, HistoryEntry) and entry.superseded.year == 2026
    assert inventory.holding(KEY) == ["/m/a"]


def test_what_a_newer_version_wrote_is_kept():
    newer = json.loads(json.dumps(DATA))
    newer["snapshots"] = {"x": 1}
    newer["atoms"]["/m/a"]["increments"] = ["2027-backup/h_m_bag_002.tar"]
    newer["bags"][KEY]["kind"] = "base"
    newer["history"]["2025-backup/h_m_bag_001.tar"]["note"] = "kept"
    assert Inventory.from_json(newer).to_json() == newer


def test_a_bag_recorded_before_issue_23_holds_what_points_at_it():
    old = {k: v for k, v in DATA["bags"][KEY].items()
           if k not in ("packed_atoms", "packed_bytes", "referenced_bytes")}
    bag = BagRecord.from_json(old)
    assert bag.held_atoms == ["/m/a"] and bag.dead_bytes == 0
    assert "packed_atoms" not in old and "packed_atoms" not in bag.to_json()


def test_the_dry_runs_pending_fields_are_written_only_when_set():
    bag = BagRecord.from_json(DATA["bags"][KEY])
    assert "pending" not in bag.to_json() and "reasons" not in bag.to_json()
    bag.pending, bag.reasons = True, ["new atom"]
    assert bag.to_json()["pending"] is True and bag.to_json()["reasons"] == ["new atom"]


def test_copy_is_deep():
    inventory = Inventory.from_json(DATA)
    twin = inventory.copy()
    twin.bags[KEY].atoms.append("/m/c")
    assert inventory.bags[KEY].atoms == ["/m/a"]


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["atoms"]["/m/a"].update(molecule=5), 'atoms["/m/a"].molecule is 5, not text'),
    (lambda d: d["bags"][KEY].update(size="big"), f'bags["{KEY}"].size is "big", not a whole'),
    (lambda d: d["bags"][KEY].update(pending=1), f'bags["{KEY}"].pending is 1, not true or false'),
    (lambda d: d.update(history=[]), "history is [], not an object"),
    (lambda d: d["atoms"]["/m/a"].pop("archive_key"), 'atoms["/m/a"] has no archive_key'),
    (lambda d: d["atoms"]["/m/a"].update(archive_key="2026-backup/x.tar"),
     'atoms["/m/a"].archive_key names "2026-backup/x.tar", which is not in bags'),
    (lambda d: d["history"]["2025-backup/h_m_bag_001.tar"].update(superseded_on="soon"),
     'superseded_on is "soon", not a date'),
    (lambda d: d.update(bags=[]), "not an inventory"),
])
def test_check_names_the_first_wrong_field(edit, words):
    data = json.loads(json.dumps(DATA))
    edit(data)
    assert words in check(data)
    assert check(json.loads(json.dumps(DATA))) is None


def test_a_record_without_a_field_round_trips_without_a_null_that_would_not_load():
    old = json.loads(json.dumps(DATA))
    del old["atoms"]["/m/a"]["tar_id"], old["atoms"]["/m/a"]["apparent_size"]
    for field in ("packed_atoms", "packed_bytes", "referenced_bytes", "tar_id"):
        del old["bags"][KEY][field]
    again = Inventory.from_json(old).to_json()
    assert check(again) is None
    assert "tar_id" not in again["atoms"]["/m/a"] and "packed_atoms" not in again["bags"][KEY]
