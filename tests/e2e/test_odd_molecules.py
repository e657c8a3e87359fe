"""Issue 21, cases 10 and 11: molecules and atoms whose names doit would read as
wildcards, and molecules or folders the system cannot read (a dead mount, a symlink
loop): each is backed up or reported by name, and never stops the other molecules."""

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import Project, restore_all, tree_snapshot


def test_wildcard_names_round_trip(tmp_path, s3_server, bucket):
    """Case 10: a molecule `a*b` holding atoms `*`, `x?y` and `[z]`."""
    molecule = tmp_path / "a*b"
    for atom in ("*", "x?y", "[z]"):
        (molecule / atom).mkdir(parents=True)
        (molecule / atom / "file.txt").write_text(f"inside {atom}\n")
    other = tmp_path / "plain"
    (other / "Books").mkdir(parents=True)
    (other / "Books" / "b.txt").write_text("a plain atom\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(molecule, other)
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert {f"{molecule}/*", f"{molecule}/x?y", f"{molecule}/[z]",
            f"{other}/Books"} <= set(project.inventory["atoms"])
    # each atom is still a task of its own, by a name doit takes literally
    escaped = str(molecule).replace("*", "\\x2a")
    listed = project.run("list", "--all", "--private").stdout
    for atom in ("\\x2a", "x\\x3fy", "\\x5bz]"):
        assert f"_scan:{escaped}/{atom}" in listed, listed
    (molecule / "x?y" / "new.txt").write_text("later\n")
    rescan = project.run("_walk", f"_scan:{escaped}/x\\x3fy")
    assert rescan.returncode == 0, rescan.stdout + rescan.stderr
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored / "*") == tree_snapshot(molecule / "*")
    for atom in ("*", "x?y", "[z]"):
        assert (restored / atom / "file.txt").read_bytes() == \
            (molecule / atom / "file.txt").read_bytes()
    assert (restored / "Books" / "b.txt").read_text() == "a plain atom\n"


# -- case 11: a molecule or a folder the system cannot read -------------------------------

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
EIO_SERVER = [sys.executable, str(Path(__file__).with_name("sftp_eio.py"))]


@contextlib.contextmanager
def sftp_mount(served: Path, mount_point: Path, server: list):
    """A real FUSE mount: sshfs in passive mode, talking sftp through pipes to `server`
    (sftp-server, or sftp_eio.py in front of it), no sshd needed. Yields sshfs's
    process; unmounts at the end."""
    for tool in ("sshfs", SFTP_SERVER, "fusermount"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: .ci/run installs sshfs and openssh-server")
    mount_point.mkdir(parents=True, exist_ok=True)
    to_server, from_client = os.pipe()
    to_client, from_server = os.pipe()
    server = subprocess.Popen(server, stdin=to_server, stdout=from_server)
    sshfs = subprocess.Popen(["sshfs", "-f", "-o", "passive", f"x:{served}",
                              str(mount_point)], stdin=to_client, stdout=from_client)
    for fd in (to_server, from_client, to_client, from_server):
        os.close(fd)
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mount_point):
            assert time.monotonic() < deadline and sshfs.poll() is None, "sshfs failed"
            time.sleep(0.05)
        yield sshfs
    finally:
        for proc in (sshfs, server):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["fusermount", "-u", "-z", str(mount_point)], capture_output=True)


@contextlib.contextmanager
def dead_mount(served: Path, mount_point: Path):
    """A mount whose sshfs was killed -9: every look at the mount point then fails with
    ENOTCONN, as a dropped network mount does."""
    with sftp_mount(served, mount_point, [SFTP_SERVER]) as sshfs:
        os.kill(sshfs.pid, signal.SIGKILL)
        sshfs.wait()
        deadline = time.monotonic() + 30
        while not _not_connected(mount_point):  # the kernel's attribute cache expires
            assert time.monotonic() < deadline, "the mount point still answers"
            time.sleep(0.1)
        yield mount_point


def _not_connected(path: Path) -> bool:
    try:
        os.lstat(path)
    except OSError as err:
        return err.errno == errno.ENOTCONN
    return False


