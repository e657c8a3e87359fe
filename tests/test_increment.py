"""A chain's local state (backup/increment.py, issue 27): an increment is built only on
a state that proves itself the atom's, at the hash the inventory records; any other
state file (missing, torn, another atom's, another machine's other tree, a copy under
another name) reads as none, and the atom is then packed whole."""

import os
import shutil

import pytest

from glacier_tasks.backup import increment, scan


@pytest.fixture
def atom(tmp_path):
    """A molecule folder with one atom, its key, its hash now and its chain's state."""
    data = tmp_path / "data"
    (data / "Photos" / "y").mkdir(parents=True)
    (data / "Photos" / "y" / "a.jpg").write_bytes(os.urandom(3000))
    (data / "Photos" / "b.txt").write_bytes(b"b" * 10)
    os.symlink("y/a.jpg", data / "Photos" / "link")
    key = scan.atom_key(str(data), "Photos")
    state = tmp_path / "state"
    atom_hash = scan.scan_atom(data, "Photos").hash
    entries = {rel: increment.entry(data, rel, st)
               for rel, st in scan.walk_atom(data, "Photos")}
    increment.write_state(state, key, atom_hash, entries)
    return data, key, atom_hash, state


def test_the_state_written_for_the_atoms_hash_reads_back(atom):
    data, key, atom_hash, state = atom
    before = increment.read_state(state, key, atom_hash)
    assert before is not None and b"Photos/y/a.jpg" in before
    assert increment.increment_bytes(data, "Photos", before) == 0  # nothing changed


def test_a_missing_or_torn_state_reads_as_none(atom):
    _, key, atom_hash, state = atom
    path = increment.state_file(state, atom_hash)
    path.write_bytes(path.read_bytes()[:-7])
    assert increment.read_state(state, key, atom_hash) is None
    path.unlink()
    assert increment.read_state(state, key, atom_hash) is None


def test_another_atoms_state_or_a_copy_under_another_hash_reads_as_none(atom):
    data, key, atom_hash, state = atom
    assert increment.read_state(state, key + "x", atom_hash) is None
    other = "0" * 64
    shutil.copy(increment.state_file(state, atom_hash), increment.state_file(state, other))
    assert increment.read_state(state, key, other) is None


def test_another_machines_state_of_another_tree_at_that_name_reads_as_none(atom, tmp_path):
    """Its state folder copied here: the same atom key and file name, but the entries
    are what that machine's disk held, so they do not make this hash."""
    data, key, atom_hash, state = atom
    os.utime(data / "Photos" / "b.txt", ns=(1, 1))  # the other machine's copy of b.txt
    theirs = {rel: increment.entry(data, rel, st)
              for rel, st in scan.walk_atom(data, "Photos")}
    elsewhere = tmp_path / "elsewhere"
    increment.write_state(elsewhere, key, atom_hash, theirs)
    shutil.copy(increment.state_file(elsewhere, atom_hash),
                increment.state_file(state, atom_hash))
    assert increment.read_state(state, key, atom_hash) is None
