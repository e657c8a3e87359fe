"""`glacier status` never says OK while the newest backup did not end well: a backup
that failed before its closing report (S3 unreachable, the lock held, the list gone)
or was killed leaves status at exit 1, `ok: false`, with the reason in words and JSON.
A full state folder and a second backup beside a running one each say one line."""

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

from tests.support.s3server import free_port
from tests.support.tmpfs import mounted_tmpfs

from .helpers import atoms_project

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
    # named by the command typed, not the internal step (_bucket) that failed
    assert "backup: " in now["problems"][0] and "_bucket" not in shown.stdout
    assert "glacier: backup: " in failed.stderr and "_bucket" not in failed.stderr
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


def test_a_full_state_folder_is_one_line_and_leaves_no_temp_file(project, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    project.write_config(f'target_bag_gb = 0.004\nstate_dir = "{state}"')
    with mounted_tmpfs(state, "2m"):
        assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
        before = (state / "last-run.json").read_bytes()
        (project.data / "Books" / "new.txt").write_text("a change to back up\n")
        filler = os.open(state / "filler", os.O_WRONLY | os.O_CREAT)  # the disk fills
        try:
            while True:
                os.write(filler, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(filler)
        full = project.run("backup", GLACIER_TODAY=LATER)
        left = [p.name for p in state.rglob("*") if p.name.endswith(".tmp")]
        last_run = (state / "last-run.json").read_bytes()
    assert full.returncode == 1, full.stdout + full.stderr
    errors = full.stderr.strip().splitlines()
    assert len(errors) == 1 and "Traceback" not in full.stdout + full.stderr
    assert "No space left on device; free some space on that disk" in errors[0]
    assert str(state) in errors[0]
    assert left == [] and last_run == before  # nothing half-written, nothing left


def test_a_second_backup_beside_a_running_one_is_one_line(project):
    assert project.run("backup", GLACIER_TODAY=DAY).returncode == 0
    (project.data / "Books" / "new.txt").write_text("a change to back up\n")
    with open(project.state / "lock", "a") as held:  # a running backup holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        beside = project.glacier("backup", "--continue", GLACIER_TODAY=LATER)
    assert beside.returncode != 0
    errors = beside.stderr.strip().splitlines()
    assert len(errors) == 1 and "another glacier run holds" in errors[0], beside.stderr
    assert "crashed" not in beside.stdout + beside.stderr


def test_a_backup_stopped_by_sigterm_records_why(tmp_path, s3_server, bucket):
    project = atoms_project(tmp_path, s3_server, bucket, 4, 20_000_000)
    proc = subprocess.Popen([sys.executable, "-m", "glacier_tasks.cli", "backup"],
                            env=project.env(GLACIER_TODAY=DAY), cwd=project.root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((project.state / "bags").glob("*.json")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGTERM)  # systemctl stop
    proc.communicate()
    assert proc.returncode == 130, "the backup ended before SIGTERM"
    shown, now = status_of(project)
    assert shown.returncode == 1 and "stopped by SIGTERM" in now["problems"][0]
    assert "FAILED (exit 130)" in shown.stdout
