"""Hostile runs against the restore of an atom with increments (issue 27): each bag
of the chain gives back only its share of the atom's newest view. Folder times, kinds
that change across years, and a restore over a live copy of the atom."""

import os
import shutil
from pathlib import Path

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, restore_by_hand, write

OLD = 1_500_000_000  # a folder time no restore can reach by chance


def folder_times(root: Path) -> dict:
    """relative folder -> its mtime in whole seconds (what `ls -l` shows)."""
    found = {".": os.stat(root).st_mtime_ns // 10**9}
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, root)] = os.lstat(full).st_mtime_ns // 10**9
    return found


def pin_folder_times(root: Path) -> None:
    """Every folder of the tree set to its own old time, deepest first."""
    for n, (dirpath, _, _) in enumerate(sorted(os.walk(root), reverse=True)):
        os.utime(dirpath, (OLD + n * 86400, OLD + n * 86400))


def test_attack_folder_time_after_a_file_changed_in_place(tmp_path, s3_server, bucket):
    """A file rewritten in place changes no folder's time, so the increment holds the
    file and not its folder. The restore writes the folder (from the base) first,
    then creates the file in it from the increment, which moves the folder's time
    to the restore's hour. Before the fix, a user comparing the restored tree with
    `ls -l` (or rsync -t, or a photo tool sorting folders by date) lost every such
    folder's date."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    pin_folder_times(atom)
    backup(project, 2025)
    with open(atom / "y" / "img03.jpg", "r+b") as f:  # same name, same folder
        f.write(os.urandom(100 * KB))
    with open(atom / "doomed.txt", "r+b") as f:  # a file right in the atom's folder
        f.write(b"changed")
    os.utime(atom / "y" / "img03.jpg", (OLD + 7, OLD + 7))
    pin_folder_times(atom)  # the folders as they were: not in the increment
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    dest = tmp_path / "tool"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos") == tree_snapshot(atom)
    assert folder_times(dest / "Photos") == folder_times(atom)
    folder = tmp_path / "folder"
    done = tool_restore(project, folder, "--path", f"{atom}/y")
    assert done.returncode == 0, done.stdout + done.stderr
    assert folder_times(folder / "Photos" / "y") == folder_times(atom / "y")


def test_attack_kinds_change_every_year(tmp_path, s3_server, bucket):
    """A name that is a file, then a folder, then a link (and one that goes folder ->
    file -> folder): the atom, a folder and a file restored each year equal the disk."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    write(atom / "k", 2 * KB)
    write(atom / "f" / "one.txt", 2 * KB)
    write(atom / "f" / "deep" / "two.txt", 2 * KB)
    backup(project, 2025)

    def check(year, single):
        assert project.inventory["atoms"][key].get("increments"), year
        whole = tmp_path / f"whole-{year}"
        done = tool_restore(project, whole, "--path", key)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all match the manifest" in done.stdout, done.stdout
        assert tree_snapshot(whole / "Photos") == tree_snapshot(atom)
        hand = tmp_path / f"hand-{year}"
        restore_by_hand(project, key, hand)
        assert tree_snapshot(hand / "Photos") == tree_snapshot(atom)
        for n, name in enumerate(single):
            part = tmp_path / f"part-{year}-{n}"
            done = tool_restore(project, part, "--path", f"{atom}/{name}")
            assert done.returncode == 0, done.stdout + done.stderr
            source, got = atom / name, part / "Photos" / name
            if source.is_symlink():
                assert os.readlink(got) == os.readlink(source)
            elif source.is_dir():
                assert tree_snapshot(got) == tree_snapshot(source)
            else:
                assert got.read_bytes() == source.read_bytes()
            assert not (part / "Photos" / "y").exists(), name  # only what was asked

    os.remove(atom / "k")
    write(atom / "k" / "inside.txt", 2 * KB)  # file -> folder
    shutil.rmtree(atom / "f")
    write(atom / "f", 3 * KB)  # folder -> file
    backup(project, 2026)
    check(2026, ["k", "k/inside.txt", "f"])
    shutil.rmtree(atom / "k")
    os.symlink("y", atom / "k")  # folder -> link to a folder
    os.remove(atom / "f")
    write(atom / "f" / "deep" / "three.txt", 2 * KB)  # file -> folder again
    backup(project, 2027)
    check(2027, ["k", "f", "f/deep"])
    os.remove(atom / "k")
    write(atom / "k", 4 * KB)  # link -> file
    backup(project, 2028)
    check(2028, ["k", "f/deep/three.txt"])


def live_copy(atom: Path, dest: Path) -> Path:
    """The user's copy of the atom in dest, as `cp -a` makes it."""
    shutil.copytree(atom, dest / "Photos", symlinks=True)
    return dest / "Photos"


