"""Hostile runs against increments (issue 27): several atoms in one bag, compaction,
restore by hand of everything."""

import os
import shutil

from .helpers import atoms_project, restore_all, tree_snapshot
from .test_increments import KB, backup, write


def test_attack_compaction_with_chains(tmp_path, s3_server, bucket):
    project = atoms_project(tmp_path, s3_server, bucket, 6, 300 * KB, target_gb=0.05)
    data = project.data
    for n in range(6):
        write(data / f"atom{n}" / "extra" / "e.bin", 20 * KB)
    backup(project, 2025)
    for year in range(2026, 2031):
        for n in range(6):
            if (year + n) % 2:
                write(data / f"atom{n}" / f"add{year}.bin", 5 * KB)
        if year == 2027:
            shutil.rmtree(data / "atom0")
            shutil.rmtree(data / "atom1")
            shutil.rmtree(data / "atom2")
            os.remove(data / "atom3" / "extra" / "e.bin")
        if year == 2029:
            shutil.rmtree(data / "atom4")
        backup(project, year)
        dest = tmp_path / f"hand-{year}"
        restore_all(project, dest)
        assert tree_snapshot(dest) == tree_snapshot(data), year
        tool = tmp_path / f"tool-{year}"
        done = project.run("restore", "--all", "--yes", "--to", str(tool))
        assert done.returncode == 0, done.stdout + done.stderr
        ok = project.run("verify")
        assert ok.returncode == 0, ok.stdout + ok.stderr
    print({k: (b.get("increment_of"), b["atoms"]) for k, b in project.inventory["bags"].items()})
