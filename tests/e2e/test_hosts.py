"""Several machines, one bucket: each host writes and prunes only its own keys, keeps
its own system folder, and a second machine cannot take a used host name."""

import json
import os
import shutil

from glacier_tasks.bucket.store import Store

from .helpers import Project, make_sample_tree, restore_all, tree_snapshot
from .invariant import check_invariant


def host_project(root, s3_server, bucket, host):
    data = root / "data"
    data.mkdir(parents=True)
    make_sample_tree(data)
    (data / "Books" / f"{host}.txt").write_text(f"only on {host}\n")
    project = Project(root, s3_server, bucket)
    project.config.write_text(project.config.read_text().replace(
        'host = "testhost"', f'host = "{host}"'))
    project.write_list(data)
    project.data = data
    return project


def stored(project, key):
    return json.loads(project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read())


def test_two_hosts_share_a_bucket_for_two_years(tmp_path, s3_server, bucket):
    rabbit = host_project(tmp_path / "rabbit", s3_server, bucket, "rabbit")
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    for project in (rabbit, nas):  # increments off: each prunes its own superseded bags
        project.config.write_text(project.config.read_text() + "increment_below = 0\n")
    for year in ("2026", "2027"):
        today = {"GLACIER_TODAY": f"{year}-06-15"}
        for project in (rabbit, nas):
            (project.data / "Photos" / f"{year}.jpg").write_bytes(os.urandom(4000))
            done = project.run("backup", **today)
            assert done.returncode == 0, done.stdout + done.stderr
    for project, host in ((rabbit, "rabbit"), (nas, "nas")):
        assert stored(project, f"2027-backup/system/{host}/inventory.000001.json") == \
            project.inventory
    nas_keys = {k for k in nas.objects() if "/nas_" in k}
    pruned = rabbit.run("prune", "--delete", "--force", GLACIER_TODAY="2027-06-15")
    assert pruned.returncode == 0 and "Deleted 2026-backup/rabbit_" in pruned.stdout
    assert "nas_" not in pruned.stdout
    assert {k for k in nas.objects() if "/nas_" in k} == nas_keys
    assert nas.run("prune", "--delete", "--force", GLACIER_TODAY="2027-06-15") \
        .returncode == 0
    for project in (rabbit, nas):
        check_invariant(project)
        restore_all(project, project.root / "restored")
        assert tree_snapshot(project.root / "restored") == tree_snapshot(project.data)
        assert project.run("verify").returncode == 0


def test_a_second_machine_cannot_take_a_used_host_name(tmp_path, s3_server, bucket):
    first = host_project(tmp_path / "one", s3_server, bucket, "rabbit")
    assert first.run("backup").returncode == 0
    second = host_project(tmp_path / "two", s3_server, bucket, "rabbit")
    refused = second.run("backup")
    assert refused.returncode != 0
    assert "host name 'rabbit' is already used" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert not [k for k in second.objects() if "two" in k]  # nothing of it was sent
    assert first.run("backup").returncode == 0  # the owner goes on
    # a new machine replaces the first: the variable alone would make the first's
    # bags look unreferenced, so it is refused; bootstrap fetches them (taking nothing)
    blind = second.run("backup", GLACIER_TAKE_OVER_HOST="1")
    assert blind.returncode != 0 and "run 'doit bootstrap' first" in blind.stderr
    booted = second.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert "already used" in second.run("backup").stderr  # the take-over is asked for
    kept = second.run("backup", GLACIER_TAKE_OVER_HOST="1")  # the first's folder: kept
    assert kept.returncode == 1 and f"doit drop {first.data}" in kept.stdout
    assert second.run("drop", "--molecule", str(first.data)).returncode == 0
    moved = second.run("backup")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "was taken over from this machine" in first.run("backup").stderr


