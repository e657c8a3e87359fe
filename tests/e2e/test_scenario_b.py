"""Issue 23: a changed atom moves alone. A yearly run uploads the changed and new atoms,
not the bags around them; the unchanged atoms keep pointing at their old bag, which
stays referenced (never offered by prune) until too little of it is (compact_below).

Twelve 1 MB atoms of random bytes in bags of four, over three years."""

import json
import os
import subprocess

import pytest

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

MB = 1_000_000
YEARS = {year: {"GLACIER_TODAY": f"{year}-03-01"} for year in (2025, 2026, 2027)}


def twelve_atoms(tmp_path, s3_server, bucket, extra=""):
    data = tmp_path / "data"
    for n in range(12):
        (data / f"atom{n:02d}").mkdir(parents=True)
        (data / f"atom{n:02d}" / "blob").write_bytes(os.urandom(MB))
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f"target_bag_gb = 0.0042\n{extra}")
    project.write_list(data)
    project.data = data
    return project


def bags_by_atom(project) -> dict:
    return {atom.rsplit("/", 1)[1]: entry["archive_key"]
            for atom, entry in project.inventory["atoms"].items()}


def bag_bytes_sent(project, year: int) -> int:
    return sum(size for key, (size, _) in project.objects().items()
               if key.startswith(f"{year}-backup/") and key.endswith(".tar"))


def backup(project, year: int):
    done = project.run("backup", **YEARS[year])
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def change(project, name: str):
    (project.data / name / "blob").write_bytes(os.urandom(MB))


