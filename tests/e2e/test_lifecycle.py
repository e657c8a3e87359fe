"""The yearly life of an archive: year two, pinning, prune, bootstrap from the bucket."""

import datetime
import os
import shutil
import subprocess
import sys

from .helpers import Project, restore_all, tree_snapshot


def make_atoms(data, *names):
    for name in names:
        (data / name / "sub").mkdir(parents=True, exist_ok=True)
        (data / name / "sub" / "blob").write_bytes(os.urandom(3_000_000))
        (data / name / "readme.txt").write_text(f"{name}\n")


def after_days(days: int) -> str:
    """GLACIER_TODAY that many days after the clock's today, when the server stamped the
    uploads (prune ages objects by their LastModified, which no variable moves)."""
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


def test_two_years_with_pin_then_prune(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    make_atoms(data, "A", "B", "C", "D")
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    # increments off: this is about changed atoms moving whole and their old bags pruned
    project.write_config("target_bag_gb = 0.004\nincrement_below = 0")
    project.write_list(data)
    assert project.run("backup", GLACIER_TODAY="2026-03-01").returncode == 0
    first = project.inventory
    assert len(first["bags"]) == 4

    pinned = project.run("pin", "--path", f"{data}/D/sub/blob")
    assert pinned.returncode == 0, pinned.stderr
    assert project.inventory["atoms"][f"{data}/D"]["pinned"] is True
    (data / "A" / "readme.txt").write_text("A, edited\n")
    (data / "D" / "readme.txt").write_text("D, edited\n")
    make_atoms(data, "E")
    shutil.rmtree(data / "B")

    year2 = {"GLACIER_TODAY": "2027-01-15"}
    pinned_inventory = project.inventory
    dry = project.run("dryrun", **year2)
    assert dry.returncode == 0, dry.stderr
    assert "changed atom" in dry.stdout and "new atom" in dry.stdout
    assert "pinned" in dry.stdout and "old bags become prunable" in dry.stdout
    assert project.inventory == pinned_inventory  # untouched by the dry run
    run = project.run("backup", **year2)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Left the inventory (gone from disk): {data}/B" in run.stdout
    second = project.inventory
    atoms = second["atoms"]
    assert f"{data}/B" not in atoms
    assert atoms[f"{data}/C"] == first["atoms"][f"{data}/C"]  # unchanged: same object
    for name in ("A", "D", "E"):
        assert atoms[f"{data}/{name}"]["archive_key"].startswith("2027-backup/"), name
    assert atoms[f"{data}/D"]["tar_id"] == first["atoms"][f"{data}/D"]["tar_id"]
    assert atoms[f"{data}/D"]["pinned"] is True

    superseded = {first["atoms"][f"{data}/{n}"]["archive_key"] for n in "ABD"}
    listed = project.run("prune")
    assert listed.returncode == 0, listed.stderr
    for key in superseded:  # young: --delete alone keeps them
        assert f"Would delete with --force {key}" in listed.stdout
    assert "Deleted" not in listed.stdout
    young = project.run("prune", "--delete", GLACIER_TODAY=after_days(20))
    assert young.returncode == 0, young.stderr
    # each superseded bag: its tar, its manifest and its member index
    assert "Deleted" not in young.stdout and young.stdout.count("Kept ") == 9
    assert superseded <= set(project.objects())
    old = project.run("prune", "--delete", GLACIER_TODAY=after_days(200))
    assert old.returncode == 0, old.stderr
    assert old.stdout.count("Deleted ") == 9
    left = set(project.objects())
    assert not superseded & left
    referenced = set(second["bags"]) | {b["manifest_key"] for b in second["bags"].values()} \
        | {b["manifest_key"][:-len(".txt")] + ".idx" for b in second["bags"].values()}
    assert left - referenced == {k for k in left if "/system/" in k or
                                 k.startswith("glacier-hosts/")}
    assert {k.split("/")[0] for k in left if "/system/" in k} == {"2026-backup",
                                                                "2027-backup"}
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(data)
    before = len(project.bag_puts())
    assert project.run("backup", **year2).returncode == 0
    assert len(project.bag_puts()) == before


def test_two_years_with_increments_then_prune(tmp_path, s3_server, bucket):
    """The same year two with increments (the default): an edit goes up as an increment
    on its base; a pinned atom is packed whole again with its tar_id (README); prune
    deletes the bags of the atom gone from disk and of the pinned atom's old copy,
    never a bag of a chain."""
    data = tmp_path / "data"
    make_atoms(data, "A", "B", "C", "D")
    (data / "A" / "sub" / "old.txt").write_text("deleted in year two\n")
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)
    assert project.run("backup", GLACIER_TODAY="2026-03-01").returncode == 0
    first = project.inventory
    assert project.run("pin", "--path", f"{data}/D").returncode == 0
    (data / "A" / "readme.txt").write_text("A, edited\n")
    (data / "D" / "readme.txt").write_text("D, edited\n")
    (data / "A" / "sub" / "old.txt").unlink()
    make_atoms(data, "E")
    shutil.rmtree(data / "B")
    run = project.run("backup", GLACIER_TODAY="2027-01-15")
    assert run.returncode == 0, run.stdout + run.stderr
    atoms = project.inventory["atoms"]
    for name in ("A", "C"):  # the bases stay; A's edit and deletion: one increment
        assert atoms[f"{data}/{name}"]["archive_key"] == \
            first["atoms"][f"{data}/{name}"]["archive_key"], name
        assert len(atoms[f"{data}/{name}"].get("increments", [])) == (name == "A"), name
    pinned = atoms[f"{data}/D"]
    assert pinned["pinned"] is True and "increments" not in pinned
    assert pinned["archive_key"].startswith("2027-backup/")
    assert pinned["tar_id"] == first["atoms"][f"{data}/D"]["tar_id"]
    chains = {key for entry in atoms.values()
              for key in (entry["archive_key"], *entry.get("increments", []))}
    gone = {first["atoms"][f"{data}/{name}"]["archive_key"] for name in "BD"}
    assert not gone & chains

    listed = project.run("prune", GLACIER_TODAY=after_days(200))
    assert {line.split(" ")[2] for line in listed.stdout.splitlines()
            if line.startswith("Would delete ") and line.split(" ")[2].endswith(".tar")} \
        == gone, listed.stdout
    old = project.run("prune", "--delete", GLACIER_TODAY=after_days(200))
    assert old.returncode == 0, old.stderr
    assert old.stdout.count("Deleted ") == 6  # each bag, its manifest and member index
    left = set(project.objects())
    assert not gone & left and chains <= left
    restored = tmp_path / "restored"
    restore_all(project, restored)  # by hand: bases, then each increment in order
    assert tree_snapshot(restored) == tree_snapshot(data)
    assert not (restored / "A" / "sub" / "old.txt").exists()


