"""status.py: last-run.json's record agrees with the run summary's words, is carried
forward atomically, and `health` decides the exit status a monitor sees."""

import datetime
import json
import os

import pytest

from glacier_tasks.report import text as report, last_run as status, run_start
from glacier_tasks import units
from glacier_tasks.backup.marker import BagMarker, Receipt, write_marker
from glacier_tasks.backup.plan import Plan, PlannedBag
from tests.support import builders
from tests.support.builders import planned_bag, typed
from glacier_tasks.run import load_run

from .test_run import make_config

D = datetime.date


def bag(n: int, action: str = "upload", size: int = 30_000_000) -> PlannedBag:
    return planned_bag(n, size=size, files=3, action=action,
                       reasons=["new atom"] if action == "upload" else [],
                       content_key=f"ck{n}")


def plan_of(bags, missing=(), removed=()) -> Plan:
    return builders.plan_of(bags, missing=missing, removed=removed, atoms={
        a: {"last_metadata_hash": "h"} for b in bags for a in b.atoms})


@pytest.mark.parametrize("failures, repaired, missing", [
    ({}, {}, []),
    ({"h_m_bag_002": "disk full"}, {}, []),
    ({}, {"h_m_bag_001": "2027-backup/h_m_bag_001.tar missing; repaired"}, []),
    ({}, {"h_m_bag_002": "2027-backup/h_m_bag_009.tar has 4 bytes; repaired"}, []),
    ({"h_m_bag_003": "x"}, {"h_m_bag_001": "r"}, ["/gone"]),
])
def test_bag_counts_are_the_closing_reports(failures, repaired, missing):
    plan = plan_of([bag(1, "keep"), bag(2), bag(3), bag(4, "keep")], missing)
    text, ok = report.run_report(plan, failures, repaired)
    counts = report.bag_counts(plan, failures, repaired)
    assert (f"Backup 2027: {counts['planned']} bags, {counts['unchanged']} unchanged, "
            f"{counts['uploaded']} uploaded, {counts['repaired']} repaired, "
            f"{counts['failed']} failed") in text
    # each bag counted once
    assert counts["unchanged"] + counts["uploaded"] + counts["repaired"] + \
        counts["failed"] == counts["planned"]


def test_planned_figures_are_the_dry_runs():
    class Settings:
        prices, s3_bucket, storage_class, target_bag_gb = None, "b", "DEEP_ARCHIVE", 40
        staging_bags, staging_dir, region = 2, "stage", None

    plan = plan_of([bag(1, "keep", 7_000_000_000), bag(2, size=900_000_000)])
    text = report.plan_summary(plan, Settings())
    p = status.planned_figures(plan, Settings())
    assert p["bags"] == 1 and (f"To upload: 1 bag, {report.human(p['bytes'])}, {p['requests']} "
            f"PUT requests, fee about ${p['fee']:.4f}") in text
    assert (f"Stored after the run: {p['stored_bags']} bags, "
            f"{report.human(p['stored_bytes'])}, about ${p['monthly']:.2f} per month") in text


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    load_run.cache_clear()
    yield load_run(str(make_config(tmp_path / "conf", ["/m"])))
    load_run.cache_clear()


def receipt(size: int, reused: bool, recorded_at: str) -> Receipt:
    return Receipt(key="k", size=size, etag="e", sha256="s", crc64nvme="c",
                   storage_class="DEEP_ARCHIVE", uploaded_at=recorded_at, reused=reused,
                   recorded_at=recorded_at, parts=1)


def test_sent_counts_only_bags_this_run_uploaded(run):
    started = 1_800_000_000.0
    plan = plan_of([bag(1), bag(2), bag(3), bag(4, "keep")])
    now = units.iso_utc(started + 5)
    for b, rec in ((bag(1), receipt(100, False, now)),            # sent by this run
                   (bag(2), receipt(200, True, now)),             # adopted: not sent
                   (bag(3), receipt(300, False, units.iso_utc(started - 60)))):  # earlier
        path = run.marker_file(b.name)
        write_marker(path, BagMarker(b.content_key, uploaded=rec, done=True))
        os.utime(path, (started + 5, started + 5))
    sent = status.sent_figures(run, plan, started)
    assert sent["bags"] == 1 and sent["bytes"] == 100 and sent["requests"] == 2
    # a marker last written before this run began was not sent by it, whatever the
    # second its receipt names
    os.utime(run.marker_file("h_m_bag_001"), (started - 0.5, started - 0.5))
    assert status.sent_figures(run, plan, started)["bags"] == 0


