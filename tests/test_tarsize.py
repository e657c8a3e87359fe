"""An atom is planned at the bytes GNU tar really writes for it (issue 21, case 13): the
scan's size, made a whole archive, against tar run as the bag step runs it."""

import os
import stat
import subprocess

from glacier_tasks.backup import pack, scan
from glacier_tasks.formats import tarsize

SEGMENT = 1 << 16


def written_by_tar(root, *atoms, options=()) -> int:
    """The size of the tar GNU tar writes for these atoms, with the bag step's command
    and member list (the walk's order, sockets left out)."""
    members = root.parent / "members"
    with open(members, "wb") as names:
        for atom in atoms:
            for rel, st in scan.walk_atom(root, atom):
                if not stat.S_ISSOCK(st.st_mode):
                    names.write(rel + b"\0")
    command = pack.tar_command(str(root), str(members)) + list(options)
    out = subprocess.run(command, check=True, capture_output=True,
                         env={**os.environ, "LC_ALL": "C"}).stdout
    return len(out)


def check_planned(root, *atoms) -> None:
    """The bag of these atoms is planned at the very size tar writes; and its members
    to the byte (records of one block: the padding to 10,240 would hide a block)."""
    members = sum(scan.scan_atom(root, a).size for a in atoms)
    assert tarsize.archive(members) == written_by_tar(root, *atoms)
    assert members + 2 * 512 == written_by_tar(root, *atoms, options=["-b", "1"])


def sparse_file(path, runs: int, tail_hole: bool = True) -> None:
    """`runs` runs of data, each in its own block, with holes between them; the file
    ends in a hole, or right after its last byte of data."""
    with open(path, "wb") as f:
        for n in range(runs):
            f.seek(2 * n * SEGMENT)
            f.write(os.urandom(100 + n))
        if tail_hole:
            f.truncate(2 * runs * SEGMENT)


def test_many_tiny_files_count_their_headers(tmp_path):
    root = tmp_path / "molecule"
    for folder in range(20):
        (root / "Tiny" / f"f{folder:02d}").mkdir(parents=True)
        for n in range(100):
            (root / "Tiny" / f"f{folder:02d}" / f"{n:03d}.txt").write_bytes(b"x" * 32)
    result = scan.scan_atom(root, "Tiny")
    assert result.apparent_size == 2000 * 32
    # a header and a block of content each, not 32 bytes
    assert result.size == 2000 * 1024 + 21 * 512
    check_planned(root, "Tiny")


def test_long_names_and_long_link_targets(tmp_path):
    root = tmp_path / "molecule"
    atom = root / "Long"
    atom.mkdir(parents=True)
    for length in (94, 95, 96, 200, 250):  # with "Long/": 99, 100, 101 bytes
        (atom / ("n" * length)).write_text("named")
    deep = atom / ("d" * 94)  # "Long/ddd.../" is 100 bytes: a folder's '/' counts
    deep.mkdir()
    (atom / ("e" * 95)).mkdir()  # 101 bytes with its '/'
    for depth in range(4):  # a path past 512 bytes takes two blocks of long name
        deep = deep / ("p" * 120)
        deep.mkdir()
        if depth == 2:  # 462 bytes: names of 512 with and without a folder's '/'
            (deep / ("q" * 49)).write_text("512 bytes of name: 1,024 with its NUL")
            (deep / ("r" * 48)).mkdir()
    (deep / "file").write_bytes(os.urandom(1000))
    for length in (99, 100, 101, 300, 1000):
        os.symlink("t" * length, atom / f"link{length}")
    os.link(atom / ("n" * 250), atom / "z-second-name")  # a hard link: its header only
    os.link(deep / "file", atom / ("z" * 150))  # long name, long link, no content
    os.mkfifo(atom / "fifo")
    check_planned(root, "Long")


def test_sparse_files_count_their_data_and_map(tmp_path):
    root = tmp_path / "molecule"
    atom = root / "VMs"
    atom.mkdir(parents=True)
    for runs in (1, 3, 4, 24, 25, 46, 60):  # 4 map entries in the header, 21 a block
        sparse_file(atom / f"disk{runs:02d}.img", runs)
        sparse_file(atom / f"tail{runs:02d}.img", runs, tail_hole=False)
    with open(atom / "all-hole.img", "wb") as f:
        f.truncate(10 * SEGMENT)
    sparse_file(atom / ("s" * 120 + ".img"), 5)  # a long name too
    result = scan.scan_atom(root, "VMs")
    assert result.size < result.apparent_size // 10
    check_planned(root, "VMs")


def test_a_bag_of_several_atoms_and_loose_files(tmp_path):
    root = tmp_path / "molecule"
    (root / "A" / "sub").mkdir(parents=True)
    (root / "A" / "sub" / "a.bin").write_bytes(os.urandom(5000))
    (root / "B").mkdir()
    (root / "B" / "b.txt").write_text("b")
    (root / "loose.txt").write_text("loose")
    atoms = ("A", "B", scan.LOOSE_ATOM)
    check_planned(root, *atoms)


def test_a_hash_file_from_before_sizes_counted_headers(tmp_path):
    # written by an older version: `size` was the content alone, no `size_of`; the plan
    # takes it as a floor plus a header and long name per entry until the walk rewrites it
    old = {"atom": "/data/A", "hash": "h", "size": 64_000, "files": 2000,
           "apparent_size": 64_000}
    assert scan.planned_size(old) == 64_000 + 2001 * 1536
    root = tmp_path / "molecule"
    (root / "A").mkdir(parents=True)
    (root / "A" / "f").write_text("x")
    record = scan.atom_record("/data/A", scan.scan_atom(root, "A"))
    assert record["size_of"] == "gnu-tar"
    assert scan.planned_size(record) == record["size"] == 512 + 1024
    path = scan.hash_file_for(tmp_path / "state", "/data/A")
    path.parent.mkdir(parents=True)
    path.write_text('{"atom": "/data/A", "hash": "%s", "size": 1, "files": 1, '
                    '"apparent_size": 1}' % record["hash"])
    # the walk finds the old file wanting and hands the new record to be written
    assert scan._walk_item((root, "A", "/data/A", str(path))) == record
