"""`glacier report` as a user sees it: a real browser loads the page, its screenshot is
a page (not blank) of the window's size, and its figures are `doit cost`'s, `doit
prune`'s and the run summary's for the same state. Set GLACIER_REPORT_SHOTS=DIR to
keep the screenshots and pages there."""

import os
import re
import shutil
from pathlib import Path

from tests.support.browser import check_screenshot, view

from .helpers import Project

# prices far above AWS's, so that a test archive of a few MB has a bill in dollars
PRICES = """
[prices]
storage_deep_archive = 500.0
storage_standard = 300.0
put_deep_archive = 2000.0
put_standard = 100.0
retrieval_bulk = 50.0
retrieval_standard = 400.0
transfer_out = 90.0
transfer_out_free_gb = 0
"""
TODAY = "2027-02-01"
DESKTOP, PHONE = (1280, 2400), (390, 3600)
EXTERNAL = re.compile(r"https?:|//[a-z0-9]|\b(src|href)\s*=|url\(|@import|<script|<link|"
                      r"<img|<iframe|<object|<embed", re.IGNORECASE)


def make_atom(data: Path, name: str, size: int = 3_000_000) -> None:
    (data / name).mkdir(parents=True, exist_ok=True)
    (data / name / "blob").write_bytes(os.urandom(size))


def two_year_archive(tmp_path, s3_server, bucket) -> tuple[Project, str]:
    """2026: atoms A-D and an oversized E. 2027: A changed (its old bag pruned), then
    B changed (its old bag prunable)."""
    data = tmp_path / "data"
    for name in "ABCD":
        make_atom(data, name)
    make_atom(data, "E", 6_000_000)  # more than the 4 MB target: a bag past it
    project = Project(tmp_path, s3_server, bucket)
    # increments off: the page's prune figures need a changed atom to move whole
    project.write_config("target_bag_gb = 0.004\nincrement_below = 0\n" + PRICES)
    project.write_list(data)
    for today, changed in (("2026-03-01", None), ("2027-01-15", "A"), (TODAY, "B")):
        if changed:
            (data / changed / "note.txt").write_text(f"{changed} changed\n")
        run = project.run("backup", GLACIER_TODAY=today)
        assert run.returncode == 0, run.stdout + run.stderr
        if changed == "A":
            pruned = project.run("prune", "--delete", "--force", GLACIER_TODAY=today)
            assert re.search(r"^Deleted 2026-backup/\S+\.tar$", pruned.stdout, re.M), \
                pruned.stdout  # A's old bag, with its manifest
    return project, run.stdout


