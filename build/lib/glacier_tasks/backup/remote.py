"""Remote molecules (user@host:/path), mounted read-only with sshfs for one run.

Each remote molecule is mounted once per run under mnt_base, at a path derived from
user, host and path, and unmounted when the run ends, fails or is interrupted. A mount
left by a killed run is recognised by its marker in STATE/mounts/ and cleaned up at the
next start (the lock guarantees no other run owns it); a mount the tool did not make
is never touched. Bags of a remote molecule are written by GNU tar on its own host,
over ssh with the mount's options, when that host has one (remote_tar). BatchMode is always on, so a missing key fails at once instead of
prompting, and a plain ssh probe first gives a one-line reason when a host cannot be
used.
"""

import functools
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from .. import statefile
from ..config import REMOTE_RE

SSHFS_DEFAULTS = ("ro", "reconnect", "ServerAliveInterval=15", "ServerAliveCountMax=3",
                  "BatchMode=yes")
SSHFS_ONLY = {"ro", "reconnect", "no_contain_symlinks", "contain_symlinks", "allow_other",
              "default_permissions", "idmap", "follow_symlinks", "transform_symlinks", "cache", "kernel_cache",
              "compression", "max_conns", "dir_cache", "uid", "gid", "umask"}
PROBE_SECONDS = 30


def _options(sshfs_options: str) -> list[str]:
    return [o.strip() for o in sshfs_options.split(",") if o.strip()]


def ssh_command(spelling: str, sshfs_options: str) -> list[str]:
    """ssh to the molecule's host with the same port, key and options as the mount."""
    match = REMOTE_RE.match(spelling)
    command = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={PROBE_SECONDS}"]
    for option in _options(sshfs_options):
        key, _, value = option.partition("=")
        if key == "port":
            command += ["-p", value]
        elif key not in SSHFS_ONLY and value:
            command += ["-o", option]
    return command + [f"{match['user']}@{match['host']}"]


def ssh_probe_command(spelling: str, sshfs_options: str) -> list[str]:
    """Does the remote folder exist?"""
    return ssh_command(spelling, sshfs_options) + [
        "test", "-d", shlex.quote(REMOTE_RE.match(spelling)["path"])]


@functools.lru_cache(maxsize=None)
def remote_tar(spelling: str, sshfs_options: str) -> tuple | None:
    """(ssh command, remote folder) to run GNU tar on the molecule's own host, or None
    when it has none (or only sftp): sshfs reports no holes, so a tar over the mount
    stores a sparse file full; the host's own tar finds its holes (and sends only its
    data over the line)."""
    ssh = ssh_command(spelling, sshfs_options)
    try:
        found = subprocess.run(ssh + ["tar", "--version"], capture_output=True,
                               text=True, timeout=PROBE_SECONDS + 30,
                               stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0 or "GNU tar" not in found.stdout:
        return None
    return tuple(ssh), REMOTE_RE.match(spelling)["path"]


@functools.lru_cache(maxsize=None)
def _symlinks_option() -> tuple:
    """Debian's sshfs hides symlinks holding '..' or an absolute target unless told
    otherwise; a backup must store every link exactly as it is."""
    help_text = subprocess.run(["sshfs", "--help"], capture_output=True, text=True)
    return ("no_contain_symlinks",) if "no_contain_symlinks" in \
        help_text.stdout + help_text.stderr else ()


def sshfs_command(spelling: str, mount_point: Path, sshfs_options: str) -> list[str]:
    options = SSHFS_DEFAULTS + _symlinks_option() + tuple(_options(sshfs_options))
    return ["sshfs", "-o", ",".join(options), spelling, str(mount_point)]


def is_mounted(path: Path) -> bool:
    target = str(path).replace(" ", "\\040")
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def mount(settings, molecule, marker: Path) -> str | None:
    """Mount one remote molecule; return None, or the one-line reason it failed.
    `marker` is the proof, kept in the state folder, that the mount is ours."""
    host = REMOTE_RE.match(molecule.spelling)["host"]
    if shutil.which("sshfs") is None:
        return "sshfs is not installed (Debian/Ubuntu: sudo apt install sshfs)"
    point = molecule.path
    if is_mounted(point):
        if not marker.exists():
            return (f"{point} is already a mount point that glacier-tasks did not make; "
                    "unmount it or change mnt_base")
        unmount(marker)  # left by a killed run: the lock says it is ours
    probe = subprocess.run(ssh_probe_command(molecule.spelling, settings.sshfs_options),
                           capture_output=True, text=True, timeout=PROBE_SECONDS + 30,
                           stdin=subprocess.DEVNULL)
    if probe.returncode == 1:
        return f"{host}: remote folder {REMOTE_RE.match(molecule.spelling)['path']} " \
               "does not exist"
    if probe.returncode != 0:
        lines = [l for l in probe.stderr.strip().splitlines() if l.strip()]
        return f"{host}: {lines[-1] if lines else 'ssh failed'}"
    point.mkdir(parents=True, exist_ok=True)
    # the marker comes first: a run killed mid-mount still leaves proof the mount is ours
    statefile.write_json(marker, {"mount_point": str(point), "pid": os.getpid()})
    done = subprocess.run(sshfs_command(molecule.spelling, point, settings.sshfs_options),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        marker.unlink(missing_ok=True)
        lines = [l for l in done.stderr.strip().splitlines() if l.strip()]
        return f"{host}: sshfs failed: {lines[-1] if lines else done.returncode}"
    return None


def unmount(marker: Path) -> None:
    """Unmount what this tool mounted (its marker says where); anything else is left."""
    if not marker.exists():
        return
    point = Path(json.loads(marker.read_text())["mount_point"])
    if is_mounted(point):
        done = subprocess.run(["fusermount", "-u", str(point)], capture_output=True)
        if done.returncode != 0:
            subprocess.run(["fusermount", "-u", "-z", str(point)], capture_output=True)
    marker.unlink(missing_ok=True)
