"""ledger.py: one bag's state on disk, read and written in one place, in the files
older versions wrote (so a run they stopped resumes), and the plan's outcomes that
the closing report, the closing lines and `glacier status` read."""

import json
import os
import time

import pytest

from glacier_tasks.backup.ledger import BagLedger, markers, outcomes
from glacier_tasks.backup.marker import BagMarker, ManifestReceipt, Packed, Receipt
from glacier_tasks.backup.plan import Plan, PlannedBag
from glacier_tasks.run import load_run
from tests.test_run import make_config


def planned(n: int, action: str = "upload") -> PlannedBag:
    name = f"host_m_bag_{n:03d}"
    return PlannedBag(name=name, tar_id=f"bag_{n:03d}", molecule="/m",
                      archive_key=f"2027-backup/{name}.tar",
                      manifest_key=f"2027-backup/manifests/{name}.txt", atoms=["/m/a"],
                      size=1000, files=1, action=action, content_key=f"ck{n}")


def plan_of(bags) -> Plan:
    return Plan(year=2027, bags=bags, atoms={}, removed_atoms=[], missing_molecules=[],
                dropped_molecules=[], superseded_bags=[], superseded_molecules={})


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    load_run.cache_clear()
    return load_run(str(make_config(tmp_path / "conf", ["/m"])))


def packed(content: str, size: int = 10, left_out=None) -> Packed:
    return Packed(size, "s", "c", {}, content, left_out=left_out)


def receipt(reused=False, recorded_at="2027-01-15T03:00:00Z") -> Receipt:
    return Receipt(key="k", size=10, etag="e", sha256="s", crc64nvme="c",
                   storage_class="DEEP_ARCHIVE", uploaded_at=recorded_at, reused=reused,
                   recorded_at=recorded_at)


def stage(ledger, size=10) -> None:
    ledger.staged.parent.mkdir(parents=True, exist_ok=True)
    ledger.staged.write_bytes(b"t" * size)


def test_its_files_are_those_older_versions_wrote(run):
    """A run stopped by an older version resumes: same names, same formats."""
    bag = planned(1)
    ledger = BagLedger.of(run, bag)
    ledger.save(BagMarker(bag.content_key, packed=packed(bag.content_key)))
    ledger.fail("host_m_bag_001: the network went")
    ledger.record_repair("2027-backup/host_m_bag_001.tar missing; repaired")
    ledger.record_occupied(bag.archive_key, bag.archive_key, "holds other contents")
    state = run.state_dir
    assert json.loads((state / "bags" / f"{bag.name}.json").read_text())[
        "content_key"] == "ck1"
    assert (state / "failed" / f"{bag.name}.txt").read_text() == \
        "host_m_bag_001: the network went\n"
    assert (state / "repaired" / f"{bag.name}.txt").read_text().startswith("2027-backup/")
    assert json.loads((state / "occupied" / f"{bag.name}.json").read_text()) == {
        "archive_key": bag.archive_key, "key": bag.archive_key,
        "problem": "holds other contents"}
    assert ledger.staged == run.settings.staging_dir / f"{bag.name}.tar"


def test_a_marker_of_other_contents_is_read_as_a_fresh_one(run):
    bag = planned(1)
    BagLedger(run, bag.name, "old contents").save(BagMarker("old contents", done=True))
    assert BagLedger.of(run, bag).marker() == BagMarker(bag.content_key)


def test_a_tar_is_ready_only_whole_and_not_uploaded(run):
    bag = planned(1)
    ledger = BagLedger.of(run, bag)
    stage(ledger, size=10)
    marker = BagMarker(bag.content_key, packed=packed(bag.content_key))
    assert ledger.tar_ready(marker)
    ledger.staged.write_bytes(b"short")
    assert not ledger.tar_ready(marker)
    assert not ledger.tar_ready(BagMarker(bag.content_key))
    ledger.staged.write_bytes(b"t" * 10)
    marker.uploaded = receipt()
    assert not ledger.tar_ready(marker)


def test_the_tar_step_begins_the_bags_run(run):
    """An earlier run's failure and repair are not this one's; what S3 holds stays."""
    ledger = BagLedger.of(run, planned(1))
    ledger.fail("the network went")
    ledger.record_repair("repaired")
    ledger.record_occupied("a", "a", "holds other contents")
    ledger.begin_run()
    assert ledger.failure() is None and ledger.repaired() is None and not ledger.failed
    assert run.occupied_file(ledger.name).exists()


