"""verify.py against a bucket in memory (bucket/memory.py): what a user's `doit verify`
finds when the bucket lost, broke or swapped a bag, a manifest, an index or a system
file, and what --deep re-hashes. A real backup through the bag steps; no server."""

import os

import pytest

from glacier_tasks import verify
from glacier_tasks.backup.ledger import markers
from glacier_tasks.bucket import system_folder
from glacier_tasks.formats import inventory, layout
from glacier_tasks.formats.records import Inventory
from tests.test_bag_steps import all_steps, bag_run  # noqa: F401  (a fixture)


@pytest.fixture
def backed_up(bag_run):  # noqa: F811
    """A backup in memory as `doit backup` leaves it: bags, manifests and indexes, the
    inventory on disk, the system folder."""
    run, data, plan = bag_run
    all_steps(run, plan)
    built = inventory.build_inventory(plan, markers(run, plan), Inventory())
    inventory.write_inventory(run.settings.inventory_file, built)
    system_folder.upload_system(run.settings, run.store, run.year)
    return run, inventory.load_inventory(run.settings.inventory_file)


def bag_key(inv) -> str:
    return next(iter(inv.bags))


def check(run, inv) -> list:
    return verify.check_headers(run.store, inv, run.settings.host)


def test_a_whole_backup_verifies_with_headers_alone(backed_up):
    run, inv = backed_up
    before = len(run.store.requests)
    assert check(run, inv) == [] and verify.index_warnings(run.store, inv) == []
    assert {verb for verb, _ in run.store.requests[before:]} == {"HEAD", "LIST"}


def test_a_lost_bag_and_its_lost_manifest_are_named(backed_up):
    run, inv = backed_up
    key = bag_key(inv)
    run.store.delete(key)
    run.store.delete(inv.bags[key].manifest_key)
    assert check(run, inv) == [f"{key}: missing",
                               f"{inv.bags[key].manifest_key}: missing"]


def test_a_bag_overwritten_with_its_metadata_copied_is_caught_by_its_checksum(backed_up):
    run, inv = backed_up
    key = bag_key(inv)
    run.store.replace_behind(key, os.urandom(inv.bags[key].size))
    assert check(run, inv) == [f"{key}: has another CRC64NVME checksum"]


def test_a_changed_manifest_and_a_lost_index_are_told_apart(backed_up):
    """A manifest is what restore checks against: a problem. A lost index only makes a
    restore of one file read the whole bag: a warning."""
    run, inv = backed_up
    key = bag_key(inv)
    manifest = inv.bags[key].manifest_key
    run.store.replace_behind(manifest, b"x\t1\t2027-01-01T00:00:00Z\n",
                             {"sha256": "0" * 64})
    run.store.delete(layout.index_key(key))
    assert check(run, inv) == [f"{manifest}: sha256 differs from the inventory's"]
    warnings = verify.index_warnings(run.store, inv)
    assert warnings == [f"{layout.index_key(key)}: missing; a restore of one file "
                        "from this bag reads the whole bag"]


def test_a_lost_system_file_is_named(backed_up):
    run, inv = backed_up
    prefix = layout.system_prefix(run.year, run.settings.host)
    lost = next(k for k in run.store.objects if k.startswith(prefix) and "list." in k)
    run.store.delete(lost)
    assert check(run, inv) == [f"{prefix}list.txt: missing"]


def test_deep_thaws_then_re_hashes_every_bag(backed_up):
    run, inv = backed_up
    key, said = bag_key(inv), []
    run.store.thaw_requests = 1  # one look while it thaws
    problems, waiting = verify.deep_check(run.store, inv, 1, "Bulk", said.append)
    assert (problems, waiting) == ([], 1) and ("RESTORE", key) in run.store.requests
    assert "thawing" in said[-1]
    problems, waiting = verify.deep_check(run.store, inv, 1, "Bulk", said.append)
    assert (problems, waiting) == ([], 0)
    assert said[-1] == f"{key}: re-hashed, sha256 matches"


def test_deep_finds_bytes_that_hash_otherwise(backed_up):
    run, inv = backed_up
    key = bag_key(inv)
    run.store.request_restore(key, 1, "Bulk")
    data = run.store.objects[key][0]
    run.store.replace_behind(key, data[:-1] + bytes([data[-1] ^ 1]))
    problems, _ = verify.deep_check(run.store, inv, 1, "Bulk", lambda line: None)
    assert problems == [f"{key}: its bytes hash to another sha256 than the inventory's"]
