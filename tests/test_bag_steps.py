"""The bag steps' rules about the bucket, against a bucket in memory with S3's
semantics (bucket/memory.py): adoption, write-once keys, occupied keys, repair, and a
forged object. Real files, real GNU tar; no server, no doit (issue 24, item 3)."""

import dataclasses
import json
import os
import shutil

import pytest

from glacier_tasks.backup import bag_steps as steps, ledger as ledger_module, scan
from glacier_tasks.backup.ledger import markers, outcomes
from glacier_tasks.backup.marker import read_marker, write_marker
from glacier_tasks.backup.plan import AtomState, MoleculeState, plan_bags
from glacier_tasks.bucket.memory import MemoryStore
from glacier_tasks.bucket.objects import metadata_for
from glacier_tasks.errors import BagError
from glacier_tasks.formats import inventory
from glacier_tasks.formats.records import Inventory
from glacier_tasks.run import load_run
from tests.test_run import make_config


@pytest.fixture
def bag_run(tmp_path, monkeypatch):
    """A Run over one molecule of two atoms, its plan (one bag), a bucket in memory."""
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    data = tmp_path / "data"
    for name, size in (("Books", 300_000), ("Music", 200_000)):
        (data / name).mkdir(parents=True)
        (data / name / "one.bin").write_bytes(os.urandom(size))
    run = load_run(str(make_config(tmp_path / "conf", [str(data)])))
    run = dataclasses.replace(run, store_override=MemoryStore())
    return run, data, plan_now(run, data)


def plan_now(run, data, previous=None):
    atoms = [AtomState(scan.atom_key(str(data), n), str(data),
                       scan.scan_atom(data, n).hash, scan.scan_atom(data, n).size, 1)
             for n in ("Books", "Music")]
    return plan_bags(atoms, [MoleculeState(str(data), "data", True, str(data))],
                     previous or Inventory(), 10**9, run.year, run.settings.host)


def all_steps(run, plan) -> list:
    lines = []
    for bag in plan.bags:
        lines.append(steps.tar_step(run, plan, bag.name))
        lines.append(steps.upload_step(run, plan, bag.name))
        lines.append(steps.manifest_step(run, plan, bag.name))
    return lines


def puts(store, key) -> int:
    return sum(1 for verb, k in store.requests if verb == "PUT" and k == key)


def test_a_bag_goes_through_its_steps_into_the_bucket(bag_run):
    run, _, plan = bag_run
    bag = plan.bags[0]
    lines = all_steps(run, plan)
    store = run.store
    data, info = store.objects[bag.archive_key]
    marker = read_marker(run.marker_file(bag.name), bag.content_key)
    assert marker.done and marker.uploaded.key == bag.archive_key
    assert info.storage_class == "DEEP_ARCHIVE" and info.crc64nvme == marker.packed.crc64nvme
    assert info.size == marker.packed.size == len(data)
    assert bag.manifest_key in store.objects and f"-> {bag.archive_key}" in lines[-1]
    assert not run.staged_tar(bag.name).exists()  # staging freed


def test_an_upload_whose_record_was_lost_is_adopted_not_sent_again(bag_run):
    """kill -9 after S3 stored the object, before the marker said so."""
    run, _, plan = bag_run
    bag = plan.bags[0]
    steps.tar_step(run, plan, bag.name)
    steps.upload_step(run, plan, bag.name)
    marker = read_marker(run.marker_file(bag.name), bag.content_key)
    marker.uploaded = None
    write_marker(run.marker_file(bag.name), marker)
    for step in (steps.tar_step, steps.upload_step, steps.manifest_step):
        step(run, plan, bag.name)  # the next run: the staged tar is gone, S3 has it
    assert puts(run.store, bag.archive_key) == 1
    assert read_marker(run.marker_file(bag.name), bag.content_key).uploaded.reused


def test_a_key_holding_someone_elses_object_is_never_replaced(bag_run):
    run, _, plan = bag_run
    bag = plan.bags[0]
    run.store.put_bytes(bag.archive_key, b"not our tar", "DEEP_ARCHIVE", {})
    steps.tar_step(run, plan, bag.name)
    with pytest.raises(BagError, match="holds other contents; keys are written once"):
        steps.upload_step(run, plan, bag.name)
    assert run.store.objects[bag.archive_key][0] == b"not our tar"
    occupied = json.loads(run.occupied_file(bag.name).read_text())
    assert occupied["key"] == bag.archive_key  # the next plan names the bag anew
    assert run.failure_file(bag.name).exists()


