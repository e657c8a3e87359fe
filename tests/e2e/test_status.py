"""last-run.json and `glacier status`, as a monitor uses them: written at the end of
every backup, dry run and verify; whole after a good run, a failed run and a run
killed with -9; `glacier status` exits non-zero when the last backup failed or is
older than max_age_days."""

import datetime
import json
import os
import re
import signal
import time

from glacier_tasks import cost
from glacier_tasks.bucket.parts import upload_requests

from .helpers import atoms_project

DAY = "2026-03-01"


def last_run(project) -> dict:
    return json.loads((project.state / "last-run.json").read_text())


def later(days: int) -> str:
    return (datetime.date.fromisoformat(DAY) + datetime.timedelta(days=days)).isoformat()


def summary_counts(stdout: str) -> dict:
    found = re.search(r"Backup \d+: (\d+) bags, (\d+) unchanged, (\d+) uploaded, "
                      r"(\d+) repaired, (\d+) failed", stdout)
    return dict(zip(("planned", "unchanged", "uploaded", "repaired", "failed"),
                    map(int, found.groups())))


def test_a_good_backup_records_what_it_did_and_status_is_ok(project):
    run = project.run("backup", GLACIER_TODAY=DAY)
    assert run.returncode == 0, run.stdout + run.stderr
    record = last_run(project)
    assert record["command"] == "backup" and record["exit_status"] == 0
    assert record["version"] == "0.1.0" and record["run_date"] == DAY
    assert record["started_at"] <= record["ended_at"] and record["seconds"] >= 0
    assert record["bags"] == summary_counts(run.stdout)
    assert record["failed"] == {} and record["missing_molecules"] == {}
    bags = project.inventory["bags"].values()
    assert record["atoms"] == {"added": len(project.inventory["atoms"]), "changed": 0,
                               "removed": 0}
    sizes = [b["size"] for b in bags]
    assert record["sent"]["bags"] == len(sizes) and record["sent"]["bytes"] == sum(sizes)
    assert record["sent"]["files"] == sum(a["files"] for a in project.inventory["atoms"]
                                          .values())
    estimate = cost.upload_estimate(sizes, "DEEP_ARCHIVE")
    assert record["sent"]["requests"] == sum(map(upload_requests, sizes)) + len(sizes) \
        == estimate["requests"]
    assert abs(record["sent"]["fee"] - estimate["fee"]) < 1e-12
    assert len((project.state / "last-run.json").read_bytes()) < 4000  # small

    shown = project.glacier("status", GLACIER_TODAY=later(400))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "Last run: backup of 2026-03-01" in shown.stdout and shown.stdout.endswith("OK\n")
    assert "Pending now: 0 bags" in shown.stdout
    scripted = project.glacier("status", "--json", GLACIER_TODAY=later(400))
    data = json.loads(scripted.stdout)
    assert scripted.returncode == 0 and data["now"]["ok"] is True
    assert {k: v for k, v in data.items() if k != "now"} == record

    again = project.run("backup", GLACIER_TODAY=DAY)  # nothing to do: nothing sent
    assert again.returncode == 0
    assert last_run(project)["sent"] == {"bags": 0, "bytes": 0, "requests": 0, "fee": 0.0,
                                         "files": 0}


def test_a_backup_older_than_max_age_days_fails_status(project):
    assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
    old = project.glacier("status", GLACIER_TODAY=later(401))
    assert old.returncode == 1
    assert "401 days old" in old.stdout and "max_age_days (400)" in old.stdout
    assert "missed" in old.stdout and old.stderr == "glacier: status: not OK: 1 problem " \
        "(see above)\n"
    project.write_config("target_bag_gb = 0.004\nmax_age_days = 30")
    assert project.glacier("status", GLACIER_TODAY=later(30)).returncode == 0
    assert project.glacier("status", GLACIER_TODAY=later(31)).returncode == 1


def test_status_before_any_backup_fails_and_says_so(project):
    shown = project.glacier("status")
    assert shown.returncode == 1 and "no backup recorded yet" in shown.stdout
    assert not (project.state / "last-run.json").exists()


def test_a_failed_backup_is_recorded_and_status_fails_until_a_good_one(project, tmp_path):
    assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
    gone = tmp_path / "unplugged"
    project.write_list(project.data, gone)
    failed = project.run("backup", GLACIER_TODAY=later(1))
    assert failed.returncode == 1
    record = last_run(project)
    assert record["exit_status"] == 1 and str(gone) in record["missing_molecules"]
    assert record["bags"] == summary_counts(failed.stdout)
    assert record["latest"]["successful_backup"]["run_date"] == DAY

    shown = project.glacier("status", GLACIER_TODAY=later(2))
    assert shown.returncode == 1
    assert f"MISSING molecule {gone}" in shown.stdout and "failed" in shown.stdout
    # a dry run or a verify since does not hide the failed backup
    assert project.run("dryrun", GLACIER_TODAY=later(2)).returncode == 1
    assert last_run(project)["command"] == "dryrun"
    checked = project.run("verify", GLACIER_TODAY=later(2))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    record = last_run(project)
    assert record["command"] == "verify" and record["exit_status"] == 0
    assert record["latest"]["verify"]["bags"]["checked"] == len(project.inventory["bags"])
    assert record["latest"]["dryrun"]["exit_status"] == 1
    shown = project.glacier("status", GLACIER_TODAY=later(2))
    assert shown.returncode == 1 and "Last verify: " + later(2) + ", all as recorded" \
        in shown.stdout

    project.write_list(project.data)
    assert project.run("backup", GLACIER_TODAY=later(3)).returncode == 0
    assert project.glacier("status", GLACIER_TODAY=later(3)).returncode == 0


def test_a_killed_backup_leaves_the_previous_status_whole(tmp_path, s3_server, bucket):
    project = atoms_project(tmp_path, s3_server, bucket, 4, 3_000_000)
    assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
    before = (project.state / "last-run.json").read_bytes()

    for n in range(4):
        (project.data / f"atom{n}" / "blob").write_bytes(os.urandom(20_000_000))
    proc = project.popen("backup", GLACIER_TODAY=later(1))
    markers, deadline = project.state / "bags", time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            json.loads(m.read_text() or "{}").get("done") and
            m.stat().st_mtime_ns > (project.state / "last-run.json").stat().st_mtime_ns
            for m in markers.glob("*.json")):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the backup ended before the kill"

    assert (project.state / "last-run.json").read_bytes() == before  # whole
    shown = project.glacier("status", GLACIER_TODAY=later(1))
    assert "A newer run did not finish" in shown.stdout
    pending = int(re.search(r"Pending now: (\d+) bags? ", shown.stdout)[1])
    assert 1 <= pending < 4
    # the last finished backup was good and recent, but the newest did not finish
    assert shown.returncode == 1 and "PROBLEM the backup started" in shown.stdout
    assert "did not finish" in shown.stdout
    data_now = json.loads(project.glacier("status", "--json").stdout)["now"]
    assert data_now["unfinished_run"] is True and len(data_now["pending_bags"]) == pending
    assert data_now["ok"] is False and "did not finish" in data_now["problems"][0]
    assert data_now["running"] is False and data_now["unfinished_backup"]["pid"] == proc.pid
    page = project.glacier("report", "--to", str(tmp_path / "page.html"),
                           GLACIER_TODAY=later(1))
    assert page.returncode == 0 and "did not finish" in (tmp_path / "page.html").read_text()

    # the next good backup ends it
    assert project.run("backup", GLACIER_TODAY=later(1)).returncode == 0
    assert project.glacier("status", GLACIER_TODAY=later(1)).returncode == 0
