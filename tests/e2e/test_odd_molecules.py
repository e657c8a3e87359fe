"""Issue 21, cases 10 and 11: molecules and atoms whose names doit would read as
wildcards, and molecules or folders the system cannot read (a dead mount, a symlink
loop): each is backed up or reported by name, and never stops the other molecules."""

from .helpers import Project, restore_all, tree_snapshot


def test_wildcard_names_round_trip(tmp_path, s3_server, bucket):
    """Case 10: a molecule `a*b` holding atoms `*`, `x?y` and `[z]`."""
    molecule = tmp_path / "a*b"
    for atom in ("*", "x?y", "[z]"):
        (molecule / atom).mkdir(parents=True)
        (molecule / atom / "file.txt").write_text(f"inside {atom}\n")
    other = tmp_path / "plain"
    (other / "Books").mkdir(parents=True)
    (other / "Books" / "b.txt").write_text("a plain atom\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(molecule, other)
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert {f"{molecule}/*", f"{molecule}/x?y", f"{molecule}/[z]",
            f"{other}/Books"} <= set(project.inventory["atoms"])
    # each atom is still a task of its own, by a name doit takes literally
    escaped = str(molecule).replace("*", "\\x2a")
    listed = project.run("list", "--all", "--private").stdout
    for atom in ("\\x2a", "x\\x3fy", "\\x5bz]"):
        assert f"_scan:{escaped}/{atom}" in listed, listed
    (molecule / "x?y" / "new.txt").write_text("later\n")
    rescan = project.run("_walk", f"_scan:{escaped}/x\\x3fy")
    assert rescan.returncode == 0, rescan.stdout + rescan.stderr
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored / "*") == tree_snapshot(molecule / "*")
    for atom in ("*", "x?y", "[z]"):
        assert (restored / atom / "file.txt").read_bytes() == \
            (molecule / atom / "file.txt").read_bytes()
    assert (restored / "Books" / "b.txt").read_text() == "a plain atom\n"