def test_a_bag_the_bucket_lost_is_packed_and_sent_again_under_its_key(bag_run):
    run, data, plan = bag_run
    all_steps(run, plan)
    bag = plan.bags[0]
    run.store.delete(bag.archive_key)
    line = steps.tar_step(run, plan, bag.name)  # the HEAD of a done bag finds nothing
    assert line == ""
    marker = read_marker(run.marker_file(bag.name), bag.content_key)
    assert "missing" in marker.repair
    steps.upload_step(run, plan, bag.name)
    closing = steps.manifest_step(run, plan, bag.name)
    assert "repaired" in closing and bag.archive_key in run.store.objects
    assert puts(run.store, bag.archive_key) == 2


def test_a_forged_bag_with_our_metadata_is_caught_by_its_checksum(bag_run):
    """Someone overwrote the bag with other bytes and copied its metadata: S3's own
    CRC64NVME of what it stores differs from ours, so it is not ours."""
    run, data, plan = bag_run
    all_steps(run, plan)
    bag = plan.bags[0]
    size = run.store.objects[bag.archive_key][1].size
    run.store.replace_behind(bag.archive_key, os.urandom(size))
    with pytest.raises(BagError, match="has another CRC64NVME checksum; keys are "
                                       "written once, so it is not replaced"):
        steps.tar_step(run, plan, bag.name)
    assert json.loads(run.occupied_file(bag.name).read_text())["key"] == bag.archive_key
    assert puts(run.store, bag.archive_key) == 1  # never sent over the forgery


def test_a_kept_bag_costs_one_head(bag_run):
    run, data, plan = bag_run
    all_steps(run, plan)
    previous = inventory.build_inventory(plan, {b.name: read_marker(
        run.marker_file(b.name), b.content_key) for b in plan.bags}, Inventory())
    again = plan_now(run, data, previous)
    assert [b.action for b in again.bags] == ["keep"]
    before = len(run.store.requests)
    bag = again.bags[0]
    assert bag.sha256 == previous.bags[bag.archive_key].sha256  # the plan has it
    assert steps.tar_step(run, again, bag.name) == ""
    assert run.store.requests[before:] == [("HEAD", bag.archive_key),
                                           ("HEAD", bag.manifest_key)]


def kept_plan(run, data, plan):
    """The next run's plan, once the first one is done: the bag is kept."""
    all_steps(run, plan)
    previous = inventory.build_inventory(plan, markers(run, plan), Inventory())
    return plan_now(run, data, previous)


def test_a_kept_bag_whose_manifest_the_bucket_lost_gets_it_back(bag_run):
    run, data, plan = bag_run
    again = kept_plan(run, data, plan)
    bag = again.bags[0]
    run.store.delete(bag.manifest_key)
    line = steps.tar_step(run, again, bag.name)
    assert "has its manifest missing; repaired: manifest re-packed and uploaded" in line
    assert bag.manifest_key in run.store.objects and puts(run.store, bag.archive_key) == 1
    found = outcomes(run, again)
    assert list(found.repaired) == [bag.name] and found.failures == {}


@pytest.mark.parametrize("lost", ["bag", "manifest"])
def test_a_chains_base_lost_after_the_plan_is_never_packed_again(bag_run, lost):
    """A kept bag some atom's increments follow holds the disk of its year: re-packed
    (or its manifest re-listed) from today's disk, it would lie under its own key. The
    plan re-bases a chain it sees broken; this one broke after the plan."""
    run, data, plan = bag_run
    again = kept_plan(run, data, plan)
    bag = again.bags[0]
    again.atoms[bag.atoms[0]].increments = [bag.archive_key.replace(
        "bag_001", "bag_002").replace(str(run.year), str(run.year + 1))]
    gone = bag.archive_key if lost == "bag" else bag.manifest_key
    run.store.delete(gone)
    with pytest.raises(BagError, match="a bag of an increment chain is never packed "
                                       "again: its atom is packed whole by the next"):
        steps.tar_step(run, again, bag.name)
    assert json.loads(run.occupied_file(bag.name).read_text())["key"] == gone
    assert gone not in run.store.objects and puts(run.store, gone) == 1


