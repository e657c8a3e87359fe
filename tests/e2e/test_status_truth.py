"""`glacier status` never says OK while the newest backup did not end well: a backup
that failed before its closing report (S3 unreachable, the lock held, the list gone)
or was killed leaves status at exit 1, `ok: false`, with the reason in words and JSON.
A full state folder and a second backup beside a running one each say one line."""

import fcntl
import json
import os

from tests.s3server import free_port

DAY = "2026-03-01"
LATER = "2026-03-02"


def status_of(project) -> tuple:
    shown = project.glacier("status", GLACIER_TODAY=LATER)
    data = json.loads(project.glacier("status", "--json", GLACIER_TODAY=LATER).stdout)
    return shown, data["now"]


def test_a_backup_that_fails_before_its_report_makes_status_fail(project):
    assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
    assert status_of(project)[0].returncode == 0

    # S3 unreachable at _bucket: nothing reaches the closing report
    project.config.write_text(project.config.read_text().replace(
        project.server.endpoint, f"http://127.0.0.1:{free_port()}"))
    failed = project.run("backup", GLACIER_TODAY=LATER, GLACIER_S3_ATTEMPTS="1")
    assert failed.returncode != 0 and "_report" not in failed.stdout
    shown, now = status_of(project)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert now["ok"] is False and "failed before its report" in now["problems"][0]
    assert "_bucket" in now["problems"][0] and "_bucket" in shown.stdout
    assert shown.stdout.count("\n") < 20 and "PROBLEM" in shown.stdout

    # the lock held by another process: refused, and status says why
    project.write_config("target_bag_gb = 0.004")
    with open(project.state / "lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = project.run("backup", GLACIER_TODAY=LATER)
    assert refused.returncode == 1 and "another glacier run holds" in refused.stderr
    shown, now = status_of(project)
    assert shown.returncode == 1 and "another glacier run holds" in now["problems"][0]

    # the list file gone (a user's mistake found by the run, not at load)
    os.replace(project.root / "list.txt", project.root / "list.old")
    assert project.run("backup", GLACIER_TODAY=LATER).returncode == 1
    shown, now = status_of(project)
    assert shown.returncode == 1 and "list file not found" in now["problems"][0]

    os.replace(project.root / "list.old", project.root / "list.txt")
    assert project.run("backup", GLACIER_TODAY=LATER).returncode == 0
    shown, now = status_of(project)
    assert shown.returncode == 0 and now["ok"] is True and shown.stdout.endswith("OK\n")
