"""The command layer without S3: checks of user input, the `glacier` command line, and
the actions that need only a Run and local files (pin, restore's price, scan -> plan ->
dryrun)."""

import json
from pathlib import Path

import pytest
from doit.exceptions import TaskFailed

from glacier_tasks import cli
from glacier_tasks.restore import find, plan as restore
from glacier_tasks.commands import backup, pin, scan as scan_command
from glacier_tasks.commands.base import user_errors
from glacier_tasks.commands.restore import destination, restore_action
from glacier_tasks.config import slugify
from glacier_tasks.errors import ConfigError, UsageError
from glacier_tasks.formats.inventory import load_inventory, write_inventory
from tests.support.builders import typed
from glacier_tasks.run import load_run

# ---------------------------------------------------------------- restore --to


def test_destination_with_a_file_in_the_way_names_it(tmp_path):
    in_the_way = tmp_path / "restore"
    in_the_way.write_text("a file")
    for create in (True, False):
        with pytest.raises(UsageError) as err:
            destination(str(in_the_way), create=create)
        assert str(in_the_way) in str(err.value) and "not a folder" in str(err.value)


def test_destination_that_cannot_be_made_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        destination("/proc/nope/restore", create=True)
    assert "/proc/nope/restore" in str(err.value) and "cannot make" in str(err.value)


def test_destination_is_made_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    planned = destination("later/deep", create=False)
    assert planned == tmp_path / "later" / "deep"  # absolute, from the working folder
    assert not (tmp_path / "later").exists()
    made = destination(str(tmp_path / "now" / "deep"), create=True)
    assert made.is_dir() and made == tmp_path / "now" / "deep"
    assert destination(str(made), create=True) == made  # an existing folder is fine


def test_destination_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert destination("~/restored", create=False) == tmp_path / "restored"


# ---------------------------------------------------------------- restore --tier

def test_expedited_is_refused_for_deep_archive_naming_the_tiers_it_has():
    problem = restore.tier_problem("Expedited", {"DEEP_ARCHIVE", "GLACIER"})
    assert "Expedited" in problem and "Bulk" in problem and "Standard" in problem


def test_expedited_is_fine_for_glacier_bags():
    assert restore.tier_problem("Expedited", {"GLACIER"}) is None


@pytest.mark.parametrize("tier", ["Bulk", "Standard"])
def test_bulk_and_standard_serve_every_archived_class(tier):
    assert restore.tier_problem(tier, {"DEEP_ARCHIVE", "GLACIER"}) is None


@pytest.mark.parametrize("tier", ["Cheap", "bulk", ""])
def test_unknown_tier_is_named(tier):
    problem = restore.tier_problem(tier, {"DEEP_ARCHIVE"})
    assert f"--tier {tier}:" in problem and "Bulk" in problem and "Standard" in problem


# ---------------------------------------------------------------- find

def test_bad_regex_is_a_usage_error_naming_it():
    with pytest.raises(UsageError) as err:
        find.matcher("photos[2024", regex=True)
    assert "photos[2024" in str(err.value) and "--regex" in str(err.value)


def test_patterns_substring_glob_and_regex():
    path = "/data/photos/2024/IMG_0001.jpg"
    assert find.matcher("2024/IMG", regex=False)(path)
    assert not find.matcher("img", regex=False)(path)  # a substring is case-sensitive
    assert find.matcher("*.jpg", regex=False)(path)
    assert find.matcher("IMG_*.jpg", regex=False)(path)  # a glob may name the file alone
    assert not find.matcher("*.png", regex=False)(path)
    assert find.matcher(r"IMG_\d{4}", regex=True)(path)
    assert not find.matcher(r"^IMG", regex=True)(path)  # matched against the full path


# ---------------------------------------------------------------- the glacier command