def keep(paths, name: str) -> None:
    shots = os.environ.get("GLACIER_REPORT_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, Path(shots) / f"{name}-{path.name}")


def views(page: Path, tmp_path: Path, name: str) -> list:
    """The page at desktop and phone width (one browser start each): a screenshot that
    is a page, nothing wider than the window, no table that scrolls sideways, no cut
    text."""
    found = []
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        shown = view(page, tmp_path / f"{label}.png", width, height)
        check_screenshot(shown.screenshot, width, height)
        assert shown.inner_width == width, (label, shown.inner_width)
        assert shown.scroll_width <= shown.inner_width, (label, shown.scroll_width)
        assert shown.past_edge == [] and shown.clipped == [], (label, shown.past_edge,
                                                               shown.clipped)
        found.append(shown)
    keep([v.screenshot for v in found] + [page], name)
    return found


def look(page: Path, tmp_path: Path, name: str) -> tuple[dict, str]:
    """views(), then the figures and the DOM at desktop width."""
    desktop, _ = views(page, tmp_path, name)
    return desktop.figures, desktop.dom


def cost_figures(text: str) -> dict:
    found = {}
    for line in text.splitlines():
        if m := re.match(r"^\s+([A-Z_]+)\s+(\d+) objects\s+(.+?)\s+(\$[\d.]+)/month$", line):
            found.update({f"bill-{m[1]}-objects": m[2], f"bill-{m[1]}-bytes": m[3],
                          f"bill-{m[1]}-monthly": m[4]})
        elif m := re.match(r"^\s+total\s+(\$[\d.]+)/month$", line):
            found["monthly-total"] = m[1]
        elif m := re.match(r"^Prunable \(no longer referenced\): (.+)$", line):
            found["prunable-bytes"] = m[1]
        elif m := re.match(r"^Full restore, (\w+) tier: (\$[\d.]+) ", line):
            found[f"restore-everything-{m[1]}"] = m[2]
    return found


def test_report_of_a_two_year_archive_shows_what_cost_prune_and_the_run_print(
        tmp_path, s3_server, bucket):
    project, summary = two_year_archive(tmp_path, s3_server, bucket)
    cost = project.run("cost", GLACIER_TODAY=TODAY)
    prune = project.run("prune", GLACIER_TODAY=TODAY)
    made = project.glacier("report", GLACIER_TODAY=TODAY)
    assert made.returncode == 0, made.stdout + made.stderr
    page = project.root / "report.html"  # beside the inventory
    assert f"Wrote {page}" in made.stdout
    shown, dom = look(page, tmp_path, "two-years")

    expected = cost_figures(cost.stdout)
    assert {"monthly-total", "prunable-bytes", "restore-everything-Bulk",
            "bill-DEEP_ARCHIVE-monthly", "bill-STANDARD-monthly"} <= set(expected)
    assert expected["monthly-total"] != "$0.00"  # the prices make every figure count
    for name, value in expected.items():
        assert shown.get(name) == value, (name, shown.get(name), value)
    assert shown["stored-bytes"] and shown["card-restore-bulk"] == \
        expected["restore-everything-Bulk"]

    would = re.findall(r"^Would delete (?:with --force )?(\S+) .*, (?:early-deletion fee "
                       r"now (\$[\d.]+) "
                       r"\(free from (\d{4}-\d\d-\d\d)\)|no early-deletion fee)$",
                       prune.stdout, re.MULTILINE)
    assert len(would) == prune.stdout.count("Would delete") >= 2, prune.stdout
    assert [key for key, fee, _ in would if fee] == [key for key, _, _ in would
                                                    if key.endswith(".tar")]
    for key, fee, free in would:  # B's old bag (archived: a fee), its manifest (none)
        assert key.startswith("2026-backup/")
        assert shown[f"fee-now:{key}"] == (fee or "$0.0000")
        if free:
            assert shown[f"free-from:{key}"] == free

    counts = re.search(r"Backup 2027: (\d+) bags, (\d+) unchanged, (\d+) uploaded, "
                       r"(\d+) repaired, (\d+) failed", summary)
    for name, value in zip(("planned", "unchanged", "uploaded", "repaired", "failed"),
                           counts.groups()):
        assert shown[f"last-run-{name}"] == value, name
    assert shown["atoms-changed"] == "1" and shown["atoms-added"] == "0"
    assert shown["last-run-result"] == "ok" and shown["last-backup-date"] == TODAY
    assert shown["bags-stored"] == "5" and shown["bags-pending"] == "0"
    assert shown["year-2026-bytes"] and shown["year-2027-bytes"]
    assert shown["verdict"] == "Needs a look"  # never verified
    assert "1 bag larger than target_bag_gb, each holding one atom larger than the " \
        "target: normal" in dom


def test_report_before_the_first_backup(project, tmp_path):
    nothing = project.glacier("report", "--to", str(tmp_path / "out" / "first.html"))
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr
    shown, _ = look(tmp_path / "out" / "first.html", tmp_path, "empty")
    assert shown["stored-bytes"] == "0 B" and shown["monthly-total"] == "$0.00"
    assert shown["prunable-bytes"] == "0 B" and "bags-stored" not in shown

    assert project.run("dryrun").returncode == 0
    planned = project.glacier("report")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    page = project.root / "report.html"
    shown, dom = look(page, tmp_path, "planned")
    plan = project.glacier("list", "--status").stdout
    pending = re.search(r"(\d+) of (\d+) bags pending", plan)
    assert shown["bags-pending"] == pending[1] != "0" and shown["bags-stored"] == "0"
    assert "No backup recorded yet" in dom and "The last dry run" in dom


def test_the_page_references_nothing_outside_itself(tmp_path, s3_server, bucket):
    project, _ = two_year_archive(tmp_path, s3_server, bucket)
    assert project.glacier("report", GLACIER_TODAY=TODAY).returncode == 0
    text = (project.root / "report.html").read_text(encoding="utf-8")
    assert EXTERNAL.search(text) is None, EXTERNAL.search(text)
    assert text.count("<svg") >= 5 and "<style>" in text
