"""Find, restore and verify, as a user runs them, against the S3 server (whose thaws
complete at once; a proxy makes them slow for the polling path)."""

import subprocess
import shutil

import pytest

from .helpers import tree_snapshot
from tests.support.proxy import LoopbackProxy


@pytest.fixture
def project(project):
    """The sample project, backed up once."""
    assert project.run("backup").returncode == 0
    return project


def lines(result):
    return [line for line in result.stdout.splitlines() if line]


def test_find_by_substring_glob_and_regex_fetching_missing_manifests(project):
    shutil.rmtree(project.root / "manifests")  # fetched again from S3 Standard
    found = project.run("find", "notes.txt")
    assert found.returncode == 0, found.stderr
    books = project.inventory["atoms"][f"{project.data}/Books"]["archive_key"]
    assert lines(found) == [f"{project.data}/Books/sub/notes.txt\t"
                            f"{books.rpartition('/')[2][:-4]}\t{books}"]
    glob = project.run("find", "*.raw", "--long")
    assert [line.split("\t")[0] for line in lines(glob)] == \
        [f"{project.data}/Photos/日本/写真.raw"]
    assert lines(glob)[0].split("\t")[3] == "700000"
    regex = project.run("find", "--regex", r"Z.rich\.jpg$")
    assert len(lines(regex)) == 1 and "été à Zürich.jpg" in regex.stdout


def test_restore_without_yes_only_prints_the_cost(project):
    before = len(project.server.requests())
    result = project.run("restore", "--path", f"{project.data}/Photos")
    assert result.returncode == 0, result.stderr
    assert "estimated cost $" in result.stdout and "about 48 hours" in result.stdout
    assert "Nothing was requested" in result.stdout
    assert len(project.server.requests()) == before  # not one request sent


@pytest.mark.parametrize("what", ["Photos", "Photos/日本", "Books/sub/notes.txt",
                                  "loose file.txt"])
def test_restore_atom_folder_or_file_byte_for_byte(project, tmp_path, what):
    dest = tmp_path / "out"
    result = project.run("restore", "--path", f"{project.data}/{what}", "--yes",
                         "--to", str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    source = project.data / what
    if source.is_dir():
        assert tree_snapshot(dest / what) == tree_snapshot(source)
    else:
        assert (dest / what).read_bytes() == source.read_bytes()
    restored = {p.relative_to(dest).parts[0] for p in dest.iterdir()}
    assert restored == {what.split("/")[0]}  # only what was asked for


def test_restore_never_overwrites_unless_asked(project, tmp_path):
    dest = tmp_path / "out"
    (dest / "Books" / "sub").mkdir(parents=True)
    mine = dest / "Books" / "sub" / "notes.txt"
    mine.write_text("my newer notes\n")
    args = ("restore", "--path", f"{project.data}/Books", "--yes", "--to", str(dest))
    refused = project.run(*args)
    assert refused.returncode == 1
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert mine.read_text() == "my newer notes\n"
    assert project.run(*args, "--overwrite").returncode == 0
    assert mine.read_text() == "hello\n"


def test_restore_from_a_bag_downloaded_by_hand(project, tmp_path):
    key = project.inventory["atoms"][f"{project.data}/Books"]["archive_key"]
    tar = project.thaw_and_download(key, tmp_path / "by-hand" / key.rpartition("/")[2])
    dest = tmp_path / "out"
    result = project.run("restore", "--from-file", str(tar), "--path",
                         f"{project.data}/Books/sub", "--to", str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (dest / "Books" / "sub" / "notes.txt").read_text() == "hello\n"
    assert not (dest / "Books" / "a.bin").exists()


def test_restore_polls_a_slow_thaw_until_done(project, tmp_path):
    proxy = LoopbackProxy(project.server.port, slow_checks=3)
    try:
        project.config.write_text(project.config.read_text().replace(
            project.server.endpoint, proxy.endpoint))
        dest = tmp_path / "out"
        args = ("restore", "--path", f"{project.data}/VMs", "--yes", "--to", str(dest))
        first = project.run(*args)
        assert first.returncode == 1
        assert "still thawing" in first.stdout and "run the same command again" in \
            first.stdout
        waited = project.run(*args, "--wait", "--poll-seconds", "0.05",
                             GLACIER_MIN_POLL_SECONDS="0.05")
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert waited.stdout.count("still thawing") >= 1
        assert sum(proxy.checks.values()) > 3
    finally:
        proxy.stop()
    assert tree_snapshot(dest / "VMs") == tree_snapshot(project.data / "VMs")


def test_verify_passes_then_names_a_deleted_or_replaced_bag(project):
    ok = project.run("verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    keys = sorted(project.inventory["bags"])
    replaced, deleted = keys[0], keys[1]
    project.s3.put_object(Bucket=project.bucket, Key=replaced, Body=b"other bytes",
                          StorageClass="DEEP_ARCHIVE")
    project.s3.delete_object(Bucket=project.bucket, Key=deleted)
    bad = project.run("verify")
    assert bad.returncode == 1
    assert f"PROBLEM {deleted}: missing" in bad.stdout
    assert f"PROBLEM {replaced}: " in bad.stdout


def test_verify_warns_of_a_lost_member_index_and_restore_still_works(project, tmp_path):
    assert project.run("backup").returncode == 0
    atom = f"{project.data}/Photos"
    key = project.inventory["atoms"][atom]["archive_key"]
    index = key.replace("-backup/", "-backup/manifests/").removesuffix(".tar") + ".idx"
    project.s3.delete_object(Bucket=project.bucket, Key=index)
    checked = project.run("verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"WARNING {index}: missing; a restore of one file from this bag reads the " \
        "whole bag" in checked.stdout
    restored = project.run("restore", "--path", atom, "--yes", "--to",
                           str(tmp_path / "out"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert tree_snapshot(tmp_path / "out" / "Photos") == \
        tree_snapshot(project.data / "Photos")


def test_verify_deep_rehashes_every_bag(project):
    asked = project.run("verify", "--deep")
    assert asked.returncode == 0 and "add --yes" in asked.stdout
    deep = project.run("verify", "--deep", "--yes")
    assert deep.returncode == 0, deep.stdout + deep.stderr
    assert deep.stdout.count("re-hashed, sha256 matches") == len(project.inventory["bags"])


def test_a_restore_by_a_normal_user_gives_files_their_archived_modes(project, tmp_path):
    """The tool runs with an owner-only umask; what it restores keeps its own modes."""
    (project.data / "Books" / "a.bin").chmod(0o644)
    (project.data / "Books" / "sub").chmod(0o755)
    assert project.run("backup").returncode == 0
    dest = tmp_path / "out"
    dest.mkdir(mode=0o777)
    dest.chmod(0o777)
    for folder in [tmp_path, *tmp_path.parents]:  # pytest's folders are root's alone
        if str(folder).startswith("/tmp/pytest-of"):
            folder.chmod(0o755)
    project.config.chmod(0o644)
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 "--inh-caps=-all", "--"]
    state = project.state
    subprocess.run(["chmod", "-R", "a+rwX", str(state), str(project.root / "manifests")],
                   check=True)
    (project.root / "inventory.json").chmod(0o644)
    done = subprocess.run(as_nobody + project.command(
        "restore", "--path", f"{project.data}/Books", "--to", str(dest), "--yes"),
        env=project.env(), cwd=dest, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "Books" / "a.bin").stat().st_mode & 0o777 == 0o644
    assert (dest / "Books" / "sub").stat().st_mode & 0o777 == 0o755
