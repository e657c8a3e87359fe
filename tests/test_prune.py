"""prune.py's selection and cost.py's restore and per-file figures, worked by hand."""

import datetime

import pytest

from glacier_tasks import cost, prune
from tests.support.builders import plan_of, planned_bag, typed
from glacier_tasks.bucket.objects import ObjectInfo

D = datetime.date


def objects():
    """key -> ObjectInfo, as Store.list_objects gives them."""
    when = datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.timezone.utc)
    listed = [
        ("2026-backup/h_m_bag_001.tar", 1_000_000_000, "DEEP_ARCHIVE"),
        ("2026-backup/manifests/h_m_bag_001.txt", 5_000, "STANDARD"),
        ("2026-backup/h_m_bag_002.tar", 2_000_000_000, "DEEP_ARCHIVE"),
        ("2026-backup/manifests/h_m_bag_002.txt", 5_000, "STANDARD"),
        ("2026-backup/system/inventory.json", 900, "STANDARD"),
        ("photos/not-ours.jpg", 10, "STANDARD"),
    ]
    return {key: ObjectInfo(key=key, size=size, storage_class=storage_class,
                            last_modified=when)
            for key, size, storage_class in listed}


INVENTORY = {"atoms": {"/m/a": {"archive_key": "2026-backup/h_m_bag_002.tar"}},
             "bags": {"2026-backup/h_m_bag_002.tar": {
                 "manifest_key": "2026-backup/manifests/h_m_bag_002.txt"}}}


def test_only_unreferenced_objects_under_year_backup_are_prunable():
    found = prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY), None),
                             D(2026, 1, 30), host="h")
    assert [p.key for p in found] == ["2026-backup/h_m_bag_001.tar",
                                      "2026-backup/manifests/h_m_bag_001.txt"]


def test_another_hosts_keys_are_never_candidates():
    """A second machine's bags are unknown to this inventory: never prunable here."""
    theirs = {k.replace("/h_", "/nas_"): v for k, v in objects().items()}
    assert prune.plan_prune({**objects(), **theirs}, prune.referenced_keys(typed(INVENTORY)),
                            D(2027, 1, 30), host="h") == \
        prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY)), D(2027, 1, 30),
                         host="h")
    assert {p.key for p in prune.plan_prune(theirs, set(), D(2027, 1, 30), host="nas")} \
        == {k for k in theirs if "/nas_" in k}


def test_unfinished_backup_plan_protects_its_keys():
    planned = planned_bag(1, year=2026, atoms=["/m/b"], size=1_000_000_000)
    plan = plan_of([planned], year=2026)
    found = prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY), plan),
                             D(2026, 1, 30), host="h")
    assert found == []


def test_age_fee_and_free_date_at_20_days():
    bag, manifest = prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY), None),
                                     D(2026, 1, 30), host="h")
    assert bag.age_days == 20 and bag.free_from == D(2026, 7, 9)  # 10 Jan + 180 days
    # 1 GB + 32 KB at $0.00099 = 0.000990032440; 8 KB at $0.023 = 0.000000188416;
    # a month: 0.000990220856; the 160 days left: x 160/30 = 0.005281177899
    assert bag.fee_now == pytest.approx(0.005281177899, rel=1e-9)
    assert manifest.fee_now == 0.0  # Standard has no minimum


def test_no_fee_after_180_days_and_young_ones_kept_unless_forced():
    found = prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY), None),
                             D(2026, 7, 9), host="h")
    assert [p.fee_now for p in found] == [0.0, 0.0]
    young = prune.plan_prune(objects(), prune.referenced_keys(typed(INVENTORY), None),
                             D(2026, 1, 30), host="h")
    assert prune.classify(young, {}, 180, force=False) == {
        "2026-backup/h_m_bag_001.tar": "young",
        "2026-backup/manifests/h_m_bag_001.txt": "young"}
    assert set(prune.classify(young, {}, 180, force=True).values()) == {"delete"}


def test_full_restore_cost_by_tier():
    # 1,000 GB in 25 bags. Bulk: 1000 x 0.0025 = 2.50 retrieval, 25/1000 x 0.025 =
    # 0.000625 requests, (1000 - 100 free) x 0.09 = 81.00 transfer
    bulk = cost.restore_cost(1_000 * 10**9, 25, "Bulk")
    assert bulk["total"] == pytest.approx(83.500625)
    # Standard: 1000 x 0.02 = 20.00, 25/1000 x 0.10 = 0.0025, transfer 81.00
    assert cost.restore_cost(1_000 * 10**9, 25, "Standard")["total"] == \
        pytest.approx(101.0025)
    assert cost.restore_cost(50 * 10**9, 2, "Bulk")["transfer"] == 0.0  # within 100 GB


