"""Attacks on issue 23 (Scenario B: a kept bag some atoms moved out of) and issue 21
cases 1 and 12, as a hostile user runs them: every test checks what comes back against
the tree on disk, and that nothing deleted or stale returns."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from glacier_tasks.formats import layout

from .helpers import Project, restore_all, tree_snapshot
from .invariant import check_invariant

MB = 1_000_000
Y = {year: {"GLACIER_TODAY": f"{year}-03-01"} for year in (2025, 2026, 2027)}


def atoms(tmp_path, s3_server, bucket, extra="", loose=False, root=None):
    data = tmp_path / "data"
    for n in range(8):
        (data / f"atom{n:02d}").mkdir(parents=True)
        (data / f"atom{n:02d}" / "blob").write_bytes(os.urandom(MB))
    if loose:
        (data / "loose.txt").write_text("a file lying in the molecule\n")
    project = Project(root or tmp_path, s3_server, bucket)
    project.write_config(f"target_bag_gb = 0.0042\n{extra}")
    project.write_list(data)
    project.data = data
    return project


def backup(project, year, **env):
    done = project.run("backup", **{**Y[year], **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def groups(project) -> dict:
    """archive_key -> the atom names (last path part) pointing at it."""
    found = {}
    for atom, entry in project.inventory["atoms"].items():
        found.setdefault(entry["archive_key"], []).append(atom.rsplit("/", 1)[1])
    return {k: sorted(v) for k, v in found.items()}


def change(project, name):
    (project.data / name / "blob").write_bytes(os.urandom(MB))


def scenario_b(project):
    """2025: two bags of four; 2026: one atom of the first bag changes. Returns
    (bag A's key, its atoms, the atom that moved out)."""
    backup(project, 2025)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    moved = next(a for a in atoms_a if a != ".")
    change(project, moved)
    backup(project, 2026)
    inv = project.inventory
    assert inv["atoms"][f"{project.data}/{moved}"]["archive_key"].startswith("2026-")
    assert set(inv["bags"][bag_a]["packed_atoms"]) - set(inv["bags"][bag_a]["atoms"])
    return bag_a, atoms_a, moved


def glacier_restore_all(project, dest, *args, **env):
    done = project.glacier("restore", str(project.data), "--to", str(dest), "--yes",
                           *args, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def same_tree(a, b):
    left, right = tree_snapshot(a), tree_snapshot(b)
    assert left == right, (sorted(set(left) ^ set(right)),
                           [k for k in left if k in right and left[k] != right[k]])


# -- a loose-files atom in a bag another atom moved out of ------------------------------



def tool_restores_true(project, tmp_path) -> None:
    """The invariant holds, and today's tree comes back through glacier restore."""
    check_invariant(project)
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, project.data)


def restores_true(project, tmp_path) -> None:
    """The invariant holds, and today's tree comes back, through glacier restore and by
    hand as the README says."""
    tool_restores_true(project, tmp_path)
    by_hand = tmp_path / "by-hand"
    restore_all(project, by_hand)
    same_tree(by_hand, project.data)


def test_loose_files_in_a_partially_kept_bag_restore_alone(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket, loose=True)
    backup(project, 2025)
    bag_a = next(k for k, v in groups(project).items() if "." in v)
    moved = next(a for a in groups(project)[bag_a] if a != ".")
    change(project, moved)
    backup(project, 2026)
    assert project.inventory["atoms"][f"{project.data}/."]["archive_key"] == bag_a
    restores_true(project, tmp_path)
    one = project.glacier("restore", f"{project.data}/loose.txt", "--to",
                          str(tmp_path / "one"), "--yes")
    assert one.returncode == 0, one.stdout + one.stderr
    assert (tmp_path / "one" / "loose.txt").read_text() == \
        (project.data / "loose.txt").read_text()
    found = project.glacier("find", f"{moved}/blob")
    assert found.stdout.count(f"{moved}/blob") == 1, found.stdout


# -- encryption --------------------------------------------------------------------------


def age_key(path):
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(line.split()[-1] for line in path.read_text().splitlines()
                if line.startswith("# public key:"))


def test_encrypted_partially_kept_bag_restores_only_its_current_atoms(
        tmp_path, s3_server, bucket):
    if not shutil.which("age"):
        pytest.fail("the age command is missing")
    public = age_key(tmp_path / "key.txt")
    project = atoms(tmp_path, s3_server, bucket,
                    f'encryption = "age"\nage_recipients = ["{public}"]\n'
                    'age_identity_file = "key.txt"')
    bag_a, atoms_a, moved = scenario_b(project)
    tool_restores_true(project, tmp_path)
    kept = next(a for a in atoms_a if a != moved)
    one = tmp_path / "one"
    done = project.glacier("restore", f"{project.data}/{kept}", "--to", str(one), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(one)) == [kept], os.listdir(one)
    # the moved atom alone, asked by name: today's version, not bag A's old one
    two = tmp_path / "two"
    done = project.glacier("restore", f"{project.data}/{moved}", "--to", str(two), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (two / moved / "blob").read_bytes() == (project.data / moved / "blob").read_bytes()
    found = project.glacier("find", f"{moved}/blob")
    assert found.stdout.count(f"{moved}/blob") == 1, found.stdout + found.stderr
    both = project.glacier("find", f"{moved}/blob", "--all-years")
    assert both.stdout.count(f"{moved}/blob") == 2, both.stdout + both.stderr


# -- bootstrap on a fresh machine, then find and restore --------------------------------


def test_bootstrap_after_scenario_b_then_restore(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    fresh_root = tmp_path / "fresh"
    fresh_root.mkdir()
    fresh = Project(fresh_root, s3_server, bucket)
    fresh.write_config("target_bag_gb = 0.0042")
    fresh.write_list(project.data)
    fresh.data = project.data
    booted = fresh.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert fresh.inventory["bags"][bag_a]["packed_atoms"] == \
        project.inventory["bags"][bag_a]["packed_atoms"]
    found = fresh.glacier("find", f"{moved}/blob")
    assert found.stdout.count(f"{moved}/blob") == 1, found.stdout
    mine = tmp_path / "mine"
    glacier_restore_all(fresh, mine)
    same_tree(mine, project.data)
    # and the fresh machine's first backup sends nothing again
    again = fresh.run("backup", **Y[2026], GLACIER_TAKE_OVER_HOST="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert fresh.inventory["atoms"] == project.inventory["atoms"]


# -- verify -----------------------------------------------------------------------------


def test_verify_and_deep_verify_a_partially_kept_bag(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    scenario_b(project)
    quick = project.run("verify")
    assert quick.returncode == 0, quick.stdout + quick.stderr
    assert "WARNING" not in quick.stdout, quick.stdout
    deep = project.run("verify", "--deep", "--yes")
    assert deep.returncode == 0, deep.stdout + deep.stderr


# -- a second run in the same year ------------------------------------------------------


def test_second_run_same_year_after_scenario_b(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    first_new = project.inventory["atoms"][f"{project.data}/{moved}"]["archive_key"]
    # the same year: the moved atom changes again, another atom of A changes, a new atom
    change(project, moved)
    other = next(a for a in atoms_a if a != moved)
    change(project, other)
    (project.data / "atom99").mkdir()
    (project.data / "atom99" / "blob").write_bytes(os.urandom(MB))
    backup(project, 2026, GLACIER_TODAY="2026-06-01")
    inv = project.inventory
    assert first_new not in inv["bags"] or first_new in project.objects()
    restores_true(project, tmp_path)


# -- an atom that moves out, then back to its old content (same hash) -------------------


def test_atom_back_to_its_old_content_is_restored_as_today(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    moved = atoms_a[0]
    blob = project.data / moved / "blob"
    old_bytes, old_stat = blob.read_bytes(), blob.stat()
    change(project, moved)
    backup(project, 2026)
    # 2027: the user puts the old file back, as it was (bytes and times)
    blob.write_bytes(old_bytes)
    os.utime(blob, ns=(old_stat.st_atime_ns, old_stat.st_mtime_ns))
    os.utime(blob.parent, ns=(old_stat.st_atime_ns, old_stat.st_mtime_ns))
    backup(project, 2027)
    inv = project.inventory
    old_hash = inv["atoms"][f"{project.data}/{moved}"]
    assert old_hash["archive_key"] != bag_a or moved in inv["bags"][bag_a]["atoms"]
    restores_true(project, tmp_path)


# -- a manifest lost from the bucket while its bag has dead atoms -----------------------


def test_lost_manifest_of_a_bag_with_dead_atoms(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    manifest = project.inventory["bags"][bag_a]["manifest_key"]
    project.s3.delete_object(Bucket=bucket, Key=manifest)
    done = project.run("backup", GLACIER_TODAY="2026-06-01")
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    print("FIRST", out)
    again = project.run("backup", GLACIER_TODAY="2026-06-02")
    print("AGAIN", again.stdout, again.stderr)
    assert again.returncode == 0, again.stdout + again.stderr
    check_invariant(project)
    for key, bag in project.inventory["bags"].items():
        assert bag["manifest_key"] in project.objects(), key
    found = project.glacier("find", f"{moved}/blob")
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.count(f"{moved}/blob") == 1, found.stdout
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, project.data)


# -- prune --delete with keep_years = 0 right after a compaction ------------------------


def test_prune_keep_years_0_after_compaction_then_restore(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket, "keep_years = 0\n")
    bag_a, atoms_a, moved = scenario_b(project)
    for name in atoms_a:
        if name != moved and name != atoms_a[-1]:
            change(project, name)
    backup(project, 2027)
    assert bag_a not in project.inventory["bags"]
    pruned = project.run("prune", "--delete", "--force", "--min-age-days", "0", **Y[2027])
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert bag_a not in project.objects()
    tool_restores_true(project, tmp_path)


# -- restore --year of an older year ----------------------------------------------------


def test_restore_year_2025_after_scenario_b_gives_2025s_tree(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    then = tmp_path / "then"
    shutil.copytree(project.data, then, symlinks=True)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    change(project, atoms_a[0])
    shutil.rmtree(project.data / atoms_a[1])
    backup(project, 2026)
    old = tmp_path / "old"
    done = glacier_restore_all(project, old, "--year", "2025")
    same_tree(old, then)
    # and 2026's, from 2027, after a compaction took bag A into history
    now = tmp_path / "now2026"
    shutil.copytree(project.data, now, symlinks=True)
    change(project, atoms_a[2])
    backup(project, 2027)
    assert bag_a not in project.inventory["bags"]
    back = tmp_path / "back"
    done = glacier_restore_all(project, back, "--year", "2026")
    assert done.returncode == 0
    same_tree(back, now)


# -- a pinned atom in a bag another atom moves out of -----------------------------------


def test_pinned_atom_in_a_changed_bag(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    pinned = atoms_a[1]
    old_id = project.inventory["bags"][bag_a]["tar_id"]
    done = project.glacier("pin", f"{project.data}/{pinned}")
    assert done.returncode == 0, done.stdout + done.stderr
    change(project, atoms_a[0])
    backup(project, 2026)
    inv = project.inventory
    entry = inv["atoms"][f"{project.data}/{pinned}"]
    assert entry["pinned"] and entry["tar_id"] == old_id or \
        entry["archive_key"] == bag_a, entry
    check_invariant(project)
    # a second run the same year, another atom of the pinned atom's bag changes
    change(project, atoms_a[2])
    backup(project, 2026, GLACIER_TODAY="2026-06-01")
    tool_restores_true(project, tmp_path)


# -- kill -9 while the moved atom's new bag uploads -------------------------------------


def test_kill_9_during_scenario_b_then_restore_and_rerun(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    before = tree_snapshot(project.data)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    (project.data / atoms_a[0] / "blob").write_bytes(os.urandom(30 * MB))  # a long upload
    started = time.time()
    proc = project.popen("backup", **Y[2026])
    markers = project.state / "bags"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # a marker this run wrote: the new bag packed
        if any(m.stat().st_mtime >= started and json.loads(m.read_text()).get("packed")
               for m in markers.glob("*.json")):
            break
        time.sleep(0.01)
    assert time.monotonic() < deadline, "no bag packed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the inventory on disk is last year's: it restores last year's tree, nothing torn
    inv = project.inventory
    assert inv["atoms"][f"{project.data}/{atoms_a[0]}"]["archive_key"] == bag_a
    old = tmp_path / "old"
    restore_all(project, old)
    assert tree_snapshot(old).keys() == before.keys()
    backup(project, 2026)
    tool_restores_true(project, tmp_path)


# -- issue 21 case 12: an atom left out of an otherwise uploaded bag --------------------

REWRITE = """
import os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    with open(path, "r+b") as f:
        f.seek(n % 1000)
        f.write(os.urandom(1))
    n += 1
"""


def test_left_out_atom_of_a_moved_bag_then_next_run(tmp_path, s3_server, bucket):
    import sys
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    busy, other = atoms_a[0], atoms_a[1]
    change(project, other)  # both move out of A into one new bag
    target = project.data / busy / "blob"
    target.write_bytes(os.urandom(MB))  # packed beside `other`, not in a bag alone
    writer = subprocess.Popen([sys.executable, "-c", REWRITE, str(target), "300"])
    try:
        time.sleep(0.5)
        done = project.run("backup", **Y[2026])
    finally:
        writer.kill()
        writer.wait()
    assert "Traceback" not in done.stdout + done.stderr
    assert f"FAILED atom {project.data}/{busy}" in done.stdout, done.stdout
    inv = project.inventory
    assert inv["atoms"][f"{project.data}/{busy}"]["archive_key"] == bag_a, \
        done.stdout
    assert inv["atoms"][f"{project.data}/{other}"]["archive_key"].startswith("2026-")
    assert busy in inv["bags"][bag_a]["atoms"] or \
        f"{project.data}/{busy}" in inv["bags"][bag_a]["atoms"]
    check_invariant(project)
    # the stale version of the busy atom is what the bucket holds: restore gives it
    # until the next run; nothing else of the tree is wrong
    backup(project, 2026, GLACIER_TODAY="2026-06-01")
    restores_true(project, tmp_path)


# -- a hard link from an atom that stays to a file of an atom that moved out -----------


def hard_linked_scenario_b(tmp_path, s3_server, bucket, extra=""):
    """atom01/link is a second name of atom00/blob: tar stores it as a link to
    atom00/blob. Then atom00/blob is replaced (a new inode, as editors save): atom00
    moves out of bag A, atom01 (same bytes, same times) stays in it."""
    project = atoms(tmp_path, s3_server, bucket, extra)
    os.link(project.data / "atom00" / "blob", project.data / "atom01" / "link")
    stamp = (project.data / "atom01").stat()
    os.utime(project.data / "atom01", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    backup(project, 2025)
    bag_a = project.inventory["atoms"][f"{project.data}/atom00"]["archive_key"]
    assert project.inventory["atoms"][f"{project.data}/atom01"]["archive_key"] == bag_a
    fresh = project.data / "atom00" / "blob.new"
    fresh.write_bytes(os.urandom(MB))
    os.replace(fresh, project.data / "atom00" / "blob")
    backup(project, 2026)
    inv = project.inventory
    assert inv["atoms"][f"{project.data}/atom01"]["archive_key"] == bag_a
    assert inv["atoms"][f"{project.data}/atom00"]["archive_key"] != bag_a
    return project, bag_a


def test_hard_link_into_a_moved_atom_glacier_restore(tmp_path, s3_server, bucket):
    project, bag_a = hard_linked_scenario_b(tmp_path, s3_server, bucket)
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, project.data)
    # the link's bytes are its own (atom01 did not change), not atom00's new ones
    assert (mine / "atom01" / "link").read_bytes() == \
        (project.data / "atom01" / "link").read_bytes()
    assert (mine / "atom01" / "link").stat().st_ino != \
        (mine / "atom00" / "blob").stat().st_ino
    one = tmp_path / "one"
    done = project.glacier("restore", f"{project.data}/atom01", "--to", str(one), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(one)) == ["atom01"], os.listdir(one)
    assert (one / "atom01" / "link").read_bytes() == \
        (project.data / "atom01" / "link").read_bytes()
    file = tmp_path / "file"
    done = project.glacier("restore", f"{project.data}/atom01/link", "--to", str(file),
                           "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (file / "atom01" / "link").read_bytes() == \
        (project.data / "atom01" / "link").read_bytes()
    assert not (file / "atom00").exists()


def test_hard_link_into_a_moved_atom_readme_restore_by_hand(tmp_path, s3_server, bucket):
    """The README's step 5 for a bag some atoms moved out of: `tar -xSf BAG -C DIR --
    ATOMS`, bag by bag (tests/e2e/helpers.py restore_all does exactly that)."""
    project, bag_a = hard_linked_scenario_b(tmp_path, s3_server, bucket)
    by_hand = tmp_path / "by-hand"
    restore_all(project, by_hand)
    same_tree(by_hand, project.data)


def test_hard_link_into_a_moved_atom_by_hand_newer_bag_first(tmp_path, s3_server, bucket):
    """Extracted newest first, the kept bag's `atom01/link` would be linked by tar to
    the atom00/blob already there, the NEW one, and tar exits 0: the README says to
    extract the oldest year first, and what to do when tar cannot link."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    step = readme[readme.index("A bag some atoms moved out of (its `packed_atoms`"):]
    step = step[:step.index("\n\n")]
    assert "oldest year first" in step and "Cannot hard link to" in step, step


# -- the README's restore by hand, step 5, for a bag holding the loose files ------------


def test_readme_step_5_says_how_to_name_the_loose_files_atom():
    """Step 5 says: name the atoms the bag still holds, "each atom's key less its
    molecule and `/`". For the loose files' atom that is `.`, and `tar -xSf BAG -- .`
    fails ("tar: .: Not found in archive"): its members are bare names. The helper
    restore_all lists them with `tar -tf`; the README must say so."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    step = readme[readme.index("A bag some atoms moved out of (its `packed_atoms`"):]
    step = step[:step.index("\n\n")]
    assert "`.`" in step, step


# -- a kept bag with dead atoms lost from the bucket: repaired from disk ----------------


def test_lost_tar_of_a_bag_with_dead_atoms_is_recorded_as_repacked(
        tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    project.s3.delete_object(Bucket=bucket, Key=bag_a)
    done = project.run("backup", GLACIER_TODAY="2026-06-01")
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    if done.returncode:  # one line naming the key, then the next run repairs
        assert f"FAILED bag {layout.bag_name(bag_a)}: {bag_a} missing" in out, out
        done = project.run("backup", GLACIER_TODAY="2026-06-02")
        assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    # one unchanged atom of the repaired bag, by the member index
    kept = next(a for a in atoms_a if a != moved)
    one = tmp_path / "one"
    asked = project.glacier("restore", f"{project.data}/{kept}", "--to", str(one), "--yes")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    same_tree(one / kept, project.data / kept)
    inv = project.inventory
    for key, bag in inv["bags"].items():
        tar = project.thaw_and_download(key, tmp_path / "dl" / key.rsplit("/", 1)[1])
        listed = subprocess.run(["tar", "-tf", str(tar)], capture_output=True,
                                text=True, check=True).stdout.splitlines()
        held = {f"{bag['molecule'].rstrip('/')}/{n.split('/')[0]}" for n in listed}
        # what the inventory says the tar holds is what it holds
        assert set(bag.get("packed_atoms") or bag["atoms"]) == held, (key, bag, held)
        assert bag.get("packed_bytes", 0) <= bag["size"], (key, bag)
    # the bucket's manifest of the repaired bag lists what its tar holds (no old version
    # of the moved atom that the new tar lacks)
    tool_restores_true(project, tmp_path)


# -- a removed atom asked for by name, its old copy lying beside the loose files -------


def test_a_removed_atom_asked_by_name_does_not_come_back(tmp_path, s3_server, bucket):
    """atom03 is removed from disk; its bag A stays (kept, partially referenced) since
    the loose files' atom `.` still points at it. `restore DATA/atom03` must say the
    path is not backed up (find finds nothing), not bring back A's old copy through the
    loose files' atom."""
    project = atoms(tmp_path, s3_server, bucket, loose=True)
    backup(project, 2025)
    bag_a = next(k for k, v in groups(project).items() if "." in v)
    gone = next(a for a in groups(project)[bag_a] if a != ".")
    shutil.rmtree(project.data / gone)
    backup(project, 2026)
    assert project.inventory["atoms"][f"{project.data}/."]["archive_key"] == bag_a
    assert f"{project.data}/{gone}" not in project.inventory["atoms"]
    found = project.glacier("find", f"{gone}/blob")
    assert f"{gone}/blob" not in found.stdout, found.stdout
    dest = tmp_path / "asked"
    asked = project.glacier("restore", f"{project.data}/{gone}", "--to", str(dest),
                            "--yes")
    assert not (dest / gone).exists(), asked.stdout + asked.stderr
    assert asked.returncode != 0, asked.stdout + asked.stderr
    assert "Traceback" not in asked.stdout + asked.stderr


def test_hard_link_into_a_moved_atom_encrypted_glacier_restore(tmp_path, s3_server,
                                                               bucket):
    public = age_key(tmp_path / "key.txt")
    project, bag_a = hard_linked_scenario_b(
        tmp_path, s3_server, bucket, f'encryption = "age"\nage_recipients = ["{public}"]'
        '\nage_identity_file = "key.txt"')
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, project.data)
    one = tmp_path / "one"
    done = project.glacier("restore", f"{project.data}/atom01", "--to", str(one), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(one)) == ["atom01"], os.listdir(one)
    assert (one / "atom01" / "link").read_bytes() == \
        (project.data / "atom01" / "link").read_bytes()


# -- the README's step 5 with a backslash in an atom's name -----------------------------


def backslash_scenario_b(tmp_path, s3_server, bucket):
    """Bag A holds `Music\\2019` (a folder from a Windows share), `x\\ny` (a backslash
    and an n) and `x<LF>y` (a newline); in 2026 `x<LF>y` is removed and another atom
    changes: A is kept for the other two, and holds the removed atom's old copy."""
    data = tmp_path / "data"
    names = ["Music\\2019", "x\\ny", "x\ny", "zz"]
    for name in names:
        (data / name).mkdir(parents=True)
        (data / name / "blob").write_bytes(os.urandom(MB // 2))
    (data / "loose\\tab.txt").write_text("a loose file, a backslash in its name\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.0042")
    project.write_list(data)
    project.data = data
    backup(project, 2025)
    assert len(project.inventory["bags"]) == 1
    shutil.rmtree(data / "x\ny")
    change(project, "zz")
    backup(project, 2026)
    return project


def test_backslash_atom_names_glacier_restore(tmp_path, s3_server, bucket):
    project = backslash_scenario_b(tmp_path, s3_server, bucket)
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, project.data)


def test_backslash_atom_names_readme_restore_by_hand(tmp_path, s3_server, bucket):
    """`tar -x -- 'Music\\2019'` unquotes the name (\\201 is a byte) and finds nothing;
    `tar -x -- 'x\\ny'` extracts the removed atom `x<LF>y` instead of `x\\ny`."""
    project = backslash_scenario_b(tmp_path, s3_server, bucket)
    by_hand = tmp_path / "by-hand"
    restore_all(project, by_hand)
    assert not (by_hand / "x\ny").exists()
    same_tree(by_hand, project.data)


def test_restore_year_of_a_bag_the_bucket_lost_is_one_line(tmp_path, s3_server, bucket):
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    project.s3.delete_object(Bucket=bucket, Key=bag_a)
    project.run("backup", GLACIER_TODAY="2026-06-01")
    backup(project, 2026, GLACIER_TODAY="2026-06-02")
    old = tmp_path / "old"
    done = project.glacier("restore", str(project.data), "--to", str(old), "--yes",
                           "--year", "2025")
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out, out
    assert bag_a in out, out
    found = project.glacier("find", f"{moved}/blob", "--all-years")
    assert "Traceback" not in found.stdout + found.stderr, found.stdout + found.stderr


def test_kill_9_during_a_compaction_then_restore_and_rerun(tmp_path, s3_server, bucket):
    """2026: bag A keeps three of its four atoms; 2027: two more change, A is compacted
    (its last atom re-packed), killed while that bag is uploaded. The inventory on disk
    (2026's) still restores 2026's tree whole; the rerun restores today's."""
    project = atoms(tmp_path, s3_server, bucket)
    bag_a, atoms_a, moved = scenario_b(project)
    then = tree_snapshot(project.data)
    others = [a for a in atoms_a if a != moved]
    (project.data / others[0] / "blob").write_bytes(os.urandom(30 * MB))
    change(project, others[1])
    started = time.time()
    proc = project.popen("backup", **Y[2027])
    markers = project.state / "bags"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # a marker this run wrote: a bag packed
        if any(m.stat().st_mtime >= started and json.loads(m.read_text()).get("packed")
               for m in markers.glob("*.json")):
            break
        time.sleep(0.01)
    assert time.monotonic() < deadline, "no bag packed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert project.inventory["run_date"] == "2026-03-01"
    old = tmp_path / "old"
    restore_all(project, old)
    assert tree_snapshot(old) == then  # 2026's tree, old versions of the changed two
    backup(project, 2027)
    assert bag_a not in project.inventory["bags"]
    tool_restores_true(project, tmp_path)


# -- two bags of one name (2025's and 2026's bag_001) in one inventory ------------------


def test_two_bags_of_one_name_restore_together(tmp_path, s3_server, bucket):
    """Bag A (2025, bag_001) is compacted in 2026: its atoms are re-packed and the new
    bag takes its tar_id (2026, bag_001); one of them is busy and left out (issue 21
    case 12), so it keeps A. Both bags, one name, are in the inventory: a restore of
    the molecule downloads both (to STATE/downloads/ID/NAME.tar, by name)."""
    import sys
    project = atoms(tmp_path, s3_server, bucket)
    backup(project, 2025)
    bag_a, atoms_a = sorted(groups(project).items())[0]
    busy = atoms_a[0]
    then = tmp_path / "then"
    shutil.copytree(project.data / busy, then / busy)
    for name in atoms_a[1:3]:
        change(project, name)  # A keeps 1 of 4 atoms unchanged: compacted
    target = project.data / busy / "blob"
    target.write_bytes(os.urandom(MB))
    writer = subprocess.Popen([sys.executable, "-c", REWRITE, str(target), "300"])
    try:
        time.sleep(0.5)
        done = project.run("backup", **Y[2026])
    finally:
        writer.kill()
        writer.wait()
    assert f"FAILED atom {project.data}/{busy}" in done.stdout, done.stdout
    inv = project.inventory
    assert inv["atoms"][f"{project.data}/{busy}"]["archive_key"] == bag_a, done.stdout
    twin = bag_a.replace("2025-backup/", "2026-backup/")
    assert twin in inv["bags"], (sorted(inv["bags"]), done.stdout[-3000:])
    shutil.rmtree(project.data / busy)
    shutil.copytree(then / busy, project.data / busy)  # what the bucket holds of it
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine / busy, then / busy)
    for name in atoms_a[1:]:
        assert (mine / name / "blob").read_bytes() == \
            (project.data / name / "blob").read_bytes(), name


def test_two_kept_bags_of_one_name_in_one_plan(tmp_path, s3_server, bucket):
    """2025: bag A (bag_001) holds P (pinned later), S and C. 2026: C changes; a pinned
    atom's bag is re-packed whole, P keeps tar_id bag_001 (2026-backup/..._bag_001.tar,
    with C); S goes to a bag of its own, which fails (staging_dir too small for it), so
    S keeps A: 2025's and 2026's bag_001 are both in the inventory, under one name. S
    unchanged and 3 MB of A's 4.8: A is kept, as is 2026's bag_001. The next run plans
    two kept bags of one name: bag tasks, markers and failure files go by name."""
    from tests.support.tmpfs import mounted_tmpfs
    data = tmp_path / "data"
    for name, size in (("P", 1_500_000), ("S", 3_000_000), ("C", 300_000)):
        (data / name).mkdir(parents=True)
        (data / name / "blob").write_bytes(os.urandom(size))
    staging = tmp_path / "stage"
    staging.mkdir()
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f'target_bag_gb = 0.0052\nstaging_dir = "{staging}"')
    project.write_list(data)
    project.data = data
    backup(project, 2025)
    assert len(project.inventory["bags"]) == 1
    bag_a = next(iter(project.inventory["bags"]))
    assert project.glacier("pin", f"{data}/P").returncode == 0
    (data / "C" / "blob").write_bytes(os.urandom(300_000))
    project.write_config(f'target_bag_gb = 0.0042\nstaging_dir = "{staging}"')
    with mounted_tmpfs(staging, "3500k"):
        first = project.run("backup", **Y[2026])
    assert "staging_dir" in first.stdout and first.returncode != 0, first.stdout
    inv = project.inventory
    twin = bag_a.replace("2025-backup/", "2026-backup/")
    assert inv["atoms"][f"{data}/S"]["archive_key"] == bag_a, first.stdout
    assert inv["atoms"][f"{data}/P"]["archive_key"] == twin, first.stdout
    again = project.run("backup", GLACIER_TODAY="2026-06-01")
    out = again.stdout + again.stderr
    listed = project.run("list", GLACIER_TODAY="2026-06-01")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert again.returncode == 0, out
    assert "Traceback" not in out, out
    check_invariant(project)
    mine = tmp_path / "mine"
    glacier_restore_all(project, mine)
    same_tree(mine, data)
