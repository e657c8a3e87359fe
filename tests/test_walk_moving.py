"""A file rewritten while tar reads it (borg's rule: size, mtime or ctime moved between
the walk and the look after tar): the bag is packed again once, then fails naming the
file. A file deleted after tar read it is not torn."""

import os
import tarfile

import pytest

from glacier_tasks.backup import pack as bag, scan
from glacier_tasks.errors import BagError
from tests.test_walk_vanish import MOLECULE, listed, members, planned


def tree(tmp_path):
    root = tmp_path / "molecule"
    (root / "Books").mkdir(parents=True)
    (root / "Books" / "-first").write_text("read before the big one\n")
    (root / "Books" / "a.bin").write_bytes(os.urandom(3_000_000))
    (root / "Music").mkdir()
    (root / "Music" / "song.flac").write_bytes(os.urandom(500_000))
    return root


def pack(root, tmp_path, progress):
    plan = planned(root, "Books", "Music")
    return plan, bag.pack_bag(plan, root, tmp_path / "stage" / f"{plan.name}.tar",
                              tmp_path / "manifests" / f"{plan.name}.txt", progress)


def test_file_moving_in_both_packs_leaves_its_atom_out_naming_it(tmp_path):
    """Issue 21 case 12: one always-busy file costs its own atom, not its bag: the
    other atoms are packed once more without it."""
    root = tree(tmp_path)
    song = root / "Music" / "song.flac"
    rewrites = []

    def rewrite(_bytes):  # every chunk tar sends, in every pack
        rewrites.append(True)
        song.write_bytes(os.urandom(100 + len(rewrites)))

    plan, packed = pack(root, tmp_path, rewrite)
    music = next(k for k in plan.atoms if k.endswith("/Music"))
    assert list(packed.left_out) == [music]
    assert packed.left_out[music] == f"{song} changed while it was read, twice"
    assert members(packed.tar_path) == [b"Books", b"Books/-first", b"Books/a.bin"]
    assert listed(packed.manifest_path) == members(packed.tar_path)
    assert list(packed.atom_hashes) == [k for k in plan.atoms if k != music]


def test_the_only_atom_moving_in_both_packs_fails_the_bag_naming_it(tmp_path):
    root = tree(tmp_path)
    song = root / "Music" / "song.flac"
    rewrites = []

    def rewrite(_bytes):
        rewrites.append(True)
        song.write_bytes(os.urandom(100 + len(rewrites)))

    plan = planned(root, "Music")
    with pytest.raises(BagError) as caught:
        bag.pack_bag(plan, root, tmp_path / "stage" / f"{plan.name}.tar",
                     tmp_path / "manifests" / f"{plan.name}.txt", rewrite)
    assert str(caught.value).startswith(
        f"{plan.name}: {song} changed while it was read, twice; ")
    assert len(rewrites) >= 2
    assert list((tmp_path / "stage").iterdir()) == []  # no tar, no partial
    assert list((tmp_path / "manifests").iterdir()) == []  # no manifest of it either


def test_file_moving_in_the_first_pack_only_is_packed_again(tmp_path):
    root = tree(tmp_path)
    song = root / "Music" / "song.flac"
    packs = []

    def rewrite_once(_bytes):
        if not packs:
            packs.append(True)
            song.write_bytes(b"re-encoded while tar ran")

    plan, packed = pack(root, tmp_path, rewrite_once)
    with tarfile.open(packed.tar_path) as tar:
        assert tar.extractfile("Music/song.flac").read() == b"re-encoded while tar ran"
    assert listed(packed.manifest_path) == members(packed.tar_path)
    assert packed.atom_hashes == {k: scan.scan_atom(root, scan.atom_name(MOLECULE, k)).hash
                                  for k in plan.atoms}
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == [packed.tar_path.name]


def test_file_deleted_after_tar_read_it_is_not_torn(tmp_path):
    root = tree(tmp_path)
    first = root / "Books" / "-first"

    def delete_what_tar_has_read(_bytes):  # tar is in a.bin: -first came before it
        first.unlink(missing_ok=True)

    _, packed = pack(root, tmp_path, delete_what_tar_has_read)
    assert b"Books/-first" in members(packed.tar_path)
    assert listed(packed.manifest_path) == members(packed.tar_path)


def test_file_changed_then_quiet_before_tar_is_still_caught(tmp_path, monkeypatch):
    """A change between the walk and tar's read is as unprovable as one during it: the
    stored copy is newer than the manifest's size and mtime say."""
    root = tree(tmp_path)
    song = root / "Music" / "song.flac"
    real = bag._run_tar
    runs = []

    def change_first_then_run(*args, **kwargs):
        runs.append(True)
        if len(runs) == 1:
            song.write_bytes(b"changed after the walk")
        return real(*args, **kwargs)

    monkeypatch.setattr(bag, "_run_tar", change_first_then_run)
    _, packed = pack(root, tmp_path, None)
    assert len(runs) == 2  # packed again, and the second walk saw the new file
    line = next(line for line in packed.manifest_path.read_text().splitlines()
                if line.startswith("Music/song.flac\t"))
    assert line.split("\t")[1] == str(len(b"changed after the walk"))
