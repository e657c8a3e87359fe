"""`glacier report` does not cry wolf and reads at a glance (issue 26), checked in a real
browser at desktop and phone width: a bag larger than the target because its one atom
is, is normal and said in grey; a stale verify is not green; each molecule keeps one
colour on every chart; bag bars are labelled and 2x and 3x differ; a small bill shows
its cents; the last run that uploaded stays in sight; this year's atom changes are
named; nothing is wider than a 390 px phone."""

import html
import os
import re
from pathlib import Path

from .helpers import Project
from .test_report import keep, views

MOLECULES = {"Photos": {"A": 3, "B": 3}, "Disks": {"E": 8, "H": 12, "F": 1, "K": 1}}


def make_atom(folder: Path, megabytes: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "blob").write_bytes(os.urandom(int(megabytes * 1_000_000)))


def archive(tmp_path, s3_server, bucket) -> tuple[Project, dict]:
    """2026: Photos (A, B) and Disks (E twice the 4 MB target, H three times, F and K
    sharing a bag), verified. 2027-01-15: A changed, G added, B removed. 2027-01-20:
    a backup with nothing to send."""
    folders = {name: tmp_path / name for name in MOLECULES}
    for name, atoms in MOLECULES.items():
        for atom, size in atoms.items():
            make_atom(folders[name] / atom, size)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.004\nmax_age_days = 300")
    project.write_list(*folders.values())
    steps = [("backup", "2026-03-01"), ("verify", "2026-03-01"), ("change", "2027-01-15"),
             ("backup", "2027-01-15"), ("backup", "2027-01-20")]
    for command, today in steps:
        if command == "change":
            (folders["Photos"] / "A" / "note.txt").write_text("changed\n")
            make_atom(folders["Photos"] / "G", 1)
            for path in (folders["Photos"] / "B").iterdir():
                path.unlink()
            (folders["Photos"] / "B").rmdir()
            continue
        done = project.glacier(command, GLACIER_TODAY=today)
        assert done.returncode == 0, (command, today, done.stdout + done.stderr)
    return project, {name: str(path) for name, path in folders.items()}


def checks(page_text: str) -> list:
    """(level, text) of the Health list's items."""
    return [(level, html.unescape(text)) for level, text in
            re.findall(r'<li class="(ok|info|warn|fail)">([^<]*)</li>', page_text)]


def colours_by_section(dom: str) -> dict:
    """section id -> {label: set of colours} of its bars and legend swatches."""
    found = {}
    for section, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', dom, re.S):
        for colour, label in re.findall(r'(?:fill="|background:)([^";]+)"?[^>]*?'
                                        r'data-label="([^"]*)"', body):
            found.setdefault(section, {}).setdefault(html.unescape(label),
                                                     set()).add(colour)
    return found


def test_a_calm_archive_reads_calm_and_fits_a_phone(tmp_path, s3_server, bucket):
    project, folders = archive(tmp_path, s3_server, bucket)
    page = project.root / "report.html"

    made = project.glacier("report", GLACIER_TODAY="2027-02-01")
    assert made.returncode == 0, made.stdout + made.stderr
    stale = page.read_text(encoding="utf-8")
    said = checks(stale)
    assert ("warn", "Last verify 2026-03-01 is 337 days old, more than max_age_days "
            "(300): run 'glacier verify'") in said, said
    assert not any("verify" in text for level, text in said if level == "ok")
    assert [level for level, _ in said if level in ("warn", "fail")] == ["warn"]
    assert 'data-figure="verdict">Needs a look<' in stale

    assert project.glacier("verify", GLACIER_TODAY="2027-02-01").returncode == 0
    assert project.glacier("report", GLACIER_TODAY="2027-02-01").returncode == 0
    desktop, phone = views(page, tmp_path, "calm")  # no overflow, tables fit 390 px
    shown, dom = desktop.figures, desktop.dom

    said = checks(dom)
    assert shown["verdict"] == "All is well", said
    assert ("info", "2 bags larger than target_bag_gb, each holding one atom larger "
            "than the target: normal, such an atom gets a bag of its own") in said
    assert [level for level, _ in said if level in ("warn", "fail")] == []
    assert "one atom larger than the target: normal" in dom  # the table says why

    # one colour per molecule, the same on every chart, and no two molecules alike
    by_section = colours_by_section(dom)
    palette = {}
    for section in ("storage", "bags", "money"):
        for name, folder in folders.items():
            assert len(by_section[section][folder]) == 1, (section, name, by_section)
            palette.setdefault(folder, by_section[section][folder])
            assert by_section[section][folder] == palette[folder], (section, name)
    assert palette[folders["Photos"]] != palette[folders["Disks"]]

    # every bag's bar is labelled with its tar_id, size and fill; 3x is longer than 2x;
    # A's change (one small note) went up as an increment of a few KB, said as one
    inventory = project.inventory
    increments = {key for atom in inventory["atoms"].values()
                  for key in atom.get("increments", [])}
    assert len(increments) == 1, inventory["atoms"]
    for key, bag in inventory["bags"].items():
        fill = bag["size"] / 4_000_000
        assert f'title="{key}">{bag["tar_id"]}</span>' in dom, key
        unit = "KB" if key in increments else "MB"
        assert re.search(rf'data-bag="{re.escape(key)}"[^>]*>.*?</svg><span class="val">'
                         rf'[\d.]+ {unit} · {fill:.0%}</span>', dom), (key, fill)
        said = re.search(rf'data-bag="{re.escape(key)}"[^>]*><title>([^<]*)</title>', dom)
        assert ("an increment of an atom of" in said[1]) == (key in increments), said[1]
    for seen in (desktop, phone):
        widths = {round(b["fill"]): b["width"] for b in seen.bag_bars if b["fill"] > 1.5}
        assert set(widths) == {2, 3} and 1.4 < widths[3] / widths[2] < 1.6, widths
        assert all(b["width"] > 0 for b in seen.bag_bars)

    # a bill of a few MB at AWS's prices still shows its amount, never $0.00
    for name in ("monthly-total", "year-2026-monthly", "year-2027-monthly",
                 "year-2026-upload-fee", "card-restore-bulk"):
        assert re.fullmatch(r"\$0\.0*[1-9]\d?", shown[name]), (name, shown[name])

    # the last backup sent nothing: the one that did is still shown
    assert shown["last-run-uploaded"] == "0" and shown["last-backup-date"] == "2027-01-20"
    assert shown["last-upload-date"] == "2027-01-15"
    assert re.search(r"Last upload</dt><dd>.*?2027-01-15</span>: \d+ bags?, ", dom)

    # what the year's backups changed, counted and named
    assert (shown["year-atoms-changed"], shown["year-atoms-added"],
            shown["year-atoms-removed"]) == ("1", "1", "1")
    photos = folders["Photos"]
    for kind, atom in (("changed", "A"), ("added", "G"), ("removed", "B")):
        assert re.search(rf'data-figure="year-atoms-{kind}">1</span> {kind}</summary>'
                         rf'<ul class="names"><li>{re.escape(photos)}/{atom}</li>', dom)
    keep([page], "calm")
