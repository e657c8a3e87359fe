"""Drill: hostile trees. Odd names, hard links, special files, links that point out or
loop, empty and crowded atoms: each round-trips through a bag or is reported."""

import os
import socket
import stat
import tarfile

from .invariant import check_invariant
from .helpers import Project, restore_all

ODD_NAMES = [b"new\nline", b"tab\there", b"back\\slash", b"-leading-dash", b"--help",
             b"invalid-\xff\xfe-utf8", b"x" * 255, b"quote\"'`$(echo hi)", b" spaces "]


def build_hostile_tree(root: bytes) -> dict:
    """Make the tree; return what a user checks afterwards."""
    odd = os.path.join(root, b"Odd")
    os.makedirs(odd)
    for n, name in enumerate(ODD_NAMES):
        with open(os.path.join(odd, name), "wb") as f:
            f.write(b"content %d\n" % n)
    deep = os.path.join(root, b"Deep")
    path = deep
    while len(path) - len(root) < 3800:  # + the temp folder: just under PATH_MAX
        path = os.path.join(path, b"d" * 200)
    os.makedirs(path)
    with open(os.path.join(path, b"bottom.txt"), "wb") as f:
        f.write(b"about 4,000 bytes down\n")
    links = os.path.join(root, b"Links")
    os.makedirs(links)
    with open(os.path.join(links, b"original"), "wb") as f:
        f.write(b"stored once\n" * 1000)
    os.link(os.path.join(links, b"original"), os.path.join(links, b"hardlink"))
    os.symlink(b"/etc/passwd", os.path.join(links, b"points-out"))
    os.symlink(b"loop-b", os.path.join(links, b"loop-a"))
    os.symlink(b"loop-a", os.path.join(links, b"loop-b"))
    special = os.path.join(root, b"Special")
    os.makedirs(special)
    os.mkfifo(os.path.join(special, b"fifo"))
    os.mknod(os.path.join(special, b"null-device"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(special, b"socket"))
    sock.close()
    os.makedirs(os.path.join(root, b"Nothing"))  # a 0-byte atom
    crowd = os.path.join(root, b"Crowd")
    os.makedirs(crowd)
    for n in range(50_000):
        open(os.path.join(crowd, b"%05d" % n), "wb").close()
    return {"deep": os.path.relpath(os.path.join(path, b"bottom.txt"), root)}


def test_hostile_tree_round_trips(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    data.mkdir()
    facts = build_hostile_tree(os.fsencode(data))
    project = Project(tmp_path, s3_server, bucket, target_gb=0.004)
    project.write_list(data)
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    check_invariant(project)
    atoms = project.inventory["atoms"]
    assert {a.rpartition("/")[2] for a in atoms} == {"Odd", "Deep", "Links", "Special",
                                                    "Nothing", "Crowd"}
    restored = tmp_path / "restored"
    restore_all(project, restored)
    out = os.fsencode(restored)
    for n, name in enumerate(ODD_NAMES):
        with open(os.path.join(out, b"Odd", name), "rb") as f:
            assert f.read() == b"content %d\n" % n, name
    with open(os.path.join(out, facts["deep"]), "rb") as f:
        assert f.read() == b"about 4,000 bytes down\n"
    original = os.stat(os.path.join(out, b"Links", b"original"))
    assert os.stat(os.path.join(out, b"Links", b"hardlink")).st_ino == original.st_ino
    assert os.readlink(os.path.join(out, b"Links", b"points-out")) == b"/etc/passwd"
    assert os.readlink(os.path.join(out, b"Links", b"loop-a")) == b"loop-b"
    assert stat.S_ISFIFO(os.lstat(os.path.join(out, b"Special", b"fifo")).st_mode)
    assert stat.S_ISCHR(os.lstat(os.path.join(out, b"Special", b"null-device")).st_mode)
    assert not os.path.lexists(os.path.join(out, b"Special", b"socket"))
    assert os.path.isdir(os.path.join(out, b"Nothing"))
    assert len(os.listdir(os.path.join(out, b"Crowd"))) == 50_000

    manifests = b"".join(
        project.s3.get_object(Bucket=bucket, Key=b["manifest_key"])["Body"].read()
        for b in project.inventory["bags"].values()).decode("utf-8")
    lines = manifests.splitlines()
    assert all(line.count("\t") == 2 + ("\tsha256:" in line)  # one line, one entry
               for line in lines if not line.startswith("Special/socket\t"))
    assert "Odd/new\\nline\t" in manifests and "Odd/tab\\there\t" in manifests
    assert "Odd/invalid-\\xff\\xfe-utf8\t" in manifests
    socket_line = next(line for line in lines if line.startswith("Special/socket\t"))
    assert socket_line.endswith("\tskipped: socket")
    links = [line for line in lines if line.startswith("Links/")]
    assert len(links) == 6  # the folder and its five entries
    # the hard link's bytes are in the bag once: its member is a link, not a copy
    bag = project.inventory["atoms"][f"{data}/Links"]["archive_key"]
    with tarfile.open(project.root / "downloads" / bag.rpartition("/")[2]) as tar:
        first, second = tar.getmember("Links/hardlink"), tar.getmember("Links/original")
    assert first.isfile() and second.islnk() and second.linkname == "Links/hardlink"

    again = project.run("backup")
    assert again.returncode == 0 and "uploaded" not in again.stdout.replace(
        "0 uploaded", "")
