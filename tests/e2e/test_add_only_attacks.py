"""What a key that may only add objects (the everyday backup key, under the
deny-overwrite policy) can still try: claim the host name, add a newer damaged
inventory, and what an old machine may do after a take-over."""

import json
import time

import pytest

from .helpers import Project, make_sample_tree
from .invariant import check_invariant


def make(root, s3_server, bucket, data):
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root, s3_server, bucket)
    project.write_list(data)
    project.data = data
    return project


def test_an_old_machine_cannot_prune_after_a_take_over(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    data.mkdir()
    make_sample_tree(data)
    old = make(tmp_path / "old", s3_server, bucket, data)
    assert old.run("backup", GLACIER_TODAY="2026-03-01").returncode == 0
    new = make(tmp_path / "new", s3_server, bucket, data)
    booted = new.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    (data / "Books" / "new.txt").write_text("the new machine's change\n")
    done = new.run("backup", GLACIER_TODAY="2026-04-01", GLACIER_TAKE_OVER_HOST="1")
    assert done.returncode == 0, done.stdout + done.stderr
    pruned = old.run("prune", "--delete", "--force", "--min-age-days", "0",
                     GLACIER_TODAY="2026-05-01")
    assert pruned.returncode != 0 and "was taken over" in pruned.stderr
    assert "Deleted" not in pruned.stdout
    assert set(new.inventory["bags"]) <= set(new.objects())
    check_invariant(new)


def test_a_forged_claim_is_overcome_by_a_take_over(project):
    assert project.run("backup").returncode == 0
    project.s3.put_object(Bucket=project.bucket, IfNoneMatch="*",
                          Key="glacier-hosts/testhost/999999.json",
                          Body=json.dumps({"host": "testhost", "machine": "evil",
                                           "claimed_at": "2026-01-01"}).encode())
    refused = project.run("backup")
    assert refused.returncode != 0 and "was taken over from this machine" in refused.stderr
    back = project.run("backup", GLACIER_TAKE_OVER_HOST="1")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "glacier-hosts/testhost/1000000.json" in project.objects()
    assert project.run("backup").returncode == 0  # ours again, without the variable


def test_a_newer_damaged_inventory_does_not_hide_the_good_one(tmp_path, project,
                                                             s3_server, bucket):
    assert project.run("backup").returncode == 0
    year = project.inventory["year"]
    forged = f"{year}-backup/system/testhost/inventory.999999.json"
    project.s3.put_object(Bucket=bucket, IfNoneMatch="*", Key=forged, Body=b"not json")
    fresh = make(tmp_path / "fresh", s3_server, bucket, project.data)
    booted = fresh.run("bootstrap", GLACIER_TAKE_OVER_HOST="1")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert f"WARNING {forged} in the bucket is damaged; skipped" in booted.stdout
    assert fresh.inventory == project.inventory


def test_an_inventory_claiming_a_future_date_does_not_win_bootstrap(
        tmp_path, project, s3_server, bucket):
    """`written_at` is the writer's claim; S3's date of the object caps it. (One added
    with today's date would still be the newest: bootstrap says which it took, and
    prune deletes nothing whose files no other bag holds without --force.)"""
    assert project.run("backup", GLACIER_TODAY="2026-06-01").returncode == 0
    project.s3.put_object(
        Bucket=bucket, IfNoneMatch="*",
        Key="2020-backup/system/testhost/inventory.000001.json",
        Body=json.dumps({"version": 1, "year": 2020, "atoms": {}, "bags": {},
                         "written_at": "2999-01-01T00:00:00.000000Z"}).encode())
    time.sleep(1.1)  # S3's dates have whole seconds
    (project.data / "Books" / "later.txt").write_text("a later run\n")
    assert project.run("backup", GLACIER_TODAY="2026-07-01").returncode == 0
    fresh = make(tmp_path / "fresh", s3_server, bucket, project.data)
    booted = fresh.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert fresh.inventory == project.inventory


def test_prune_after_bootstrap_waits_for_a_backup(tmp_path, project, s3_server, bucket):
    """An inventory from the bucket may be older than the files on disk, or one someone
    added: old bags go only once a backup has put every file on disk into a bag."""
    assert project.run("backup", GLACIER_TODAY="2026-01-10").returncode == 0
    fresh = make(tmp_path / "fresh", s3_server, bucket, project.data)
    assert fresh.run("bootstrap").returncode == 0
    refused = fresh.run("prune", "--delete", GLACIER_TODAY="2026-09-01")
    assert refused.returncode != 0
    assert "run 'doit backup' once before 'prune --delete'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert fresh.run("backup", GLACIER_TODAY="2026-09-01",
                     GLACIER_TAKE_OVER_HOST="1").returncode == 0
    pruned = fresh.run("prune", "--delete", GLACIER_TODAY="2026-09-01")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr


def test_a_take_over_without_the_hosts_inventory_is_refused(tmp_path, project,
                                                            s3_server, bucket):
    """GLACIER_TAKE_OVER_HOST=1 on a machine that knows none of the host's bags would
    make them all look unreferenced: bootstrap is the way in."""
    assert project.run("backup").returncode == 0
    other = make(tmp_path / "other", s3_server, bucket, project.data)
    refused = other.run("backup", GLACIER_TAKE_OVER_HOST="1")
    assert refused.returncode != 0
    assert "run 'doit bootstrap' first" in refused.stderr
    assert "glacier-hosts/testhost/000001.json" not in project.objects()
    plain = other.run("backup")
    assert "(after 'doit bootstrap')" in plain.stderr  # the refusal says the way


@pytest.mark.parametrize("body", [
    {"version": 1, "atoms": {}, "bags": {"x": 5}},
    {"version": 1, "atoms": [], "bags": {}},
    {"version": 1, "atoms": "zz", "bags": {}}], ids=["bag-int", "atoms-list", "atoms-str"])
def test_a_newer_inventory_of_the_wrong_shape_is_skipped(tmp_path, project, s3_server,
                                                        bucket, body):
    assert project.run("backup").returncode == 0
    year = project.inventory["year"]
    forged = f"{year}-backup/system/testhost/inventory.999999.json"
    project.s3.put_object(Bucket=bucket, IfNoneMatch="*", Key=forged,
                          Body=json.dumps({**body, "year": year}).encode())
    fresh = make(tmp_path / "fresh", s3_server, bucket, project.data)
    booted = fresh.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert f"WARNING {forged} in the bucket is damaged; skipped" in booted.stdout
    assert fresh.inventory == project.inventory
