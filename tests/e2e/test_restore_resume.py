"""Restore as a user reruns it: a thaw that takes days, one file out of a big bag,
hard links cut off from their target, everything at once, and the check at the end.
Bytes downloaded are measured by a proxy in front of the S3 server; requests are read
from the server's own log."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from glacier_tasks.config import slugify

from .helpers import REPO, Project, make_sample_tree, tree_snapshot
from tests.support.proxy import LoopbackProxy

MB = 1 << 20


def through(project, proxy):
    """Send the tool's S3 requests through the proxy from now on."""
    project.config.write_text(project.config.read_text().replace(
        project.server.endpoint, proxy.endpoint))


def bag_requests(project, since: int, method: str, key: str) -> int:
    path = f"/{project.bucket}/{key}"
    return sum(1 for line in project.server.requests()[since:] if line.startswith(
        f"{method} ") and line.split(" ")[1].split("?")[0] == path)


def one_line_error(result, *words):
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], errors[0]


def backed_up(project, target_gb=None):
    if target_gb:
        project.write_config(f"target_bag_gb = {target_gb}")
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    return project


# ---------------------------------------------------------------- resuming


def test_a_thaw_that_outlasts_the_first_run_finishes_on_the_second(project, tmp_path):
    backed_up(project, 0.002)
    bags = sorted(project.inventory["bags"])
    assert len(bags) >= 3, bags
    held = bags[1]
    proxy = LoopbackProxy(project.server.port, slow_checks=1, only=Path(held).stem)
    try:
        through(project, proxy)
        dest = tmp_path / "out"
        args = ("restore", "--path", str(project.data), "--yes", "--to", str(dest))
        first = project.run(*args)
        assert first.returncode == 1, first.stdout + first.stderr
        assert f"{len(bags) - 1} of {len(bags)} bags readable, 1 still thawing since " \
            in first.stdout and first.stdout.count(f": {held}\n") == 1
        assert "run the same command again" in first.stdout
        assert first.stdout.count("extracted into") == len(bags) - 1
        before = len(project.server.requests())
        second = project.run(*args)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "Cannot open" not in second.stdout + second.stderr
        assert "all match the manifest" in second.stdout
        for key in bags:
            if key != held:  # finished on the first run: not asked about, not fetched
                assert bag_requests(project, before, "GET", key) == 0, key
                assert bag_requests(project, before, "HEAD", key) == 0, key
        assert bag_requests(project, before, "GET", held) >= 1
        third = project.run(*args)  # all done: only the check runs again
        assert third.returncode == 0 and "all match the manifest" in third.stdout
    finally:
        proxy.stop()
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    assert os.stat(dest / "VMs" / "disk.img").st_blocks * 512 < 1_000_000  # sparse


