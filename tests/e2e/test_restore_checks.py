"""What a restore checks before it asks S3 to thaw anything (issue 22, cases 7, 9, 10):
room on the disks it writes, a file standing where a folder must be, and names that
are not UTF-8, spelled as `find` prints them."""

import os
import shlex

import pytest

from tests.support.tmpfs import mounted_tmpfs

from tests.support.proxy import LoopbackProxy


@pytest.fixture
def project(project):
    """The sample project, backed up once."""
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    return project


def thaws(project) -> list:
    """The restore-object requests the bucket has seen."""
    return [line for line in project.server.requests()
            if f"/{project.bucket}/" in line and "?restore" in line]


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_a_destination_without_room_is_refused_before_any_thaw(project, tmp_path):
    dest = tmp_path / "small disk"
    dest.mkdir()
    books = f"{project.data}/Books"  # 3 MB of random bytes
    with mounted_tmpfs(dest, "2m"):
        asked = project.run("restore", "--path", books, "--to", str(dest))
        assert asked.returncode == 1, asked.stdout + asked.stderr
        assert f"into {dest}: 3.0 MB for the files restored; 2.1 MB free there" in \
            asked.stdout
        assert "downloads under state_dir" in asked.stdout
        assert "Add --yes" not in asked.stdout
        result = project.run("restore", "--path", books, "--to", str(dest), "--yes")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert last_line(result) == (
            f"glacier: restore: {dest}: the restore needs 3.0 MB free on its disk (for "
            "the files restored), it has 2.1 MB; nothing was requested (free some "
            "space, or restore into another folder with --to)")
        assert thaws(project) == []
        assert not any(dest.iterdir())
        assert not (project.state / "downloads").exists() or \
            not any((project.state / "downloads").rglob("*.tar*"))


def test_the_download_folder_needs_room_for_what_is_downloaded(project, tmp_path):
    """Under state_dir a whole bag needs its size; one file read by ranges needs only
    them, unless the bag has lost its member index (then the whole bag is read)."""
    downloads = project.state / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    books = f"{project.data}/Books"
    with mounted_tmpfs(downloads, "2m"):
        whole = project.run("restore", "--path", books, "--to", str(tmp_path / "a"),
                            "--yes")
        assert whole.returncode == 1, whole.stdout + whole.stderr
        assert last_line(whole).startswith(f"glacier: restore: {downloads}/")
        assert "the restore needs 3.0 MB free on its disk (for the largest download " \
            "(one bag at a time)), it has 2.1 MB; nothing was requested" in whole.stderr
        assert "point state_dir in the config at a larger disk" in whole.stderr
        assert thaws(project) == []

        one = f"{books}/sub/notes.txt"
        asked = project.run("restore", "--path", one, "--to", str(tmp_path / "b"))
        assert asked.returncode == 0, asked.stdout + asked.stderr
        assert "downloads under state_dir, in " in asked.stdout
        done = project.run("restore", "--path", one, "--to", str(tmp_path / "b"),
                           "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "b" / "Books" / "sub" / "notes.txt").read_text() == "hello\n"
        before = len(thaws(project))

        key = project.inventory["atoms"][books]["archive_key"]
        index = key.replace("-backup/", "-backup/manifests/").removesuffix(".tar") + ".idx"
        project.s3.delete_object(Bucket=project.bucket, Key=index)
        for idx in (project.root / "manifests").rglob("*.idx"):
            idx.unlink()
        lost = project.run("restore", "--path", one, "--to", str(tmp_path / "c"), "--yes")
        assert lost.returncode == 1, lost.stdout + lost.stderr
        assert "needs 3.0 MB free on its disk (for the largest download" in lost.stderr
        assert len(thaws(project)) == before


def test_a_destination_on_the_download_disk_needs_room_for_both(project, tmp_path):
    downloads = project.state / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    with mounted_tmpfs(downloads, "5m"):  # room for 3 MB, not for 3 MB twice
        dest = downloads / "restored"
        result = project.run("restore", "--path", f"{project.data}/Books", "--to",
                             str(dest), "--yes")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"glacier: restore: {dest}: the restore needs 6.0 MB free on its disk " \
            "(3.0 MB for the files restored and 3.0 MB for the largest download (one " \
            f"bag at a time) in {downloads}/" in result.stderr
        assert "it has 5.2 MB; nothing was requested" in result.stderr
        assert thaws(project) == []


@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)])
def test_a_file_where_a_folder_goes_is_refused_before_any_thaw(project, tmp_path,
                                                                overwrite):
    dest = tmp_path / "out"
    (dest / "Books").mkdir(parents=True)
    (dest / "Books" / "sub").write_text("a file where the restore needs a folder\n")
    result = project.run("restore", "--path", f"{project.data}/Books/sub/notes.txt",
                         "--to", str(dest), "--yes", *overwrite)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert last_line(result) == (
        f"glacier: restore: {dest}/Books/sub: not a folder, and the restore puts files "
        "in it; nothing was requested (move it away, or restore into another folder "
        "with --to)")
    assert thaws(project) == []
    assert (dest / "Books" / "sub").read_text().startswith("a file where")