def test_prune_refuses_without_an_inventory(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(tmp_path)
    result = project.run("prune", "--delete")
    assert result.returncode == 1
    assert "no inventory" in result.stderr and "Traceback" not in result.stderr


def test_bootstrap_from_the_bucket_alone_then_backup_uploads_nothing(
        tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    make_atoms(data, "A", "B", "C")
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)
    assert project.run("backup").returncode == 0
    original = project.inventory
    list_text = (tmp_path / "list.txt").read_text()
    for gone in ("inventory.json", "inventory.json.bak", "list.txt",
                 "inventory_dryrun.json"):
        (tmp_path / gone).unlink(missing_ok=True)
    for gone in (".glacier-state", "manifests", "stage"):
        shutil.rmtree(tmp_path / gone, ignore_errors=True)
    writes = [r for r in s3_server.requests() if r.startswith(("PUT ", "POST "))
              and f"/{bucket}/" in r]

    result = project.run("bootstrap")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.inventory == original
    assert (tmp_path / "list.txt").read_text() == list_text
    manifests = tmp_path / "manifests"
    assert sorted(p.relative_to(manifests).as_posix() for p in manifests.rglob("*.txt")) \
        == sorted(b["manifest_key"] for b in original["bags"].values())

    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    after = [r for r in s3_server.requests() if r.startswith(("PUT ", "POST "))
             and f"/{bucket}/" in r]
    # not a bag, not a manifest, not a system file, not even a claim of the host name:
    # the same machine and state folder already hold it
    assert after[len(writes):] == []
    again = project.run("bootstrap")
    assert again.returncode == 1 and "exists" in again.stderr


def test_system_folder_source_archive_installs_and_runs(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    make_atoms(data, "A")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    archive = project.download(
        "2026-backup/system/testhost/glacier-tasks-src.000001.tar.gz", tmp_path / "src.tar.gz")
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(archive)],
                   check=True, capture_output=True)
    assert (target / "glacier_tasks" / "cli.py").exists()
    assert (target / "glacier_tasks" / "commands" / "backup.py").exists()
    env = {**project.env(), "PYTHONPATH": str(target)}
    listed = subprocess.run([sys.executable, "-m", "glacier_tasks.cli", "list"], env=env,
                            cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("bag:") and " pending as of the scan" in listed.stdout
