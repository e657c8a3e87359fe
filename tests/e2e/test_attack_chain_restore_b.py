"""Hostile runs against the restore of an atom with increments (issue 27): hard links,
sparse files and odd names split across a chain's bags, whole downloads vs ranges."""

import os

from glacier_tasks.formats import layout, manifest

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, restore_by_hand, write


def restored(project, tmp_path, name, path, *args):
    dest = tmp_path / name
    done = tool_restore(project, dest, "--path", str(path), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    return dest / "Photos"


def drop_indexes(project) -> None:
    """The member indexes gone, here and in the bucket: every bag downloaded whole."""
    for key in project.inventory["bags"]:
        index = layout.index_key(key)
        project.s3.delete_object(Bucket=project.bucket, Key=index)
    for path in (project.root).rglob("*.idx"):
        path.unlink()


def test_attack_hard_link_partner_replaced(tmp_path, s3_server, bucket):
    """y/img00.jpg and y/same.jpg are one file in 2025; in 2026 img00.jpg is replaced
    (a new file under its name) and same.jpg keeps the old bytes. same.jpg's newest
    version is in the base, where it is stored as a link to img00.jpg, whose newest
    version is not: the atom, the folder and the file alone, ranged and whole, give
    same.jpg its old bytes and img00.jpg its new ones."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    os.link(atom / "y" / "img00.jpg", atom / "y" / "same.jpg")
    old = (atom / "y" / "same.jpg").read_bytes()
    backup(project, 2025)
    os.remove(atom / "y" / "img00.jpg")
    write(atom / "y" / "img00.jpg", 100 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    for mode in ("ranged", "whole"):
        if mode == "whole":
            drop_indexes(project)
        got = restored(project, tmp_path, f"atom-{mode}", key)
        assert tree_snapshot(got) == tree_snapshot(atom), mode
        assert (got / "y" / "same.jpg").read_bytes() == old
        got = restored(project, tmp_path, f"y-{mode}", atom / "y")
        assert tree_snapshot(got / "y") == tree_snapshot(atom / "y"), mode
        got = restored(project, tmp_path, f"same-{mode}", atom / "y" / "same.jpg")
        assert (got / "y" / "same.jpg").read_bytes() == old, mode
        assert sorted(os.listdir(got / "y")) == ["same.jpg"], mode
    hand = tmp_path / "hand"
    restore_by_hand(project, key, hand)
    assert tree_snapshot(hand / "Photos") == tree_snapshot(atom)


def test_attack_hard_link_made_later_same_bytes(tmp_path, s3_server, bucket):
    """In 2026 a second name is linked to a file the base holds. The increment holds
    the new name as a file of its own (its partner is unchanged), as the README says:
    both names come back with the same bytes, as two files (not a link: the bytes
    take twice the room on disk; a whole bag would have kept the link)."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.link(atom / "y" / "img01.jpg", atom / "again.jpg")
    write(atom / "y" / "x.jpg", 1 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    got = restored(project, tmp_path, "atom", key)
    assert tree_snapshot(got) == tree_snapshot(atom)
    assert (got / "again.jpg").read_bytes() == (atom / "y" / "img01.jpg").read_bytes()
    hand = tmp_path / "hand"
    restore_by_hand(project, key, hand)
    assert tree_snapshot(hand / "Photos") == tree_snapshot(atom)


def test_attack_sparse_file_modified_in_an_increment(tmp_path, s3_server, bucket):
    """A thin disk image written to in 2026: the increment holds it again; restored
    (the atom, the file alone, ranged and whole) it has the new bytes and stays thin."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    disk = atom / "vm" / "disk.img"
    disk.parent.mkdir()
    with open(disk, "wb") as f:
        f.truncate(30_000_000)
        f.seek(10_000_000)
        f.write(os.urandom(20 * KB))
    backup(project, 2025)
    with open(disk, "r+b") as f:
        f.seek(20_000_000)
        f.write(os.urandom(30 * KB))
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    for mode in ("ranged", "whole"):
        if mode == "whole":
            drop_indexes(project)
        for name, path in (("atom", key), ("file", disk)):
            got = restored(project, tmp_path, f"{name}-{mode}", path)
            back = got / "vm" / "disk.img"
            assert back.read_bytes() == disk.read_bytes(), (name, mode)
            assert os.stat(back).st_blocks * 512 < 1_000_000, (name, mode)


ODD_DIR = os.fsdecode(b"odd \\ dir\n\xff")
ODD_FILE = os.fsdecode(b"a\\nb\n\xfe.txt")


def test_attack_odd_names_split_across_the_chain(tmp_path, s3_server, bucket):
    """A folder whose name holds a backslash, a newline and a byte that is not UTF-8,
    its files split between the base and two increments (one changed, one added, one
    deleted): the atom, the folder (as typed and as `find` prints it) and a file in
    it come back as on disk; the deleted one does not."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    odd = atom / ODD_DIR
    for n in range(3):
        write(odd / f"{n}.txt", 2 * KB)
    write(odd / ODD_FILE, 2 * KB)
    backup(project, 2025)
    write(odd / "1.txt", 3 * KB)
    write(odd / (ODD_FILE + "2"), 1 * KB)
    backup(project, 2026)
    os.remove(odd / "2.txt")
    with open(odd / ODD_FILE, "r+b") as f:
        f.write(b"changed")
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    got = restored(project, tmp_path, "atom", key)
    assert tree_snapshot(got) == tree_snapshot(atom)
    got = restored(project, tmp_path, "raw", odd)
    assert tree_snapshot(got / ODD_DIR) == tree_snapshot(odd)
    printed = f"{atom}/" + manifest.escape_name(os.fsencode(ODD_DIR))
    got = restored(project, tmp_path, "printed", printed)
    assert tree_snapshot(got / ODD_DIR) == tree_snapshot(odd)
    got = restored(project, tmp_path, "file", odd / ODD_FILE)
    assert (got / ODD_DIR / ODD_FILE).read_bytes() == (odd / ODD_FILE).read_bytes()
    assert os.listdir(got / ODD_DIR) == [ODD_FILE]
    gone = tmp_path / "gone"
    done = tool_restore(project, gone, "--path", str(odd / "2.txt"))
    assert done.returncode != 0 and not (gone / "Photos" / ODD_DIR / "2.txt").exists()
    assert "Traceback" not in done.stdout + done.stderr
