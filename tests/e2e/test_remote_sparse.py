"""A sparse file on a remote molecule stays sparse (issue 21, case 9): sshfs reports no
holes, so the bag is written by tar on the molecule's own host, over ssh."""

import os

from .helpers import Project, restore_all, sparse_file, tree_snapshot
from .invariant import check_invariant
from .test_remote import our_mounts, sshd  # noqa: F401  (the fixture)

SIZE = 64 << 20  # bench/remote_sparse.py measures 1 GB


def test_a_remote_sparse_file_is_stored_and_restored_sparse(tmp_path, s3_server, bucket,
                                                            sshd):  # noqa: F811
    served = tmp_path / "served"
    (served / "VMs").mkdir(parents=True)
    disk = sparse_file(served / "VMs" / "disk.img", SIZE, b"start of a sparse disk")
    assert os.stat(disk).st_blocks * 512 < 1 << 20  # really sparse where it lives
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f'target_bag_gb = 0.004\nsshfs_options = "{sshd.options()}"')
    project.write_list(f"root@127.0.0.1:{served}")
    project.data = served
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert our_mounts(project) == []
    [(key, bag)] = project.inventory["bags"].items()
    assert bag["size"] < 1 << 20, f"{key}: {bag['size']} bytes for a sparse file"
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(served)
    assert os.stat(restored / "VMs" / "disk.img").st_blocks * 512 < 1 << 20
    check_invariant(project)
    dest = tmp_path / "by-glacier"  # the tool's own restore checks the content sha256
    done = project.run("restore", "--path", f"root@127.0.0.1:{served}/VMs", "--yes",
                       "--to", str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout
    assert os.stat(dest / "VMs" / "disk.img").st_blocks * 512 < 1 << 20
