"""Atoms of real folders and their metadata hashes."""

import inspect
import json
import os
from pathlib import Path

import pytest

from glacier_tasks.backup import scan
from glacier_tasks.backup.scan import (AtomScan, atom_key, atom_name, hash_file_for,
                                       list_atoms, read_atom_hash, scan_atom, scan_atoms,
                                       walk_atom, write_atom_hash)

T0 = 1_700_000_000_123_456_789  # a fixed mtime in ns


def make_molecule(root: Path) -> Path:
    """root/Books/{a.txt, sub/b.txt, link -> a.txt}, root/Music/song, with fixed mtimes."""
    (root / "Books" / "sub").mkdir(parents=True)
    (root / "Music").mkdir()
    (root / "Books" / "a.txt").write_bytes(b"alpha")
    (root / "Books" / "sub" / "b.txt").write_bytes(b"bravo!")
    (root / "Books" / "link").symlink_to("a.txt")
    (root / "Music" / "song").write_bytes(b"la" * 50)
    freeze(root)
    return root


def freeze(root: Path) -> None:
    """Give every entry the same mtime, deepest first so parents keep theirs."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files + dirs:
            os.utime(os.path.join(folder, name), ns=(T0, T0), follow_symlinks=False)
    os.utime(root, ns=(T0, T0))


def hash_of(root: Path, atom: str = "Books") -> str:
    return scan_atom(root, atom).hash


# ---------------------------------------------------------------- list_atoms

def test_list_atoms_sorted_without_loose_files(tmp_path):
    for name in ("b", "a", "C", "ä"):
        (tmp_path / name).mkdir()
    assert list_atoms(tmp_path) == ["C", "a", "b", "ä"]


def test_loose_files_form_the_dot_atom(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert list_atoms(tmp_path) == ["a", "b", "."]


def test_symlink_to_folder_is_loose_not_an_atom(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    assert list_atoms(tmp_path) == ["real", "."]
    assert [rel for rel, _ in walk_atom(tmp_path, ".")] == [b"alias"]
    assert scan_atom(tmp_path, ".").files == 1


def test_empty_molecule_has_no_atoms(tmp_path):
    assert list_atoms(tmp_path) == []


def test_atom_key_and_name():
    assert atom_key("/data/photos/", "2024") == "/data/photos/2024"
    assert atom_key("alice@nas:/srv", ".") == "alice@nas:/srv/."
    assert atom_name("/data/photos", "/data/photos/2024") == "2024"


# ---------------------------------------------------------------- walk

def test_walk_is_parents_first_and_sorted(tmp_path):
    root = make_molecule(tmp_path)
    walked = [rel for rel, _ in walk_atom(root, "Books")]
    assert walked == [b"Books", b"Books/a.txt", b"Books/link", b"Books/sub",
                      b"Books/sub/b.txt"]
    seen = set()
    for rel in walked:
        parent = rel.rpartition(b"/")[0]
        assert not parent or parent in seen, rel
        seen.add(rel)


def test_walk_is_deterministic_and_independent_of_creation_order(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for root, order in ((first, "zyxabc"), (second, "abcxyz")):
        (root / "A").mkdir(parents=True)
        for name in order:
            (root / "A" / name).mkdir()
            (root / "A" / name / "f").write_text(name)
    walk_one = [rel for rel, _ in walk_atom(first, "A")]
    assert walk_one == [rel for rel, _ in walk_atom(first, "A")]
    assert walk_one == [rel for rel, _ in walk_atom(second, "A")]


def test_loose_atom_walks_only_top_level_non_folders(tmp_path):
    root = make_molecule(tmp_path)
    (root / "z.txt").write_text("zz")
    (root / "a.txt").write_text("a")
    assert [rel for rel, _ in walk_atom(root, ".")] == [b"a.txt", b"z.txt"]
    result = scan_atom(root, ".")
    assert (result.size, result.files, result.apparent_size) == (2 * 1024, 2, 3)


def test_vanished_atom_walks_nothing(tmp_path):
    assert list(walk_atom(tmp_path, "gone")) == []


# ---------------------------------------------------------------- the hash

def test_scan_counts_size_and_files(tmp_path):
    result = scan_atom(make_molecule(tmp_path), "Books")
    assert result.apparent_size == len(b"alpha") + len(b"bravo!")  # symlinks count none
    # what tar writes: a header per member (Books/, a.txt, link, sub/, sub/b.txt) and
    # each file's content in a whole block
    assert result.size == 5 * 512 + 2 * 512
    assert result.files == 3  # a.txt, link, sub/b.txt


def test_rescan_gives_the_same_hash(tmp_path):
    root = make_molecule(tmp_path)
    assert hash_of(root) == hash_of(root)


def test_hash_ignores_atime_and_other_atoms(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    os.utime(root / "Books" / "a.txt", ns=(T0 + 10**12, T0))
    (root / "Music" / "song").write_bytes(b"changed")
    assert hash_of(root) == before


def test_hash_sees_a_size_change(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    path = root / "Books" / "sub" / "b.txt"
    path.write_bytes(b"bravo!!")
    freeze(root)  # same mtimes as before: only the size differs
    assert hash_of(root) != before


def test_hash_sees_an_mtime_change(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    os.utime(root / "Books" / "sub" / "b.txt", ns=(T0, T0 + 1))  # one nanosecond
    assert hash_of(root) != before


def test_hash_sees_a_rename(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    (root / "Books" / "sub" / "b.txt").rename(root / "Books" / "sub" / "c.txt")
    freeze(root)
    assert hash_of(root) != before


def test_hash_sees_a_new_symlink_target(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    link = root / "Books" / "link"
    link.unlink()
    link.symlink_to("b.txt")  # same length as "a.txt": only the target differs
    freeze(root)
    assert hash_of(root) != before


def test_hash_sees_a_mode_change(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    os.chmod(root / "Books" / "a.txt", 0o600)
    assert hash_of(root) != before
    os.chmod(root / "Books" / "a.txt", 0o644)
    os.chmod(root / "Books" / "sub", 0o700)
    assert hash_of(root) != before


def test_hash_sees_an_empty_folder_appear(tmp_path):
    root = make_molecule(tmp_path)
    before = hash_of(root)
    (root / "Books" / "empty").mkdir()
    freeze(root)
    assert hash_of(root) != before


def test_hash_of_loose_atom_sees_a_new_loose_file(tmp_path):
    root = make_molecule(tmp_path)
    (root / "a.txt").write_text("a")
    freeze(root)
    before = hash_of(root, ".")
    (root / "b.txt").write_text("b")
    freeze(root)
    assert hash_of(root, ".") != before


# ---------------------------------------------------------------- the hash file

def test_write_atom_hash_rewrites_only_on_change(tmp_path):
    root = make_molecule(tmp_path / "mol")
    key = atom_key("/data/mol", "Books")
    hash_file = hash_file_for(tmp_path / "state", key)

    assert write_atom_hash(root, "Books", key, hash_file) is True
    record = read_atom_hash(hash_file)
    assert record == {"atom": key, "hash": hash_of(root), "size": 7 * 512,
                      "size_of": "gnu-tar", "files": 3, "apparent_size": 11}
    first_mtime = hash_file.stat().st_mtime_ns

    os.utime(hash_file, ns=(T0, T0))  # so a rewrite could not hide in the clock's tick
    assert write_atom_hash(root, "Books", key, hash_file) is False
    assert hash_file.stat().st_mtime_ns == T0
    assert first_mtime != T0

    (root / "Books" / "a.txt").write_bytes(b"alphabet")
    assert write_atom_hash(root, "Books", key, hash_file) is True
    assert hash_file.stat().st_mtime_ns != T0
    assert read_atom_hash(hash_file)["apparent_size"] == 14


def test_damaged_hash_file_is_rewritten(tmp_path):
    root = make_molecule(tmp_path / "mol")
    hash_file = hash_file_for(tmp_path / "state", "/data/mol/Books")
    hash_file.parent.mkdir(parents=True)
    hash_file.write_text("{half")
    assert read_atom_hash(hash_file) is None
    assert write_atom_hash(root, "Books", "/data/mol/Books", hash_file) is True
    assert json.loads(hash_file.read_text())["hash"] == hash_of(root)


def test_hash_files_of_different_atoms_differ(tmp_path):
    state = tmp_path / "state"
    one = hash_file_for(state, "/data/mol/Books")
    two = hash_file_for(state, "/data/mol/Books2")
    odd = hash_file_for(state, "/data/mol/caf\udce9")  # a non-UTF-8 name
    assert len({one, two, odd}) == 3
    assert one.parent == state / "atoms"
    assert one == hash_file_for(state, "/data/mol/Books")


# ---------------------------------------------------------------- many atoms at once

@pytest.mark.parametrize("workers", [1, 3])
def test_scan_atoms_yields_every_pair_with_its_scan(tmp_path, workers):
    root = make_molecule(tmp_path)
    (root / "loose.txt").write_text("l")
    pairs = [(root, "Books"), (root, "Music"), (root, ".")]
    results = scan_atoms(pairs, workers)
    assert inspect.isgenerator(results)  # a caller can show progress as scans finish
    got = list(results)
    assert [pair for pair, _ in got] == pairs
    assert [result for _, result in got] == [scan_atom(root, a) for _, a in pairs]
    assert all(isinstance(result, AtomScan) for _, result in got)


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_atoms_yields_the_permission_error_of_an_unreadable_atom(tmp_path,
                                                                      monkeypatch,
                                                                      workers):
    root = make_molecule(tmp_path)
    real = scan.scan_atom

    def locked(molecule_path, atom):  # as root nothing is unreadable: pretend
        if atom == "Music":
            raise PermissionError(13, "cannot list folder", str(molecule_path / atom))
        return real(molecule_path, atom)

    monkeypatch.setattr(scan, "scan_atom", locked)
    got = dict(scan_atoms([(root, "Books"), (root, "Music")], workers))
    assert got[(root, "Books")] == real(root, "Books")
    error = got[(root, "Music")]
    assert isinstance(error, PermissionError)
    assert error.filename == str(root / "Music")