def test_attack_overwrite_into_a_live_copy(tmp_path, s3_server, bucket):
    """--overwrite into a folder that holds the atom as the user keeps it: files the
    user changed come back as backed up, files the user added and files the atom lost
    in a later year stay (nothing is deleted), and a name whose kind differs in the
    copy (a folder where the atom has a file, a file where it has a folder) is either
    replaced or refused with one line, never left half done."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    old = tmp_path / "old"
    copy = live_copy(atom, old)  # the user's copy, of the 2025 atom
    os.remove(atom / "doomed.txt")
    with open(atom / "y" / "img04.jpg", "r+b") as f:
        f.write(os.urandom(50 * KB))
    write(atom / "y" / "new.jpg", 10 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    # the user's own changes in the copy
    (copy / "y" / "img10.jpg").write_bytes(b"edited by the user")  # a base share file
    (copy / "mine.txt").write_bytes(b"the user's own file")
    before_doomed = (copy / "doomed.txt").read_bytes()
    done = tool_restore(project, old, "--path", key, "--overwrite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    assert (copy / "mine.txt").read_bytes() == b"the user's own file"
    assert (copy / "doomed.txt").read_bytes() == before_doomed  # not the tool's to delete
    for rel in ("y/img10.jpg", "y/img04.jpg", "y/new.jpg", "y/img00.jpg"):
        assert (copy / rel).read_bytes() == (atom / rel).read_bytes(), rel
    expected = tree_snapshot(atom)
    got = tree_snapshot(copy)
    assert {k: got.get(k) for k in expected} == expected
    assert set(got) - set(expected) == {b"mine.txt", b"doomed.txt"}


def test_attack_overwrite_where_the_copy_has_another_kind(tmp_path, s3_server, bucket):
    """The copy holds a folder (with the user's files in it) where the atom now has a
    file, and a file where it now has a folder: --overwrite either replaces them or
    stops with one line naming the path; it never reports success with the atom's
    file missing."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    write(atom / "was_dir" / "a.txt", 2 * KB)
    write(atom / "was_file", 2 * KB)
    backup(project, 2025)
    old = tmp_path / "old"
    copy = live_copy(atom, old)
    shutil.rmtree(atom / "was_dir")
    write(atom / "was_dir", 3 * KB)
    os.remove(atom / "was_file")
    write(atom / "was_file" / "b.txt", 3 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    done = tool_restore(project, old, "--path", key, "--overwrite")
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    if done.returncode == 0:
        assert "all match the manifest" in done.stdout, out
        assert (copy / "was_dir").read_bytes() == (atom / "was_dir").read_bytes(), out
        assert (copy / "was_file" / "b.txt").read_bytes() == \
            (atom / "was_file" / "b.txt").read_bytes(), out
    else:
        assert "was_dir" in out or "was_file" in out, out


def test_attack_non_empty_folder_refused_nothing_written(tmp_path, s3_server, bucket):
    """Without --overwrite, a destination holding some of the atom's names (only
    names from the increment's share, only from the base's) is refused before any
    bag is thawed: nothing in it changes, not a byte, not a folder time."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "new.jpg", 10 * KB)
    os.remove(atom / "doomed.txt")
    backup(project, 2026)
    for name, rel in (("inc", "y/new.jpg"), ("base", "y/img02.jpg")):
        dest = tmp_path / name
        (dest / "Photos" / "y").mkdir(parents=True)
        (dest / "Photos" / rel).write_bytes(b"the user's")
        pin_folder_times(dest)
        before = tree_snapshot(dest), folder_times(dest)
        done = tool_restore(project, dest, "--path", key)
        out = done.stdout + done.stderr
        assert done.returncode != 0, out
        assert "Traceback" not in out, out
        assert "new.jpg" in out or "img02.jpg" in out, out
        assert (tree_snapshot(dest), folder_times(dest)) == before, name
    # a destination holding only a name the atom lost is not in the way
    dest = tmp_path / "lost"
    (dest / "Photos").mkdir(parents=True)
    (dest / "Photos" / "doomed.txt").write_bytes(b"the user's")
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "Photos" / "doomed.txt").read_bytes() == b"the user's"
    snap = tree_snapshot(dest / "Photos")
    del snap[b"doomed.txt"]
    assert snap == tree_snapshot(atom)


def test_attack_folder_modes_and_times_across_the_chain(tmp_path, s3_server, bucket):
    """Folders with their own modes: one whose mode alone changes in 2026 (its entry
    in the increment, its files in the base), one kept as it was while a file in it
    is rewritten in place (its entry in the base, a file in the increment), and the
    atom's own folder: modes and times come back as on disk, the atom and a folder."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    os.chmod(atom / "y", 0o750)
    os.chmod(atom / "thing", 0o711)
    os.chmod(atom, 0o705)
    pin_folder_times(atom)
    backup(project, 2025)
    os.chmod(atom / "thing", 0o700)
    with open(atom / "y" / "img11.jpg", "r+b") as f:
        f.write(b"changed in place")
    pin_folder_times(atom)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    for name, path, part in (("atom", key, ""), ("y", f"{atom}/y", "y"),
                             ("thing", f"{atom}/thing", "thing")):
        dest = tmp_path / name
        done = tool_restore(project, dest, "--path", path)
        assert done.returncode == 0, done.stdout + done.stderr
        got, source = dest / "Photos" / part, atom / part
        assert tree_snapshot(got) == tree_snapshot(source), name
        assert os.stat(got).st_mode == os.stat(source).st_mode, name
        assert folder_times(got) == folder_times(source), name
