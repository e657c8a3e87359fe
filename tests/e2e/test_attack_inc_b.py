"""Hostile runs against increments (issue 27): kills, long chains, hosts, prune."""

import os
import signal
import time

from .helpers import tree_snapshot
from .test_attack_inc_a import photos_project, tool_restore
from .test_increments import KB, backup, restore_by_hand, write, year_env


def check_all(project, tmp_path, key, atom, tag):
    dest = tmp_path / f"tool-{tag}"
    done = tool_restore(project, dest, "--path", key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos") == tree_snapshot(atom), tag
    hand = tmp_path / f"hand-{tag}"
    restore_by_hand(project, key, hand)
    assert tree_snapshot(hand / "Photos") == tree_snapshot(atom), tag


def healed(project, key, lost: str, year: int) -> dict:
    """The backup that finds a bag of the atom's chain gone is the one that heals it,
    as for a lost whole bag: exit 0, a REPAIRED line naming the lost key, the atom
    packed whole under this year's prefix (no increment on a chain it cannot prove)."""
    before = set(project.objects())
    done = project.run("backup", **year_env(year))
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.startswith("REPAIRED") and lost in line
               for line in done.stdout.splitlines()), done.stdout
    entry = project.inventory["atoms"][key]
    assert entry["archive_key"].startswith(f"{year}-backup/"), entry
    assert not entry.get("increments"), entry
    sent = set(project.objects()) - before
    assert entry["archive_key"] in sent, sorted(sent)
    assert not any(k.endswith(".del") for k in sent), sorted(sent)
    return entry


def test_attack_kill_as_soon_as_the_increment_tar_lands(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "new.jpg", 50 * KB)
    proc = project.popen("backup", **year_env(2026))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(k.startswith("2026-backup/") and k.endswith(".tar")
                   for k in project.objects()):
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate()
    keys = sorted(project.objects())
    print("after kill:", keys)
    done = project.run("verify", **year_env(2026))
    print("verify after kill:", done.returncode, done.stdout[-800:])
    backup(project, 2026)
    assert any(k.endswith(".del") for k in project.objects()), sorted(project.objects())
    check_all(project, tmp_path, key, atom, "rerun")
    done = project.run("verify", **year_env(2026))
    assert done.returncode == 0, done.stdout + done.stderr


def test_attack_del_list_lost_from_bucket(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "new.jpg", 50 * KB)
    backup(project, 2026)
    dels = [k for k in project.objects() if k.endswith(".del")]
    assert dels
    for k in dels:
        project.s3.delete_object(Bucket=project.bucket, Key=k)
    done = project.run("verify", **year_env(2026))
    assert done.returncode != 0, "verify said all is well with a .del gone: " + done.stdout
    # a rerun cannot write the list again (keys are written once, and what the disk
    # held then is gone): it packs the atom whole at once, and says which key it lost
    healed(project, key, dels[0], 2026)
    check_all(project, tmp_path, key, atom, "rebased")
    done = project.run("verify", **year_env(2026))
    assert done.returncode == 0, done.stdout + done.stderr


def test_attack_ten_years_rebase_prune_old_year(tmp_path, s3_server, bucket):
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    snaps = {}
    for n, year in enumerate(range(2020, 2031)):
        if n:
            write(atom / "y" / f"add{year}.jpg", 5 * KB)
            if n % 3 == 0:
                os.remove(atom / "y" / f"add{year - 1}.jpg")
            if n == 5:
                os.rename(atom / "thing", atom / "thing2")
        backup(project, year)
        snaps[year] = tree_snapshot(atom)
        print(year, len(project.inventory["atoms"][key].get("increments", [])))
    check_all(project, tmp_path, key, atom, "now")
    pruned = project.run("prune", "--delete", "--force", **year_env(2031))
    print(pruned.returncode, pruned.stdout[-1500:], pruned.stderr[-500:])
    check_all(project, tmp_path, key, atom, "after-prune")
    for year in (2023, 2027):
        dest = tmp_path / f"year-{year}"
        done = tool_restore(project, dest, "--path", key, "--year", str(year))
        if done.returncode == 0:
            assert year != 2023, "the 2020 base that 2023's chain needs was pruned"
            assert tree_snapshot(dest / "Photos") == snaps[year], (year, done.stdout)
        else:  # its base was pruned with --force: say so, not S3's NoSuchKey
            said = done.stdout + done.stderr
            assert "pruned since the" in said and "NoSuchKey" not in said, said
            assert "Traceback" not in said
            print("year", year, "refused:", said[-400:])


def test_attack_two_hosts_one_bucket(tmp_path, s3_server, bucket):
    a, atom_a, key_a = photos_project(tmp_path / "a", s3_server, bucket)
    b, atom_b, key_b = photos_project(tmp_path / "b", s3_server, bucket)
    b.write_config('target_bag_gb = 0.05\nhost = "otherhost"').__class__
    b.config.write_text(b.config.read_text().replace('host = "testhost"\n', ""))
    backup(a, 2025)
    backup(b, 2025)
    os.remove(atom_a / "doomed.txt")
    write(atom_a / "y" / "n.jpg", 5 * KB)
    write(atom_b / "y" / "m.jpg", 5 * KB)
    backup(a, 2026)
    backup(b, 2026)
    check_all(a, tmp_path / "a", key_a, atom_a, "a")
    check_all(b, tmp_path / "b", key_b, atom_b, "b")


def test_attack_bootstrap_mid_chain_then_year_and_backup(tmp_path, s3_server, bucket):
    import shutil
    project, atom, key = photos_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    os.remove(atom / "doomed.txt")
    write(atom / "y" / "n.jpg", 5 * KB)
    backup(project, 2026)
    then = tree_snapshot(atom)
    write(atom / "y" / "m.jpg", 5 * KB)
    backup(project, 2027)
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    shutil.rmtree(project.root / "manifests")
    booted = project.run("bootstrap", **year_env(2027))
    assert booted.returncode == 0, booted.stdout + booted.stderr
    dest = tmp_path / "y2026"
    done = tool_restore(project, dest, "--path", key, "--year", "2026")
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos") == then
    check_all(project, tmp_path, key, atom, "booted")
    os.remove(atom / "y" / "img01.jpg")
    backup(project, 2028)
    check_all(project, tmp_path, key, atom, "after")
