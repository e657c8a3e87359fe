"""A disaster drill harms nothing (issue 22, cases 3 to 5): a spare machine that
bootstraps the host only reads; a renamed host is said, not silently split; an upload
interrupted in an earlier year is aborted by a later run."""

import os
import signal
import time

from .helpers import Project, restore_all, tree_snapshot
from tests.support.proxy import LoopbackProxy
from .test_hosts import host_project

WRITES = ("PUT ", "POST ", "DELETE ")


class SlowParts(LoopbackProxy):
    """Forwards everything, each uploaded part a second late: an upload to stop."""

    def before_forward(self, method, path):
        if "partNumber=" in path:
            time.sleep(1.0)


def open_uploads(project) -> list:
    return sorted(u["Key"] for u in project.s3.list_multipart_uploads(
        Bucket=project.bucket).get("Uploads", []))


def test_an_upload_interrupted_last_year_is_aborted_by_this_years_run(
        tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    (data / "Big").mkdir(parents=True)
    (data / "Big" / "blob.bin").write_bytes(os.urandom(40 << 20))  # 3 parts of 16 MiB
    project = Project(tmp_path, s3_server, bucket, target_gb=1)
    project.write_list(data)
    direct = project.config.read_text()
    proxy = SlowParts(s3_server.port)
    try:
        project.config.write_text(direct.replace(s3_server.endpoint, proxy.endpoint))
        process = project.popen("backup", GLACIER_TODAY="2026-12-30")
        markers = project.state / "bags"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                '"upload_id"' in m.read_text() for m in markers.glob("*.json")):
            time.sleep(0.05)
        assert process.poll() is None, "the upload ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # the power goes on New Year's Eve
        process.wait(timeout=30)
    finally:
        proxy.stop()
    project.config.write_text(direct)
    stale = open_uploads(project)
    assert len(stale) == 1 and stale[0].startswith("2026-backup/testhost_"), stale
    theirs = project.s3.create_multipart_upload(  # another host's: its own business
        Bucket=bucket, Key="2026-backup/nas_data_bag_001.tar")

    done = project.run("backup", GLACIER_TODAY="2027-01-15")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Aborted an unfinished upload of {stale[0]}" in done.stdout
    assert open_uploads(project) == ["2026-backup/nas_data_bag_001.tar"]
    assert project.s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"] \
        == theirs["UploadId"]
    assert all(k.startswith("2027-backup/") for k in project.inventory["bags"])
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(data)


def writes_since(project, since: int) -> list:
    return [r for r in project.server.requests()[since:] if r.startswith(WRITES)]


def one_line(result) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def test_a_drill_on_a_spare_machine_takes_nothing_from_the_real_one(tmp_path, s3_server,
                                                                    bucket):
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    assert nas.run("backup", GLACIER_TODAY="2026-06-01").returncode == 0
    (tmp_path / "spare").mkdir()
    spare = Project(tmp_path / "spare", s3_server, bucket)  # same short host name
    spare.config.write_text(spare.config.read_text().replace("testhost", "nas"))
    claims = {k for k in nas.objects() if k.startswith("glacier-hosts/")}

    since = len(s3_server.requests())
    booted = spare.run("bootstrap", GLACIER_TODAY="2026-06-02")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert writes_since(spare, since) == []  # bootstrap only reads the bucket
    assert spare.inventory == nas.inventory
    assert "GLACIER_TAKE_OVER_HOST=1" in booted.stdout  # it says what a backup needs

    (nas.data / "Books" / "june.txt").write_text("the real machine goes on\n")
    real = nas.run("backup", GLACIER_TODAY="2026-06-03")
    assert real.returncode == 0, real.stdout + real.stderr

    objects = nas.objects()
    since = len(s3_server.requests())
    asked = spare.run("backup", GLACIER_TODAY="2026-06-04")
    assert asked.returncode != 0
    line = one_line(asked)
    assert "host name 'nas'" in line and "GLACIER_TAKE_OVER_HOST=1" in line
    assert writes_since(spare, since) == [] and nas.objects() == objects
    assert {k for k in nas.objects() if k.startswith("glacier-hosts/")} == claims

    # a take-over from the drill's inventory, older than the NAS's newest, is refused
    # and claims nothing: the bucket outranks it
    stale = spare.run("backup", GLACIER_TODAY="2026-06-05", GLACIER_TAKE_OVER_HOST="1")
    assert stale.returncode != 0 and "'doit bootstrap'" in one_line(stale)  # as typed
    assert writes_since(spare, since) == [] and nas.objects() == objects

    # the spare replaces the NAS for real: a fresh bootstrap, one explicit take-over
    (spare.root / "inventory.json").rename(spare.root / "inventory.drill.json")
    again = spare.run("bootstrap", GLACIER_TODAY="2026-06-05")
    assert again.returncode == 0, again.stdout + again.stderr
    taken = spare.run("backup", GLACIER_TODAY="2026-06-05", GLACIER_TAKE_OVER_HOST="1")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    told = nas.run("backup", GLACIER_TODAY="2026-06-06")
    assert told.returncode != 0
    line = one_line(told)
    assert "was taken over" in line and str(spare.state) in line  # by whom
    assert "GLACIER_TAKE_OVER_HOST=1" in line and "host = " in line  # what to do
    restore_all(spare, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(nas.data)


def test_a_renamed_host_is_said_and_keeps_its_bags_under_the_old_name(tmp_path,
                                                                      s3_server, bucket):
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    # increments off: the old name's bags must be superseded whole to be pruned
    nas.config.write_text(nas.config.read_text() + "increment_below = 0\n")
    assert nas.run("backup", GLACIER_TODAY="2026-03-01").returncode == 0
    first = set(nas.inventory["bags"])
    (nas.data / "Books" / "later.txt").write_text("changed after the first run\n")
    good = nas.config.read_text()
    nas.config.write_text(good.replace('host = "nas"', 'host = "nas-2"'))  # renamed

    objects = nas.objects()
    renamed = nas.run("backup", GLACIER_TODAY="2026-04-01")
    assert renamed.returncode != 0
    line = one_line(renamed)
    assert "'nas-2'" in line and "'nas'" in line and 'host = "nas"' in line
    assert nas.objects() == objects  # no new namespace, no claim of the new name
    pruning = nas.run("prune", GLACIER_TODAY="2026-04-01")
    said = line.split(": ", 2)[2]  # after "glacier: TASK: "
    assert pruning.returncode != 0 and one_line(pruning).endswith(": " + said)

    nas.config.write_text(good)  # README's way: the old name, and its bags, go on
    done = nas.run("backup", GLACIER_TODAY="2026-04-01")
    assert done.returncode == 0, done.stdout + done.stderr
    superseded = first - set(nas.inventory["bags"])
    assert superseded
    pruned = nas.run("prune", "--delete", "--force", GLACIER_TODAY="2026-04-01")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert all(f"Deleted {key}" in pruned.stdout for key in superseded)
    restore_all(nas, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(nas.data)
