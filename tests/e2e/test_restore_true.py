"""A one-file restore gives back the bytes that were backed up, or says it cannot
(issue 21, case 4): long link targets in the member index, a bag replaced in the
bucket, and per-file content checksums in the manifest."""

import base64
import hashlib
import json
import os
import subprocess

import pytest

from glacier_tasks.formats import layout, memberindex
from glacier_tasks.formats import manifest as manifest_format

from .helpers import tree_snapshot
from .invariant import check_invariant

LONG_TARGET = "../" + "a-very-long-folder-name/" * 6 + "target.txt"  # over 100 bytes


@pytest.fixture
def linked(project):
    """Books holds a file stored just before a symlink with a long target."""
    books = project.data / "Books"
    (books / "sub" / "m-before.txt").write_text("stored just before the link\n")
    os.symlink(LONG_TARGET, books / "sub" / "n-long-link")
    assert len(LONG_TARGET) > 100
    project.write_config("target_bag_gb = 0.1")  # every atom in one bag: ranges are used
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.mark.parametrize("what", ["Books/sub/n-long-link", "Books/sub/m-before.txt"])
def test_a_one_file_restore_beside_a_long_link_gives_back_what_was_stored(linked,
                                                                           tmp_path, what):
    dest = tmp_path / "out"
    args = ("restore", "--path", f"{linked.data}/{what}", "--to", str(dest))
    asked = linked.run(*args)
    assert "only the members asked for" in asked.stdout, asked.stdout
    result = linked.run(*args, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all match the manifest" in result.stdout
    restored, source = dest / what, linked.data / what
    if source.is_symlink():
        assert os.readlink(restored) == LONG_TARGET
    else:
        assert restored.read_bytes() == source.read_bytes()
    check_invariant(linked)


def test_every_manifest_line_carries_the_file_content_sha256(linked):
    bag = next(iter(linked.inventory["bags"].values()))
    text = linked.s3.get_object(Bucket=linked.bucket,
                                Key=bag["manifest_key"])["Body"].read().decode()
    sums = {}
    for line in text.splitlines():
        entry = manifest_format.read_entry(line)
        sums[entry.name + (b"/" if entry.folder else b"")] = entry.sha256
    for name in (b"Books/a.bin", b"VMs/disk.img", "Photos/日本/写真.raw".encode()):
        data = (linked.data / os.fsdecode(name)).read_bytes()
        assert sums[name] == hashlib.sha256(data).hexdigest(), name
    assert sums[b"Books/sub/"] is None and sums[b"Books/sub/n-long-link"] is None


def test_a_bag_replaced_in_the_bucket_is_never_restored(project, tmp_path):
    project.write_config("target_bag_gb = 0.1")
    assert project.run("backup").returncode == 0
    key, bag = next(iter(project.inventory["bags"].items()))
    tar = project.thaw_and_download(key, tmp_path / "bag.tar")
    data = bytearray(tar.read_bytes())
    at = data.find(b"hello\n")  # Books/sub/notes.txt
    data[at:at + 6] = b"HELLO\n"
    project.s3.put_object(Bucket=project.bucket, Key=key, Body=bytes(data),
                          StorageClass="DEEP_ARCHIVE", Metadata={"sha256": bag["sha256"]})
    dest = tmp_path / "out"
    result = project.run("restore", "--path", f"{project.data}/Books/sub/notes.txt",
                         "--yes", "--to", str(dest))
    assert result.returncode != 0
    assert "all match the manifest" not in result.stdout
    assert f"{key}: " in result.stdout + result.stderr
    assert "CRC64NVME" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (dest / "Books" / "sub" / "notes.txt").exists()


def test_a_forged_bag_with_the_recorded_size_and_crc_is_caught_by_content(project,
                                                                           tmp_path):
    """Size, sha256 metadata and CRC64NVME can all be copied or forged (a CRC is no
    signature): the manifest's per-file checksum still names the file."""
    project.write_config("target_bag_gb = 0.1")
    assert project.run("backup").returncode == 0
    key, bag = next(iter(project.inventory["bags"].items()))
    data = bytearray(project.thaw_and_download(key, tmp_path / "bag.tar").read_bytes())
    at = data.find(b"hello\n")  # Books/sub/notes.txt; its block's padding follows
    data[at:at + 6] = b"HELLO\n"
    forged = _with_crc(bytes(data), at + 8, bag["crc64nvme"])
    project.s3.put_object(Bucket=project.bucket, Key=key, Body=forged,
                          StorageClass="DEEP_ARCHIVE", Metadata={"sha256": bag["sha256"]},
                          ChecksumAlgorithm="CRC64NVME")
    head = project.s3.head_object(Bucket=project.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == bag["crc64nvme"]  # the forgery holds
    dest = tmp_path / "out"
    result = project.run("restore", "--path", f"{project.data}/Books/sub/notes.txt",
                         "--yes", "--to", str(dest))
    assert result.returncode != 0, result.stdout
    said = result.stdout + result.stderr
    assert "Books/sub/notes.txt: content differs" in said
    assert "all match the manifest" not in said


def _crc(data: bytes) -> int:
    from awscrt import checksums
    return checksums.crc64nvme(data)


def _with_crc(data: bytes, at: int, wanted_b64: str) -> bytes:
    """data with 8 bytes at `at` changed so that its CRC64NVME is wanted_b64 (a CRC is
    affine over GF(2): solve for the bits to flip)."""
    wanted = int.from_bytes(base64.b64decode(wanted_b64), "big")
    base, zero = _crc(data), _crc(bytes(len(data)))
    effects = []  # what flipping each of the 64 bits does to the CRC
    for bit in range(64):
        flip = bytearray(len(data))
        flip[at + bit // 8] = 1 << (bit % 8)
        effects.append(_crc(bytes(flip)) ^ zero)
    rows = [(effects[b], 1 << b) for b in range(64)]  # gaussian elimination
    goal, chosen, basis = base ^ wanted, 0, []
    for effect, bits in rows:
        for b_effect, b_bits in basis:
            if effect ^ b_effect < effect:
                effect, bits = effect ^ b_effect, bits ^ b_bits
        if effect:
            basis.append((effect, bits))
            basis.sort(reverse=True)
    for b_effect, b_bits in basis:
        if goal ^ b_effect < goal:
            goal, chosen = goal ^ b_effect, chosen ^ b_bits
    assert goal == 0
    out = bytearray(data)
    for bit in range(64):
        if chosen >> bit & 1:
            out[at + bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_a_whole_atom_restore_still_matches_after_the_index_change(linked, tmp_path):
    dest = tmp_path / "out"
    result = linked.run("restore", "--path", f"{linked.data}/Books", "--yes", "--to",
                        str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree_snapshot(dest / "Books") == tree_snapshot(linked.data / "Books")


@pytest.mark.parametrize("what", ["Books/sub/n-long-link", "Books/sub/m-before.txt"])
def test_an_index_made_by_an_older_version_falls_back_to_the_whole_bag(linked, tmp_path,
                                                                     what):
    """Bags already in the bucket carry GNU tar's --block-number index, which starts a
    long link after its long-link block: the runs are refused, the whole bag read."""
    key, bag = next(iter(linked.inventory["bags"].items()))
    tar = linked.thaw_and_download(key, tmp_path / "bag.tar")
    env = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    names = subprocess.run(["tar", "-t", "--quoting-style=escape", "-f", str(tar)],
                           capture_output=True, check=True, env=env).stdout
    members = tmp_path / "members"
    members.write_bytes(b"".join(memberindex.unquote(n) + b"\0"
                                 for n in names.splitlines()))
    listing = tmp_path / "listing"  # what the older version's tar command wrote
    subprocess.run(["tar", "--create", "--format=gnu", "--sparse", "--no-recursion",
                    "--directory", str(linked.data), "--null", "--verbatim-files-from",
                    "--no-unquote", "--quoting-style=escape", "--files-from",
                    str(members), "--file", "-", "--verbose", "--block-number",
                    f"--index-file={listing}"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    lines = [memberindex.HEADER + bag["sha256"] + "\n"]
    for line in listing.read_bytes().splitlines():
        block, _, name = line.partition(b": ")
        name = memberindex.unquote(name)
        lines.append(f"{int(block.split()[1])}\t{manifest_format.escape_name(name)}\n")
    old = "".join(lines).encode()
    linked.s3.put_object(Bucket=linked.bucket, Key=layout.index_key(key), Body=old)
    inventory = linked.inventory
    inventory["bags"][key]["index_sha256"] = hashlib.sha256(old).hexdigest()
    (linked.root / "inventory.json").write_text(json.dumps(inventory))
    for idx in (linked.root / "manifests").rglob("*.idx"):
        idx.unlink()
    dest = tmp_path / "out"
    result = linked.run("restore", "--path", f"{linked.data}/{what}", "--yes", "--to",
                        str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "downloading the whole bag instead" in result.stdout
    assert "all match the manifest" in result.stdout
    source, restored = linked.data / what, dest / what
    if source.is_symlink():
        assert os.readlink(restored) == LONG_TARGET
    else:
        assert restored.read_bytes() == source.read_bytes()