def test_one_object_per_file_is_the_specs_500_dollars():
    # the spec's example: 10 million files, 10 TB: 10,000 x $0.05 per 1,000 PUTs
    per_file = cost.one_object_per_file(10_000_000, 10 * 10**12, "DEEP_ARCHIVE")
    assert per_file["upload_fee"] == pytest.approx(500.0)
    # storage: (10e12 + 10e6 x 32768) / 1e9 x 0.00099 + 10e6 x 8192 / 1e9 x 0.023
    #        = 10327.68 x 0.00099 + 81.92 x 0.023 = 10.2244032 + 1.88416 = 12.1085632
    assert per_file["monthly"] == pytest.approx(12.1085632)


def test_storage_bill_groups_by_class_with_overrides():
    bill = cost.storage_bill(objects(), {"storage_deep_archive": 0.002})
    size, count, monthly = bill["DEEP_ARCHIVE"]
    assert (size, count) == (3_000_000_000, 2)
    # (3e9 + 2 x 32768) / 1e9 x 0.002 + 2 x 8192 / 1e9 x 0.023
    assert monthly == pytest.approx(3.000065536 * 0.002 + 0.000016384 * 0.023)
    assert bill["STANDARD"][1] == 4


HISTORY = {**INVENTORY, "history": {"2026-backup/h_m_bag_001.tar": {
    "superseded_on": "2026-03-01", "manifest_key": "2026-backup/manifests/h_m_bag_001.txt"}}}


def test_history_keeps_a_superseded_bag_keep_years_after_the_run_that_superseded_it():
    until = prune.history_dates(typed(HISTORY), keep_years=1)
    assert until["2026-backup/h_m_bag_001.tar"] == D(2027, 3, 1)
    assert until["2026-backup/manifests/h_m_bag_001.txt"] == D(2027, 3, 1)
    assert prune.history_dates(typed(HISTORY), keep_years=0) == {}  # a mirror keeps nothing
    assert prune.history_dates(typed(HISTORY), 2)["2026-backup/h_m_bag_001.tar"] == D(2028, 3, 1)
    leap = {"history": {"k": {"superseded_on": "2028-02-29"}}}
    assert prune.history_dates(typed(leap), 1)["k"] == D(2029, 2, 28)
    referenced = prune.referenced_keys(typed(HISTORY))
    inside = prune.plan_prune(objects(), referenced, D(2027, 3, 1), host="h",
                              history=until)
    assert [p.history_until for p in inside] == [D(2027, 3, 1)] * 2
    assert set(prune.classify(inside, {}, 180, force=False).values()) == {"history"}
    assert set(prune.classify(inside, {}, 180, force=True).values()) == {"delete"}
    # Object Lock on a history bag: history still says why it stays, alike in the dry
    # run and with --delete; forced, the lock is what keeps it
    locked = {inside[0].key: prune.Held(inside[0].key, mode="GOVERNANCE")}
    assert prune.classify(inside, locked, 180, force=False)[inside[0].key] == "history"
    assert prune.classify(inside, locked, 180, force=True)[inside[0].key] == "held"
    after = prune.plan_prune(objects(), referenced, D(2027, 3, 2), host="h", history=until)
    assert [p.history_until for p in after] == [None, None]
    assert set(prune.classify(after, {}, 180, force=False).values()) == {"delete"}


def test_what_deleting_a_bag_loses():
    old = prune.entries(["Photos/\t0\t2026-01-01T00:00:00Z\n",
                         "Photos/a.jpg\t100\t2026-01-01T00:00:00Z\n",
                         "Photos/b.jpg\t200\t2026-01-01T00:00:00Z\n",
                         "Photos/c.jpg\t300\t2026-01-01T00:00:00Z\tskipped: socket\n"])
    newer = prune.entries(["Photos/a.jpg\t100\t2026-01-01T00:00:00Z\n",   # unchanged
                           "Photos/b.jpg\t250\t2026-06-01T00:00:00Z\n"])  # changed
    lost = prune.lost_files(old, newer)
    assert (lost.files, lost.size, lost.names) == (1, 300, ("Photos/c.jpg",))  # deleted
    # edited since: its old copy is an older version, not a file the newer bags lack
    assert (lost.older, lost.older_size, lost.older_names) == (1, 200, ("Photos/b.jpg",))
    assert not prune.lost_files(old, old).anything


def test_delete_is_refused_from_an_inventory_that_names_no_bag():
    """An empty inventory (one someone added to the bucket and bootstrap took, say)
    would make every bag look unreferenced."""
    empty = {"atoms": {}, "bags": {}}
    assert "names no bag" in prune.unsafe_to_delete(typed(empty), objects(), "h")
    assert prune.unsafe_to_delete(typed(empty), objects(), "other-host") is None  # none theirs
    whole = {**INVENTORY, "bags": {"2026-backup/h_m_bag_002.tar": {
        "size": 2_000_000_000, "manifest_key": "2026-backup/manifests/h_m_bag_002.txt"}}}
    assert prune.unsafe_to_delete(typed(whole), objects(), "h") is None