def test_atom_changes_against_the_inventory_before_the_run():
    plan = plan_of([bag(1), bag(2)], removed=["/m/old"])
    plan.atoms["/m/a2"].last_metadata_hash = "new"
    before = {"atoms": {"/m/a2": {"last_metadata_hash": "h-old"}, "/m/old": {}}}
    assert status.atom_changes(plan, typed(before)) == {"added": 1, "changed": 1, "removed": 1}


def test_the_file_carries_the_latest_of_each_kind(run):
    good = {"command": "backup", "run_date": "2027-01-15", "exit_status": 0, "format": 1,
            "bags": {"failed": 0}}
    status.write_status(run.last_run_file, good)
    bad = {**good, "run_date": "2027-01-16", "exit_status": 1}
    status.write_status(run.last_run_file, bad)
    status.write_status(run.last_run_file, {"command": "verify", "format": 1,
                                            "run_date": "2027-01-17", "exit_status": 0})
    data = status.read_status(run.last_run_file)
    assert data["command"] == "verify"
    assert data["latest"]["backup"]["run_date"] == "2027-01-16"
    assert data["latest"]["successful_backup"]["run_date"] == "2027-01-15"
    assert data["latest"]["verify"]["exit_status"] == 0
    assert "latest" not in data["latest"]["backup"]  # no nesting: the file stays small
    assert not list(run.last_run_file.parent.glob(".*tmp"))  # written via a temp file


def test_the_file_keeps_the_last_upload_and_the_years_atoms(run):
    def backup(day: str, sent: int, **names) -> dict:
        return {"command": "backup", "run_date": day, "exit_status": 0, "format": 1,
                "year": int(day[:4]), "bags": {"failed": 0},
                "sent": {"bags": sent, "bytes": sent * 10, "requests": 2 * sent,
                         "fee": 0.0001 * sent},
                "atom_names": {"added": [], "changed": [], "removed": [], **names}}
    status.write_status(run.last_run_file, backup("2027-01-15", 2, added=["/m/g"],
                                                  changed=["/m/a"], removed=["/m/b"]))
    status.write_status(run.last_run_file, backup("2027-01-20", 0, changed=["/m/c"]))
    data = status.read_status(run.last_run_file)
    assert data["latest"]["upload"]["run_date"] == "2027-01-15"
    assert data["latest"]["upload"]["sent"] == {"bags": 2, "bytes": 20, "requests": 4,
                                                "fee": 0.0002}
    assert data["latest"]["year_atoms"] == {"year": 2027, "added": ["/m/g"],
                                            "changed": ["/m/a", "/m/c"],
                                            "removed": ["/m/b"]}
    assert "atom_names" not in data and "atom_names" not in data["latest"]["backup"]


def test_a_damaged_or_foreign_file_reads_as_none(run):
    run.last_run_file.parent.mkdir(parents=True, exist_ok=True)
    run.last_run_file.write_text("{half")
    assert status.read_status(run.last_run_file) is None
    run.last_run_file.write_text(json.dumps({"format": 99}))
    assert status.read_status(run.last_run_file) is None


def record(day: str, exit_status: int) -> dict:
    backup = {"command": "backup", "run_date": day, "exit_status": exit_status,
              "bags": {"failed": 1 if exit_status else 0}, "missing_molecules": {}}
    latest = {"backup": backup}
    if exit_status == 0:
        latest["successful_backup"] = backup
    return {**backup, "latest": latest}