def test_three_years_send_only_what_changed(tmp_path, s3_server, bucket):
    project = twelve_atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    first = bags_by_atom(project)
    assert len(set(first.values())) == 3  # bags of four
    groups = {}
    for atom, key in sorted(first.items()):
        groups.setdefault(key, []).append(atom)
    (bag_a, atoms_a), (bag_b, atoms_b), _ = sorted(groups.items())

    # year 2: one atom of bag A changes, one of bag B is removed, one is new
    change(project, atoms_a[0])
    (project.data / atoms_b[0] / "blob").unlink()
    (project.data / atoms_b[0]).rmdir()
    (project.data / "atom99").mkdir()
    (project.data / "atom99" / "blob").write_bytes(os.urandom(MB))
    dry = project.run("dryrun", **YEARS[2026])
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"/{atoms_a[0]}: changed: 0 added, 1 changed, 0 removed; 1 -> 1 file," \
        in dry.stdout, dry.stdout
    assert "/atom99: new: 1 file, 1.0 MB" in dry.stdout, dry.stdout
    assert f"Atoms gone from disk, leaving the inventory: {project.data}/{atoms_b[0]}" \
        in dry.stdout, dry.stdout
    assert "Kept bags holding old versions: 2 bags, 2.0 MB" in dry.stdout, dry.stdout
    done = backup(project, 2026)
    assert "Atoms packed:" in done.stdout, done.stdout  # the backup says it too
    assert f"/{atoms_a[0]}: changed: 0 added, 1 changed, 0 removed; 1 -> 1 file," \
        in done.stdout, done.stdout
    sent = bag_bytes_sent(project, 2026)
    assert 2 * MB <= sent <= 1.1 * 2 * MB, (sent, done.stdout)  # the change, no more
    second = bags_by_atom(project)
    assert second[atoms_a[0]].startswith("2026-backup/")
    assert second["atom99"].startswith("2026-backup/")
    assert atoms_b[0] not in second
    for atom in atoms_a[1:] + atoms_b[1:]:
        assert second[atom] == first[atom], atom  # unchanged atoms kept their bag
    inventory = project.inventory
    assert inventory["bags"][bag_a]["referenced_bytes"] < \
        inventory["bags"][bag_a]["packed_bytes"]
    # both old bags are still needed: prune offers neither, and deletes neither
    pruned = project.run("prune", "--delete", **YEARS[2026])
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert f"{bag_a}: 1.0 MB of 4.0 MB no atom points at any more" in pruned.stdout, \
        pruned.stdout
    bill = project.run("cost", **YEARS[2026])
    assert "Kept bags holding old versions: 2 bags, 2.0 MB" in bill.stdout, bill.stdout
    page = tmp_path / "report.html"
    made = project.glacier("report", "--to", str(page), GLACIER_TODAY="2026-03-01")
    assert made.returncode == 0, made.stdout + made.stderr
    assert '<span data-figure="dead-bytes">2.0 MB</span>' in page.read_text()
    assert bag_a in project.objects() and bag_b in project.objects()
    check_invariant(project)

    # an unchanged atom comes back from its old bag with GNU tar alone (the stock tool)
    tar = project.thaw_and_download(bag_a, tmp_path / "a.tar")
    out = tmp_path / "stock"
    out.mkdir()
    subprocess.run(["tar", "-xSf", str(tar), "-C", str(out), atoms_a[1]], check=True)
    assert (out / atoms_a[1] / "blob").read_bytes() == \
        (project.data / atoms_a[1] / "blob").read_bytes()
    # and a full restore gives today's tree: not the old version of the changed atom,
    # not the removed atom
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)
    # one unchanged atom of bag A: only its own members are downloaded (the index)
    asked = project.glacier("restore", f"{project.data}/{atoms_a[1]}", "--to",
                            str(tmp_path / "one"))
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert f"{bag_a}  4.0 MB to thaw; downloads 1.0 MB: only the members asked for" \
        in asked.stdout, asked.stdout
    # the tool's own restore of the molecule reads only the current atoms of each bag
    mine = tmp_path / "glacier-restored"
    done = project.glacier("restore", str(project.data), "--to", str(mine), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    assert tree_snapshot(mine) == tree_snapshot(project.data)
    found = project.glacier("find", atoms_a[0] + "/blob")
    assert found.stdout.count(atoms_a[0] + "/blob") == 1, found.stdout  # today's copy
    assert "2026-backup/" in found.stdout or "2026" in found.stdout, found.stdout
    # history for free: the old version stays in bag A, and --all-years finds both
    both = project.glacier("find", atoms_a[0] + "/blob", "--all-years")
    lines = [line for line in both.stdout.splitlines() if atoms_a[0] + "/blob" in line]
    assert len(lines) == 2 and any(bag_a in line for line in lines), both.stdout
    gone = project.glacier("find", atoms_b[0])
    assert atoms_b[0] not in gone.stdout, gone.stdout

    # year 3: two more atoms of bag A change: a quarter of it is still referenced, below
    # compact_below = 0.5, so its last atom moves too and bag A becomes history
    change(project, atoms_a[1])
    change(project, atoms_a[2])
    done = backup(project, 2027)
    third = bags_by_atom(project)
    assert all(third[a] != bag_a for a in atoms_a), third
    plan = json.loads((project.state / "plan.json").read_text())
    moved = next(b for b in plan["bags"] if any(a.endswith("/" + atoms_a[3])
                                                for a in b["atoms"]))
    assert any(r.startswith("compacted: 25% of its bytes") for r in moved["reasons"]), \
        moved
    assert bag_a not in project.inventory["bags"]
    assert bag_a in project.inventory.get("history", {})
    assert all(third[a] == first[a] for a in atoms_b[1:])  # bag B still 3/4 referenced
    listed = project.run("prune", **YEARS[2027]).stdout
    offered = [line for line in listed.splitlines() if line.startswith("Would delete")]
    assert any(bag_a in line for line in offered), listed
    assert not any(bag_b in line for line in offered), listed
    assert f"{bag_b}: 1.0 MB of 4.0 MB no atom points at any more" in listed, listed
    check_invariant(project)
    restore_all(project, tmp_path / "restored3")
    assert tree_snapshot(tmp_path / "restored3") == tree_snapshot(project.data)


def test_compact_below_1_sends_the_whole_bag_again(tmp_path, s3_server, bucket):
    project = twelve_atoms(tmp_path, s3_server, bucket, "compact_below = 1\n")
    backup(project, 2025)
    first = bags_by_atom(project)
    bag_a = sorted(set(first.values()))[0]
    atoms_a = sorted(a for a, k in first.items() if k == bag_a)
    change(project, atoms_a[0])
    backup(project, 2026)
    assert 4 * MB <= bag_bytes_sent(project, 2026) <= 1.1 * 4 * MB
    second = bags_by_atom(project)
    assert all(second[a].startswith("2026-backup/") for a in atoms_a)
    assert bag_a in project.inventory.get("history", {})
    check_invariant(project)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "\"half\""])
def test_compact_below_outside_0_to_1_is_one_line(value, tmp_path, s3_server, bucket):
    project = twelve_atoms(tmp_path, s3_server, bucket, f"compact_below = {value}\n")
    result = project.run("backup", **YEARS[2025])
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "compact_below" in out, out
    assert "Traceback" not in out, out