@pytest.mark.parametrize("command, rest, expected", [
    ("restore", ["/data/x=1", "--yes"], ["restore", "--path", "/data/x=1", "--yes"]),
    ("backup", ["-v", "0"], ["-v", "0", "backup"]),
    ("backup", ["--continue", "--processes", "4"], ["--continue", "-n", "4", "backup"]),
    ("backup", ["-j", "3"], ["-n", "3", "backup"]),
    ("backup", ["--jobs=3"], ["-n", "3", "backup"]),
    ("backup", ["-n"], ["dryrun"]),
    ("backup", ["--dry-run", "-v", "0"], ["-v", "0", "dryrun"]),
    ("backup", ["--verbosity=1"], ["--verbosity=1", "backup"]),
    ("pin", ["/a/b", "--off"], ["pin", "--path", "/a/b", "--off"]),
    ("find", ["foo", "--long"], ["find", "foo", "--long"]),
    ("find", ["a=b"], ["find", "a=b"]),
    ("prune", ["--min-age-days", "5"], ["prune", "--min-age-days", "5"]),
    ("restore", ["/d", "--to", "/x=y", "--tier", "Standard", "-v", "0"],
     ["-v", "0", "restore", "--path", "/d", "--to", "/x=y", "--tier", "Standard"]),
    ("list", ["--status"], ["list", "--status"]),
    ("list", ["--json"], ["list", "--json"]),
])
def test_doit_args(command, rest, expected):
    assert cli.doit_args(command, rest) == expected


@pytest.mark.parametrize("command, rest, message", [
    ("restore", ["--too", "/x"], "unknown option --too (did you mean --to?)"),
    ("backup", ["--contiue"], "unknown option --contiue (did you mean --continue?)"),
    ("find", ["--year=2024", "foo"], "unknown option --year (did you mean --all-years?)"),
    ("list", ["--jsno"], "unknown option --jsno (did you mean --json?)"),
    ("backup", ["-n", "4"], "-n is the dry run; --processes 4 sets the number of workers"),
    ("backup", ["-n4"], "-n is the dry run; --processes 4 sets the number of workers"),
    ("restore", ["/x", "-n"], "unknown option -n"),
    ("restore", ["/x", "--yes=1"], "--yes takes no value"),
    ("restore", ["/x", "--year", "abc"], "--year needs a whole number, not 'abc'"),
    ("restore", ["/x", "--wait-hours=soon"], "--wait-hours needs a number, not 'soon'"),
])
def test_doit_args_refuse_what_doit_would_choke_on(command, rest, message):
    with pytest.raises(UsageError) as err:
        cli.doit_args(command, rest)
    assert str(err.value) == message


def test_doit_args_keep_what_doit_accepts():
    assert cli.doit_args("backup", ["-v0", "-j4"]) == ["-v0", "-n4", "backup"]
    assert cli.doit_args("prune", ["--dele"]) == ["prune", "--dele"]  # getopt's prefix
    assert cli.doit_args("find", ["--", "-odd-"]) == ["find", "--", "-odd-"]
    assert cli.doit_args("tar:bag_001", ["--x"]) == ["tar:bag_001", "--x"]  # doit's say


def test_unknown_option_in_doits_parser_is_one_line(capsys):
    from doit.cmdparse import CmdOption, TaskParse, CmdParseError
    from glacier_tasks.commands import doitfix
    doitfix.install()
    parser = TaskParse([CmdOption(p) for p in cli.commands()["restore"][1]])
    for args, message in ((["--too", "x"], "unknown option --too (did you mean --to?)"),
                          (["--days", "x"], "--days needs a whole number, not 'x'"),
                          (["--tier"], "--tier needs a value")):
        with pytest.raises(CmdParseError) as err:
            parser.parse(args)
        assert str(err.value) == message


def test_command_help_lists_the_options():
    text = cli.command_help("restore")
    assert text.startswith("usage: glacier restore [PATH]")
    for option in ("--to DIR", "--tier TIER", "--yes", "--days N", "--from-file"):
        assert option in text, option
    assert "(default Bulk)" in text
    assert "--min-age-days" in cli.command_help("prune")


def overview_commands() -> list:
    lines = cli.overview().splitlines()
    start = lines.index("commands:") + 1
    return [line.split()[0] for line in lines[start:]
            if line.startswith("  ") and line.split()
            and not line.split()[0].startswith("(")]


def test_overview_lists_this_tools_commands_not_doits():
    names = overview_commands()
    for name in ("backup", "restore", "find", "list", "dryrun", "prune", "verify", "pin",
                 "init", "cost"):
        assert name in names, name
    for name in ("dumpdb", "strace", "clean", "forget", "ignore", "tabcompletion",
                 "scan", "plan", "inventory", "system", "_lock", "_report"):
        assert name not in names, name
    assert names == sorted(names)


