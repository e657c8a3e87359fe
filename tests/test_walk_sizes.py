"""Sizes are what tar --sparse writes (a sparse file's data, not its holes); the
apparent size is kept beside it for information."""

import os

from glacier_tasks.backup import pack as bag, scan
from glacier_tasks.formats import manifest
from tests.test_walk_vanish import listed, members, planned
from tests.support.tmpfs import mounted_tmpfs

TERABYTE = 10**12


def thin_disk(root, data: bytes):
    (root / "VMs").mkdir(parents=True)
    disk = root / "VMs" / "thin.img"
    with open(disk, "wb") as f:
        f.truncate(TERABYTE)
        f.seek(TERABYTE // 2)
        f.write(data)
    return disk


def test_sparse_file_counts_its_data_not_its_holes(tmp_path):
    disk = thin_disk(tmp_path, os.urandom(1_000_000))
    (tmp_path / "VMs" / "small.txt").write_text("five\n")  # a 4 KB block, 5 bytes
    result = scan.scan_atom(tmp_path, "VMs")
    allocated = disk.stat().st_blocks * 512
    assert allocated < 2_000_000
    # its data (at most the allocated blocks), tar's headers, the small file's block
    assert 1_000_000 < result.size <= allocated + 4 * 512
    assert result.apparent_size == TERABYTE + 5
    assert result.hash == scan.scan_atom(tmp_path, "VMs").hash


def test_hash_file_records_both_sizes(tmp_path):
    thin_disk(tmp_path, b"x")
    hash_file = scan.hash_file_for(tmp_path / "state", "/data/VMs")
    scan.write_atom_hash(tmp_path, "VMs", "/data/VMs", hash_file)
    record = scan.read_atom_hash(hash_file)
    assert record["apparent_size"] == TERABYTE
    assert record["size"] < 100_000
    assert "unreadable" not in record


def test_terabyte_thin_disk_packs_into_a_small_staging_disk(tmp_path):
    root = tmp_path / "molecule"
    thin_disk(root, b"the only data\n")
    plan = planned(root, "VMs")
    assert bag.staging_need(plan.size) < 4_000_000
    stage = tmp_path / "stage"
    stage.mkdir()
    with mounted_tmpfs(stage, "8m"):
        packed = bag.pack_bag(plan, root, stage / "b.tar", tmp_path / "m" / "b.txt")
        assert packed.size < 1_000_000
        assert listed(packed.manifest_path) == members(packed.tar_path)
        # a terabyte of holes is not hashed as zeros: the thin disk's line has no
        # content checksum (the restore checks its size and time), a small file's has
        sums = {entry.name: entry.sha256
                for entry in manifest.read_entries(packed.manifest_path)}
        assert sums[b"VMs/thin.img"] is None
