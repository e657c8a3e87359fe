"""bag.py on real folders: what GNU tar reads back, checksums, staging room. Files that
move or vanish while they are packed: tests/test_walk_moving.py."""

import base64
import hashlib
import os
import re
import subprocess
import tarfile

from awscrt import checksums

from glacier_tasks.backup import pack as bag, scan
from glacier_tasks.formats.layout import archive_key, bag_name, manifest_key
from glacier_tasks.backup.plan import PlannedBag
from tests.support.tmpfs import mounted_tmpfs

MOLECULE = "/data"


def make_bag(molecule_path, *names) -> PlannedBag:
    atoms = [scan.atom_key(MOLECULE, n) for n in names]
    size = sum(scan.scan_atom(molecule_path, n).size for n in names)
    files = sum(scan.scan_atom(molecule_path, n).files for n in names)
    key = archive_key(2026, "host", "data", "bag_001")
    return PlannedBag(name=bag_name(key), tar_id="bag_001", molecule=MOLECULE,
                      archive_key=key, manifest_key=manifest_key(key),
                      atoms=sorted(atoms), size=size, files=files, action="upload")


def pack(planned, root, staging_dir, manifest_dir, progress=None):
    """Pack into STAGING/NAME.tar and MANIFESTS/NAME.txt, as a backup run names them."""
    return bag.pack_bag(planned, root, staging_dir / f"{planned.name}.tar",
                        manifest_dir / f"{planned.name}.txt", progress)


def sample(tmp_path):
    root = tmp_path / "molecule"
    (root / "Books" / "deep").mkdir(parents=True)
    (root / "Books" / "a.bin").write_bytes(os.urandom(2_000_000))
    (root / "Books" / "deep" / "tab\tand\nnewline").write_text("odd name\n")
    (root / "Books" / "-leading-dash").write_text("x")
    (root / "Music").mkdir()
    (root / "Music" / "song.flac").write_bytes(os.urandom(500_000))
    (root / "loose.txt").write_text("loose\n")
    return root


def test_tar_reads_back_in_walk_order_with_matching_checksums(tmp_path):
    root = sample(tmp_path)
    planned = make_bag(root, "Books", "Music", scan.LOOSE_ATOM)
    packed = pack(planned, root, tmp_path / "stage", tmp_path / "manifests")
    data = packed.tar_path.read_bytes()
    assert packed.size == len(data)
    assert packed.sha256 == hashlib.sha256(data).hexdigest()
    assert base64.b64decode(packed.crc64nvme) == \
        checksums.crc64nvme(data).to_bytes(8, "big")
    subprocess.run(["tar", "-tf", str(packed.tar_path)], capture_output=True, check=True)
    with tarfile.open(packed.tar_path, encoding="utf-8", errors="surrogateescape") as tar:
        members = [m.name for m in tar.getmembers()]
    walked = [os.fsdecode(rel) for key in planned.atoms
              for rel, _ in scan.walk_atom(root, scan.atom_name(MOLECULE, key))]
    assert members == walked
    assert walked[:3] == ["loose.txt", "Books", "Books/-leading-dash"]
    manifest = packed.manifest_path.read_text().splitlines()
    assert len(manifest) == len(walked)
    assert "Books/deep/tab\\tand\\nnewline\t9\t" in "\n".join(manifest)
    assert packed.atom_hashes == {k: scan.scan_atom(root, scan.atom_name(MOLECULE, k)).hash
                                  for k in planned.atoms}
    assert not list((tmp_path / "stage").glob("*.partial"))


def test_same_files_pack_to_the_same_bytes(tmp_path):
    root = sample(tmp_path)
    planned = make_bag(root, "Books", "Music")
    first = pack(planned, root, tmp_path / "s1", tmp_path / "m1")
    second = pack(planned, root, tmp_path / "s2", tmp_path / "m2")
    assert first.sha256 == second.sha256


def test_staging_room_is_checked_before_writing(tmp_path):
    root = sample(tmp_path)
    planned = make_bag(root, "Books")
    planned.size = 10**15  # a petabyte bag cannot fit anywhere here
    try:
        pack(planned, root, tmp_path / "stage", tmp_path / "manifests")
    except bag.BagError as err:
        assert "staging_dir" in str(err) and "host_data_bag_001" in str(err)
    else:
        raise AssertionError("a bag larger than the disk was packed")
    assert list((tmp_path / "stage").iterdir()) == []


def test_disk_filling_up_while_packing_leaves_no_partial_bag(tmp_path):
    root = sample(tmp_path)
    planned = make_bag(root, "Books", "Music")  # about 2.5 MB: fits the check below
    stage = tmp_path / "stage"
    stage.mkdir()
    filled = []

    def someone_else_fills_the_disk(_bytes):
        if not filled:
            filled.append(True)
            with open(stage / "other-program.bin", "wb") as f:
                try:
                    f.write(b"\0" * 4_000_000)
                except OSError:
                    pass

    with mounted_tmpfs(stage, "4m"):
        try:
            pack(planned, root, stage, tmp_path / "manifests",
                 someone_else_fills_the_disk)
        except bag.BagError as err:
            message = str(err)
        else:
            raise AssertionError("packing into a full disk succeeded")
        left = sorted(p.name for p in stage.iterdir())
    assert "No space left on device" in message and "host_data_bag_001" in message
    assert left == ["other-program.bin"]


def test_write_manifest_alone_matches_what_packing_wrote(tmp_path):
    root = sample(tmp_path)
    planned = make_bag(root, "Books", "Music", scan.LOOSE_ATOM)
    packed = pack(planned, root, tmp_path / "stage", tmp_path / "manifests")
    again = tmp_path / "elsewhere" / "manifests" / f"{planned.name}.txt"
    hashes = bag.write_manifest(planned, str(root), again)  # a str path is fine too
    # without the tar there is no content checksum: the same lines without that field
    with_sums = packed.manifest_path.read_text(encoding="utf-8")
    assert with_sums.count("\tsha256:") == sum(
        1 for line in with_sums.splitlines() if not line.split("\t")[0].endswith("/")
        and "skipped" not in line)
    assert again.read_text(encoding="utf-8") == re.sub(r"\tsha256:[0-9a-f]{64}", "",
                                                       with_sums)
    assert hashes == packed.atom_hashes
    assert sorted(p.name for p in again.parent.iterdir()) == [again.name]
