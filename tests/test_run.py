"""run.py: the Run of a config (its state paths, the atoms on disk), and that importing
the command layer touches nothing."""

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glacier_tasks.config import Molecule
from glacier_tasks.errors import ConfigError
from glacier_tasks.run import load_run

REPO = Path(__file__).resolve().parent.parent


def make_config(folder: Path, lines=None, settings: str = "") -> Path:
    """glacier.toml (state, staging, manifests and inventory in their own folders) and,
    unless lines is None, a list.txt of those lines."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "glacier.toml"
    config.write_text('[settings]\ns3_bucket = "bkt"\nhost = "host"\n'
                      'state_dir = "state"\nstaging_dir = "stage"\n'
                      'manifest_dir = "manifests"\ninventory_file = "inv/inventory.json"\n'
                      + settings)
    if lines is not None:
        (folder / "list.txt").write_text("".join(f"{line}\n" for line in lines))
    return config


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")


def test_every_state_path_lives_under_state_dir(tmp_path):
    run = load_run(str(make_config(tmp_path / "conf", [])))
    state = tmp_path / "conf" / "state"
    assert run.state_dir == state
    molecule = Molecule("/data/m", Path("/data/m"), "data-m")
    paths = [run.lock_file, run.doit_db, run.plan_file, run.remote_file,
             run.repair_file("b"), run.markers_dir, run.downloads_dir,
             run.hash_file("/data/m/A"), run.marker_file("host_data-m_bag_001"),
             run.failure_file("host_data-m_bag_001"), run.mount_marker(molecule),
             run.bootstrap_dir(2026)]
    for path in paths:
        assert path.is_relative_to(state), path
    assert len(set(paths)) == len(paths)  # no two state files share a name
    assert run.marker_file("n").parent == run.markers_dir
    assert not state.exists()  # naming a path creates nothing


def test_files_outside_the_state(tmp_path):
    conf = tmp_path / "conf"
    run = load_run(str(make_config(conf, [])))
    assert run.dryrun_file.parent == run.settings.inventory_file.parent == conf / "inv"
    assert run.dryrun_file != run.settings.inventory_file
    assert run.staged_tar("host_m_bag_001") == conf / "stage" / "host_m_bag_001.tar"
    assert run.manifest_file("2027-backup/manifests/host_m_bag_001.txt") == \
        conf / "manifests" / "2027-backup" / "manifests" / "host_m_bag_001.txt"
    assert run.config_file == str(conf / "glacier.toml")
    assert run.today == datetime.date(2027, 1, 15) and run.year == 2027


def test_local_atoms_of_a_molecule(tmp_path):
    data = tmp_path / "data" / "photos"
    for name in ("2024", "2023", "Albums"):
        (data / name).mkdir(parents=True)
    (data / "notes.txt").write_text("x")
    empty = tmp_path / "data" / "empty"
    empty.mkdir()
    run = load_run(str(make_config(tmp_path / "conf", [str(data), str(empty)])))
    assert [(a.molecule.spelling, a.name, a.key) for a in run.local_atoms] == [
        (str(data), "2023", f"{data}/2023"),
        (str(data), "2024", f"{data}/2024"),
        (str(data), "Albums", f"{data}/Albums"),
        (str(data), ".", f"{data}/."),  # the loose files
    ]
    assert run.local_missing == {}
    assert run.list_problem is None


def test_local_missing_names_the_missing_folder(tmp_path):
    here = tmp_path / "here"
    (here / "A").mkdir(parents=True)
    gone = tmp_path / "unmounted-drive"
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    run = load_run(str(make_config(tmp_path / "conf", [str(here), str(gone),
                                                       str(a_file)])))
    assert [a.key for a in run.local_atoms] == [f"{here}/A"]
    assert set(run.local_missing) == {str(gone), str(a_file)}
    reason = run.local_missing[str(gone)]
    assert str(gone) in reason and "not found" in reason


def test_remote_molecules_are_not_listed_locally(tmp_path):
    run = load_run(str(make_config(tmp_path / "conf", ["alice@nas:/srv/share"])))
    assert [m.spelling for m in run.remote] == ["alice@nas:/srv/share"]
    assert run.local_atoms == [] and run.local_missing == {}
    atoms, missing = run.remote_atoms()  # nothing mounted yet
    assert atoms == [] and missing == {"alice@nas:/srv/share": "not mounted"}


def test_missing_list_is_reported_by_the_commands_that_need_it(tmp_path):
    run = load_run(str(make_config(tmp_path / "conf", lines=None)))
    assert run.molecules == ()
    assert "list.txt" in run.list_problem
    with pytest.raises(ConfigError) as err:
        run.require_list()
    assert str(tmp_path / "conf" / "list.txt") in str(err.value)


def test_load_run_is_read_once_per_path(tmp_path):
    config = str(make_config(tmp_path / "conf", []))
    assert load_run(config) is load_run(config)


def test_bad_list_fails_the_load_with_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_run(str(make_config(tmp_path / "conf", ["relative/path"])))
    assert "line 1" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- no side effect

@pytest.mark.parametrize("code", [
    "import glacier_tasks.cli, glacier_tasks.commands",
    "import sys, glacier_tasks.cli as c; sys.exit(c.main(['--help']))",
    "import sys, glacier_tasks.cli as c; sys.exit(c.main(['restore', '--help']))",
])
def test_importing_the_command_layer_writes_nothing(tmp_path, code):
    conf = tmp_path / "conf"
    config = make_config(conf, ["/data/nowhere"])
    state = conf / "state"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "GLACIER_CONFIG": str(config),
           "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(REPO),
           "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not state.exists()
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in conf.iterdir()) == ["glacier.toml", "list.txt"]
    assert not (tmp_path / "xdg").exists()
