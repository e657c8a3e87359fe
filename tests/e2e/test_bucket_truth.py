"""The bucket outranks local state (issue 21, cases 2, 5, 6, 7): an old local inventory
is refused before it can make the newest bags look unreferenced; a dropped molecule's
bags are history; another host's bags are never counted as this host's; a hand-edited
inventory of the wrong types is one line, never a traceback nor a broken inventory."""

import json
import shutil

import pytest

from .helpers import Project, make_sample_tree, sample_project
from .invariant import check_invariant
from .test_hosts import host_project

Y1, Y2, LATER = "2026-06-15", "2027-06-15", "2027-07-01"
PAST_EVERY_AGE = "2027-12-31"  # past 180 days of the Y2 bags (uploaded now, in 2026)


def two_years(tmp_path, s3_server, bucket, keep_years=1):
    project = sample_project(tmp_path, s3_server, bucket,
                             f"target_bag_gb = 0.004\nkeep_years = {keep_years}\n")
    data = project.data
    assert project.run("backup", GLACIER_TODAY=Y1).returncode == 0
    (data / "Books" / "sub" / "notes.txt").write_text("hello, changed in Y2\n")
    assert project.run("backup", GLACIER_TODAY=Y2).returncode == 0
    return project


def one_line(result, *words):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def newest_bags(project) -> set:
    return {k for k in project.inventory["bags"] if k.startswith("2027-")}


def assert_old_inventory_refused(project, y2_bags):
    puts = len(project.bag_puts())
    refused = project.run("backup", GLACIER_TODAY=LATER)
    # run through doit, the advice spells doit's command (issue 26)
    line = one_line(refused, "newest inventory in the bucket", "'doit bootstrap'")
    assert ".bak" not in line
    assert len(project.bag_puts()) == puts  # nothing packed or sent from it
    pruned = project.run("prune", "--delete", "--force", GLACIER_TODAY=PAST_EVERY_AGE)
    one_line(pruned, "'doit bootstrap'")
    assert y2_bags <= set(project.objects())


