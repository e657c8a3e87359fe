"""Drive glacier-tasks as a user would: a project folder, `doit TASK`, a real S3 server."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

from glacier_tasks.formats.checksum import sha256_of as sha256_file  # noqa: F401
from glacier_tasks.formats import layout
from tests.support.s3server import CREDENTIALS

REPO = Path(__file__).resolve().parents[2]


class Project:
    """A config, a list.txt and data folders in a temp dir, backed by one bucket."""

    def __init__(self, root: Path, server, bucket: str, target_gb: float = 0.004):
        self.root, self.server, self.bucket = root, server, bucket
        self.config = root / "glacier.toml"
        self.write_config(f'target_bag_gb = {target_gb}')
        self.s3 = server.client()

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            "[settings]\n"
            f's3_bucket = "{self.bucket}"\n'
            f'endpoint_url = "{self.server.endpoint}"\n'
            'region = "us-east-1"\n'
            'host = "testhost"\n' + extra + "\n")

    def write_list(self, *molecules) -> None:
        (self.root / "list.txt").write_text("".join(f"{m}\n" for m in molecules))

    def env(self, **extra) -> dict:
        return {**os.environ, **CREDENTIALS, "GLACIER_CONFIG": str(self.config),
                "PYTHONPATH": str(REPO), **extra}

    def command(self, *args) -> list:
        return [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args]

    def run(self, *args, **env) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), env=self.env(**env), cwd=self.root,
                              capture_output=True, text=True, timeout=600)

    def glacier(self, *args, cwd=None, **env) -> subprocess.CompletedProcess:
        """The `glacier` command line, as a user types it."""
        return subprocess.run([sys.executable, "-m", "glacier_tasks.cli", *args],
                              env=self.env(**env), cwd=cwd or self.root,
                              capture_output=True, text=True, timeout=600)

    def doit_here(self, *args, **env) -> subprocess.CompletedProcess:
        """`doit TASK` typed in the project folder, as the README says (pyproject.toml
        there registers the bag-first `list`)."""
        return subprocess.run([sys.executable, "-m", "doit", *args], env=self.env(**env),
                              cwd=REPO, capture_output=True, text=True, timeout=600)

    def popen(self, *args, **env) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env(**env), cwd=self.root,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)

    @property
    def inventory(self) -> dict:
        return json.loads((self.root / "inventory.json").read_text())

    @property
    def state(self) -> Path:
        return self.root / ".glacier-state"

    def objects(self) -> dict:
        """key -> (size, storage class) of every object in the bucket."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = (obj["Size"], obj.get("StorageClass", "STANDARD"))
        return found

    def bag_puts(self, stored_only: bool = False) -> list:
        """Request lines of the server log that stored or began a bag object (with
        stored_only, those the server answered 200: a write refused as the key was
        taken stored nothing)."""
        prefix = f"/{self.bucket}/"
        return [line for line, status in self.server.answered()
                if line.startswith(("PUT " + prefix, "POST " + prefix))
                and line.split(" ")[1].split("?")[0].endswith(".tar")
                and "partNumber" not in line and (status == 200 or not stored_only)]

    def thaw_and_download(self, key: str, dest: Path) -> Path:
        """What a user does by hand: restore-object, then get-object once thawed."""
        self.s3.restore_object(Bucket=self.bucket, Key=key, RestoreRequest={
            "Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
        return self.download(key, dest)

    def download(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        with open(dest, "wb") as out:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)
        return dest


def sample_project(root: Path, server, bucket: str, extra: str = "", **kwargs) -> Project:
    """The sample tree as one molecule (the e2e suite's usual project), `extra` added
    to the config's [settings]."""
    data = root / "data"
    data.mkdir(parents=True)
    make_sample_tree(data)
    project = Project(root, server, bucket, **kwargs)
    if extra:
        project.write_config(extra)
    project.write_list(data)
    project.data = data
    return project


def atoms_project(root: Path, server, bucket: str, count: int, size: int,
                  target_gb: float = 0.004, extra: str = "") -> Project:
    """`count` atoms (atom0, atom1, ...) of one `size`-byte random blob each."""
    data = root / "data"
    for n in range(count):
        (data / f"atom{n}").mkdir(parents=True)
        (data / f"atom{n}" / "blob").write_bytes(os.urandom(size))
    project = Project(root, server, bucket, target_gb=target_gb)
    if extra:
        project.write_config(f"target_bag_gb = {target_gb}\n{extra}")
    project.write_list(data)
    project.data = data
    return project


def sparse_file(path: Path, size: int, head: bytes = b"start") -> Path:
    """A file of `size` bytes that holds `head` at its start and 'middle' half-way,
    holes elsewhere (a thin disk image)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(head)
        f.seek(size // 2)
        f.write(b"middle")
        f.truncate(size)
    return path


def tree_snapshot(root: Path) -> dict:
    """relative path -> what a user compares: type, bytes or link target, mode."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, os.fsencode(root))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                snap[rel] = ("file", sha256_file(Path(os.fsdecode(full))),
                             stat.S_IMODE(st.st_mode), st.st_mtime_ns // 10**9)
    return snap


def make_sample_tree(root: Path) -> None:
    """Atoms with a sparse file, a symlink, an empty folder and non-ASCII names."""
    (root / "Books" / "sub").mkdir(parents=True)
    (root / "Books" / "a.bin").write_bytes(os.urandom(3_000_000))
    (root / "Books" / "sub" / "notes.txt").write_text("hello\n")
    (root / "Photos").mkdir()
    (root / "Photos" / "été à Zürich.jpg").write_bytes(os.urandom(1_500_000))
    (root / "Photos" / "日本").mkdir()
    (root / "Photos" / "日本" / "写真.raw").write_bytes(os.urandom(700_000))
    os.symlink("../Books/sub/notes.txt", root / "Photos" / "link-to-notes")
    (root / "VMs").mkdir()
    with open(root / "VMs" / "disk.img", "wb") as f:
        f.seek(40_000_000)
        f.write(b"end of a sparse disk")
    (root / "Empty" / "nothing here").mkdir(parents=True)
    (root / "loose file.txt").write_text("lying in the molecule itself\n")


def restore_all(project: Project, dest: Path) -> None:
    """Thaw, download and `tar -xSf` every bag of the inventory into dest, as the
    README's restore by hand says: a bag that atoms moved out of (issue 23) also holds
    their old versions, so only the atoms the inventory lists for it are extracted."""
    dest.mkdir(parents=True, exist_ok=True)
    for key, bag in project.inventory["bags"].items():
        if bag.get("increment_of"):
            continue  # after every base, in its atom's chain (issue 27)
        tar = project.thaw_and_download(key, project.root / "downloads" / Path(key).name)
        assert sha256_file(tar) == bag["sha256"], key
        members = []
        if set(bag.get("packed_atoms") or bag["atoms"]) - set(bag["atoms"]):
            prefix = bag["molecule"].rstrip("/") + "/"
            members = [a[len(prefix):] for a in bag["atoms"]]
            if "." in members:  # the loose files: the top-level names that are no folder
                # tar -t quotes odd bytes and splits a name at its newline: read the
                # names themselves (files have no trailing '/', folders do)
                with tarfile.open(tar, encoding="utf-8", errors="surrogateescape") as t:
                    listed = [m.name for m in t.getmembers() if not m.isdir()]
                members = [m for m in members if m != "."] + \
                    [n for n in listed if "/" not in n]
            members = ["--no-unquote", "--", *members]  # a backslash is no escape
        _extract_by_hand(tar, dest, members)
    for entry in project.inventory["atoms"].values():
        for key in entry.get("increments", []):  # deletions, then the increment
            downloads = project.root / "downloads"
            tar = project.thaw_and_download(key, downloads / Path(key).name)
            assert sha256_file(tar) == project.inventory["bags"][key]["sha256"], key
            listed = project.download(layout.deletions_key(key),
                                      downloads / (Path(key).stem + ".del"))
            subprocess.run(f"xargs -0 rm -rf -- < '{listed}'", shell=True, cwd=dest,
                           check=True)
            _extract_by_hand(tar, dest, [])
    # a hard link's first name whose atom left the inventory was only a link's source
    current = {os.fsencode(a[len(b["molecule"].rstrip("/")) + 1:])
               for b in project.inventory["bags"].values() for a in b["atoms"]}
    for entry in os.listdir(dest):
        if os.fsencode(entry) not in current and (dest / entry).is_dir():
            shutil.rmtree(dest / entry)


def _extract_by_hand(tar: Path, dest: Path, members: list) -> None:
    """README step 5: a hard link stored under a first name whose atom moved out of the
    bag: tar says `Cannot hard link to 'NAME'`; NAME joins the names (the newer bag
    that holds its atom now replaces it, the bags being extracted oldest first)."""
    while True:
        done = subprocess.run(["tar", "-xSf", str(tar), "-C", str(dest), *members],
                              capture_output=True, env={**os.environ, "LC_ALL": "C"})
        wanted = re.findall(rb"Cannot hard link to '(.*?)'", done.stderr)
        if done.returncode == 0 or not wanted or not members:
            break
        members = members + [os.fsdecode(w) for w in wanted]
    assert done.returncode == 0, done.stderr.decode(errors="replace")
