"""Which keys a backup may write (backup/taken_keys.py), against a bucket in memory with
S3's semantics: a key is taken once anything is under it; only an object that
provably holds a whole bag (its metadata's claim backed by S3's own checksum) may be
adopted; a previous bag the bucket holds otherwise than recorded is broken."""

from glacier_tasks.backup import taken_keys as taken
from glacier_tasks.bucket.memory import MemoryStore, crc64nvme
from glacier_tasks.bucket.objects import metadata_for
from glacier_tasks.formats.layout import archive_key, deletions_key, manifest_key
from glacier_tasks.formats.records import AtomEntry, BagRecord, Inventory

HOST = "nas"
OLD = archive_key(2026, HOST, "data", "bag_001")
NEW = archive_key(2027, HOST, "data", "bag_002")


def previous(size=4) -> Inventory:
    return Inventory(bags={OLD: BagRecord(tar_id="bag_001", size=size, sha256="s",
                                          storage_class="DEEP_ARCHIVE", atoms=["/data/A"])})


def store_with_old() -> MemoryStore:
    store = MemoryStore()
    store.put_bytes(OLD, b"tar!", "DEEP_ARCHIVE", {"sha256": "s"})
    return store


def test_a_stopped_runs_whole_bag_is_offered_for_adoption_by_its_claim():
    store = store_with_old()
    data = b"a whole tar"
    store.put_bytes(NEW, data, "DEEP_ARCHIVE", metadata_for(
        len(data), "sha", crc64nvme(data), "content-1"))
    occupied, broken = taken.bucket_view(store, previous(), HOST, 2027, "DEEP_ARCHIVE", [])
    assert occupied == {NEW: "content-1"} and broken == {}


def test_a_key_holding_what_its_metadata_does_not_prove_is_taken_not_adoptable():
    store = store_with_old()
    data = b"a whole tar"
    store.put_bytes(NEW, data, "DEEP_ARCHIVE", metadata_for(
        len(data), "sha", crc64nvme(b"other bytes"), "content-1"))  # a forged claim
    store.put_bytes(manifest_key(archive_key(2027, HOST, "data", "bag_003")), b"m",
                    "STANDARD", {})  # a manifest alone: its bag's key is taken too
    occupied, _ = taken.bucket_view(store, previous(), HOST, 2027, "DEEP_ARCHIVE", [])
    assert occupied == {NEW: None, archive_key(2027, HOST, "data", "bag_003"): None}


def test_a_previous_bag_held_otherwise_than_recorded_is_broken():
    store = store_with_old()
    occupied, broken = taken.bucket_view(store, previous(size=99), HOST, 2027,
                                         "DEEP_ARCHIVE", [])
    assert occupied == {}
    assert broken == {OLD: f"{OLD} has 4 bytes, expected 99"}


def test_what_the_bag_steps_recorded_is_broken_and_never_adopted():
    store = store_with_old()
    recorded = [{"archive_key": NEW, "key": NEW, "problem": "holds other contents"}]
    occupied, broken = taken.bucket_view(store, previous(), HOST, 2027, "DEEP_ARCHIVE",
                                         recorded)
    assert occupied == {NEW: None}
    assert broken == {NEW: f"{NEW} holds other contents"}


def test_another_hosts_keys_are_not_listed():
    store = store_with_old()
    other = archive_key(2027, "laptop", "data", "bag_002")
    store.put_bytes(other, b"theirs", "DEEP_ARCHIVE", {})
    occupied, _ = taken.bucket_view(store, previous(), HOST, 2027, "DEEP_ARCHIVE", [])
    assert occupied == {}
    assert ("LIST", f"2027-backup/{HOST}_") in store.requests


def test_a_live_chains_missing_bag_is_broken_a_lost_whole_bag_is_not():
    """A lost whole bag is sent again under its own key by its bag step; a lost bag of
    a chain (here an increment's deletion list) can never be: its atom is re-based."""
    store = store_with_old()
    store.put_bytes(manifest_key(OLD), b"m", "STANDARD", {})
    assert taken.bucket_view(MemoryStore(), previous(), HOST, 2027, "DEEP_ARCHIVE",
                             [])[1] == {}
    inc = archive_key(2027, HOST, "data", "bag_002")
    chain = previous()
    chain.bags[inc] = BagRecord(tar_id="bag_002", size=2, sha256="i",
                                storage_class="DEEP_ARCHIVE", atoms=["/data/A"],
                                manifest_key=manifest_key(inc), increment_of="h1")
    chain.atoms["/data/A"] = AtomEntry(molecule="/data", archive_key=OLD,
                                       tar_id="bag_001", increments=[inc])
    store.put_bytes(inc, b"in", "DEEP_ARCHIVE", {"sha256": "i"})
    store.put_bytes(manifest_key(inc), b"m", "STANDARD", {})
    _, broken = taken.bucket_view(store, chain, HOST, 2027, "DEEP_ARCHIVE", [])
    assert list(broken) == [inc]
    assert broken[inc].startswith(f"{deletions_key(inc)} missing")
