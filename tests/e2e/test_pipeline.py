"""The graph overlapped: one bag packs while another uploads (doit's own runner, -n 2
threads by default), staging_dir never holds more than `staging_bags` tars, and a log
gets timestamped step lines, a heartbeat and, however the run ends, its summary.

The S3 server sits behind a proxy that limits the uplink, as a real line does, so an
upload takes long enough for the overlap to show in the log's timestamps."""

import datetime
import os
import re
import time

import pytest

from glacier_tasks.report.text import human
from tests.support.proxy import LoopbackProxy
from tests.support.staging import StagingSampler

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

STEP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (tar|upload|manifest) (\S+) "
                  r"(started|done|failed)")
BEAT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) progress: (\d+) of (\d+) bags "
                  r"done, (.+) of (.+) sent, ")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")
BAG_BYTES = 6_000_000


def when(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")


def intervals(stdout: str) -> dict:
    """(step, bag) -> [started, ended] from a run's log lines."""
    found = {}
    for line in stdout.splitlines():
        match = STEP.match(line)
        if match:
            stamp, step, bag, event = match.groups()
            found.setdefault((step, bag), [None, None])[event != "started"] = when(stamp)
    return found


@pytest.fixture
def line(s3_server):
    proxy = LoopbackProxy(s3_server.port, rate=8_000_000)  # 8 MB/s
    yield proxy
    proxy.stop()


def throttled_project(tmp_path, s3_server, bucket, proxy, bags=5, extra=""):
    data = tmp_path / "data"
    for n in range(bags):  # one atom, one bag each
        (data / f"atom{n}").mkdir(parents=True)
        (data / f"atom{n}" / "blob").write_bytes(os.urandom(BAG_BYTES))
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f"target_bag_gb = 0.007\n{extra}")
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, proxy.endpoint))
    project.write_list(data)
    project.data = data
    return project


def sampled_backup(project, *args, **env):
    sampler = StagingSampler(project.root / "stage")
    try:
        result = project.run(*args, "backup", **env)
    finally:
        sampler.stop()
    return result, sampler


def overlaps(found: dict) -> list:
    """(tar bag, upload bag) pairs of different bags whose steps ran at once."""
    pairs = []
    for (step, bag), (start, end) in found.items():
        for (other, upload_bag), (up_start, up_end) in found.items():
            if step == "tar" and other == "upload" and bag != upload_bag and \
                    start < up_end and up_start < end:
                pairs.append((bag, upload_bag))
    return pairs


def test_one_bag_packs_while_another_uploads_within_the_staging_budget(
        tmp_path, s3_server, bucket, line):
    project = throttled_project(tmp_path, s3_server, bucket, line)
    result, sampler = sampled_backup(project)
    assert result.returncode == 0, result.stdout + result.stderr
    found = intervals(result.stdout)
    assert {step for step, _ in found} == {"tar", "upload", "manifest"}
    assert all(start and end for start, end in found.values()), found
    assert overlaps(found), result.stdout  # packing went on while the line was busy
    assert sampler.samples > 100 and sampler.most == 2  # the budget, used and kept
    assert sampler.most_bytes <= 2 * (BAG_BYTES + 200_000)
    assert not list((project.root / "stage").glob("*.tar*"))  # all freed at the end
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)


def test_a_budget_of_one_packs_only_while_nothing_uploads(tmp_path, s3_server, bucket,
                                                          line):
    project = throttled_project(tmp_path, s3_server, bucket, line, bags=3,
                                extra="staging_bags = 1\n")
    result, sampler = sampled_backup(project)
    assert result.returncode == 0, result.stdout + result.stderr
    found = intervals(result.stdout)
    assert len(found) == 9 and not overlaps(found)
    assert sampler.samples > 50 and sampler.most == 1
    check_invariant(project)


def test_a_log_gets_step_lines_a_heartbeat_and_the_right_totals(tmp_path, s3_server,
                                                                bucket, line):
    project = throttled_project(tmp_path, s3_server, bucket, line, bags=4,
                                extra="progress_interval = 0.25\n")
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    stamped = [when(STAMP.match(x).group(1)) for x in lines if STAMP.match(x)]
    assert stamped == sorted(stamped)
    gaps = [(b - a).total_seconds() for a, b in zip(stamped, stamped[1:])]
    assert max(gaps) < 0.25 + 0.2, gaps  # never silent for longer than the interval
    beats = [BEAT.match(x) for x in lines if BEAT.match(x)]
    assert len(beats) >= 4, result.stdout
    sizes = {key: bag["size"] for key, bag in project.inventory["bags"].items()}
    total = human(sum(sizes.values()))
    assert all(b.group(3) == "4" and b.group(5) == total for b in beats)
    assert [int(b.group(2)) for b in beats] == sorted(int(b.group(2)) for b in beats)
    for key, size in sizes.items():  # each upload's line gives its bag's exact size
        name = key.rpartition("/")[2].removesuffix(".tar")
        done = [x for x in lines if re.search(rf" upload {name} done \({human(size)} in ", x)]
        assert len(done) == 1, (name, result.stdout)
        assert sum(1 for x in lines if f" {name} " in x and STEP.match(x)) == 6
    assert "Backup 2026: 4 bags, 0 unchanged, 4 uploaded" in result.stdout


def test_the_summary_is_printed_when_the_network_goes_mid_run(tmp_path, s3_server,
                                                              bucket, line):
    project = throttled_project(tmp_path, s3_server, bucket, line, bags=5)
    proc = project.popen("backup", GLACIER_S3_ATTEMPTS="2", GLACIER_S3_TIMEOUT="2")
    markers = project.state / "bags"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            '"done": true' in m.read_text() for m in markers.glob("*.json")):
        time.sleep(0.02)
    line.cut()  # the first bag is done; the network goes
    output = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    failed = [x for x in output.splitlines() if x.startswith("FAILED bag ")]
    assert failed and all("S3" in x or "reach" in x for x in failed), output
    summary = [x for x in output.splitlines() if x.startswith("Backup 2026")]
    assert len(summary) == 1, output
    assert re.search(r"5 bags, 0 unchanged, [1-4] uploaded, 0 repaired, [1-4] failed",
                     summary[0]), summary
    # the line comes back: the next run finishes what is left, nothing twice
    line.down = False
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    check_invariant(project)


def test_the_summary_is_printed_when_the_network_is_down_from_the_start(
        tmp_path, s3_server, bucket, line):
    project = throttled_project(tmp_path, s3_server, bucket, line, bags=2)
    line.cut()
    result = project.run("backup", GLACIER_S3_ATTEMPTS="2", GLACIER_S3_TIMEOUT="2")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("glacier: ")
    assert ("Backup 2026 stopped before its end: 2 bags, 0 unchanged, 0 uploaded, "
            "0 repaired, 0 failed, 2 not reached") in result.stdout
    # its last word is what it sent, as a finished run's is
    assert result.stdout.splitlines()[-1].startswith(
        "Sent: 0 files in 0 bags, 0 B, 0 requests, fee about $0.0000; the run took ")