def good_molecule(tmp_path) -> Path:
    good = tmp_path / "good"
    (good / "Docs").mkdir(parents=True)
    (good / "Docs" / "a.txt").write_text("backed up whatever the other molecule does\n")
    return good


def assert_other_commands_work(project, tmp_path, good):
    """status, `doit list` and a restore of the good molecule, none a traceback."""
    for result in (project.glacier("status"), project.run("list"),
                   project.doit_here("list")):
        assert result.returncode in (0, 1), result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    dest = tmp_path / "restored"
    done = project.glacier("restore", f"{good}/Docs", "--to", str(dest), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (dest / "Docs" / "a.txt").read_bytes() == (good / "Docs" / "a.txt").read_bytes()


@pytest.mark.parametrize("case", ["symlink loop", "dead mount"])
def test_a_molecule_that_cannot_be_read_is_missing_with_its_reason(tmp_path, s3_server,
                                                                   bucket, case):
    good = good_molecule(tmp_path)
    bad = tmp_path / "bad"
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(bad, good)
    with contextlib.ExitStack() as stack:
        if case == "symlink loop":
            os.symlink("bad", bad)  # ln -s bad bad: ELOOP
            reason = "Too many levels of symbolic links"
        else:
            served = tmp_path / "served"
            (served / "Music").mkdir(parents=True)
            stack.enter_context(dead_mount(served, bad))
            reason = "Transport endpoint is not connected"
        result = project.run("backup")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output, output
        failed = [line for line in result.stdout.splitlines() if str(bad) in line]
        assert len(failed) == 1 and failed[0].startswith(f"FAILED molecule {bad}: ") \
            and reason in failed[0], output
        assert f"{good}/Docs" in project.inventory["atoms"]
        assert_other_commands_work(project, tmp_path, good)


def test_a_dead_mount_inside_an_atom_fails_its_bag_alone(tmp_path, s3_server, bucket):
    good = good_molecule(tmp_path)
    data = tmp_path / "data"
    (data / "Disks" / "usb").mkdir(parents=True)
    (data / "Disks" / "notes.txt").write_text("beside the mount\n")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data, good)
    (tmp_path / "served").mkdir()
    with dead_mount(tmp_path / "served", data / "Disks" / "usb") as usb:
        result = project.run("backup")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output, output
        failed = [line for line in result.stdout.splitlines()
                  if line.startswith("FAILED bag")]
        assert len(failed) == 1, output
        assert f"cannot read {usb}: Transport endpoint is not connected" in failed[0]
        assert f"{good}/Docs" in project.inventory["atoms"]
        assert f"{data}/Disks" not in project.inventory["atoms"]
        assert_other_commands_work(project, tmp_path, good)


@pytest.mark.parametrize("where", ["molecule", "atom"])
def test_an_io_error_fails_the_molecule_or_the_bag_alone(tmp_path, s3_server, bucket,
                                                         where):
    """EIO for real: a FUSE mount (sshfs) whose server fails one folder's listing."""
    good = good_molecule(tmp_path)
    served = tmp_path / "served"
    (served / "Photos" / "broken").mkdir(parents=True)
    (served / "Photos" / "broken" / "x.jpg").write_text("behind a failing disk\n")
    mounted = tmp_path / "nas"
    molecule = mounted / "Photos" if where == "molecule" else mounted
    failing = "Photos" if where == "molecule" else "broken"
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(molecule, good)
    with sftp_mount(served, mounted, EIO_SERVER + [failing]):
        with pytest.raises(OSError) as listing:
            os.listdir(mounted / "Photos" / ("" if where == "molecule" else "broken"))
        assert listing.value.errno == errno.EIO
        result = project.run("backup")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output, output
        if where == "molecule":
            failed = [line for line in result.stdout.splitlines() if str(molecule) in line]
            assert len(failed) == 1 and failed[0].startswith(
                f"FAILED molecule {molecule}: ") and "Input/output error" in failed[0]
        else:
            failed = [line for line in result.stdout.splitlines()
                      if line.startswith("FAILED bag")]
            assert len(failed) == 1, output
            assert f"cannot read {molecule}/Photos/broken: Input/output error" in failed[0]
        assert f"{good}/Docs" in project.inventory["atoms"]
        assert_other_commands_work(project, tmp_path, good)
