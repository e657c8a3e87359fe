"""The system folder is written once: each run that changes a system file adds it under
a new number (inventory.000002.json), never over an older copy, and every reader
takes the highest number of each file, unnumbered ones of older versions included."""

import shutil

import pytest

from glacier_tasks.formats import layout
from glacier_tasks.bucket import system_folder as system
from glacier_tasks.config import load_settings
from glacier_tasks.errors import StoreError
from glacier_tasks.bucket.store import Store
from tests.support.s3server import CREDENTIALS

FOLDER = "2026-backup/system/testhost/"
TODAY = {"GLACIER_TODAY": "2026-06-15"}


def system_objects(project) -> dict:
    """key -> (bytes, ETag, LastModified) of every object in the system folders."""
    found = {}
    for key in project.objects():
        if "/system/" in key:
            got = project.s3.get_object(Bucket=project.bucket, Key=key)
            found[key] = got["Body"].read(), got["ETag"], got["LastModified"]
    return found


def system_writes(project, since: int) -> list:
    return [r for r in project.server.requests()[since:]
            if r.startswith(("PUT ", "POST ")) and "/system/" in r]


def lose_local_state(project):
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    shutil.rmtree(project.root / "manifests")


def test_each_changing_run_adds_a_number_and_leaves_the_older_copies_alone(project):
    assert project.run("backup", **TODAY).returncode == 0
    first = system_objects(project)
    assert sorted(k.removeprefix(FOLDER) for k in first) == [
        "glacier-tasks-src.000001.tar.gz", "glacier.000001.toml", "inventory.000001.json",
        "list.000001.txt"]
    before = len(project.server.requests())
    unchanged = project.run("backup", **TODAY)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert system_writes(project, before) == [] and system_objects(project) == first

    (project.data / "Books" / "new.txt").write_text("written after the first run\n")
    changed = project.run("backup", **TODAY)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    after = system_objects(project)
    # only the inventory changed: the config, list and source keep their number
    assert set(after) - set(first) == {FOLDER + "inventory.000002.json"}
    assert {k: after[k] for k in first} == first  # same bytes, ETag and LastModified
    latest = project.inventory

    lose_local_state(project)
    booted = project.run("bootstrap", **TODAY)
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert project.inventory == latest
    kept = project.state / "bootstrap" / "2026"
    assert sorted(p.name for p in kept.iterdir()) == [
        "glacier-tasks-src.tar.gz", "glacier.toml", "inventory.json", "list.txt"]


def test_unnumbered_system_files_of_the_previous_version_still_count(project):
    assert project.run("backup", **TODAY).returncode == 0
    original = project.inventory
    for key in [k for k in project.objects() if k.startswith(FOLDER)]:
        project.s3.copy_object(Bucket=project.bucket, Key=key.replace(".000001.", "."),
                               CopySource={"Bucket": project.bucket, "Key": key})
        project.s3.delete_object(Bucket=project.bucket, Key=key)
    legacy = system_objects(project)
    assert FOLDER + "inventory.json" in legacy
    lose_local_state(project)
    booted = project.run("bootstrap", **TODAY)
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert project.inventory == original
    assert project.run("verify").returncode == 0

    puts = len(project.bag_puts())
    same = project.run("backup", **TODAY)
    assert same.returncode == 0, same.stdout + same.stderr
    assert system_objects(project) == legacy  # unchanged files: their copy is current
    project.write_config('target_bag_gb = 0.004\n# a changed config')
    moved = project.run("backup", **TODAY)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert set(system_objects(project)) - set(legacy) == {FOLDER + "glacier.000001.toml"}
    assert len(project.bag_puts()) == puts  # no bag sent again


def test_a_system_file_lost_from_the_bucket_is_sent_again_under_a_new_number(project):
    assert project.run("backup", **TODAY).returncode == 0
    project.s3.delete_object(Bucket=project.bucket, Key=FOLDER + "list.000001.txt")
    checked = project.run("verify")
    assert checked.returncode == 1 and f"{FOLDER}list.txt: missing" in checked.stdout
    before = set(project.objects())
    again = project.run("backup", **TODAY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(project.objects()) - before == {FOLDER + "list.000002.txt"}
    sent = project.s3.get_object(Bucket=project.bucket, Key=FOLDER + "list.000002.txt")
    assert sent["Body"].read() == (project.root / "list.txt").read_bytes()
    assert project.run("verify").returncode == 0


class RacingStore(Store):
    """The bucket as another writer of this folder leaves it: right after each of our
    listings (up to `races` times) it takes the number we are about to write."""

    def __init__(self, races: int, *args):
        super().__init__(*args)
        self.races = races

    def list_objects(self, prefix: str = ""):
        found = super().list_objects(prefix)
        if self.races:
            self.races -= 1
            taken = layout.system_key(2026, "list.txt", "testhost",
                                      layout.next_system_number(found, 2026, "testhost"))
            self.client.put_object(Bucket=self.bucket, Key=taken, Body=b"theirs\n")
        return found


def test_a_number_another_writer_took_is_never_overwritten(project, monkeypatch):
    assert project.run("backup", **TODAY).returncode == 0
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(project.config)
    store = RacingStore(1, project.bucket, project.server.endpoint, "us-east-1")
    (project.root / "list.txt").write_text(f"# changed\n{project.data}\n")
    sent = system.upload_system(settings, store, 2026)
    assert sent == [FOLDER + "list.000003.txt"]
    theirs = project.s3.get_object(Bucket=project.bucket, Key=FOLDER + "list.000002.txt")
    assert theirs["Body"].read() == b"theirs\n"  # the race happened, and they kept it

    (project.root / "list.txt").write_text(f"# changed again\n{project.data}\n")
    store = RacingStore(system.WRITE_ATTEMPTS, project.bucket, project.server.endpoint,
                        "us-east-1")
    with pytest.raises(StoreError, match="another writer took each new number"):
        system.upload_system(settings, store, 2026)