def test_unknown_command_and_version(capsys):
    assert cli.main(["frobnicate"]) == 3
    err = capsys.readouterr().err
    assert "frobnicate" in err and err.count("\n") == 1
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("glacier-tasks ")
    assert cli.main(["restore", "--help"]) == 0
    assert "--tier TIER" in capsys.readouterr().out


def test_user_errors_become_one_line_task_failures():
    @user_errors
    def action():
        raise ConfigError("glacier.toml: something is wrong")

    failed = action()
    assert isinstance(failed, TaskFailed)
    assert "glacier.toml: something is wrong" in str(failed.get_msg())


# ---------------------------------------------------------------- actions on a Run

@pytest.fixture
def project(tmp_path, monkeypatch):
    """A config (a tmp path per test: load_run is cached by path), one molecule of two
    atoms and loose files, GLACIER_TODAY fixed."""
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    (data / "A" / "a.bin").write_bytes(b"a" * 1000)
    (data / "B").mkdir()
    (data / "B" / "b.bin").write_bytes(b"b" * 500)
    (data / "loose.txt").write_text("loose")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "list.txt").write_text(f"{data}\n")
    config = conf / "glacier.toml"
    config.write_text('[settings]\ns3_bucket = "bkt"\nhost = "h"\n')
    return config, data


def inventory_of(data: Path) -> dict:
    key = "2026-backup/h_data_bag_001.tar"
    atoms = {f"{data}/{n}": {"molecule": str(data), "last_metadata_hash": "x",
                             "tar_id": "bag_001", "archive_key": key, "pinned": False,
                             "size": 10, "files": 1} for n in ("A", "B")}
    bags = {key: {"tar_id": "bag_001", "molecule": str(data), "size": 2_000_000_000,
                  "sha256": "5" * 64, "storage_class": "DEEP_ARCHIVE",
                  "uploaded_at": "2026-01-15T10:00:00Z", "atoms": sorted(atoms),
                  "manifest_key": "2026-backup/manifests/h_data_bag_001.txt"}}
    return {"version": 1, "atoms": atoms, "bags": bags}


def test_pin_sets_and_clears_the_pin(project, capsys):
    config, data = project
    inv_file = config.parent / "inventory.json"
    write_inventory(inv_file, typed(inventory_of(data)))
    assert pin.pin_action(str(config), f"{data}/A/a.bin", False) is None
    assert load_inventory(inv_file).atoms[f"{data}/A"].pinned is True
    assert f"Pinned {data}/A (bag_001" in capsys.readouterr().out
    assert pin.pin_action(str(config), f"{data}/A", True) is None
    assert load_inventory(inv_file).atoms[f"{data}/A"].pinned is False
    failed = pin.pin_action(str(config), "/elsewhere", False)
    assert isinstance(failed, TaskFailed) and "/elsewhere" in str(failed.get_msg())


def test_pin_without_an_inventory_says_what_to_run(project):
    config, data = project
    failed = pin.pin_action(str(config), f"{data}/A", False)
    assert isinstance(failed, TaskFailed)
    assert "doit backup" in str(failed.get_msg())


def restore_args(config, path, to, **options):
    args = dict(tier="Bulk", days=7, yes=False, wait=False, wait_hours=72,
                overwrite=False, from_file="", poll_seconds=60)
    args.update(options)
    return restore_action(str(config), path, str(to), **args)


def test_restore_without_yes_prices_it_and_touches_nothing(project, capsys):
    config, data = project
    write_inventory(config.parent / "inventory.json", typed(inventory_of(data)))
    to = config.parent / "restored"
    assert restore_args(config, f"{data}/A", to) is None
    out = capsys.readouterr().out
    assert "2026-backup/h_data_bag_001.tar" in out
    assert "Bulk thaw takes about 48 hours" in out
    assert "Nothing was requested" in out
    assert not to.exists()


def test_restore_refuses_expedited_for_deep_archive_before_anything(project):
    config, data = project
    write_inventory(config.parent / "inventory.json", typed(inventory_of(data)))
    failed = restore_args(config, f"{data}/A", config.parent / "r", tier="Expedited",
                          yes=True)
    assert isinstance(failed, TaskFailed) and "Bulk" in str(failed.get_msg())
    assert not (config.parent / "r").exists()  # refused: not even its folder is made


@pytest.mark.parametrize("path, days, words", [("", 7, "say what to restore"),
                                               ("/data/x", 0, "--days 0")])
