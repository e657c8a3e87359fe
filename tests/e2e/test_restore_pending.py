"""Restores left for two days, as a user and a monitor see them: `restore --pending`
and `status` list what is still thawing and the command that continues it, `--wait`
says one line per poll round, the alert hook hears when the bags are readable and
when the restore is done; and a finished restore whose files were deleted restores
them again. A proxy in front of the S3 server holds the thaws."""

import json
import re
import shlex
import shutil
from pathlib import Path

from .helpers import tree_snapshot
from tests.support.proxy import LoopbackProxy

ROUND = re.compile(r"^\d+ of \d+ bags readable, \d+ still thawing since \S+Z: .+; "
                   r"next check at \d\d:\d\d UTC$")


def backed_up(project):
    project.write_config("target_bag_gb = 0.002")
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(project.inventory["bags"])


def through(project, proxy):
    project.config.write_text(project.config.read_text().replace(
        project.server.endpoint, proxy.endpoint))


def alert_log(project, tmp_path) -> Path:
    """alert_command writes each event and its message to a log."""
    log, script = tmp_path / "alerts.log", tmp_path / "alert.sh"
    script.write_text(f'#!/bin/sh\necho "$1|$2" >> "{log}"\n')
    script.chmod(0o755)
    project.config.write_text(project.config.read_text() +
                              f'alert_command = "{script}"\n')
    return log


def events(log: Path) -> list:
    return [line.split("|", 1) for line in log.read_text().splitlines()] \
        if log.exists() else []


def continued(project, command: str):
    """Run the printed command as a user pastes it (the test's python for `glacier`)."""
    words = shlex.split(command)
    assert words[0] == f"GLACIER_CONFIG={project.config}" and words[1:3] == \
        ["glacier", "restore"], words
    return project.glacier(*words[2:])


def test_a_pending_restore_is_listed_with_the_command_that_continues_it(project,
                                                                       tmp_path):
    bags = backed_up(project)
    assert len(bags) >= 3, bags
    held = bags[1]
    dest = tmp_path / "out"
    nothing = project.glacier("restore", "--pending")
    assert nothing.returncode == 0 and "No restore pending" in nothing.stdout
    proxy = LoopbackProxy(project.server.port, slow_checks=1000, only=Path(held).stem)
    try:
        through(project, proxy)
        first = project.glacier("restore", str(project.data), "--to", str(dest), "--yes",
                                "--tier", "Standard")
        assert first.returncode == 1, first.stdout + first.stderr
        [line] = [x for x in first.stdout.splitlines() if "bags readable" in x]
        assert line.startswith(f"{len(bags) - 1} of {len(bags)} bags readable, 1 still "
                               "thawing since ") and line.endswith(f": {held}"), line

        listed = project.glacier("restore", "--pending")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        text = listed.stdout
        assert "1 restore pending" in text
        assert f"{project.data} into {dest}: {len(bags)} bags ({len(bags) - 1} " \
            "restored, 1 thawing since 20" in text, text
        assert f"  thawing: {held}\n" in text
        command = next(x for x in text.splitlines() if x.startswith("  continue: "))
        command = command.removeprefix("  continue: ")
        assert command.endswith(f"glacier restore {project.data} --to {dest} --yes "
                                "--tier Standard"), command

        shown = project.glacier("status")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "Restores pending: 1" in shown.stdout
        assert f"    continue: {command}" in shown.stdout
        now = json.loads(project.glacier("status", "--json").stdout)["now"]
        [record] = now["restores"]
        assert record["path"] == str(project.data) and record["dest"] == str(dest)
        assert record["command"] == command and record["thawing_since"]
        assert record["bags"]["thawing"] == 1
        assert record["bags"]["restored"] == len(bags) - 1
        assert record["bag_steps"][held] == "thawing"
        proxy.slow_checks = 0  # the thaw is done

        done = continued(project, command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all match the manifest" in done.stdout
    finally:
        proxy.stop()
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    assert "No restore pending" in project.glacier("restore", "--pending").stdout
    after = project.glacier("status")
    assert "Restores pending" not in after.stdout
    assert json.loads(project.glacier("status", "--json").stdout)["now"]["restores"] == []


def test_wait_says_one_line_per_round_and_alerts_when_readable_and_done(project,
                                                                       tmp_path):
    bags = backed_up(project)
    assert len(bags) >= 3, bags
    log = alert_log(project, tmp_path)
    dest = tmp_path / "out"
    proxy = LoopbackProxy(project.server.port, slow_checks=3)  # every bag: 3 checks
    try:
        through(project, proxy)
        waited = project.run("restore", "--path", str(project.data), "--yes", "--to",
                             str(dest), "--wait", "--poll-seconds", "0.05",
                             GLACIER_MIN_POLL_SECONDS="0.05")
        assert waited.returncode == 0, waited.stdout + waited.stderr
    finally:
        proxy.stop()
    rounds = [x for x in waited.stdout.splitlines() if "still thawing" in x]
    assert rounds and len(rounds) <= 3, rounds  # one per round, not one per bag
    assert all(ROUND.match(x) for x in rounds), rounds
    assert rounds[0].startswith(f"0 of {len(bags)} bags readable, {len(bags)} still")
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    said = events(log)
    assert [event for event, _ in said] == ["restore-readable", "restore-finished"]
    assert said[0][1] == (f"glacier restore-readable on testhost: {project.data} into "
                          f"{dest}: all {len(bags)} bags thawed; downloading and "
                          "extracting")
    assert said[1][1].startswith(f"glacier restore-finished on testhost: "
                                 f"{project.data} into {dest}: ")
    assert said[1][1].endswith("all match the manifest")
    again = project.run("restore", "--path", str(project.data), "--yes", "--to",
                        str(dest))
    assert again.returncode == 0 and "all match the manifest" in again.stdout
    assert len(events(log)) == 2  # a finished restore checked again alerts no more


def test_a_finished_restore_whose_files_were_deleted_restores_them_again(project,
                                                                        tmp_path):
    backed_up(project)
    log = alert_log(project, tmp_path)
    dest = tmp_path / "out"
    args = ("restore", "--path", str(project.data), "--yes", "--to", str(dest))
    done = project.run(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.rmtree(dest)
    again = project.run(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "restoring them again" in again.stdout
    assert "all match the manifest" in again.stdout
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    assert [e for e, _ in events(log)].count("restore-finished") == 2

    # some files gone, one changed by the user: the gone come back, the changed one
    # is left as it is and named
    (dest / "Books" / "a.bin").unlink()
    shutil.rmtree(dest / "Photos" / "日本")
    with open(dest / "Books" / "sub" / "notes.txt", "a") as f:
        f.write("mine\n")
    partly = project.run(*args)
    assert partly.returncode == 1, partly.stdout + partly.stderr
    assert "Traceback" not in partly.stdout + partly.stderr
    assert "1 do not match the manifest: Books/sub/notes.txt: 11 bytes, the manifest " \
        "says 6" in partly.stderr
    assert (dest / "Books" / "sub" / "notes.txt").read_text() == "hello\nmine\n"
    for name in ("Books/a.bin", "Photos/日本/写真.raw"):
        assert (dest / name).read_bytes() == (project.data / name).read_bytes(), name
