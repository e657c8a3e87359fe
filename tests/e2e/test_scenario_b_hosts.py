"""Issue 23 attacked with two machines on one bucket: both back up the same shared
folder (the same slug: their keys differ in the host alone), and over three years atoms
change, go and come, bags are kept partly referenced and compacted. Each host's prune
deletes only its own superseded bags; the other's restore stays byte for byte."""

import os
import shutil

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

MB = 1_000_000


def machine(root, s3_server, bucket, host, data):
    root.mkdir()
    project = Project(root, s3_server, bucket, target_gb=0.0042)
    project.config.write_text(project.config.read_text().replace(
        'host = "testhost"', f'host = "{host}"'))
    project.write_list(data)
    project.data = data
    return project


def both(projects, *args, **env):
    for project in projects:
        done = project.run(*args, **env)
        assert done.returncode == 0, done.stdout + done.stderr


def test_two_hosts_one_shared_folder_scenario_b_and_prune(tmp_path, s3_server, bucket):
    data = tmp_path / "share"
    for n in range(8):
        (data / f"atom{n}").mkdir(parents=True)
        (data / f"atom{n}" / "blob").write_bytes(os.urandom(MB))
    rabbit = machine(tmp_path / "rabbit", s3_server, bucket, "rabbit", data)
    nas = machine(tmp_path / "nas", s3_server, bucket, "nas", data)
    both((rabbit, nas), "backup", GLACIER_TODAY="2025-03-01")
    slugs = {key.split("_", 1)[1] for key in rabbit.inventory["bags"]}
    assert slugs == {key.split("_", 1)[1] for key in nas.inventory["bags"]}  # same names

    # year 2: one atom changes (its old bag stays, partly referenced), one goes
    (data / "atom0" / "blob").write_bytes(os.urandom(MB))
    shutil.rmtree(data / "atom5")
    both((rabbit, nas), "backup", GLACIER_TODAY="2026-03-01")
    for project in (rabbit, nas):  # the unchanged atoms stayed in their 2025 bags
        kept = [a for a, e in project.inventory["atoms"].items()
                if e["archive_key"].startswith("2025-backup/")]
        assert len(kept) == 6, kept
    # year 3: more of the first bag changes, so it is compacted; a new atom comes
    for name in ("atom1", "atom2"):
        (data / name / "blob").write_bytes(os.urandom(MB))
    (data / "atom9").mkdir()
    (data / "atom9" / "blob").write_bytes(os.urandom(MB))
    both((rabbit, nas), "backup", GLACIER_TODAY="2027-03-01")

    for project in (rabbit, nas):  # the first bag was compacted: history now
        assert any(k.startswith("2025-backup/") for k in project.inventory["history"])
    nas_keys = {k for k in nas.objects() if "/nas_" in k}
    pruned = rabbit.run("prune", "--delete", "--force", GLACIER_TODAY="2028-03-01")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "Deleted" in pruned.stdout and "nas_" not in pruned.stdout, pruned.stdout
    assert {k for k in nas.objects() if "/nas_" in k} == nas_keys
    for project in (nas, rabbit):  # nas first: rabbit's prune must not have hurt it
        check_invariant(project)
        restored = project.root / "restored"
        restore_all(project, restored)
        assert tree_snapshot(restored) == tree_snapshot(data)
        assert project.run("verify").returncode == 0
    assert nas.run("prune", "--delete", "--force", GLACIER_TODAY="2028-03-01") \
        .returncode == 0
    assert not [k for k in rabbit.inventory["bags"] if k not in rabbit.objects()]