def back_on_track(project, y2_bags):
    (project.root / "inventory.json").rename(project.root / "inventory.old.json")
    booted = project.run("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    again = project.run("backup", GLACIER_TODAY=LATER)
    assert again.returncode == 0, again.stdout + again.stderr
    assert y2_bags <= set(project.inventory["bags"])
    offered = project.run("prune", GLACIER_TODAY=PAST_EVERY_AGE).stdout
    assert not [k for k in y2_bags if k in offered]
    check_invariant(project)


def test_an_inventory_from_its_bak_is_refused_and_bootstrap_is_the_way(
        tmp_path, s3_server, bucket):
    project = two_years(tmp_path, s3_server, bucket)
    y2_bags = newest_bags(project)
    assert y2_bags
    inventory = project.root / "inventory.json"
    inventory.write_text('{"version": 1, "atoms": {')  # a crash, a bad edit
    damaged = project.run("backup", GLACIER_TODAY=LATER)
    line = one_line(damaged, "inventory.json", "damaged", "glacier bootstrap")
    assert ".bak" not in line  # the .bak is the year before's: it would lose Y2
    shutil.copy(project.root / "inventory.json.bak", inventory)  # what it used to say
    assert_old_inventory_refused(project, y2_bags)
    back_on_track(project, y2_bags)


def test_a_project_folder_rolled_back_to_a_snapshot_is_refused(tmp_path, s3_server,
                                                               bucket):
    data = tmp_path / "data"
    data.mkdir()
    make_sample_tree(data)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.004\nkeep_years = 1\n")
    project.write_list(data)
    project.data = data
    assert project.run("backup", GLACIER_TODAY=Y1).returncode == 0
    snapshot = tmp_path.parent / f"{tmp_path.name}-snapshot"
    shutil.copytree(project.state, snapshot / "state")
    shutil.copy(project.root / "inventory.json", snapshot / "inventory.json")
    (data / "Books" / "sub" / "notes.txt").write_text("hello, changed in Y2\n")
    assert project.run("backup", GLACIER_TODAY=Y2).returncode == 0
    y2_bags = newest_bags(project)
    shutil.rmtree(project.state)  # the snapshot comes back
    shutil.copytree(snapshot / "state", project.state)
    shutil.copy(snapshot / "inventory.json", project.root / "inventory.json")
    assert_old_inventory_refused(project, y2_bags)
    back_on_track(project, y2_bags)


def test_a_dropped_molecules_bags_are_history_for_keep_years(tmp_path, s3_server,
                                                             bucket):
    old_disk = tmp_path / "old-disk"
    (old_disk / "Letters").mkdir(parents=True)
    (old_disk / "Letters" / "1999.txt").write_text("kept for a year at least\n")
    project = two_years(tmp_path, s3_server, bucket)
    project.write_list(project.data, old_disk)
    assert project.run("backup", GLACIER_TODAY=Y2).returncode == 0
    dropped = {k for k, b in project.inventory["bags"].items()
               if b["molecule"] == str(old_disk)}
    assert dropped
    project.write_list(project.data)  # the disk moved: its old path must be dropped
    done = project.run("drop", "--molecule", str(old_disk), GLACIER_TODAY=LATER)
    assert done.returncode == 0, done.stdout + done.stderr
    history = project.inventory["history"]
    assert {history[k]["superseded_on"] for k in dropped} == {LATER}
    # until a backup sends the new inventory, the bucket's newest still names them
    assert not [k for k in dropped if k in project.run("prune", GLACIER_TODAY=LATER)
                .stdout]
    check_invariant(project)
    assert project.run("backup", GLACIER_TODAY=LATER).returncode == 0
    kept = project.run("prune", "--delete", GLACIER_TODAY=PAST_EVERY_AGE)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    for key in dropped:
        assert f"Kept {key}: history until 2028-07-01" in kept.stdout
    assert dropped <= set(project.objects())
    gone = project.run("prune", "--delete", GLACIER_TODAY="2028-07-02")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not dropped & set(project.objects())


def _edit_molecule(inv):
    atom = sorted(inv["atoms"])[0]
    inv["atoms"][atom]["molecule"] = 5
    return f'atoms["{atom}"].molecule is 5'


def _edit_tar_id(inv):
    bag = sorted(inv["bags"])[0]
    inv["bags"][bag]["tar_id"] = 7
    return f'bags["{bag}"].tar_id is 7'


def _edit_history(inv):
    inv["history"] = []
    return "history is []"


def _edit_bag_away(inv):
    atom = sorted(inv["atoms"])[0]
    del inv["bags"][inv["atoms"][atom]["archive_key"]]
    return f'atoms["{atom}"].archive_key names'


@pytest.mark.parametrize("edit", [_edit_molecule, _edit_tar_id, _edit_history,
                                  _edit_bag_away], ids=lambda e: e.__name__[6:])
def test_a_hand_edited_field_of_the_wrong_type_is_one_line(project, edit):
    assert project.run("backup").returncode == 0
    inventory = project.root / "inventory.json"
    inv = project.inventory
    field = edit(inv)
    inventory.write_text(json.dumps(inv, indent=1))
    edited = inventory.read_bytes()
    for command in (["backup"], ["verify"], ["prune"], ["dryrun"]):
        one_line(project.run(*command), "inventory.json", field, "glacier bootstrap")
    assert inventory.read_bytes() == edited  # nothing written from it


def test_a_backup_never_counts_another_hosts_bags_as_its_own(tmp_path, s3_server,
                                                           bucket):
    nas = host_project(tmp_path / "nas", s3_server, bucket, "nas")
    assert nas.run("backup").returncode == 0
    laptop = host_project(tmp_path / "laptop", s3_server, bucket, "laptop")
    booted = laptop.run("bootstrap", "--host", "nas")  # to restore the NAS's files
    assert booted.returncode == 0, booted.stdout + booted.stderr
    before = set(laptop.objects())
    refused = laptop.run("backup")
    one_line(refused, "host nas", "move inventory.json away")
    assert set(laptop.objects()) == before  # no bag, no system folder of laptop's
    assert laptop.inventory == nas.inventory
    (laptop.root / "inventory.json").rename(laptop.root / "nas-inventory.json")
    own = laptop.run("backup")  # its own, from its own files
    assert own.returncode == 0, own.stdout + own.stderr
    assert all(k.startswith("2026-backup/laptop_") for k in laptop.inventory["bags"])
    check_invariant(laptop)