def test_bootstrap_another_host_to_restore_its_files(tmp_path, s3_server, bucket):
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    assert nas.run("backup").returncode == 0
    laptop = host_project(tmp_path / "laptop", s3_server, bucket, "laptop")
    assert laptop.run("backup").returncode == 0
    (tmp_path / "rescue").mkdir()
    helper = Project(tmp_path / "rescue", s3_server, bucket)  # the NAS died: its files
    booted = helper.run("bootstrap", "--host", "nas")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert helper.inventory == nas.inventory and "host nas's inventory" in booted.stdout
    found = helper.run("find", "nas.txt")
    assert found.returncode == 0 and "Books/nas.txt" in found.stdout
    dest = tmp_path / "back"
    done = helper.run("restore", "--path", f"{nas.data}/Books", "--yes", "--to", str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Books") == tree_snapshot(nas.data / "Books")
    assert laptop.run("backup").returncode == 0  # nobody took the laptop's name


def test_a_bucket_from_before_hosts_had_folders_moves_forward(tmp_path, s3_server,
                                                              bucket):
    rabbit = host_project(tmp_path / "rabbit", s3_server, bucket, "rabbit")
    assert rabbit.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    original = rabbit.inventory
    s3 = rabbit.s3
    for key in [k for k in rabbit.objects() if k.startswith("2026-backup/system/")]:
        s3.copy_object(Bucket=bucket, Key=key.replace("system/rabbit/", "system/")
                       .replace(".000001.", "."),  # as older versions named them
                       CopySource={"Bucket": bucket, "Key": key})
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key="glacier-hosts/rabbit.json")
    shutil.rmtree(rabbit.state)
    shutil.rmtree(rabbit.root / "manifests")
    (rabbit.root / "inventory.json").unlink()
    booted = rabbit.run("bootstrap", GLACIER_TODAY="2026-06-15")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert "2026-backup/system/:" in booted.stdout and rabbit.inventory == original
    puts = len(rabbit.bag_puts())
    again = rabbit.run("backup", GLACIER_TODAY="2026-06-20")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(rabbit.bag_puts()) == puts  # no bag sent again
    assert "2026-backup/system/rabbit/inventory.000001.json" in rabbit.objects()
    assert "Would delete" not in rabbit.run("prune").stdout


def test_cleanup_aborts_only_this_hosts_unfinished_uploads(s3_server, bucket,
                                                          monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = Store(bucket, s3_server.endpoint, "us-east-1")
    client = s3_server.client()
    mine = client.create_multipart_upload(Bucket=bucket,
                                          Key="2027-backup/rabbit_m_bag_001.tar")
    theirs = client.create_multipart_upload(Bucket=bucket,
                                            Key="2027-backup/nas_m_bag_001.tar")
    aborted = store.abort_open_uploads("2027-backup/", mine=lambda k: "/rabbit_" in k)
    assert aborted == ["2027-backup/rabbit_m_bag_001.tar"]
    left = [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket)
            .get("Uploads", [])]
    assert left == [theirs["UploadId"]] and mine["UploadId"] not in left


def test_find_and_verify_across_hosts(tmp_path, s3_server, bucket):
    rabbit = host_project(tmp_path / "rabbit", s3_server, bucket, "rabbit")
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    for project in (rabbit, nas):
        assert project.run("backup").returncode == 0
    theirs = rabbit.glacier("find", "nas.txt", "--host", "nas")
    assert theirs.returncode == 0 and f"{nas.data}/Books/nas.txt\t" in theirs.stdout
    assert "nas.txt" not in rabbit.run("find", "nas.txt").stdout  # its own by default
    both = rabbit.run("verify", "--all-hosts")
    assert both.returncode == 0, both.stdout + both.stderr
    assert "rabbit: " in both.stdout and "nas: " in both.stdout
    gone = next(iter(nas.inventory["bags"]))
    nas.s3.delete_object(Bucket=bucket, Key=gone)
    broken = rabbit.run("verify", "--all-hosts")
    assert broken.returncode == 1 and f"PROBLEM nas: {gone}: missing" in broken.stdout
