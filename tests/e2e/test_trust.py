"""Exit 0 means restorable: the bucket, not a marker or a metadata field, says what is
stored; one run at a time whatever doit is asked; doit's database is only a cache."""

import fcntl
import os
import signal
import json
import shutil
import subprocess
import sys
import time

import pytest

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

TODAY = {"GLACIER_TODAY": "2026-06-15"}


def lose_local_state(project):
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    shutil.rmtree(project.root / "manifests")


def bag_keys(project):
    return sorted(project.inventory["bags"])


def assert_restorable(project, tmp_path):
    check_invariant(project)
    verified = project.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)


@pytest.mark.parametrize("damage", ["emptied", "standard class"])
def test_only_an_object_that_provably_holds_the_bag_is_adopted(damage, project, tmp_path):
    assert project.run("backup", **TODAY).returncode == 0
    before = bag_keys(project)
    key = before[0]
    good = project.s3.head_object(Bucket=project.bucket, Key=key)
    if damage == "emptied":  # what a racing run's failed write may leave, metadata intact
        project.s3.put_object(Bucket=project.bucket, Key=key, Body=b"",
                              StorageClass="DEEP_ARCHIVE", Metadata=good["Metadata"])
    else:  # the same bytes and metadata, in a class that costs 23 times as much
        data = project.thaw_and_download(key, tmp_path / "bag.tar").read_bytes()
        project.s3.put_object(Bucket=project.bucket, Key=key, Body=data,
                              StorageClass="STANDARD", Metadata=good["Metadata"],
                              ChecksumAlgorithm="CRC64NVME")
    damaged = project.s3.head_object(Bucket=project.bucket, Key=key)
    lose_local_state(project)
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    # keys are written once: the damaged object is not replaced (nor adopted); its
    # atoms go into a bag of a new name, in the same run; the intact bags are adopted
    [new] = sorted(set(bag_keys(project)) - set(before))
    assert key not in bag_keys(project)
    assert [line for line in again.stdout.splitlines() if f"-> {new}" in line
            and "uploaded in" in line]
    assert again.stdout.count("already in the bucket, adopted") == len(before) - 1
    after = project.s3.head_object(Bucket=project.bucket, Key=new)
    assert after["ContentLength"] == good["ContentLength"] == \
        project.inventory["bags"][new]["size"]
    assert after.get("StorageClass") == "DEEP_ARCHIVE"
    assert project.s3.head_object(Bucket=project.bucket, Key=key)["ETag"] == \
        damaged["ETag"]
    assert_restorable(project, tmp_path)


def test_lost_state_adopts_what_is_really_there(project):
    assert project.run("backup", **TODAY).returncode == 0
    before = {k: project.s3.head_object(Bucket=project.bucket, Key=k)["ETag"]
              for k in bag_keys(project)}
    lose_local_state(project)
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already in the bucket, adopted") == len(before)
    assert {k: project.s3.head_object(Bucket=project.bucket, Key=k)["ETag"]
            for k in bag_keys(project)} == before


