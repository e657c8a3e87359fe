"""Each user mistake gives one clear line naming the culprit, a non-zero exit, and
loses nothing: no traceback, no half-written inventory, no atom dropped by mistake."""

import os
import json
import subprocess
import sys

import pytest

from tests.support.s3server import S3Server
from tests.support.tmpfs import mounted_tmpfs



def assert_one_clear_error(result, *words, code=3):
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], errors[0]


def test_missing_config(project):
    result = project.run("backup", GLACIER_CONFIG=str(project.root / "nope.toml"))
    assert_one_clear_error(result, "nope.toml", "not found")


def test_invalid_toml(project):
    project.config.write_text("[settings\ns3_bucket = 1\n")
    assert_one_clear_error(project.run("backup"), "glacier.toml", "not valid TOML")


def test_unknown_key(project):
    project.write_config("target_bag_gb = 1\nstaging = 'x'")
    assert_one_clear_error(project.run("backup"), "glacier.toml", "settings.staging")


def test_wrong_type(project):
    project.write_config('target_bag_gb = "big"')
    assert_one_clear_error(project.run("dryrun"), "settings.target_bag_gb", "must be a number")


def test_list_line_that_is_not_a_path(project):
    (project.root / "list.txt").write_text(f"# my folders\n{project.data}\nPhotos here\n")
    assert_one_clear_error(project.run("backup"), "list.txt", "line 3", "Photos here")


def test_bad_glacier_today(project):
    assert_one_clear_error(project.run("backup", GLACIER_TODAY="next year"),
                           "GLACIER_TODAY")


def test_missing_molecule_fails_after_the_others_are_done(project, tmp_path):
    absent = tmp_path / "unplugged-drive"
    project.write_list(project.data, absent)
    result = project.run("backup")
    assert result.returncode == 1
    assert f"FAILED molecule {absent}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    atoms = project.inventory["atoms"]
    assert f"{project.data}/Books" in atoms
    assert any(key.endswith(".tar") for key in project.objects())


@pytest.mark.parametrize("how", ["folder gone", "folder empty"])
def test_unmounted_molecule_keeps_its_atoms(project, how):
    assert project.run("backup", GLACIER_TODAY="2026-06-15").returncode == 0
    before = project.inventory
    hidden = project.root / "elsewhere"
    project.data.rename(hidden)
    if how == "folder empty":
        project.data.mkdir()  # an empty mount point
    result = project.run("backup", GLACIER_TODAY="2027-02-01")
    assert result.returncode == 1
    assert f"FAILED molecule {project.data}" in result.stdout
    assert project.inventory["atoms"] == before["atoms"]
    assert project.inventory["bags"] == before["bags"]
    assert not [k for k in project.objects() if k.startswith("2027-backup/")
                and k.endswith(".tar")]


def test_empty_molecule_on_the_first_run_is_missing(project, tmp_path):
    """Issue 21 case 8: an unmounted mount point on the very first run is not an
    empty molecule backed up with success: it fails by name like a missing one."""
    mount_point = tmp_path / "unmounted-drive"
    mount_point.mkdir()
    project.write_list(project.data, mount_point)
    result = project.run("backup")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED molecule {mount_point}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{project.data}/Books" in project.inventory["atoms"]
    assert not [a for a in project.inventory["atoms"].values()
                if a.get("molecule") == str(mount_point)]


def test_bucket_that_does_not_exist(project):
    project.bucket = "no-such-bucket-here"
    project.write_config("target_bag_gb = 0.004")
    result = project.run("backup")
    assert_one_clear_error(result, "no-such-bucket-here", "does not exist", code=1)
    assert not (project.root / "inventory.json").exists()


@pytest.mark.moto_only(reason="moto's IAM mode (INITIAL_NO_AUTH_ACTION_COUNT=0) refuses "
                       "unknown credentials; LocalStack's community S3 enforces no IAM")
def test_bucket_that_denies_access(project, tmp_path):
    strict = S3Server(tmp_path, extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}, kind="moto")
    try:
        project.server = strict
        project.write_config("target_bag_gb = 0.004")
        result = project.run("backup")
    finally:
        strict.stop()
    assert_one_clear_error(result, project.bucket, "denied", code=1)
    assert not (project.root / "inventory.json").exists()


def test_staging_without_room_is_refused_before_packing(project, tmp_path):
    small = tmp_path / "small-stage"
    small.mkdir()
    with mounted_tmpfs(small, "2m"):
        project.write_config(f'target_bag_gb = 0.004\nstaging_dir = "{small}"')
        result = project.run("backup")
        left = sorted(p.name for p in small.iterdir())
    assert result.returncode == 1
    assert f"staging_dir {small} has" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert left == [".glacier-tasks-own-folder"]  # the tag that keeps backups out, only


def test_unreadable_file_fails_its_bag_and_names_it(project):
    secret = project.data / "Books" / "sub" / "notes.txt"
    secret.chmod(0)
    # root reads everything; without these capabilities it is an ordinary user
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    result = subprocess.run(drop + project.command("backup"), env=project.env(),
                            cwd=project.root, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Books/sub/notes.txt" in result.stdout and "Permission denied" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    atoms = project.inventory["atoms"]
    assert f"{project.data}/Books" not in atoms      # not recorded as backed up
    bags = json.loads((project.state / "plan.json").read_text())["bags"]
    others = [a for b in bags if f"{project.data}/Books" not in b["atoms"]
              for a in b["atoms"]]
    assert others and all(a in atoms for a in others)  # the other bags went on
    secret.chmod(0o644)
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{project.data}/Books" in project.inventory["atoms"]


def test_glacier_console_script_runs_the_same_tasks(project):
    glacier = os.path.join(os.path.dirname(sys.executable), "glacier")
    result = subprocess.run([glacier, "dryrun"], env=project.env(), cwd="/",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "To upload:" in result.stdout
    bad = subprocess.run([glacier, "dryrun"], cwd="/", capture_output=True, text=True,
                         env=project.env(GLACIER_CONFIG="/nonexistent/glacier.toml"))
    assert_one_clear_error(bad, "/nonexistent/glacier.toml")


def test_a_bag_task_of_a_name_not_in_the_plan_is_one_line_and_not_zero(project):
    assert project.run("backup").returncode == 0
    real = next(b for b in json.loads((project.state / "plan.json").read_text())["bags"])
    assert project.run(f"bag:{real['name']}").returncode == 0
    for task in ("bag:nonexistent", "upload:typo"):
        for result, tool in ((project.run(task), "doit"), (project.glacier(task), "glacier")):
            assert result.returncode == 3
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "not" in lines[0] and f"{tool} list" in lines[0]
            assert "Traceback" not in result.stderr