@pytest.mark.parametrize("data, inventory, today, problem", [
    (None, {}, D(2027, 1, 1), "no backup recorded yet"),
    (record("2027-01-15", 0), {}, D(2028, 2, 19), None),       # 400 days: still fine
    (record("2027-01-15", 0), {}, D(2028, 2, 20), "401 days old"),
    (record("2027-01-15", 1), {}, D(2027, 1, 16), "failed: 1 bag failed"),
    (None, {"run_date": "2027-01-15"}, D(2027, 6, 1), None),  # before last-run.json
    (None, {"run_date": "2025-01-15"}, D(2027, 6, 1), "days old"),
])
def test_health_decides_the_exit_status(data, inventory, today, problem):
    found = status.health(data, typed(inventory), today, 400)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_a_failed_backup_after_a_good_one_still_reports_the_good_ones_age():
    data = record("2027-01-16", 1)
    data["latest"]["successful_backup"] = record("2026-01-15", 0)
    found = status.health(data, typed({}), D(2027, 2, 25), 400)
    assert len(found) == 2 and "406 days old" in found[1]


def test_unfinished_run_is_a_plan_or_marker_newer_than_the_record(run):
    assert status.unfinished_since(run) is False  # nothing recorded yet
    status.write_status(run.last_run_file, record("2027-01-15", 0))
    run.plan_file.write_text("{}")
    os.utime(run.plan_file, ns=(0, run.last_run_file.stat().st_mtime_ns - 1))
    assert status.unfinished_since(run) is False
    write_marker(run.marker_file("h_m_bag_001"), BagMarker("ck1"))
    os.utime(run.marker_file("h_m_bag_001"),
             ns=(0, run.last_run_file.stat().st_mtime_ns + 1))
    assert status.unfinished_since(run) is True


def test_summary_names_failures_missing_molecules_and_pending_bags():
    data = record("2027-01-15", 1)
    data.update({"started_at": "2027-01-15T03:00:00Z", "seconds": 61.0, "year": 2027,
                 "bags": {"planned": 3, "unchanged": 1, "uploaded": 1, "repaired": 0,
                          "failed": 1},
                 "atoms": {"added": 1, "changed": 0, "removed": 0},
                 "sent": {"bags": 1, "bytes": 10**9, "requests": 3, "fee": 0.0002},
                 "failed": {"h_m_bag_002": "disk full"},
                 "missing_molecules": {"/gone": "folder not found"}})
    lines = status.summary_lines(data, typed({}), ["h_m_bag_002"], False, D(2027, 1, 16), 400)
    text = "\n".join(lines)
    assert "FAILED (exit 1)" in text and "FAILED bag h_m_bag_002: disk full" in text
    assert "MISSING molecule /gone: folder not found" in text
    assert "Pending now: 1 bag to upload (h_m_bag_002)" in text
    assert "sent: 1 bag, 1.0 GB, 3 requests" in text
    assert lines[-2].startswith("PROBLEM the last backup (2027-01-15) failed")
    assert lines[-1] == "PROBLEM no successful backup recorded yet"


def test_a_backup_start_without_a_recorded_end_is_a_problem():
    started = {"run_id": "2027-01-15T03:00:00Z/41", "pid": 41,
               "started_at": "2027-01-15T03:00:00Z"}
    good = {"command": "backup", "run_date": "2027-01-10", "exit_status": 0,
            "run_id": "old"}
    data = {**good, "latest": {"backup": good, "successful_backup": good,
                               "backup_ends": ["old"]}}
    assert run_start.unfinished(data, None) is None
    assert run_start.unfinished(data, started) == started
    found = status.health(data, typed({}), D(2027, 1, 16), 400, started)
    assert len(found) == 1 and "did not finish" in found[0]
    assert "still running" in status.health(data, typed({}), D(2027, 1, 16), 400, started,
                                            running=True)[0]
    # a run refused by the lock recorded its end since: the started one is still open
    refused = {**good, "exit_status": 1, "run_id": "refused",
               "stopped_before_report": ["_lock: another glacier run holds it"]}
    data["latest"].update(backup=refused, backup_ends=["old", "refused"])
    assert run_start.unfinished(data, started) == started
    data["latest"]["backup_ends"].append(started["run_id"])
    assert run_start.unfinished(data, started) is None
    assert "failed before its report: _lock" in status.health(data, typed({}), D(2027, 1, 16),
                                                              400)[0]