def test_no_task_name_or_doit_option_bypasses_the_lock(project):
    assert project.run("dryrun", **TODAY).returncode == 0
    bag = json.loads((project.state / "plan.json").read_text())["bags"][0]["name"]
    with open(project.state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running backup holds
        lock.write("pid 4242 since 2026-06-15 00:00:00")
        lock.flush()
        for args in (["--continue", "backup"], [f"bag:{bag}"], ["-n", "2", "backup"],
                     ["--continue", f"bag:{bag}", "inventory", "system"]):
            refused = project.run(*args, **TODAY)
            assert refused.returncode != 0, args
            assert "another glacier run holds" in refused.stdout + refused.stderr, args
            assert "Traceback" not in refused.stdout + refused.stderr
        assert project.objects() == {}, "a refused run sent something"
        assert not (project.root / "inventory.json").exists()


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_parallel_workers_share_the_runs_lock(kind, project, tmp_path):
    done = project.run("-n", "2", "-P", kind, "backup", **TODAY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_restorable(project, tmp_path)


def test_a_half_written_doit_database_is_rebuilt_with_one_line(project, tmp_path):
    assert project.run("backup", **TODAY).returncode == 0
    (project.state / "doit-db.json").write_text('{"plan": {"_values_:')  # cut by kill -9
    for command in (project.command("backup"),
                    [sys.executable, "-m", "glacier_tasks.cli", "list", "--status"]):
        again = subprocess.run(command, env=project.env(**TODAY), cwd=project.root,
                               capture_output=True, text=True)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Traceback" not in again.stdout + again.stderr
    warned = [line for line in again.stderr.splitlines() if "doit-db.json" in line]
    assert not warned  # the first command mended it; the second found it whole
    assert (project.state / "doit-db.json.damaged").exists()
    assert_restorable(project, tmp_path)


def test_backup_repairs_what_the_bucket_lost(project, tmp_path):
    for name in ("Big1", "Big2", "Big3"):  # three bags at least, whatever the packing
        (project.data / name).mkdir()
        (project.data / name / "data.bin").write_bytes(os.urandom(5_000_000))
    assert project.run("backup", **TODAY).returncode == 0
    bags = bag_keys(project)
    gone, torn = bags[0], bags[1]
    manifest = project.inventory["bags"][bags[2]]["manifest_key"]
    project.s3.delete_object(Bucket=project.bucket, Key=gone)
    project.s3.put_object(Bucket=project.bucket, Key=torn, Body=b"not a bag",
                          StorageClass="DEEP_ARCHIVE")
    project.s3.delete_object(Bucket=project.bucket, Key=manifest)
    system = "2026-backup/system/testhost/inventory.000001.json"
    project.s3.put_object(Bucket=project.bucket, Key=system, Body=b"{}")
    checked = project.run("verify")
    assert checked.returncode == 1 and checked.stdout.count("PROBLEM") >= 3
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    repaired = [line for line in again.stdout.splitlines() if line.startswith("REPAIRED")]
    assert len(repaired) == 3, again.stdout
    assert any(gone in line and "missing" in line for line in repaired)
    assert any(torn in line for line in repaired)
    assert "3 repaired, 0 failed" in again.stdout
    system = system.replace(".000001.", ".000002.")  # written anew, never over it
    stored = json.loads(project.s3.get_object(Bucket=project.bucket, Key=system)["Body"]
                        .read())
    assert stored == project.inventory
    assert_restorable(project, tmp_path)
    # and a backup with nothing lost repairs nothing
    quiet = project.run("backup", **TODAY)
    assert quiet.returncode == 0 and "REPAIRED" not in quiet.stdout


def test_markers_never_outrank_the_bucket(project, tmp_path):
    """The documented state-loss path: inventory.json lost, markers kept, and a bag
    deleted meanwhile: the marker's 'done' is checked, not believed."""
    assert project.run("backup", **TODAY).returncode == 0
    key = bag_keys(project)[0]
    (project.root / "inventory.json").unlink()
    project.s3.delete_object(Bucket=project.bucket, Key=key)
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert key in project.objects()
    assert_restorable(project, tmp_path)


def test_local_manifests_are_laid_out_by_year_and_old_flat_ones_migrate(project):
    assert project.run("backup", **TODAY).returncode == 0
    manifests = project.root / "manifests"
    keys = sorted(b["manifest_key"] for b in project.inventory["bags"].values())
    assert sorted(p.relative_to(manifests).as_posix()
                  for p in manifests.rglob("*.txt")) == keys
    # the layout of the version before: flat, plus one describing a bag never sent
    for key in keys:
        (manifests / key).rename(manifests / key.rpartition("/")[2])
    (manifests / "testhost_unsent_bag_009.txt").write_text("Books/x.bin\t1\t2026-01-01T"
                                                         "00:00:00Z\n")
    assert project.run("dryrun", **TODAY).returncode == 0
    assert sorted(p.relative_to(manifests).as_posix()
                  for p in manifests.rglob("*.txt")) == keys
    found = project.run("find", "notes.txt")
    assert found.returncode == 0 and "Books/sub/notes.txt\t" in found.stdout


def test_prune_deletes_only_the_local_manifests_of_pruned_bags(project):
    # increments off: Books' change must supersede its bag whole for prune to delete it
    project.write_config("target_bag_gb = 0.004\nincrement_below = 0")
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    (project.data / "Books" / "new.txt").write_text("changed in 2027\n")
    assert project.run("backup", GLACIER_TODAY="2027-06-15").returncode == 0
    live = {b["manifest_key"] for b in project.inventory["bags"].values()}
    pruned = project.run("prune", "--delete", "--force", GLACIER_TODAY="2027-06-15")
    assert pruned.returncode == 0 and "Deleted" in pruned.stdout, pruned.stdout
    manifests = project.root / "manifests"
    assert {p.relative_to(manifests).as_posix() for p in manifests.rglob("*.txt")} == live


def test_a_molecule_leaving_the_list_is_kept_until_dropped(project, tmp_path):
    other = tmp_path / "other"
    (other / "Old").mkdir(parents=True)
    (other / "Old" / "keep.txt").write_text("still wanted?\n")
    project.write_list(project.data, other)
    assert project.run("backup", **TODAY).returncode == 0
    first = project.inventory
    project.write_list(project.data)
    again = project.run("backup", **TODAY)
    assert again.returncode == 1
    assert f"FAILED molecule {other}: no longer in list.txt" in again.stdout
    assert f"doit drop {other}" in again.stdout
    assert project.inventory["atoms"] == first["atoms"]
    assert "Nothing to prune" in project.run("prune", **TODAY).stdout
    still = project.glacier("drop", str(other))
    assert still.returncode == 0, still.stderr
    assert f"{other}/Old" not in project.inventory["atoms"]
    # the bucket's newest inventory still names them until the next backup (issue 21.2)
    assert project.run("backup", **TODAY).returncode == 0
    prunable = project.run("prune", **TODAY).stdout
    assert "Would delete" in prunable and "other" in prunable
    project.write_list()
    emptied = project.run("backup", **TODAY)
    assert emptied.returncode != 0 and "lists no folder to back up" in emptied.stderr
    assert project.inventory["atoms"] and "Traceback" not in emptied.stderr


def test_a_clock_moving_backwards_is_refused_and_bootstrap_follows_real_time(
        project, tmp_path):
    # increments off: the 2025 run must supersede 2027's bag of Books whole
    project.write_config("target_bag_gb = 0.004\nincrement_below = 0")
    assert project.run("backup", GLACIER_TODAY="2027-03-01").returncode == 0
    in_2027 = project.inventory
    earlier = project.run("backup", GLACIER_TODAY="2025-03-01")
    assert earlier.returncode == 1
    line = one_line(earlier.stderr)
    assert "2025-03-01" in line and "2027-03-01" in line and "GLACIER_ALLOW_EARLIER_DATE" \
        in line
    assert project.inventory == in_2027
    assert not [k for k in project.objects() if k.startswith("2025-")]
    (project.data / "Books" / "late.txt").write_text("written after the 2027 run\n")
    forced = project.run("backup", GLACIER_TODAY="2025-03-01",
                         GLACIER_ALLOW_EARLIER_DATE="1")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    in_2025 = project.inventory
    lose_local_state(project)
    (project.root / "list.txt").unlink()
    booted = project.run("bootstrap", GLACIER_TODAY="2025-03-01")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert "2025-backup/system/" in booted.stdout and "WARNING" not in booted.stdout
    assert project.inventory == in_2025
    # the 2027 folder's bags that 2025 superseded are pruned: asking for it warns
    for key in set(in_2027["bags"]) - set(in_2025["bags"]):
        project.s3.delete_object(Bucket=project.bucket, Key=key)
    lose_local_state(project)
    old = project.run("bootstrap", "--year", "2027", GLACIER_TODAY="2025-03-01")
    assert old.returncode == 0
    assert "WARNING the 2027 inventory names" in old.stdout and "2025 (0 of" in old.stdout


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_what_the_tool_writes_is_its_owners_alone(project):
    os.chmod(project.data / "Books" / "a.bin", 0o600)
    assert project.run("backup", **TODAY).returncode == 0
    (project.data / "Books" / "new.bin").write_bytes(os.urandom(3_000_000))
    killed = project.popen("backup", GLACIER_TODAY="2027-06-15")
    staged = project.root / "stage"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(staged.glob("*.tar*")):
        time.sleep(0.01)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    written = [p for p in project.root.rglob("*") if "data" not in p.relative_to(
        project.root).parts and p.name != "glacier.toml" and p.name != "list.txt"]
    assert any(p.suffix in (".tar", ".partial") for p in written), "nothing was staged"
    for path in written:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_an_uploaded_marker_is_checked_before_the_bag_is_done(project, tmp_path):
    """A run stopped between a bag's upload and its manifest leaves a marker saying
    'uploaded'; if the object is gone since, the next run must not call it done."""
    assert project.run("backup", **TODAY).returncode == 0
    key = bag_keys(project)[0]
    marker_file = next(p for p in (project.state / "bags").glob("*.json")
                       if json.loads(p.read_text()).get("uploaded", {}).get("key") == key)
    marker = json.loads(marker_file.read_text())
    marker.update(done=False, manifest=None)
    marker_file.write_text(json.dumps(marker))
    (project.root / "inventory.json").unlink()  # state lost: the bag is planned anew
    project.s3.delete_object(Bucket=project.bucket, Key=key)
    first = project.run("backup", **TODAY)
    assert first.returncode != 0, first.stdout + first.stderr
    assert f"{key} missing since it was uploaded" in first.stdout
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_restorable(project, tmp_path)


def test_a_molecule_holding_the_tools_own_folders_never_packs_them(tmp_path, s3_server,
                                                                   bucket):
    """Backing up a home folder whose ~/.local holds the state, staging and manifests
    (glacier init's layout): those folders are skipped, the backup completes, twice."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "letter.txt").write_text("dear\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_config('target_bag_gb = 0.004\n'
                         f'state_dir = "{home}/.local/state/glacier-tasks"\n'
                         f'staging_dir = "{home}/.cache/glacier-tasks/stage"\n'
                         f'manifest_dir = "{home}/.local/share/glacier-tasks/manifests"\n')
    project.write_list(home)
    for run in range(2):
        done = project.run("backup", **TODAY)
        assert done.returncode == 0, done.stdout + done.stderr
    names = {line.split("\t")[0] for key in bag_keys(project) for line in project.s3
             .get_object(Bucket=bucket, Key=project.inventory["bags"][key]
                         ["manifest_key"])["Body"].read().decode().splitlines()}
    assert "Documents/letter.txt" in names
    own = (".local/state/glacier-tasks", ".cache/glacier-tasks/stage",
           ".local/share/glacier-tasks/manifests")
    assert not [n for n in names if n.startswith(own)], names


def manifest_names(project) -> set:
    return {line.split("\t")[0] for bag in project.inventory["bags"].values()
            for line in project.s3.get_object(Bucket=project.bucket, Key=bag[
                "manifest_key"])["Body"].read().decode().splitlines()}


def test_a_tag_file_never_hides_a_folder(project):
    """Issue 21 case 3: the tool knows its folders by the config, not by a file in
    them; a copied tag file hides nothing."""
    music = project.data / "Music"
    music.mkdir()
    (music / "song.txt").write_text("la la\n")
    (music / ".glacier-tasks-own-folder").write_text("copied from somewhere\n")
    done = project.run("backup", **TODAY)
    assert done.returncode == 0, done.stdout + done.stderr
    names = manifest_names(project)
    assert "Music/song.txt" in names and "Music/.glacier-tasks-own-folder" in names


@pytest.mark.parametrize("setting", ["state_dir", "staging_dir", "manifest_dir",
                                     "mnt_base"])
def test_a_tool_folder_set_to_user_files_in_a_molecule_is_refused(setting, project):
    """Issue 21 case 3: a tool folder pointed at an existing folder of the user's inside
    a molecule is refused in one line, before anything is written or uploaded; once
    the config is fixed, the folder is backed up like any other."""
    photos = project.data / "Pictures"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    good = project.config.read_text()
    project.config.write_text(good.replace("[settings]\n",
                                           f'[settings]\n{setting} = "{photos}"\n'))
    refused = project.run("backup", **TODAY)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert f"{setting} = {photos} is inside the molecule" in out, out
    assert "Traceback" not in out, out
    assert sorted(p.name for p in photos.iterdir()) == ["cat.jpg"]  # nothing written
    assert not project.objects()
    project.config.write_text(good)
    done = project.run("backup", **TODAY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Pictures/cat.jpg" in manifest_names(project)