def test_freeing_staging_forgets_the_tar_packed_here(run):
    ledger = BagLedger.of(run, planned(1))
    stage(ledger)
    ledger.staged.with_name(ledger.staged.name + ".members").write_bytes(b"m")
    ledger.packed_now()
    assert ledger.packed_here
    assert not BagLedger(run, ledger.name, "other contents").packed_here
    ledger.free_staging()
    assert not ledger.packed_here and list(ledger.staged.parent.iterdir()) == []


@pytest.mark.parametrize("stage_, waits", [
    ("fresh", "tar pending"), ("packed", "tar done, upload pending"),
    ("resuming", "tar done, upload pending (resumes)"),
    ("uploaded", "tar done, upload done, manifest pending"), ("done", "")])
def test_the_step_a_bag_waits_for(run, stage_, waits):
    bag = planned(1)
    ledger = BagLedger.of(run, bag)
    marker = BagMarker(bag.content_key)
    if stage_ != "fresh":
        stage(ledger)
        marker.packed = packed(bag.content_key)
    marker.upload = {"upload_id": "u"} if stage_ == "resuming" else {}
    marker.uploaded = receipt() if stage_ in ("uploaded", "done") else None
    marker.manifest = ManifestReceipt("m", 1, "s") if stage_ == "done" else None
    marker.done = stage_ == "done"
    ledger.save(marker)
    assert ledger.waiting_for() == waits
    assert ledger.uploaded() is (stage_ in ("uploaded", "done"))
    assert ledger.to_send(1000) == (None if stage_ == "done" else
                                    1000 if stage_ == "fresh" else 10)


def test_a_kept_bag_waits_for_nothing_unless_it_is_repaired(run):
    bag = planned(1, action="keep")
    ledger = BagLedger.of(run, bag)
    assert ledger.kept and ledger.waiting_for() == "" and ledger.settled()
    assert ledger.uploaded() and ledger.finished()  # nothing to send
    ledger.start_again("2027-backup/host_m_bag_001.tar missing; repaired")
    assert ledger.waiting_for() == "tar pending" and not ledger.settled()
    marker = ledger.marker()
    marker.packed = packed(bag.content_key)
    ledger.save(marker)
    assert not ledger.uploaded()  # the repair's tar is to send


def test_sent_since_counts_only_this_runs_own_uploads(run):
    bag = planned(1)
    ledger = BagLedger.of(run, bag)
    started = time.time() - 5
    ledger.save(BagMarker(bag.content_key, uploaded=receipt(recorded_at="2099-01-01")))
    assert ledger.sent_since(started).size == 10
    os.utime(ledger.marker_file, (started - 1, started - 1))  # an earlier run's marker
    assert ledger.sent_since(started) is None
    ledger.save(BagMarker(bag.content_key, uploaded=receipt(reused=True,
                                                            recorded_at="2099-01-01")))
    assert ledger.sent_since(started) is None  # adopted, not sent


def test_outcomes_read_every_bags_ledger_once(run):
    kept, failed, fixed, done, waiting = (planned(1, "keep"), planned(2), planned(3),
                                          planned(4), planned(5))
    plan = plan_of([kept, failed, fixed, done, waiting])
    BagLedger.of(run, failed).fail("host_m_bag_002: the network went")
    for bag, left_out in ((fixed, None), (done, {"/m/a": "a file kept moving"})):
        BagLedger.of(run, bag).save(BagMarker(
            bag.content_key, packed=packed(bag.content_key, left_out=left_out),
            uploaded=receipt(), manifest=ManifestReceipt("m", 1, "s"), done=True))
    BagLedger.of(run, fixed).record_repair("2027-backup/x.tar missing; repaired")
    found = outcomes(run, plan)
    assert found.failures == {failed.name: "host_m_bag_002: the network went"}
    assert found.repaired == {fixed.name: "2027-backup/x.tar missing; repaired"}
    assert found.pending == [failed.name, waiting.name]
    assert found.done == {fixed.name, done.name}
    assert found.left_out == {"/m/a": "a file kept moving"}
    assert set(markers(run, plan)) == {b.name for b in plan.bags}
    assert outcomes(run, None).pending == []