def test_an_interrupted_extraction_goes_on_without_overwrite(project, tmp_path):
    backed_up(project)
    dest = tmp_path / "out"
    args = ("restore", "--path", f"{project.data}/Books", "--yes", "--to", str(dest))
    assert project.run(*args).returncode == 0
    # as if tar was killed part-way: some files written, the bag not marked extracted
    [state_file] = (project.state / "restores").glob("*.json")
    state = json.loads(state_file.read_text())
    for bag in state["bags"].values():
        bag.update(downloaded=False, extracted=False)
    state_file.write_text(json.dumps(state))
    (dest / "Books" / "a.bin").unlink()
    again = project.run(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "all match the manifest" in again.stdout
    assert tree_snapshot(dest / "Books") == tree_snapshot(project.data / "Books")


def test_the_check_names_a_restored_file_that_differs(project, tmp_path):
    backed_up(project)
    dest = tmp_path / "out"
    args = ("restore", "--path", f"{project.data}/Books", "--yes", "--to", str(dest))
    done = project.run(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 files, 3.0 MB restored, all match the manifest" in done.stdout
    with open(dest / "Books" / "sub" / "notes.txt", "a") as f:
        f.write("more\n")
    checked = project.run(*args)
    assert checked.returncode == 1
    assert "1 do not match the manifest: Books/sub/notes.txt: 11 bytes, the manifest " \
        "says 6" in checked.stderr


def test_polling_has_a_floor_against_real_s3(project, tmp_path):
    backed_up(project)
    key = project.inventory["atoms"][f"{project.data}/VMs"]["archive_key"]
    proxy = LoopbackProxy(project.server.port, slow_checks=100)
    try:
        through(project, proxy)
        before = len(project.server.requests())
        result = project.run("restore", "--path", f"{project.data}/VMs", "--yes", "--to",
                             str(tmp_path / "out"), "--wait", "--poll-seconds", "0",
                             "--wait-hours", "0.001")  # 3.6 s: less than the floor
        assert result.returncode == 1
        assert "waiting 60 s between status checks at least" in result.stdout
        assert bag_requests(project, before, "HEAD", key) <= 3
        fast = project.run("restore", "--path", f"{project.data}/VMs", "--yes", "--to",
                           str(tmp_path / "out"), "--wait", "--poll-seconds", "0.01",
                           "--wait-hours", "0.0003", GLACIER_MIN_POLL_SECONDS="0.01")
        assert fast.returncode == 1 and fast.stdout.count("still thawing") > 3
    finally:
        proxy.stop()


# ---------------------------------------------------------------- one file, ranged


@pytest.fixture
def big(tmp_path, s3_server, bucket):
    """One atom in a bag of over 200 MB, a 1 MB file in its middle."""
    data = tmp_path / "big"
    (data / "Big").mkdir(parents=True)
    for name in ("a-before.bin", "z-after.bin"):
        with open(data / "Big" / name, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(MB))
    (data / "Big" / "one.bin").write_bytes(os.urandom(MB))
    (data / "Small").mkdir()
    (data / "Small" / "x.txt").write_text("x\n")
    p = Project(tmp_path, s3_server, bucket, target_gb=1)
    p.write_list(data)
    p.data = data
    return backed_up(p)


def test_one_file_of_a_big_bag_downloads_little_more_than_the_file(big, tmp_path):
    key = big.inventory["atoms"][f"{big.data}/Big"]["archive_key"]
    assert big.inventory["bags"][key]["size"] >= 200_000_000
    asked = big.run("restore", "--path", f"{big.data}/Big/one.bin")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "downloads 1.0 MB: only the members asked for" in asked.stdout
    proxy = LoopbackProxy(big.server.port, slow_checks=0)
    try:
        through(big, proxy)
        dest = tmp_path / "out"
        done = big.run("restore", "--path", f"{big.data}/Big/one.bin", "--yes",
                       "--to", str(dest))
        assert done.returncode == 0, done.stdout + done.stderr
        fetched = proxy.sent.get(("GET", f"/{big.bucket}/{key}"), 0)
    finally:
        proxy.stop()
    print(f"one 1 MiB file from a {big.inventory['bags'][key]['size']} byte bag: "
          f"{fetched} bytes downloaded")
    assert 0 < fetched <= MB + 64 * 1024
    assert (dest / "Big" / "one.bin").read_bytes() == (big.data / "Big" / "one.bin") \
        .read_bytes()
    assert sorted(p.name for p in (dest / "Big").iterdir()) == ["one.bin"]
    assert "1 file, 1.0 MB restored, all match the manifest" in done.stdout


def test_a_sparse_file_restored_by_ranges_stays_sparse(project, tmp_path):
    backed_up(project)
    key = project.inventory["atoms"][f"{project.data}/VMs"]["archive_key"]
    assert len(project.inventory["bags"][key]["atoms"]) > 1  # so only ranges are fetched
    dest = tmp_path / "out"
    done = project.run("restore", "--path", f"{project.data}/VMs/disk.img", "--yes",
                       "--to", str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "of its members downloaded" in done.stdout
    disk = dest / "VMs" / "disk.img"
    assert disk.read_bytes() == (project.data / "VMs" / "disk.img").read_bytes()
    assert os.stat(disk).st_blocks * 512 < 1_000_000


# ---------------------------------------------------------------- hard links


@pytest.fixture
def linked(tmp_path, s3_server, bucket):
    """Hard links whose first name (the one tar stores the bytes under) lies outside
    the folder or the atom that holds the other names."""
    data = tmp_path / "linked"
    (data / "A" / "sub").mkdir(parents=True)
    (data / "A" / "first.bin").write_bytes(os.urandom(100_000))
    os.link(data / "A" / "first.bin", data / "A" / "sub" / "second.bin")
    os.link(data / "A" / "first.bin", data / "A" / "sub" / "third.bin")
    (data / "B").mkdir()
    os.link(data / "A" / "first.bin", data / "B" / "fourth.bin")
    (data / "B" / "own.txt").write_text("own\n")
    p = Project(tmp_path, s3_server, bucket)
    p.write_list(data)
    p.data = data
    return backed_up(p)


def restore_links(project, dest):
    sub = project.run("restore", "--path", f"{project.data}/A/sub", "--yes", "--to",
                      str(dest / "sub"))
    assert sub.returncode == 0, sub.stdout + sub.stderr
    assert "2 hard links restored as files" in sub.stdout
    atom = project.run("restore", "--path", f"{project.data}/B", "--yes", "--to",
                       str(dest / "atom"))
    assert atom.returncode == 0, atom.stdout + atom.stderr
    first = (project.data / "A" / "first.bin").read_bytes()
    folder = dest / "sub" / "A" / "sub"
    second, third = folder / "second.bin", folder / "third.bin"
    assert second.read_bytes() == third.read_bytes() == first
    assert os.stat(second).st_ino == os.stat(third).st_ino  # still links of each other
    assert (dest / "atom" / "B" / "fourth.bin").read_bytes() == first
    assert not (dest / "sub" / "A" / "first.bin").exists()  # only what was asked for
    assert sorted(os.listdir(dest / "atom")) == ["B"]
    assert all("all match the manifest" in r.stdout for r in (sub, atom))
    return sub


def test_hard_links_to_a_file_not_asked_for_come_back_as_files(linked, tmp_path):
    [bag] = linked.inventory["bags"].values()
    assert bag["index_sha256"]
    sub = restore_links(linked, tmp_path / "ranged")
    assert "of its members downloaded" in sub.stdout


def test_hard_links_from_a_bag_without_index_come_back_as_files(linked, tmp_path):
    inventory = linked.inventory
    for bag in inventory["bags"].values():
        bag.pop("index_sha256")  # as a bag packed by an older version
    (linked.root / "inventory.json").write_text(json.dumps(inventory))
    asked = linked.run("restore", "--path", f"{linked.data}/A/sub")
    assert "packed before bags had a member index" in asked.stdout
    sub = restore_links(linked, tmp_path / "whole")
    assert "downloaded whole, sha256 checked" in sub.stdout


def test_hard_links_from_an_encrypted_bag_come_back_as_files(linked, tmp_path):
    if not shutil.which("age"):
        pytest.fail("the age command is missing: .ci/run installs Debian's age package")
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(line.split()[-1] for line in key.read_text().splitlines()
                  if line.startswith("# public key:"))
    linked.write_config(f'target_bag_gb = 0.004\nencryption = "age"\n'
                        f'age_recipients = ["{public}"]\nage_identity_file = "key.txt"')
    (linked.data / "C").mkdir()  # a new atom, so that a new, encrypted bag is packed
    (linked.data / "C" / "c.txt").write_text("c\n")
    os.utime(linked.data / "A" / "first.bin")  # A's bag is packed again, encrypted
    assert linked.run("backup").returncode == 0
    bag = linked.inventory["bags"][linked.inventory["atoms"][f"{linked.data}/A"]
                                   ["archive_key"]]
    assert bag["encryption"] and not bag.get("index_sha256")
    asked = linked.run("restore", "--path", f"{linked.data}/A/sub")
    assert "encrypted: age has no random access" in asked.stdout
    restore_links(linked, tmp_path / "encrypted")


# ---------------------------------------------------------------- everything


def test_all_restores_every_molecule_each_in_its_own_folder(tmp_path, s3_server, bucket):
    first, second = tmp_path / "data" / "one", tmp_path / "data" / "two"
    first.mkdir(parents=True)
    make_sample_tree(first)
    (second / "Music").mkdir(parents=True)
    (second / "Music" / "song.flac").write_bytes(os.urandom(200_000))
    p = Project(tmp_path, s3_server, bucket)
    p.write_list(first, second)
    backed_up(p)
    dest = tmp_path / "everything"
    before = len(p.server.requests())
    asked = p.glacier("restore", "--all", "--to", str(dest))
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "estimated cost $" in asked.stdout and "about 48 hours" in asked.stdout
    assert all(key in asked.stdout for key in p.inventory["bags"])
    assert len(p.server.requests()) == before and not dest.exists()
    done = p.glacier("restore", "--all", "--to", str(dest), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout
    folders = {slugify(str(d)): d for d in (first, second)}
    assert sorted(os.listdir(dest)) == sorted(folders)
    for name, source in folders.items():
        assert tree_snapshot(dest / name) == tree_snapshot(source)
    root = p.run("restore", "--path", "/")
    one_line_error(root, "not in the inventory", "--all")


# ---------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_requests_nothing(project, tmp_path):
    backed_up(project, 0.002)
    a_file = tmp_path / "a file"
    a_file.write_text("in the way\n")
    molecule = str(project.data)
    before = len(project.server.requests())
    default_dest = REPO / "restore"  # doit runs in dodo.py's folder: ./restore is there
    existed = default_dest.exists()
    one_line_error(project.run("restore", "--path", "/nowhere/at/all", "--yes"),
                   "/nowhere/at/all", "not in the inventory")
    one_line_error(project.run("restore", "--path", f"{molecule}/Books/nope.txt",
                               "--yes"), "Books/nope.txt", "not in the manifest")
    assert existed or not default_dest.exists(), "a refused restore made its folder"
    one_line_error(project.run("restore", "--path", molecule, "--to", str(a_file),
                               "--yes"), "not a folder")
    one_line_error(project.glacier("restore", molecule, "--to", "/proc/nope", "--yes"),
                   "cannot make")
    one_line_error(project.run("restore", "--path", molecule, "--tier", "Expedited",
                               "--yes"), "Deep Archive offers no Expedited tier")
    one_line_error(project.run("restore", "--all", "--path", molecule), "--all")
    gone = sorted(project.inventory["bags"])[-1]
    project.s3.delete_object(Bucket=project.bucket, Key=gone)
    one_line_error(project.run("restore", "--path", molecule, "--yes", "--to",
                               str(tmp_path / "out")), gone, "not in the bucket")
    asked = project.server.requests()[before:]
    assert not [r for r in asked if r.startswith("POST") and "restore" in r], asked
    assert not [r for r in asked if r.startswith("GET") and ".tar" in r.split("?")[0]]