def test_restore_argument_errors(project, path, days, words):
    config, _ = project
    failed = restore_args(config, path, config.parent / "r", days=days)
    assert isinstance(failed, TaskFailed) and words in str(failed.get_msg())


def scan_now(config) -> None:
    """What `doit scan` does: the walk, then each changed atom's _scan task."""
    assert scan_command.walk_action(str(config)) is None
    run = load_run(str(config))
    for key, record in json.loads(run.walk_file.read_text())["changed"].items():
        assert scan_command.hash_action(str(config), str(run.hash_file(key)), record) is None


def test_scan_plan_and_dryrun_need_no_bucket(project, capsys):
    config, data = project
    scan_now(config)
    assert backup.plan_action(str(config)) is None
    assert backup.dryrun_action(str(config)) is None
    out = capsys.readouterr().out
    assert "Plan for 2027" in out and "To upload: 1 bag" in out
    conf = config.parent
    assert not (conf / "inventory.json").exists()
    draft = json.loads((conf / "inventory_dryrun.json").read_text())
    [(key, bag)] = draft["bags"].items()
    assert key == f"2027-backup/h_{slugify(str(data))}_bag_001.tar"
    assert bag["pending"] is True
    assert bag["atoms"] == [f"{data}/.", f"{data}/A", f"{data}/B"]
    # as GNU tar writes it: A/, a.bin (512 + 1,024), B/, b.bin (512 + 512), loose.txt
    # (512 + 512), then the end blocks, padded to one record (issue 21, case 13)
    assert bag["size"] == 10_240
    assert sum(draft["atoms"][a]["size"] for a in bag["atoms"]) == 512 * 9
    assert sum(draft["atoms"][a]["apparent_size"] for a in bag["atoms"]) == \
        1000 + 500 + len("loose")
    plan = json.loads((conf / ".glacier-state" / "plan.json").read_text())
    assert plan["year"] == 2027 and plan["molecule_paths"] == {str(data): str(data)}


def test_dryrun_of_a_missing_molecule_fails_naming_it(project, capsys):
    config, data = project
    (config.parent / "list.txt").write_text(f"{data}\n{data.parent / 'unmounted'}\n")
    scan_now(config)
    backup.plan_action(str(config))
    failed = backup.dryrun_action(str(config))
    assert isinstance(failed, TaskFailed)
    out = capsys.readouterr().out
    assert f"MISSING molecule {data.parent / 'unmounted'}" in out and "not found" in out


# ---------------------------------------------------------------- _scan:ATOM names

@pytest.mark.parametrize("atom", ["*", "x?y", "[z]", "a=b", "a*b/c", "\\x2a"])
def test_scan_task_names_never_hold_what_doit_reads_as_a_pattern(atom):
    name = scan_command.scan_task_name(f"/data/{atom}")
    assert not set(name[len("_scan:"):]) & set("*?[=")


def test_scan_task_names_stay_readable_and_distinct():
    assert scan_command.scan_task_name("/data/Books") == "_scan:/data/Books"
    assert scan_command.scan_task_name("/d/a*b/*") == "_scan:/d/a\\x2ab/\\x2a"
    # a folder literally named \x2a is not the folder named *
    assert scan_command.scan_task_name("/d/\\x2a") != scan_command.scan_task_name("/d/*")


def test_a_failure_is_named_by_the_command_typed_not_an_internal_step():
    import io
    from glacier_tasks.commands.reporter import GlacierReporter
    reporter = GlacierReporter(io.StringIO(), {})
    reporter.selected = ("backup",)
    assert reporter._shown("_bucket") == "backup" and reporter._shown("find") == "find"
    reporter.selected = ("_walk", "_scan:/d/x")
    assert reporter._shown("_scan:/d/x") == "_scan:/d/x"  # the name the user typed
    reporter.selected = ()
    assert reporter._shown("_lock") == "dryrun"  # doit alone: the default task


@pytest.mark.parametrize("name", sorted(cli.commands()))
def test_help_lists_options_once_in_one_column(name):
    """`init --help` once ran a long flag into its text (`FILEwith`), and `backup
    --help` said "options:" twice."""
    text = cli.command_help(name)
    assert text.count("options:") == 1, text
    rows = [line for line in text.split("options:\n")[1].splitlines()]
    columns = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in rows}
    assert len(columns) == 1, text
    assert all("  " in line[2:] for line in rows), text
