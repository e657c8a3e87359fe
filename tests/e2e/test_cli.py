"""The `glacier` command line as a user meets it, and every mistake that once printed a
traceback: each now ends in one line naming what was wrong."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest


from tests.support.proxy import LoopbackProxy
from .helpers import REPO, Project, restore_all, tree_snapshot

DOIT_INTERNALS = ("dumpdb", "strace", "forget", "clean", "ignore", "reset-dep")


def one_line_error(result, *words, code=None):
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode != 0 if code is None else result.returncode == code, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_help_lists_this_tools_commands_only(project):
    for flag in ("--help", "-h"):
        shown = project.glacier(flag)
        assert shown.returncode == 0 and shown.stderr == ""
        commands = [line.split()[0] for line in shown.stdout.splitlines()
                    if line.startswith("  ") and line.split()
                    and not line.strip().startswith("(")]
        for command in ("backup", "dryrun", "restore", "find", "prune", "list", "init",
                        "verify", "pin", "cost", "bootstrap"):
            assert command in commands, shown.stdout
        assert not set(DOIT_INTERNALS) & set(commands), shown.stdout


def test_version_is_the_tools_own(project):
    shown = project.glacier("--version")
    assert shown.returncode == 0
    assert shown.stdout.startswith("glacier-tasks 0.") and "(doit 0.37" in shown.stdout


def test_every_command_has_help_anywhere_and_doit_forms_too(project):
    for form in (("restore", "--help"), ("restore", "-h"), ("restore", "/x", "-h")):
        shown = project.glacier(*form)
        assert shown.returncode == 0, shown.stderr
        assert "--to DIR" in shown.stdout and "--tier" in shown.stdout
    assert "--min-age-days" in project.glacier("prune", "--help").stdout
    # doit's own forms of the README keep working: help on a task, a task with options
    assert project.run("help", "restore").returncode == 0


def test_unknown_command_says_so_in_one_line(project):
    one_line_error(project.glacier("bakup"), "bakup", "glacier --help", code=3)


def test_no_config_anywhere_says_to_run_init(tmp_path, s3_server, bucket):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GLACIER_CONFIG"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               PYTHONPATH=str(REPO))
    for command in ([sys.executable, "-m", "glacier_tasks.cli", "backup"],
                    # doit runs in dodo.py's folder unless told: the project's own
                    # glacier.toml there is the ./glacier.toml of the lookup
                    [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-d",
                     str(home), "backup"]):
        result = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True)
        one_line_error(result, "no glacier.toml found", "glacier init", code=3)
    made = subprocess.run([sys.executable, "-m", "glacier_tasks.cli", "init", "--bucket",
                           "my-bucket"], env=env,
                          cwd=home, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    config = home / ".config" / "glacier-tasks" / "glacier.toml"
    assert config.exists() and (config.parent / "list.txt").exists()
    assert "~/.local/state/glacier-tasks" in config.read_text()
    # never a config inside the installed package
    assert not (REPO / "glacier_tasks" / "glacier.toml").exists()


def test_positional_arguments_and_equals_signs_in_paths(tmp_path, s3_server, bucket):
    data = tmp_path / "year=2024"
    (data / "trip=rome").mkdir(parents=True)
    (data / "trip=rome" / "a=b.jpg").write_bytes(os.urandom(5000))
    (data / "plain").mkdir()
    (data / "plain" / "c.txt").write_text("c\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    backup = project.glacier("backup", "-v", "0")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert project.run("dryrun").returncode == 0  # doit itself with such a molecule
    atom = f"{data}/trip=rome"
    found = project.glacier("find", "a=b")
    assert found.returncode == 0 and f"{atom}/a=b.jpg\t" in found.stdout
    pinned = project.glacier("pin", atom)
    assert pinned.returncode == 0, pinned.stderr
    assert project.inventory["atoms"][atom]["pinned"] is True
    asked = project.glacier("restore", atom)
    assert asked.returncode == 0 and "Add --yes" in asked.stdout
    dest = tmp_path / "out=here"
    done = project.glacier("restore", atom, "--to", str(dest), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "trip=rome" / "a=b.jpg").read_bytes() == \
        (data / "trip=rome" / "a=b.jpg").read_bytes()


def test_former_tracebacks_are_one_line_each(project, tmp_path):
    assert project.run("backup").returncode == 0
    atom = f"{project.data}/Books"
    one_line_error(project.glacier("restore", atom, "--tier", "Expedited"),
                   "Deep Archive offers no Expedited tier", "Bulk", "Standard")
    one_line_error(project.run("restore", "--path", atom, "--tier", "Expedited"),
                   "Expedited")
    one_line_error(project.glacier("verify", "--deep", "--tier", "bogus"), "bogus",
                   "Bulk")
    one_line_error(project.glacier("find", "--regex", "(["), "not a regular expression")
    one_line_error(project.glacier("restore", atom, "--to", "/proc/nope", "--yes"),
                   "/proc/nope", "cannot make")
    a_file = tmp_path / "a file"
    a_file.write_text("in the way\n")
    one_line_error(project.glacier("restore", atom, "--to", str(a_file)), "a file",
                   "not a folder")
    project.write_config("target_bag_gb = 1e300")
    one_line_error(project.run("dryrun"), "target_bag_gb", "5000", code=3)


def test_a_closed_pipe_ends_quietly(project):
    assert project.run("backup").returncode == 0
    for command in (project.command("find", "/"),
                    [sys.executable, "-m", "glacier_tasks.cli", "find", "/"],
                    [sys.executable, "-m", "glacier_tasks.cli", "--help"]):
        piped = subprocess.run(" ".join(f"'{w}'" for w in command) + " | head -1",
                               shell=True, env=project.env(), cwd=project.root,
                               capture_output=True, text=True)
        assert len(piped.stdout.splitlines()) == 1
        assert piped.stderr == "", piped.stderr


class HeldParts(LoopbackProxy):
    """Forwards everything, but holds each uploaded part until the test releases them,
    then a second more: the upload is still going when the test stops it, however
    late a loaded machine lets the test look (a second's head start was not always
    enough with the suite's parallel workers)."""

    def __init__(self, *args, **kwargs):
        self.holding = threading.Event()  # a part has arrived and waits
        self.released = threading.Event()
        super().__init__(*args, **kwargs)

    def before_forward(self, method, path):
        if "partNumber=" in path:
            self.holding.set()
            self.released.wait(timeout=120)
            time.sleep(1.0)


@pytest.mark.parametrize("form", ["glacier", "doit"])
def test_sigterm_during_an_upload_stops_in_one_line_and_the_rerun_resumes(
        form, tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    (data / "Big").mkdir(parents=True)
    (data / "Big" / "blob.bin").write_bytes(os.urandom(80 << 20))  # 5 parts of 16 MiB
    proxy = HeldParts(s3_server.port)
    try:
        project = Project(tmp_path, s3_server, bucket, target_gb=1)
        project.write_list(data)
        project.config.write_text(project.config.read_text().replace(
            s3_server.endpoint, proxy.endpoint))
        command = [sys.executable, "-m", "glacier_tasks.cli", "backup"] \
            if form == "glacier" else project.command("backup")
        process = subprocess.Popen(command, env=project.env(), cwd=project.root, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proxy.holding.wait(timeout=120), "no part was uploaded"
        assert any('"upload_id"' in m.read_text()  # recorded: the rerun can resume it
                   for m in (project.state / "bags").glob("*.json"))
        assert process.poll() is None, "the upload ended before it could be stopped"
        process.send_signal(signal.SIGTERM)
        proxy.released.set()
        out, err = process.communicate(timeout=60)
        assert process.returncode != 0
        assert "Traceback" not in out + err, out + err
        stopped = [line for line in err.splitlines() if line.strip()]
        assert len(stopped) == 1 and stopped[0].startswith("glacier: stopped by SIGTERM")
        assert "next run resumes" in stopped[0]
        assert not [k for k in project.objects() if k.endswith(".tar")], \
            "nothing may count as stored yet"
        again = project.glacier("backup")
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        proxy.released.set()
        proxy.stop()
    creates = [line for line in s3_server.requests()
               if line.startswith(f"POST /{bucket}/") and "?uploads" in line]
    assert len(creates) == 1, creates  # the rerun finished the same multipart upload
    restore_all(project, tmp_path / "restored")
    assert tree_snapshot(tmp_path / "restored") == tree_snapshot(data)


def test_more_mistakes_are_one_line_each(project, tmp_path):
    assert project.run("backup").returncode == 0
    for args in (["restore", "--path"], ["restore", "/x", "--to"],
                 ["prune", "--min-age-days"], ["backup", "-v"]):
        one_line_error(project.glacier(*args), "needs a value", code=3)
    one_line_error(project.glacier("pin", f"{project.data}/Typo"), "no such atom")
    assert not any(a["pinned"] for a in project.inventory["atoms"].values())
    one_line_error(project.glacier("prune", "--delete", "--min-age-days", "-5"),
                   "--min-age-days -5")
    one_line_error(project.glacier("verify", GLACIER_S3_TIMEOUT="abc"),
                   "GLACIER_S3_TIMEOUT")
    project.write_config('inventory_file = "/tmp"')
    one_line_error(project.run("dryrun"), "inventory_file", "folder", code=3)
    project.write_config()
    good = project.config.read_text()
    project.config.write_text(good.replace(f'"{project.server.endpoint}"', '"not a url"'))
    one_line_error(project.run("dryrun"), "endpoint_url", "URL", code=3)
    project.config.write_text(good)
    (project.root / "list.txt").write_text(f"{project.data}\n/data/\0nul\n")
    one_line_error(project.run("dryrun"), "line 2", "NUL", code=3)


def test_unknown_option_is_one_line_with_the_closest_one(project):
    """It once dumped doit's parser (600 characters for `list --json`)."""
    line = one_line_error(project.glacier("restore", "--too", "x"), code=3)
    assert line == "glacier restore: unknown option --too (did you mean --to?)"
    assert one_line_error(project.glacier("list", "--jsno"), code=3) == \
        "glacier list: unknown option --jsno (did you mean --json?)"
    one_line_error(project.glacier("restore", "/x", "--year", "abc"),
                   "glacier restore: --year needs a whole number, not 'abc'", code=3)
    # doit from the project folder says the same, in doit's words
    assert one_line_error(project.doit_here("restore", "--too", "x"), code=3) == \
        "ERROR: doit restore: unknown option --too (did you mean --to?)"
    assert one_line_error(project.doit_here("list", "--jsno"), code=3) == \
        "ERROR: doit list: unknown option --jsno (did you mean --json?)"
    one_line_error(project.doit_here("prune", "--min-age-days=x"),
                   "doit prune: --min-age-days needs a whole number, not 'x'", code=3)


def test_messages_spell_the_command_as_it_was_typed(project):
    """Through `glacier`, the advice says `glacier backup`; `doit` keeps saying doit."""
    for result, tool in ((project.glacier("restore", "/x"), "glacier"),
                         (project.run("restore", "--path", "/x"), "doit")):
        line = one_line_error(result, code=1)
        assert f"run '{tool} backup' or '{tool} bootstrap' first" in line, line
    assert "say what to look for: glacier find PATTERN" in \
        one_line_error(project.glacier("find"), code=1)
    assert "say what to look for: doit find PATTERN" in \
        one_line_error(project.run("find"), code=1)