def test_a_name_that_is_not_utf8_round_trips_through_find_and_restore(project,
                                                                       tmp_path):
    raw = os.fsencode(project.data / "Books" / "sub") + b"/caf\xff.txt"
    with open(raw, "wb") as f:
        f.write(b"bytes under an odd name\n")
    assert project.run("backup").returncode == 0
    found = project.run("find", "caf")
    assert found.returncode == 0, found.stdout + found.stderr
    printed = found.stdout.split("\t")[0]
    assert printed == f"{project.data}/Books/sub/caf\\xff.txt"
    asked = project.run("restore", "--path", printed)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert f"Restoring {printed} needs:" in asked.stdout
    dest = tmp_path / "out"
    result = project.run("restore", "--path", printed, "--to", str(dest), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Restored {printed} into {dest}: 1 file" in result.stdout
    assert os.listdir(os.fsencode(dest / "Books" / "sub")) == [b"caf\xff.txt"]
    with open(os.fsencode(dest / "Books" / "sub") + b"/caf\xff.txt", "rb") as f:
        assert f.read() == b"bytes under an odd name\n"
    other = tmp_path / "other"  # the name as its bytes, typed in a shell, works too
    typed = project.glacier("restore", os.fsdecode(raw), "--to", str(other), "--yes")
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert os.listdir(os.fsencode(other / "Books" / "sub")) == [b"caf\xff.txt"]


def test_a_backslash_in_a_name_is_restored_from_either_spelling(project, tmp_path):
    """find prints a backslash doubled; the name as it is still works too."""
    (project.data / "Books" / "sub" / "back\\slash.txt").write_text("slashed\n")
    assert project.run("backup").returncode == 0
    printed = project.run("find", "*slash.txt").stdout.split("\t")[0]
    assert printed == f"{project.data}/Books/sub/back\\\\slash.txt"
    for n, spelling in enumerate([printed, f"{project.data}/Books/sub/back\\slash.txt"]):
        dest = tmp_path / f"out{n}"
        result = project.run("restore", "--path", spelling, "--to", str(dest), "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        assert os.listdir(dest / "Books" / "sub") == ["back\\slash.txt"]


def test_a_pending_restore_of_such_a_name_is_listed_as_find_prints_it(project,
                                                                       tmp_path):
    """`restore --pending` and status name it escaped, and the command they print
    continues it."""
    raw = os.fsencode(project.data / "Books" / "sub") + b"/caf\xff.txt"
    with open(raw, "wb") as f:
        f.write(b"bytes under an odd name\n")
    assert project.run("backup").returncode == 0
    printed = f"{project.data}/Books/sub/caf\\xff.txt"
    dest = tmp_path / "out"
    proxy = LoopbackProxy(project.server.port, slow_checks=1000)
    try:
        project.config.write_text(project.config.read_text().replace(
            project.server.endpoint, proxy.endpoint))
        first = project.glacier("restore", os.fsdecode(raw), "--to", str(dest), "--yes")
        assert first.returncode == 1 and "still thawing" in first.stdout, \
            first.stdout + first.stderr
        listed = project.glacier("restore", "--pending")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert f"{printed} into {dest}: 1 bag" in listed.stdout
        command = next(x for x in listed.stdout.splitlines()
                       if x.startswith("  continue: ")).removeprefix("  continue: ")
        status = project.glacier("status")
        assert "Traceback" not in status.stderr and printed in status.stdout
        proxy.slow_checks = 0  # the thaw is done
        words = shlex.split(command)
        assert words[1:4] == ["glacier", "restore", printed], words
        done = project.glacier(*words[2:])
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proxy.stop()
    with open(os.fsencode(dest / "Books" / "sub") + b"/caf\xff.txt", "rb") as f:
        assert f.read() == b"bytes under an odd name\n"
