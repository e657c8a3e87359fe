"""What a person or a log sees of a backup: bytes counted once, when S3 acknowledges a
part; timestamped step lines and a heartbeat when stderr is not a terminal."""

import base64
import os
import re
import time
from types import SimpleNamespace

import pytest

from awscrt import checksums

from glacier_tasks.backup.progress import Progress, stamp
from glacier_tasks.units import duration
from glacier_tasks.bucket.parts import MIB, part_size_for
from glacier_tasks.bucket.store import Store

def crc64(data: bytes) -> str:
    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (.*)$")


def progress_for(interval=300.0) -> Progress:
    return Progress(SimpleNamespace(progress_interval=interval))


class Log:
    """What the run printed, as a log file (pytest's capture is not a terminal)."""

    def __init__(self, capsys):
        self.capsys, self.text = capsys, ""

    def getvalue(self) -> str:
        self.text += self.capsys.readouterr().out
        return self.text


@pytest.fixture
def log(capsys):
    return Log(capsys)


@pytest.fixture
def store(s3_server, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Store(bucket, s3_server.endpoint, "us-east-1")


def test_the_upload_counts_each_byte_once_when_s3_acknowledges_it(store, tmp_path):
    """botocore reads each part twice (its checksum pass, then the send): the count
    must still end at the file's size, and a resumed part counts as resumed."""
    data = os.urandom(40 * MIB)
    path = tmp_path / "bag.tar"
    path.write_bytes(data)
    key = "2026-backup/h_m_bag_001.tar"
    size = part_size_for(len(data))
    client = store.client
    upload_id = client.create_multipart_upload(
        Bucket=store.bucket, Key=key, StorageClass="DEEP_ARCHIVE",
        ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT")["UploadId"]
    client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1,
                       Body=data[:size], ChecksumAlgorithm="CRC64NVME")
    calls = []
    store.upload_file(path, key, "DEEP_ARCHIVE", {}, crc64(data),
                      {"key": key, "upload_id": upload_id, "part_size": size},
                      lambda resume: None, lambda n, resumed: calls.append((n, resumed)))
    assert sum(n for n, _ in calls) == len(data)
    assert calls[0] == (size, True)  # the part an earlier run had sent
    assert sorted(n for n, resumed in calls if not resumed) == sorted(
        [size, len(data) - 2 * size])  # the others, one call per part


def test_a_small_bag_counts_once_too(store, tmp_path):
    path = tmp_path / "small.tar"
    path.write_bytes(os.urandom(3 * MIB))
    calls = []
    store.upload_file(path, "k.tar", "DEEP_ARCHIVE", {}, crc64(path.read_bytes()), {},
                      lambda resume: None, lambda n, resumed: calls.append(n))
    assert calls == [3 * MIB]


def test_the_bars_byte_total_is_the_bags_size(log):
    progress = progress_for()
    progress.start(lambda: {"bag_001": 1000, "bag_002": 500})
    with progress.upload_bar("bag_001", 1000) as acknowledged:
        acknowledged(600, True)
        acknowledged(400, False)
    progress.finished("bag_001")
    assert progress.sent == 1000 and progress.bytes_total == 1500
    assert progress.summary().startswith("1 of 2 bags done, 1.0 KB of 1.5 KB sent")
    progress.adopted("bag_002")  # already in the bucket: nothing left to send
    assert progress.summary().startswith("2 of 2 bags done, 1.0 KB of 1.0 KB sent")
    assert "nothing left to send" in progress.summary()
    progress.finish()


def test_a_log_gets_timestamped_step_lines(log):
    progress = progress_for()
    progress.start(lambda: {"bag_001": 10})
    progress.step("tar", "bag_001", "started", "10 B planned")
    progress.step("tar", "bag_001", "done")
    progress.say("bag bag_001: uploaded")
    progress.finish()
    lines = log.getvalue().splitlines()
    assert [LINE.match(line).group(2) for line in lines[:2]] == [
        "tar bag_001 started (10 B planned)", "tar bag_001 done"]
    assert lines[2] == "bag bag_001: uploaded"


def test_the_heartbeat_speaks_at_most_every_interval_and_never_less(log):
    progress = progress_for(interval=0.2)
    progress.start(lambda: {"bag_001": 4_000_000})
    with progress.upload_bar("bag_001", 4_000_000) as acknowledged:
        time.sleep(0.1)
        acknowledged(1_000_000, False)
        time.sleep(0.75)
    progress.finish()
    beats = [LINE.match(line) for line in log.getvalue().splitlines()
             if "progress:" in line]
    assert 3 <= len(beats) <= 4, log.getvalue()
    assert all(b.group(2).startswith("progress: 0 of 1 bag done, 1.0 MB of 4.0 MB sent, ")
               for b in beats)
    assert "MB/s, ETA " in beats[-1].group(2)
    times = [time.mktime(time.strptime(b.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
             + int(b.group(1)[20:]) / 1000 for b in beats]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.15 <= gap <= 0.5 for gap in gaps), gaps
    count = len(beats)
    time.sleep(0.3)
    assert len([line for line in log.getvalue().splitlines() if "progress:" in line]) \
        == count  # finish() stopped it


def test_quiet_below_verbosity_2(log):
    progress = progress_for(interval=0.05)
    progress.start(lambda: {"bag_001": 10}, verbose=False)
    progress.step("upload", "bag_001", "started")
    progress.say("bag bag_001: uploaded")
    time.sleep(0.15)
    progress.finish()
    assert log.getvalue() == ""


def test_stamp_and_duration():
    assert LINE.match(stamp(0.5) + " x")
    assert stamp(1_700_000_000.25).endswith(".250")
    assert [duration(s) for s in (4, 59.6, 61, 3600 * 2 + 60 * 14)] == \
        ["4 s", "1 min", "1 min", "2 h 14 min"]
