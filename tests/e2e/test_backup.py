"""End to end: `doit dryrun` / `doit backup` against a real S3 server, bags restored
with restore-object + get-object + GNU tar, compared byte for byte with the source."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time


from .helpers import Project, restore_all, sample_project, tree_snapshot


def test_dryrun_uploads_nothing_and_writes_the_draft_inventory(project):
    result = project.run("dryrun")
    assert result.returncode == 0, result.stderr
    assert "To upload:" in result.stdout and "PUT requests" in result.stdout
    assert project.objects() == {}
    assert not (project.root / "inventory.json").exists()
    draft = json.loads((project.root / "inventory_dryrun.json").read_text())
    assert set(draft["atoms"]) == {f"{project.data}/{name}" for name in
                                   ("Books", "Photos", "VMs", "Empty", ".")}
    assert all(bag["pending"] for bag in draft["bags"].values())


def test_a_dry_run_without_the_bucket_says_its_names_are_unchecked(project):
    """Before credentials exist a dry run still plans; it says the bag names were not
    checked against the bucket, and a backup plans again once it can ask."""
    project.config.write_text(project.config.read_text().replace(
        project.server.endpoint, "http://127.0.0.1:9"))  # nothing listens there
    offline = project.run("dryrun", GLACIER_S3_ATTEMPTS="1", GLACIER_S3_TIMEOUT="1")
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "The bucket could not be asked which keys are taken" in offline.stdout
    project.write_config("target_bag_gb = 0.004")
    online = project.run("dryrun")
    assert online.returncode == 0 and "could not be asked" not in online.stdout


def test_no_task_means_dryrun(project):
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert "To upload:" in result.stdout
    assert project.objects() == {}


def test_backup_puts_archive_bags_and_standard_manifests_and_restores_byte_for_byte(
        project, tmp_path):
    result = project.run("backup", GLACIER_TODAY="2026-06-15")
    assert result.returncode == 0, result.stdout + result.stderr
    objects = project.objects()
    inventory = project.inventory
    assert inventory["bags"], inventory
    for key, bag in inventory["bags"].items():
        assert key.startswith("2026-backup/testhost_")
        assert objects[key] == (bag["size"], "DEEP_ARCHIVE")
        assert objects[bag["manifest_key"]][1] == "STANDARD"
        assert bag["storage_class"] == "DEEP_ARCHIVE" and len(bag["sha256"]) == 64
    for atom, entry in inventory["atoms"].items():
        assert atom in inventory["bags"][entry["archive_key"]]["atoms"]
    system = {k.rpartition("/")[2]: v for k, v in objects.items() if "/system/" in k}
    assert set(system) == {"inventory.000001.json", "glacier.000001.toml",
                           "list.000001.txt", "glacier-tasks-src.000001.tar.gz"}
    assert all(cls == "STANDARD" for _, cls in system.values())

    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(project.data)
    disk = os.stat(restored / "VMs" / "disk.img")
    assert disk.st_size == 40_000_020 and disk.st_blocks * 512 < 1_000_000  # still sparse


def test_manifest_lists_every_file_of_its_bag(project):
    assert project.run("backup").returncode == 0
    lines = []
    for bag in project.inventory["bags"].values():
        body = project.s3.get_object(Bucket=project.bucket, Key=bag["manifest_key"])["Body"]
        lines += body.read().decode().splitlines()
    paths = {line.split("\t")[0] for line in lines}
    assert "Photos/été à Zürich.jpg" in paths and "Books/sub/" in paths
    assert "loose file.txt" in paths
    size = next(line.split("\t")[1] for line in lines if line.startswith("Books/a.bin\t"))
    assert size == "3000000"


def test_second_run_uploads_nothing(project):
    assert project.run("backup").returncode == 0
    before = len(project.server.requests())
    first = project.inventory
    result = project.run("backup")
    assert result.returncode == 0, result.stderr
    writes = [r for r in project.server.requests()[before:]
              if r.startswith(("PUT ", "POST ")) and f"/{project.bucket}/" in r]
    assert writes == []
    assert project.inventory == first


def change_notes(project) -> None:
    notes = project.data / "Books" / "sub" / "notes.txt"
    before = notes.stat()
    notes.write_text("changed\n")
    # a later mtime, set rather than waited for: the scan sees size and mtime both move
    os.utime(notes, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    after = notes.stat()
    assert (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def tars_of(project, year: str) -> list:
    return [k for k in project.objects() if k.startswith(f"{year}-backup/")
            and k.endswith(".tar")]


def test_changed_file_reuploads_only_its_bytes_as_an_increment(project, tmp_path):
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    first = project.inventory
    change_notes(project)
    result = project.run("backup", GLACIER_TODAY="2027-01-15")
    assert result.returncode == 0, result.stderr
    second = project.inventory
    books = f"{project.data}/Books"
    for atom, entry in second["atoms"].items():  # every base stays where it was
        assert entry["archive_key"] == first["atoms"][atom]["archive_key"], atom
    assert tars_of(project, "2027") == second["atoms"][books]["increments"]
    assert all("increments" not in entry for atom, entry in second["atoms"].items()
               if atom != books)
    key = second["atoms"][books]["increments"][0]
    assert project.objects()[key][0] <= 10240  # one tar record, not Books' 3 MB
    # the run's last word counts what went up, not the atom's files
    assert result.stdout.splitlines()[-1].startswith("Sent: 1 file in 1 bag, "), \
        result.stdout[-500:]
    bag = project.thaw_and_download(key, tmp_path / "increment.tar")
    listed = subprocess.run(["tar", "-tf", str(bag)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert [name for name in listed if not name.endswith("/")] == ["Books/sub/notes.txt"]
    (tmp_path / "out").mkdir()
    subprocess.run(["tar", "-xSf", str(bag), "-C", str(tmp_path / "out")], check=True)
    assert (tmp_path / "out" / "Books" / "sub" / "notes.txt").read_text() == "changed\n"


def test_changed_file_reuploads_only_its_bag_with_increments_off(tmp_path, s3_server,
                                                                 bucket):
    # increments off: this is about a changed atom moving whole into a new bag
    project = sample_project(tmp_path, s3_server, bucket,
                             "target_bag_gb = 0.004\nincrement_below = 0")
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    first = project.inventory
    change_notes(project)
    result = project.run("backup", GLACIER_TODAY="2027-01-15")
    assert result.returncode == 0, result.stderr
    second = project.inventory
    books = f"{project.data}/Books"
    assert second["atoms"][books]["archive_key"].startswith("2027-backup/")
    old_bag = first["atoms"][books]["archive_key"]
    for atom, entry in second["atoms"].items():
        if atom not in first["bags"][old_bag]["atoms"]:
            assert entry["archive_key"] == first["atoms"][atom]["archive_key"], atom
    assert tars_of(project, "2027") == [second["atoms"][books]["archive_key"]]


def test_list_shows_bags_first_by_name_and_pending_ones(project):
    assert project.run("dryrun").returncode == 0
    plan = json.loads((project.state / "plan.json").read_text())
    for listed in (project.glacier("list", "--status"), project.doit_here("list", "--status")):
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        bag_lines = [line for line in lines if line.startswith("R bag:")]
        assert lines[:len(bag_lines)] == bag_lines  # bags first, no command among them
        assert len(bag_lines) == len(plan["bags"]) > 1
        assert all(str(project.data) in line and "pending: new atom" in line
                   for line in bag_lines)
        assert not any(line.startswith(("R cost", "R policy", "U cost")) for line in lines)
    plain = project.glacier("list").stdout.splitlines()  # the bags, not the tasks
    assert plain[0].startswith("bag:") and not any(line.startswith("backup ")
                                                   for line in plain)
    every = project.glacier("list", "--all").stdout.splitlines()  # and then the tasks
    assert every[0].startswith("bag:") and any(line.startswith("backup ") for line in every)
    assert project.run("backup").returncode == 0
    assert project.run("dryrun").returncode == 0
    listed = project.glacier("list", "--status").stdout
    bag_lines = [line for line in listed.splitlines() if " bag:" in line]
    assert bag_lines and all(line.startswith("U ") for line in bag_lines)


def test_kill_9_mid_backup_then_rerun_uploads_each_bag_once(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    for n in range(6):
        atom = data / f"atom{n}"
        atom.mkdir(parents=True)
        (atom / "blob").write_bytes(os.urandom(20_000_000 if n % 2 else 3_000_000))
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)
    proc = project.popen("backup")
    deadline = time.monotonic() + 120
    markers = project.state / "bags"
    while time.monotonic() < deadline:
        done = [m for m in markers.glob("*.json") if json.loads(m.read_text()).get("done")] \
            if markers.exists() else []
        if done:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done, "no bag finished before the kill"
    assert not (project.root / "inventory.json").exists()

    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    bags = project.inventory["bags"]
    assert len(bags) == 6
    for key in bags:
        finished = [line for line in project.bag_puts() if f"/{key}" in line and
                    (line.startswith("PUT ") or "uploadId=" in line)]
        assert len(finished) == 1, (key, finished)
    assert project.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(data)


def test_losing_local_state_uploads_nothing_again(project):
    assert project.run("backup").returncode == 0
    before = len(project.bag_puts())
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(project.bag_puts()) == before
    assert "adopted" in result.stdout


def test_second_run_at_once_is_refused(project):
    project.state.mkdir()
    with open(project.state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running backup holds
        lock.write("pid 4242 since 2026-01-01 00:00:00")
        lock.flush()
        result = project.run("backup")
    assert result.returncode == 1
    assert "another glacier run holds" in result.stderr and "pid 4242" in result.stderr
    assert project.objects() == {}
    assert project.run("backup").returncode == 0  # once the first is gone


def test_prune_delete_during_a_backup_is_refused(project):
    assert project.run("backup").returncode == 0
    with open(project.state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a backup is running
        lock.write("pid 4242 since 2026-01-01 00:00:00")
        lock.flush()
        result = project.run("prune", "--delete", "--force")
    assert result.returncode == 1
    assert "another glacier run holds" in result.stderr
    assert "Deleted" not in result.stdout
