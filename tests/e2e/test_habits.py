"""Issue 26, the command line: the habits of restic, borg and rclone users. A dry run is
`-n`, the config can be named, help is a command, scripts read JSON of a documented
shape, run through `glacier` nothing names doit's internal tasks, `list` and `info`
say what holds now, and each problem is said once, with sizes in words."""

import json
import os
import re

from . import json_shapes as shapes
from .helpers import REPO, tree_snapshot
from .test_cli import one_line_error

INTERNAL = re.compile(r"(?<![\w/.-])_(lock|bucket|report|cleanup|walk|mount|scan_remote|"
                      r"scan)\b")


def bags_in(project) -> list:
    return sorted(k for k in project.objects() if k.endswith(".tar"))


def test_backup_dry_run_is_n_and_workers_are_processes(project):
    for flag in ("-n", "--dry-run"):
        dry = project.glacier("backup", flag)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert dry.stdout.startswith("Plan for ") and "nothing uploaded" in dry.stdout
        assert bags_in(project) == [] and not (project.root / "inventory.json").exists()
    assert one_line_error(project.glacier("backup", "-n", "4"), code=3) == \
        "glacier backup: -n is the dry run; --processes 4 sets the number of workers"
    assert "unknown option -n" in one_line_error(project.glacier("verify", "-n"), code=3)
    done = project.glacier("backup", "--processes", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(bags_in(project)) == len(project.inventory["bags"]) > 1
    # doit from the project folder keeps doit's words: `doit -n N` is its workers
    assert project.doit_here("-n", "1", "dryrun").returncode == 0
    assert "here the dry run is 'doit dryrun'" in one_line_error(
        project.doit_here("backup", "--dry-run"), code=3)


def test_config_named_on_the_command_line(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"GLACIER_CONFIG": ""}  # unset: only --config says where the config is
    for line in (("--config", str(project.config), "backup"),
                 ("backup", f"--config={project.config}")):
        ran = project.glacier(*line, cwd=elsewhere, **env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    assert len(bags_in(project)) == len(project.inventory["bags"])
    listed = project.glacier("list", "--config", str(project.config), cwd=elsewhere, **env)
    assert listed.returncode == 0 and listed.stdout.startswith("bag:"), listed.stderr
    missing = tmp_path / "nope.toml"
    line = one_line_error(project.glacier("--config", str(missing), "list", cwd=elsewhere,
                                          **env), code=3)
    assert line.startswith(f"glacier: --config {missing}: no such file")
    written = project.glacier("--config", str(missing), "init", "--bucket", project.bucket,
                              cwd=elsewhere, **env)  # no terminal: the bucket is given
    assert written.returncode == 0 and missing.is_file(), written.stderr
    assert "--config FILE" in project.glacier("help").stdout


def test_help_is_a_command(project):
    for command in ("restore", "backup", "find", "list"):
        shown = project.glacier("help", command)
        assert shown.returncode == 0 and shown.stderr == ""
        assert shown.stdout == project.glacier(command, "--help").stdout
        assert shown.stdout.startswith(f"usage: glacier {command}")
    assert "-n, --dry-run" in project.glacier("help", "backup").stdout
    assert "--json" in project.glacier("help", "find").stdout
    listed = project.glacier("help")
    assert listed.returncode == 0 and listed.stdout == project.glacier("--help").stdout
    assert one_line_error(project.glacier("help", "nope"), code=3) == \
        "glacier help: no command 'nope'; 'glacier help' lists them"


def test_json_shapes_of_list_find_cost_verify_and_the_restore_estimate(project):
    assert project.glacier("backup").returncode == 0
    inv = project.inventory

    listed = shapes.check(json.loads(project.glacier("list", "--json").stdout), shapes.LIST)
    assert sorted(b["archive_key"] for b in listed["bags"]) == sorted(inv["bags"])
    assert listed["pending"] == 0 and not any(b["pending"] for b in listed["bags"])

    found = project.glacier("find", "notes.txt", "--json")
    assert found.returncode == 0, found.stderr
    matches = shapes.check(json.loads(found.stdout), shapes.FIND)["matches"]
    assert [m["path"] for m in matches] == [f"{project.data}/Books/sub/notes.txt"]
    assert matches[0]["size"] == 6 and matches[0]["archive_key"] in inv["bags"]
    missed = project.glacier("find", "no-such-name", "--json")
    assert missed.returncode == 1  # grep's habit, and still a document to read
    assert shapes.check(json.loads(missed.stdout), shapes.FIND)["matches"] == []

    bill = shapes.check(json.loads(project.glacier("cost", "--json").stdout), shapes.COST)
    assert bill["current"]["bags"] == len(inv["bags"])
    assert bill["current"]["bytes"] == sum(b["size"] for b in inv["bags"].values())
    by_host = shapes.check(json.loads(project.glacier("cost", "--all-hosts", "--json")
                                      .stdout), shapes.COST_BY_HOST)
    assert [h["host"] for h in by_host["hosts"]] == ["testhost"]

    checked = project.glacier("verify", "--json")
    assert checked.returncode == 0, checked.stderr
    result = shapes.check(json.loads(checked.stdout), shapes.VERIFY)
    assert result["ok"] and result["bags"] == len(inv["bags"])
    every = shapes.check(json.loads(project.glacier("verify", "--all-hosts", "--json")
                                    .stdout), shapes.VERIFY_BY_HOST)
    assert every["ok"] and every["hosts"][0]["host"] == "testhost"
    lost = next(iter(inv["bags"]))
    project.s3.delete_object(Bucket=project.bucket, Key=lost)
    broken = project.glacier("verify", "--json")
    assert broken.returncode == 1
    result = shapes.check(json.loads(broken.stdout), shapes.VERIFY)
    assert not result["ok"] and any(lost in p for p in result["problems"])

    wanted = f"{project.data}/Photos"
    estimate = project.glacier("restore", wanted, "--json")
    assert estimate.returncode == 0, estimate.stderr
    shown = shapes.check(json.loads(estimate.stdout), shapes.RESTORE_ESTIMATE)
    photos = inv["atoms"][wanted]["archive_key"]
    assert shown["what"] == wanted and [b["archive_key"] for b in shown["bags"]] == [photos]
    assert shown["thaw_bytes"] == inv["bags"][photos]["size"]
    assert not (project.state / "restores").exists() or \
        not any((project.state / "restores").iterdir())  # nothing was requested


def test_no_internal_task_name_reaches_the_user(project, tmp_path):
    assert project.glacier("backup").returncode == 0
    listed = project.glacier("list")
    assert listed.stdout.startswith("bag:") and "\nbackup " not in listed.stdout
    assert not INTERNAL.search(project.glacier("list", "--all").stdout)
    # a run that cannot reach the bucket, one with a molecule gone, a second run
    good = project.config.read_text()
    project.config.write_text(good.replace(project.server.endpoint, "http://127.0.0.1:9"))
    unreachable = project.glacier("backup")
    project.config.write_text(good)
    gone = tmp_path / "gone"
    project.write_list(project.data, gone)
    incomplete = project.glacier("backup")
    project.write_list(project.data)
    said = [unreachable, incomplete, project.glacier("status"),
            project.glacier("status", "--json")]
    for result in said:
        assert result.returncode == 1, result.stdout + result.stderr
        assert not INTERNAL.search(result.stdout + result.stderr), result.stdout + \
            result.stderr
    assert "glacier: backup: " in unreachable.stderr
    assert "glacier: backup: the backup is incomplete" in incomplete.stderr
    assert not INTERNAL.search((project.state / "last-run.json").read_text())


def test_list_and_info_say_what_holds_now(project):
    assert project.glacier("backup").returncode == 0
    info = project.doit_here("info", "plan")  # the plan now has an inventory to read
    assert "status     : run" in info.stdout and "inventory.json" in info.stdout
    assert project.glacier("dryrun").returncode == 0
    listed = project.glacier("list", "--status").stdout.splitlines()
    assert re.fullmatch(r"0 of \d+ bags pending as of the scan of \S+Z; files changed "
                        r"since are seen by 'glacier dryrun' \(it scans again and uploads "
                        r"nothing\)", listed[-1]), listed
    # doit's info reads this project's database: nothing changed since, nothing to plan
    info = project.doit_here("info", "plan")
    assert "status     : up-to-date" in info.stdout, info.stdout + info.stderr
    assert "bags pending as of the scan" in info.stdout.splitlines()[-1]
    (project.data / "Books" / "sub" / "notes.txt").write_text("changed\n")
    (project.data / "Music").mkdir()
    (project.data / "Music" / "song.flac").write_bytes(os.urandom(1000))
    stale = project.glacier("list", "--status").stdout.splitlines()[-1]
    assert "out of date: 1 atom new since the plan" in stale and \
        f"({project.data}/Music)" in stale and "'glacier dryrun' plans again" in stale
    now = json.loads(project.glacier("list", "--json").stdout)
    assert now["out_of_date"] == [f"1 atom new since the plan ({project.data}/Music)"]
    assert project.glacier("dryrun").returncode == 0
    after = project.glacier("list", "--status").stdout.splitlines()
    pending = [line for line in after if line.startswith("R bag:")]
    assert pending and after[-1].startswith(f"{len(pending)} of "), after
    # Books changed by one small file: it goes as an increment (increment_below = 0.5)
    assert [line.rsplit("pending: ", 1)[1] for line in pending] == \
        ["new atom; tar pending", "increment; tar pending"], pending
    (project.root / "list.txt").write_text(f"{project.data}\n# a comment\n")
    assert "list.txt changed since the plan" in \
        project.glacier("list", "--status").stdout.splitlines()[-1]
    assert project.glacier("backup").returncode == 0  # the backup's own inventory: fresh
    assert "out of date" not in project.glacier("list").stdout
    assert project.glacier("pin", f"{project.data}/Photos").returncode == 0
    assert "out of date: inventory.json changed since the plan" in \
        project.glacier("list").stdout.splitlines()[-1]


def test_each_problem_once_and_sizes_in_words(project, tmp_path):
    nobody = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
              "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
              "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    checked = project.glacier("check", **nobody)
    assert checked.returncode == 1
    problems = [line for line in checked.stdout.splitlines() if line.startswith("PROBLEM")]
    assert problems == ["PROBLEM no AWS credentials found: run 'aws configure' or set "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"], checked.stdout
    assert checked.stderr == "glacier: check: 1 problem found (see above)\n"
    assert project.glacier("backup").returncode == 0
    dest = tmp_path / "out"
    restored = project.glacier("restore", f"{project.data}/Books", "--yes", "--to", str(dest))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert tree_snapshot(dest / "Books") == tree_snapshot(project.data / "Books")
    assert re.search(r"2 files, 3\.0 MB restored", restored.stdout), restored.stdout
    assert not re.search(r"\d{4,} bytes", restored.stdout + restored.stderr)


def test_the_readme_shows_each_json_shape_as_it_is():
    """README's examples under "JSON output" pass the schemas the commands pass."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### JSON output", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```json\n(.*?)```", section, re.S)
    schemas = [shapes.LIST, shapes.FIND, shapes.COST, shapes.VERIFY,
               shapes.RESTORE_ESTIMATE, shapes.PRUNE]
    assert len(examples) == len(schemas)
    for example, schema in zip(examples, schemas):
        shapes.check(json.loads(example), schema)
