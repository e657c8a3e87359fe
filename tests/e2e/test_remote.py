"""Remote molecules through a real sshd on loopback, mounted with sshfs.

The fixture starts its own sshd (generated host and client keys, a free port) as its own
process and stops it by PID. Without sshd, sshfs or FUSE this suite fails, saying why:
it never passes silently.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.s3server import free_port

from .helpers import Project, make_sample_tree, restore_all, tree_snapshot


class Sshd:
    def __init__(self, root: Path):
        for tool in ("/usr/sbin/sshd", "sshfs", "ssh-keygen", "fusermount"):
            if not shutil.which(tool):
                pytest.fail(f"{tool} is not installed: .ci/run installs openssh-server "
                            "and sshfs")
        if not os.path.exists("/dev/fuse"):
            pytest.fail("FUSE is unavailable on this machine (/dev/fuse missing)")
        self.root = root
        for name in ("host_key", "client_key", "stranger_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(root / name)], check=True)
        shutil.copy(root / "client_key.pub", root / "authorized_keys")
        self.port = free_port()
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n"
            f"AuthorizedKeysFile {root}/authorized_keys\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n"
            f"StrictModes no\nPermitRootLogin yes\nPidFile {root}/sshd.pid\n"
            "Subsystem sftp internal-sftp\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(root / "sshd_config"),
                                      "-E", str(root / "sshd.log")])
        deadline = time.monotonic() + 20
        # sshd's own log line first: a parallel test worker may hold this port, and
        # ssh-keyscan alone would take its sshd for ours
        while not self.listening() or subprocess.run(
                ["ssh-keyscan", "-p", str(self.port), "127.0.0.1"],
                capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"sshd did not start: {(root / 'sshd.log').read_text()}")
            time.sleep(0.2)

    def listening(self) -> bool:
        log = self.root / "sshd.log"
        return log.exists() and f"listening on 127.0.0.1 port {self.port}." in \
            log.read_text(errors="replace")

    def options(self, key="client_key", port=None) -> str:
        return (f"port={port or self.port},IdentityFile={self.root / key},"
                "StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR")

    def stop(self):
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def our_mounts(project) -> list:
    with open("/proc/mounts") as mounts:
        return [line for line in mounts if str(project.root) in line]


def remote_project(tmp_path, s3_server, bucket, sshd, **options):
    data = tmp_path / "served"
    data.mkdir()
    make_sample_tree(data)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f'target_bag_gb = 0.004\nsshfs_options = "{sshd.options(**options)}"')
    project.data, project.spelling = data, f"root@127.0.0.1:{data}"
    return project


def test_remote_molecule_backs_up_and_restores_byte_for_byte(tmp_path, s3_server, bucket,
                                                             sshd):
    project = remote_project(tmp_path, s3_server, bucket, sshd)
    project.write_list(project.spelling)
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    atoms = project.inventory["atoms"]
    assert set(atoms) == {f"{project.spelling}/{n}" for n in
                          ("Books", "Photos", "VMs", "Empty", ".")}
    assert all(key.startswith("20") and "root@127.0.0.1" in key
               for key in project.inventory["bags"])
    assert our_mounts(project) == []
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(project.data)
    puts = len(project.bag_puts())
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(project.bag_puts()) == puts and our_mounts(project) == []


@pytest.mark.parametrize("case", ["unreachable", "wrong key", "missing folder"])
def test_a_bad_remote_fails_alone_with_its_reason(tmp_path, s3_server, bucket, sshd, case):
    options = {"unreachable": {"port": free_port()}, "wrong key": {"key": "stranger_key"},
               "missing folder": {}}[case]
    project = remote_project(tmp_path, s3_server, bucket, sshd, **options)
    spelling = project.spelling + ("/nope" if case == "missing folder" else "")
    local = tmp_path / "local"
    (local / "Docs").mkdir(parents=True)
    (local / "Docs" / "a.txt").write_text("local data still backs up\n")
    project.write_list(spelling, local)
    result = project.run("backup")
    assert result.returncode == 1
    reason = {"unreachable": "Connection refused", "wrong key": "Permission denied",
              "missing folder": "does not exist"}[case]
    failed = [line for line in result.stdout.splitlines()
              if line.startswith(f"FAILED molecule {spelling}")]
    assert len(failed) == 1 and "127.0.0.1" in failed[0] and reason in failed[0], \
        result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{local}/Docs" in project.inventory["atoms"]
    assert our_mounts(project) == []


def test_mount_left_by_a_killed_run_is_cleaned_up(tmp_path, s3_server, bucket, sshd):
    project = remote_project(tmp_path, s3_server, bucket, sshd)
    project.write_list(project.spelling)
    proc = project.popen("backup")
    markers = project.state / "mounts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not our_mounts(project):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    marker = next(markers.glob("*.json"))
    assert our_mounts(project), "the killed run left no mount to clean up"
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert our_mounts(project) == [] and not marker.exists()


def test_without_sshfs_the_message_says_how_to_install_it(tmp_path, s3_server, bucket,
                                                           sshd):
    project = remote_project(tmp_path, s3_server, bucket, sshd)
    project.write_list(project.spelling)
    bin_dir = tmp_path / "bin-without-sshfs"  # this machine's tools, sshfs left out
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir():
            if tool.name != "sshfs" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    result = project.run("backup", PATH=str(bin_dir))
    assert result.returncode == 1
    assert "sshfs is not installed (Debian/Ubuntu: sudo apt install sshfs)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def big_remote_project(tmp_path, s3_server, bucket, sshd):
    project = remote_project(tmp_path, s3_server, bucket, sshd)
    (project.data / "Big").mkdir()
    (project.data / "Big" / "video.raw").write_bytes(os.urandom(150_000_000))
    project.write_config(f'target_bag_gb = 0.004\nsshfs_options = "{sshd.options()}"')
    project.write_list(project.spelling)
    return project


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_ctrl_c_unmounts(tmp_path, s3_server, bucket, sshd):
    project = big_remote_project(tmp_path, s3_server, bucket, sshd)
    proc = project.popen("backup")
    assert wait_for(lambda: any((project.root / "stage").glob("*.partial"))
                    if (project.root / "stage").exists() else False)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) != 0
    assert our_mounts(project) == []
    assert project.run("backup").returncode == 0


def test_connection_dropped_while_packing_never_records_a_torn_bag(tmp_path, s3_server,
                                                                   bucket, sshd):
    project = big_remote_project(tmp_path, s3_server, bucket, sshd)
    proc = project.popen("backup")
    assert wait_for(lambda: any((project.root / "stage").glob("*.partial"))
                    if (project.root / "stage").exists() else False)
    # the server side of every ssh session dies; the listening sshd stays
    sessions = subprocess.run(["pgrep", "-P", str(sshd.proc.pid)], capture_output=True,
                              text=True).stdout.split()
    for pid in sessions:
        os.kill(int(pid), signal.SIGKILL)
    output = proc.communicate(timeout=300)[0].decode()
    assert "Traceback" not in output
    print([line for line in output.splitlines() if line.startswith(("FAILED", "WARNING"))])
    assert our_mounts(project) == []
    rerun = project.run("backup")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    restored = tmp_path / "restored"
    restore_all(project, restored)
    assert tree_snapshot(restored) == tree_snapshot(project.data)