def test_another_hosts_lost_bag_is_never_written(bag_run):
    """An inventory from `bootstrap --host`: that host's bags are its own to repair."""
    run, data, plan = bag_run
    all_steps(run, plan)
    previous = inventory.build_inventory(plan, markers(run, plan), Inventory())
    run = dataclasses.replace(run, settings=dataclasses.replace(run.settings,
                                                                host="another"))
    bag = plan_now(run, data, previous).bags[0]
    run.store.delete(bag.archive_key)
    again = plan_now(run, data, previous)
    with pytest.raises(BagError, match="which this machine never writes"):
        steps.tar_step(run, again, again.bags[0].name)
    assert bag.archive_key not in run.store.objects


def test_a_failed_tar_step_is_recorded_and_its_upload_stands_aside(bag_run):
    """The atom vanished between the scan and the pack (a drive unmounted)."""
    run, data, plan = bag_run
    bag = plan.bags[0]
    shutil.rmtree(data / "Music")
    with pytest.raises(BagError, match="Music is gone"):
        steps.tar_step(run, plan, bag.name)
    assert steps.upload_step(run, plan, bag.name) == ""
    assert steps.manifest_step(run, plan, bag.name) == ""
    assert [k for k in run.store.objects if k.endswith(".tar")] == []
    found = outcomes(run, plan)
    assert "Music is gone" in found.failures[bag.name] and found.pending == [bag.name]


def test_a_staged_tar_changed_on_disk_since_an_earlier_run_is_never_sent(bag_run):
    run, _, plan = bag_run
    bag = plan.bags[0]
    steps.tar_step(run, plan, bag.name)
    ledger_module._PACKED_HERE.clear()  # the next run: another process
    staged = run.staged_tar(bag.name)
    with open(staged, "r+b") as tar:
        tar.seek(600)
        tar.write(b"X")  # same size, other bytes
    with pytest.raises(BagError, match="the staged tar changed on disk since it was "
                                       "packed"):
        steps.upload_step(run, plan, bag.name)
    assert run.store.objects == {} and not staged.exists()
    assert read_marker(run.marker_file(bag.name), bag.content_key).packed is None


class RacingStore(MemoryStore):
    """A stopped run's upload lands between our HEAD and our PUT."""

    def __init__(self):
        super().__init__()
        self.landing = None  # (key, bytes, metadata) put just before our PUT

    def upload_file(self, path, key, *args, **kwargs):
        if self.landing:
            self.put_bytes(*self.landing[:2], "DEEP_ARCHIVE", self.landing[2])
            self.landing = None
        return super().upload_file(path, key, *args, **kwargs)


@pytest.mark.parametrize("same_tar", [True, False])
def test_a_key_taken_between_head_and_put_is_adopted_only_if_it_holds_our_tar(
        bag_run, same_tar):
    run, _, plan = bag_run
    run = dataclasses.replace(run, store_override=RacingStore())
    bag = plan.bags[0]
    steps.tar_step(run, plan, bag.name)
    marker = read_marker(run.marker_file(bag.name), bag.content_key)
    ours = run.staged_tar(bag.name).read_bytes()
    metadata = metadata_for(marker.packed.size, marker.packed.sha256,
                            marker.packed.crc64nvme, marker.packed.content_key)
    run.store.landing = (bag.archive_key, ours if same_tar else b"other", metadata)
    if same_tar:
        steps.upload_step(run, plan, bag.name)
        assert read_marker(run.marker_file(bag.name), bag.content_key).uploaded.reused
    else:
        with pytest.raises(BagError, match="holds other contents; keys are written once"):
            steps.upload_step(run, plan, bag.name)
        assert run.occupied_file(bag.name).exists()
    assert puts(run.store, bag.archive_key) == 2  # theirs, and ours refused
    assert run.store.objects[bag.archive_key][0] == (ours if same_tar else b"other")
