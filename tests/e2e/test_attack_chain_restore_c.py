"""Hostile runs against the restore of an atom with increments (issue 27): --all over
several chained atoms sharing a base bag, a rerun after rm -rf of part of the
destination, --year of a middle year, and the check after the restore."""

import os
import shutil

from .helpers import Project, restore_all, tree_snapshot
from .test_attack_chain_restore_a import folder_times
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, write, year_env


def many_atoms(tmp_path, s3_server, bucket):
    """One molecule: four atoms and loose files, all small enough for one base bag."""
    data = tmp_path / "data"
    for atom in ("A", "B", "C", "D"):
        for n in range(8):
            write(data / atom / "sub" / f"{n}.bin", 40 * KB)
        write(data / atom / "top.txt", 2 * KB)
    for n in range(8):
        write(data / f"loose{n}.bin", 40 * KB)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.05\n")
    project.write_list(data)
    project.data = data
    return project


def test_attack_all_with_chained_atoms_in_one_base_bag(tmp_path, s3_server, bucket):
    """Four atoms and the loose files share one base bag; each then changes a little
    each year (one loses a folder, one a file, the loose files one of theirs).
    restore --all brings the molecule back as on disk, nothing lost comes back, and a
    rerun after rm -rf of two atoms refills them and nothing else."""
    project = many_atoms(tmp_path, s3_server, bucket)
    data = project.data
    backup(project, 2025)
    bases = {e["archive_key"] for e in project.inventory["atoms"].values()}
    assert len(bases) == 1, bases
    write(data / "A" / "sub" / "0.bin", 40 * KB)
    shutil.rmtree(data / "B" / "sub")
    os.remove(data / "C" / "top.txt")
    write(data / "D" / "new" / "n.bin", 3 * KB)
    os.remove(data / "loose3.bin")
    write(data / "loose0.bin", 40 * KB)
    backup(project, 2026)
    write(data / "B" / "sub" / "back.bin", 2 * KB)  # the folder back, other files
    write(data / "C" / "sub" / "1.bin", 41 * KB)
    write(data / "loose3.bin", 1 * KB)
    backup(project, 2027)
    chained = [a for a, e in project.inventory["atoms"].items() if e.get("increments")]
    assert len(chained) >= 4, chained
    dest = tmp_path / "all"
    done = project.run("restore", "--all", "--yes", "--to", str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    (folder,) = os.listdir(dest)
    assert tree_snapshot(dest / folder) == tree_snapshot(data)
    hand = tmp_path / "hand"
    restore_all(project, hand)
    assert tree_snapshot(hand) == tree_snapshot(data)
    shutil.rmtree(dest / folder / "A")
    shutil.rmtree(dest / folder / "B" / "sub")
    os.remove(dest / folder / "loose0.bin")
    (dest / folder / "C" / "mine.txt").write_bytes(b"the user's")
    again = project.run("restore", "--all", "--yes", "--to", str(dest))
    assert again.returncode == 0, again.stdout + again.stderr
    snap = tree_snapshot(dest / folder)
    assert snap.pop(b"C/mine.txt")[0] == "file"
    assert snap == tree_snapshot(data)


def test_attack_refill_after_rm_rf_brings_back_only_what_went(tmp_path, s3_server,
                                                              bucket):
    """After the atom is restored, the user removes a folder whose files are split
    between the base and an increment, and one file of each share, and edits one it
    keeps. The rerun brings back exactly what went (new bytes where the newest is in
    the increment), keeps the user's edit, never brings back what the atom lost."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    write(atom / "gone" / "g.txt", 2 * KB)
    backup(project, 2025)
    shutil.rmtree(atom / "gone")
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "img05.jpg", 100 * KB)
    write(atom / "thing" / "inner.txt", 3 * KB)
    write(atom / "thing" / "more.txt", 1 * KB)
    backup(project, 2026)
    assert project.inventory["atoms"][key].get("increments"), "no increment made"
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    got = dest / "Photos"
    assert tree_snapshot(got) == tree_snapshot(atom)
    shutil.rmtree(got / "thing")
    os.remove(got / "y" / "img05.jpg")  # the increment's
    os.remove(got / "y" / "img06.jpg")  # the base's
    (got / "y" / "img07.jpg").write_bytes(b"the user's edit")
    again = tool_restore(project, dest, "--path", key)
    out = again.stdout + again.stderr
    assert "Traceback" not in out, out
    assert (got / "y" / "img07.jpg").read_bytes() == b"the user's edit"
    assert not (got / "gone").exists() and not (got / "doomed.txt").exists()
    for rel in ("thing/inner.txt", "thing/more.txt", "y/img05.jpg", "y/img06.jpg"):
        assert (got / rel).read_bytes() == (atom / rel).read_bytes(), rel
    assert "img07.jpg" in out, out  # the check names the file that differs
    assert folder_times(got) == folder_times(atom)


def test_attack_check_after_restore_sees_changed_bytes(tmp_path, s3_server, bucket):
    """A restored file whose bytes changed since (same size, time set back, as a
    broken disk or a tool that keeps times does): a rerun must not say it matches."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img05.jpg", 100 * KB)
    backup(project, 2026)
    dest = tmp_path / "dest"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    for rel in ("y/img05.jpg", "y/img06.jpg"):  # the increment's, the base's
        path = dest / "Photos" / rel
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.seek(500)
            f.write(b"rot")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = tool_restore(project, dest, "--path", key)
    out = again.stdout + again.stderr
    assert "all match the manifest" not in out, out
    assert "img05.jpg" in out and "img06.jpg" in out, out
    assert again.returncode != 0, out


def test_attack_year_of_a_middle_year(tmp_path, s3_server, bucket):
    """Three years of one chain: --year 2026 restores the atom, a folder and a file as
    the 2026 run left them (not 2027's bytes, not 2025's deleted files)."""
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    saved = {}
    backup(project, 2025)
    saved[2025] = tmp_path / "s2025"
    shutil.copytree(atom, saved[2025], symlinks=True)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "img01.jpg", 100 * KB)
    write(atom / "y" / "n26.jpg", 5 * KB)
    backup(project, 2026)
    saved[2026] = tmp_path / "s2026"
    shutil.copytree(atom, saved[2026], symlinks=True)
    write(atom / "y" / "img01.jpg", 100 * KB)
    write(atom / "doomed.txt", 4 * KB)
    os.remove(atom / "y" / "n26.jpg")
    backup(project, 2027)
    assert len(project.inventory["atoms"][key]["increments"]) == 2
    for year in (2025, 2026):
        dest = tmp_path / f"y{year}"
        done = project.run("restore", "--path", key, "--year", str(year), "--yes",
                           "--to", str(dest), **year_env(2027))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all match the manifest" in done.stdout, done.stdout
        assert tree_snapshot(dest / "Photos") == tree_snapshot(saved[year]), year
        part = tmp_path / f"p{year}"
        done = project.run("restore", "--path", f"{atom}/y/img01.jpg", "--year",
                           str(year), "--yes", "--to", str(part), **year_env(2027))
        assert done.returncode == 0, done.stdout + done.stderr
        assert (part / "Photos" / "y" / "img01.jpg").read_bytes() == \
            (saved[year] / "y" / "img01.jpg").read_bytes(), year
