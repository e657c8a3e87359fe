"""History: a file deleted or changed at home stays recoverable for keep_years, and
prune says what deleting an old bag would lose."""

import shutil

import pytest

from .helpers import sample_project

Y1, Y2, Y3 = "2026-06-15", "2027-06-15", "2028-06-15"


def three_years(tmp_path, s3_server, bucket, keep_years, extra=""):
    project = sample_project(tmp_path, s3_server, bucket,
                             f"target_bag_gb = 0.004\nkeep_years = {keep_years}\n{extra}")
    data = project.data
    assert project.run("backup", GLACIER_TODAY=Y1).returncode == 0
    first = project.inventory
    (data / "Photos" / "été à Zürich.jpg").unlink()           # deleted at home
    (data / "Books" / "sub" / "notes.txt").write_text("hello, changed\n")  # changed
    shutil.rmtree(data / "Empty")                              # a whole atom gone
    assert project.run("backup", GLACIER_TODAY=Y2).returncode == 0
    assert project.run("backup", GLACIER_TODAY=Y3).returncode == 0
    return project, first


def old_bag(first, project, atom):
    return first["atoms"][f"{project.data}/{atom}"]["archive_key"]


def test_history_is_kept_keep_years_then_prune_says_what_it_loses(tmp_path, s3_server,
                                                                   bucket):
    # increments off: this is about the history of bags superseded by atoms moving whole
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=1,
                                 extra="increment_below = 0")
    photos = old_bag(first, project, "Photos")
    assert photos in project.inventory["history"]
    assert project.inventory["history"][photos]["superseded_on"] == Y2
    planned = project.run("dryrun", GLACIER_TODAY=Y3)
    assert "History (superseded bags not pruned yet, keep_years = 1): " in planned.stdout
    inside = project.run("prune", GLACIER_TODAY="2028-03-01")  # > 180 days, < 1 year
    assert inside.returncode == 0, inside.stderr
    line = next(l for l in inside.stdout.splitlines() if photos in l)
    assert line.startswith(f"History until {Y3} ") and "1 file (" in line
    assert "Photos/été à Zürich.jpg" in line
    kept = project.run("prune", "--delete", GLACIER_TODAY="2028-03-01")
    assert f"Kept {photos}: history until {Y3}" in kept.stdout
    assert photos in project.objects()
    after = project.run("prune", GLACIER_TODAY="2028-06-16")
    line = next(l for l in after.stdout.splitlines() if photos in l)
    assert line.startswith(f"Would delete {photos}") and "in no newer bag" in line
    books = old_bag(first, project, "Books")
    assert "Books/sub/notes.txt" in next(l for l in after.stdout.splitlines()
                                         if books in l)
    done = project.run("prune", "--delete", GLACIER_TODAY="2028-06-16")
    assert f"Deleted {photos}" in done.stdout and photos not in project.objects()
    assert photos not in project.inventory.get("history", {})


def test_find_all_years_finds_a_deleted_file_with_its_year(tmp_path, s3_server, bucket):
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=1)
    now = project.run("find", "Zürich")
    assert now.returncode == 1 and now.stdout == ""  # gone from the mirror: grep's exit 1
    assert now.stderr.strip().endswith("no file matches 'Zürich' in the current "
                                       "inventory; 'doit find ... --all-years' also "
                                       "searches older years"), now.stderr
    ever = project.glacier("find", "Zürich", "--all-years")
    assert ever.returncode == 0, ever.stderr
    assert f"{project.data}/Photos/été à Zürich.jpg\t" in ever.stdout
    assert ever.stdout.rstrip("\n").endswith("\t2026")
    notes = project.glacier("find", "notes.txt", "--all-years").stdout.splitlines()
    assert {line.rsplit("\t", 1)[1] for line in notes} == {"2026", "2027"}


@pytest.mark.parametrize("today", ["2027-12-15", "2028-06-16"])
def test_keep_years_0_is_the_original_mirror(tmp_path, s3_server, bucket, today):
    # increments off: only a bag superseded by its atoms moving whole can be pruned
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=0,
                                 extra="increment_below = 0")
    listed = project.run("prune", GLACIER_TODAY=today).stdout
    assert "History until" not in listed
    assert f"Would delete {old_bag(first, project, 'Photos')}" in listed


def test_keep_years_0_with_increments_prunes_no_bag_of_a_live_chain(tmp_path, s3_server,
                                                                  bucket):
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=0)
    atoms = project.inventory["atoms"]
    chains = {atom: [entry["archive_key"], *entry.get("increments", [])]
              for atom, entry in atoms.items()}
    # a deleted file and a changed one: each atom keeps its 2026 bag as a base
    for atom in ("Photos", "Books"):
        assert chains[f"{project.data}/{atom}"][0] == old_bag(first, project, atom)
        assert len(chains[f"{project.data}/{atom}"]) == 2, chains
    done = project.run("prune", "--delete", "--force", GLACIER_TODAY="2028-06-16")
    assert done.returncode == 0 and "Deleted" not in done.stdout, done.stdout
    left = project.objects()
    assert all(key in left for chain in chains.values() for key in chain), chains


def test_restore_year_returns_a_deleted_file_and_an_old_version(tmp_path, s3_server,
                                                                bucket):
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=1)
    dest = tmp_path / "as-in-2026"
    for atom in ("Photos", "Books"):
        done = project.glacier("restore", f"{project.data}/{atom}", "--year", "2026",
                               "--to", str(dest), "--yes", GLACIER_TODAY="2028-07-01")
        assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "Photos" / "été à Zürich.jpg").stat().st_size == 1_500_000
    assert (dest / "Books" / "sub" / "notes.txt").read_text() == "hello\n"  # the old one
    for gone in ("Photos/été à Zürich.jpg", "Empty"):  # a file, an atom deleted since
        hint = project.glacier("restore", f"{project.data}/{gone}")
        assert hint.returncode == 1 and len(hint.stderr.splitlines()) == 1, hint.stderr
        assert "not in the current inventory, but the 2026 backup holds it: glacier " \
            "restore --path " in hint.stderr and hint.stderr.rstrip().endswith(
                "--year 2026 ('find --all-years' searches every year)"), hint.stderr
    missing = project.glacier("restore", f"{project.data}/Books", "--year", "2019")
    assert missing.returncode != 0 and "no system folder" in missing.stderr
