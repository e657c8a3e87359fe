"""Hostile runs against the restore of an atom with increments (issue 27): an atom
whose own name is odd, and names moving between the loose files and an atom."""

import os

from glacier_tasks.formats import manifest

from .helpers import Project, tree_snapshot
from .test_increments import KB, backup, write

ODD_ATOM = os.fsdecode(b"Ph\\o\nto \xff")


def odd_project(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    atom = data / ODD_ATOM
    for n in range(12):
        write(atom / "y" / f"img{n:02d}.jpg", 100 * KB)
    write(atom / "z.txt", 2 * KB)
    for n in range(6):
        write(data / f"loose{n}.bin", 60 * KB)
    write(data / "x", 2 * KB)  # a loose file that will become an atom
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.05\n")
    project.write_list(data)
    project.data = data
    return project, atom


def test_attack_odd_atom_name_with_a_chain(tmp_path, s3_server, bucket):
    """The atom's own folder name holds a backslash, a newline and a byte that is not
    UTF-8: its chain restores (as typed and as `find` prints it), whole and a file."""
    project, atom = odd_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(atom / "y" / "img03.jpg", 100 * KB)
    os.remove(atom / "z.txt")
    backup(project, 2026)
    chained = [a for a, e in project.inventory["atoms"].items() if e.get("increments")]
    assert len(chained) == 1 and "Ph" in chained[0], chained
    printed = f"{project.data}/" + manifest.escape_name(os.fsencode(ODD_ATOM))
    for n, path in enumerate((str(atom), printed)):
        dest = tmp_path / f"dest{n}"
        done = project.run("restore", "--path", path, "--yes", "--to", str(dest))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all match the manifest" in done.stdout, done.stdout
        assert tree_snapshot(dest / ODD_ATOM) == tree_snapshot(atom)
        assert sorted(os.listdir(dest)) == [ODD_ATOM]
    one = tmp_path / "one"
    done = project.run("restore", "--path", f"{printed}/y/img03.jpg", "--yes", "--to",
                       str(one))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (one / ODD_ATOM / "y" / "img03.jpg").read_bytes() == \
        (atom / "y" / "img03.jpg").read_bytes()


def test_attack_loose_file_becomes_an_atom_and_back(tmp_path, s3_server, bucket):
    """`x` lies loose in the molecule, then is a folder (an atom of its own), then a
    loose file again, while the loose files' atom goes on as a chain: the molecule
    restored (--path MOLECULE) each year equals the disk, never x both ways."""
    project, atom = odd_project(tmp_path, s3_server, bucket)
    data = project.data
    backup(project, 2025)
    os.remove(data / "x")
    write(data / "x" / "inside.bin", 3 * KB)
    write(data / "loose1.bin", 60 * KB)
    backup(project, 2026)

    def check(year):
        loose = [a for a, e in project.inventory["atoms"].items()
                 if e.get("increments") and a.endswith("/.")]
        dest = tmp_path / f"m{year}"
        done = project.run("restore", "--path", str(data), "--yes", "--to", str(dest))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all match the manifest" in done.stdout, done.stdout
        assert loose, project.inventory["atoms"].keys()
        assert tree_snapshot(dest) == tree_snapshot(data), year
        one = tmp_path / f"x{year}"
        done = project.run("restore", "--path", str(data / "x"), "--yes", "--to",
                           str(one))
        assert done.returncode == 0, done.stdout + done.stderr
        assert tree_snapshot(one) == {k: v for k, v in tree_snapshot(data).items()
                                      if k == b"x" or k.startswith(b"x/")}
    check(2026)
    for name in os.listdir(data / "x"):
        os.remove(data / "x" / name)
    os.rmdir(data / "x")
    write(data / "x", 1 * KB)
    write(data / "loose2.bin", 60 * KB)
    backup(project, 2027)
    check(2027)
