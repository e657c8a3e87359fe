"""A kept bag's lost manifest is rewritten, and the inventory records the rewrite (with
encryption, after lost state, its keyed hash is made with a new key); a lost bag is
sent again under its own key beside its recorded manifest; an orphan manifest and
index are never taken. Found by a hostile review of write-once keys."""

import shutil

from .helpers import restore_all, tree_snapshot
from .invariant import check_invariant, check_written_once
from .test_encryption import project as enc_project  # noqa: F401  (age fixture)


def _lose_manifest_and_rerun(p):
    assert p.run("backup").returncode == 0
    key = sorted(p.inventory["bags"])[0]
    man = p.inventory["bags"][key]["manifest_key"]
    p.s3.delete_object(Bucket=p.bucket, Key=man)
    seen = {}
    check_written_once(p, seen)
    first = p.run("backup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "manifest missing; repaired" in first.stdout
    second = p.run("backup")
    assert second.returncode == 0, second.stdout + second.stderr
    third = p.run("backup")
    assert third.returncode == 0 and ", 0 uploaded," in third.stdout, third.stdout
    check_written_once(p, seen)
    assert key in p.inventory["bags"], "the bag was re-packed under a new name"


def test_lost_manifest_plain(project):
    _lose_manifest_and_rerun(project)


def _back_up_then_bootstrap(p):
    """A backup, then lost state and bootstrap: a new fingerprint key."""
    assert p.run("backup").returncode == 0
    for gone in ("inventory.json", "inventory.json.bak", "list.txt"):
        (p.root / gone).unlink(missing_ok=True)
    shutil.rmtree(p.state)
    shutil.rmtree(p.root / "manifests")
    assert p.run("bootstrap").returncode == 0


def test_lost_manifest_encrypted_after_bootstrap(enc_project):
    _back_up_then_bootstrap(enc_project)
    _lose_manifest_and_rerun(enc_project)


def test_orphan_manifest_and_index_without_their_bag(project, tmp_path):
    """Keys a stopped run (or anyone) left: a manifest and an .idx whose bag is not
    there, at the numbers the next new bag would take."""
    assert project.run("backup").returncode == 0
    inv = project.inventory
    key = sorted(inv["bags"])[-1]
    stem = key.rsplit("_bag_", 1)[0]
    n = int(key.rsplit("_bag_", 1)[1][:3])
    for k in (f"{stem}_bag_{n + 1:03d}", f"{stem}_bag_{n + 2:03d}"):
        man = k.replace("-backup/", "-backup/manifests/")
        project.s3.put_object(Bucket=project.bucket, Key=man + ".txt", Body=b"evil\t1\t1\n")
    index = f"{stem.replace('-backup/', '-backup/manifests/')}_bag_{n + 3:03d}.idx"
    project.s3.put_object(Bucket=project.bucket, Key=index, Body=b"junk")
    seen = {}
    check_written_once(project, seen)
    (project.data / "new atom").mkdir()
    (project.data / "new atom" / "f").write_bytes(b"x" * 100000)
    (project.data / "Books" / "changed.txt").write_text("y")
    r = project.run("backup")
    assert r.returncode == 0, r.stdout + r.stderr
    check_written_once(project, seen)
    check_invariant(project)
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(project.data)


def test_lost_bag_encrypted_after_bootstrap(enc_project, tmp_path):
    """A lost bag is re-sent under its own key; its manifest is still in the bucket,
    keyed with the fingerprint key of the state that was lost."""
    p = enc_project
    _back_up_then_bootstrap(p)
    key = sorted(p.inventory["bags"])[0]
    p.s3.delete_object(Bucket=p.bucket, Key=key)
    first = p.run("backup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"REPAIRED {key} missing" in first.stdout
    second = p.run("backup")
    assert second.returncode == 0 and ", 0 uploaded," in second.stdout, second.stdout
    tars = {k for k in p.objects() if k.endswith(".tar")}
    assert key in p.inventory["bags"] and tars == set(p.inventory["bags"])
