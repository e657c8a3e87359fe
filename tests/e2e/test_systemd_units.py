"""docs/systemd/: the yearly timer and the service it starts (README "Running unattended").

The unit files are read as text here; where systemd-analyze is installed, it also checks
them (`verify` works offline on unit files, with or without systemd as PID 1)."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "docs" / "systemd"
SERVICE, TIMER = "glacier-backup.service", "glacier-backup.timer"
# what the service's ExecStart names; the test puts an existing script there for verify
EXEC_PLACEHOLDER = "%h/glacier-tasks/.venv/bin/glacier"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def glacier_script() -> Path:
    """The `glacier` console script of the venv running the tests."""
    script = Path(sys.executable).parent / "glacier"
    if not script.exists():
        script = shutil.which("glacier") and Path(shutil.which("glacier"))
    if not script:
        pytest.fail("no glacier console script installed (run `make install`)")
    return script


def test_timer_is_yearly_and_persistent():
    timer = unit(TIMER)["Timer"]
    assert timer["Persistent"] == "true"
    calendar = timer["OnCalendar"]
    assert calendar in ("yearly", "annually") or re.fullmatch(
        r"\*-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])( \d\d:\d\d(:\d\d)?)?", calendar), calendar
    assert unit(TIMER)["Install"]["WantedBy"] == "timers.target"
    assert "Unit" not in timer or timer["Unit"] == SERVICE  # default: the same name


def test_service_runs_glacier_backup():
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    command = service["ExecStart"].split()
    assert command[0] == EXEC_PLACEHOLDER and Path(command[0]).name == "glacier"
    assert command[1:] == ["backup"]
    assert service["Environment"].startswith("GLACIER_CONFIG=")
    assert service["KillMode"] == "mixed"  # SIGTERM to glacier alone: it stops cleanly


def test_systemd_analyze_verify(tmp_path):
    script = glacier_script()
    for name in (SERVICE, TIMER):  # verify insists that ExecStart's file exists
        text = (UNITS / name).read_text().replace(EXEC_PLACEHOLDER, str(script))
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", SERVICE, TIMER],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    # a bad value is only a warning naming the file and line: none may be about ours
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "glacier-backup" in line or str(tmp_path) in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def test_timer_fires_once_a_year():
    calendar = unit(TIMER)["Timer"]["OnCalendar"]
    result = subprocess.run(["systemd-analyze", "calendar", "--iterations=3", calendar],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    elapses = re.findall(r"(\d{4})-(\d\d-\d\d \d\d:\d\d:\d\d)", result.stdout)
    years = [int(year) for year, _ in elapses]
    assert len(elapses) == 3 and len({rest for _, rest in elapses}) == 1, result.stdout
    assert years == [years[0], years[0] + 1, years[0] + 2], result.stdout


def test_a_daily_status_check_reports_a_failure():
    service = unit("glacier-status.service")
    assert service["Service"]["ExecStart"].split() == [EXEC_PLACEHOLDER, "status"]
    assert service["Unit"]["OnFailure"] == "glacier-notify@%n.service"
    assert unit("glacier-status.timer")["Timer"]["OnCalendar"] == "*-*-* 09:00:00"
    assert "%i" in unit("glacier-notify@.service")["Service"]["ExecStart"]
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "calendar", "--iterations=2",
                                 "*-*-* 09:00:00"], capture_output=True, text=True)
        days = re.findall(r"\d{4}-\d\d-(\d\d) 09:00:00", result.stdout)
        assert len(days) == 2 and days[0] != days[1], result.stdout


def test_systemd_analyze_verifies_the_status_and_notify_units(tmp_path):
    script = glacier_script()
    names = ("glacier-status.service", "glacier-status.timer", "glacier-notify@.service")
    for name in names:
        text = (UNITS / name).read_text().replace(EXEC_PLACEHOLDER, str(script))
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", names[0], names[1],
                             "glacier-notify@glacier-status.service.service"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "glacier-" in line or str(tmp_path) in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
