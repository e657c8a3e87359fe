"""Odd metadata never stops a run: an mtime Python's dates cannot hold is written in a
defined form, and names that are not UTF-8 are escaped in every line the user reads."""

import os

import pytest

from glacier_tasks.formats import manifest
from glacier_tasks.report import text as report
from glacier_tasks.backup.plan import Plan

FAR_FUTURE_NS = 300_000_000_000 * 10**9  # the year 11476: more than 64 bits of ns


@pytest.mark.parametrize("mtime_ns, shown", [
    (0, "1970-01-01T00:00:00Z"),
    (-1, "1969-12-31T23:59:59Z"),
    (1_700_000_000_999_999_999, "2023-11-14T22:13:20Z"),
    (253_402_300_799 * 10**9, "9999-12-31T23:59:59Z"),
    (FAR_FUTURE_NS, "9999-12-31T23:59:59Z"),
    (-(10**30), "0001-01-01T00:00:00Z"),
])
def test_mtime_is_iso_utc_and_clamped_to_the_years_1_to_9999(mtime_ns, shown):
    assert manifest.iso_time(mtime_ns) == shown


def test_manifest_line_of_a_file_from_the_far_future(tmp_path):
    path = tmp_path / "f"
    path.write_text("hello\n")
    st = os.lstat(path)
    line = manifest.entry_line(b"A/f", st.st_mode, 6, FAR_FUTURE_NS)
    assert line == "A/f\t6\t9999-12-31T23:59:59Z\n"
    entry = manifest.read_entry(line)
    assert (entry.name, entry.size, entry.mtime) == (b"A/f", 6, "9999-12-31T23:59:59Z")


def plan_with(removed=(), missing=()) -> Plan:
    return Plan(year=2027, bags=[], atoms={}, removed_atoms=list(removed),
                missing_molecules=list(missing), dropped_molecules=[], superseded_bags=[],
                superseded_molecules={}, missing_reasons={m: "folder not found"
                                                          for m in missing})


def test_report_escapes_names_that_are_not_utf8():
    odd = os.fsdecode(b"/data/caf\xe9-\xff")
    text, ok = report.run_report(plan_with(removed=[odd], missing=[odd + "/m"]), {})
    text.encode("utf-8")  # a strict UTF-8 stdout takes it
    assert "/data/caf\\xe9-\\xff" in text and not ok


def test_plan_summary_escapes_names_that_are_not_utf8():
    class Settings:
        prices = None
        s3_bucket, storage_class, target_bag_gb = "b", "DEEP_ARCHIVE", 40
        region = "us-east-1"

    odd = os.fsdecode(b"/data/\xff")
    text = report.plan_summary(plan_with(removed=[odd + "/A"]), Settings())
    text.encode("utf-8")
    assert "/data/\\xff/A" in text
