"""`make demo`: the whole job against a local S3 server on 127.0.0.1, no AWS account.

Starts moto's S3 server, makes sample data and a config under demo/work/, then runs what
a user types: `glacier dryrun`, `glacier list --status`, `glacier backup`, `glacier list
--status`, `glacier find`, `glacier restore` of one file (only its byte ranges are
downloaded), `glacier status` and `glacier report` (the HTML page, whose path it
prints); then it restores every bag by hand (restore-object, download, `tar -xSf`)
and compares the result with the source. Finally, a year later, one file is rewritten:
the backup sends only its bytes (an increment), and `glacier restore` of its atom gives
it back as it is now. The server is stopped at the end.
"""

import filecmp
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "demo" / "work"
BUCKET = "demo-glacier-bucket"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
               "AWS_DEFAULT_REGION": "us-east-1"}


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(WORK / "moto.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                   "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(port)
        print(f"== local S3 server (moto) on {endpoint}")
        s3 = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
        s3.create_bucket(Bucket=BUCKET)
        data = _make_sample_data(WORK / "data")
        _write_config(endpoint, data)
        env = {**os.environ, **CREDENTIALS, "GLACIER_CONFIG": str(WORK / "glacier.toml"),
               "PYTHONPATH": str(REPO)}  # this checkout's code, installed or not
        for args in (["dryrun"], ["list", "--status"], ["backup"], ["list", "--status"]):
            _glacier(args, env)
        _show_bucket(s3)
        if not _one_file(data, env):
            return 1
        _glacier(["status"], env)
        _glacier(["report"], env)
        print(f"   open it in a browser: {(WORK / 'report.html').as_uri()}")
        if _restore_and_compare(s3, data):
            return 1
        return _a_year_later(s3, data, env)
    finally:
        server.terminate()
        server.wait(timeout=10)
        print("== local S3 server stopped")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the local S3 server did not start; see {WORK / 'moto.log'}")


def _boto_credentials() -> dict:
    return {"region_name": "us-east-1", "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo"}


def _make_sample_data(root: Path) -> Path:
    rng = _Random(2026)
    for atom, files, size in (("Photos", 12, 900_000), ("Documents", 40, 30_000),
                              ("Music", 6, 2_500_000), ("Code", 200, 2_000)):
        for n in range(files):
            path = root / atom / f"{n % 4:02d}" / f"{atom.lower()}-{n:03d}.dat"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.bytes(size))
    (root / "Photos" / "Été à Zürich.txt").write_text("non-ASCII names survive\n")
    os.symlink("../Documents/00/documents-000.dat", root / "Photos" / "a-link")
    (root / "Empty folder").mkdir()
    (root / "VMs").mkdir()
    with open(root / "VMs" / "disk.img", "wb") as f:  # sparse: 200 MB, a few KB on disk
        f.seek(200_000_000)
        f.write(b"the end of a mostly empty disk image")
    (root / "todo.txt").write_text("a file lying in the molecule itself\n")
    return root


class _Random:
    """Incompressible but repeatable bytes, without numpy."""

    def __init__(self, seed: int):
        import random
        self._random = random.Random(seed)

    def bytes(self, size: int) -> bytes:
        return self._random.randbytes(size)


def _write_config(endpoint: str, data: Path) -> None:
    (WORK / "glacier.toml").write_text(
        "[settings]\n"
        f's3_bucket = "{BUCKET}"\n'
        "target_bag_gb = 0.01    # tiny bags, so the demo shows several\n"
        f'endpoint_url = "{endpoint}"\n'
        'region = "us-east-1"\n')
    (WORK / "list.txt").write_text(f"# the folders to back up\n{data}\n")


def _glacier(args: list, env: dict) -> None:
    """What a user types, run from the project folder (demo/work)."""
    print(f"\n== glacier {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "glacier_tasks.cli", *args], cwd=WORK,
                            env=env)
    if result.returncode != 0:
        raise SystemExit(f"glacier {' '.join(args)} failed with status "
                         f"{result.returncode}")


def _one_file(data: Path, env: dict) -> bool:
    """Find a file, see what restoring it costs, restore it alone: its bag holds other
    atoms, so only the byte ranges of its member are downloaded."""
    wanted = data / "Documents" / "01" / "documents-005.dat"
    _glacier(["find", wanted.name], env)
    _glacier(["restore", str(wanted)], env)  # the estimate: bags, bytes, cost
    to = WORK / "one-file"
    _glacier(["restore", str(wanted), "--to", str(to), "--yes"], env)
    back = to / wanted.relative_to(data)
    same = back.is_file() and filecmp.cmp(wanted, back, shallow=False)
    print(f"== {back} {'equals' if same else 'DIFFERS from'} the source, byte for byte")
    return same


def _show_bucket(s3, before: set = frozenset()) -> None:
    print(f"\n== {'new ' if before else ''}objects in s3://{BUCKET}")
    for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        if obj["Key"] not in before:
            print(f"  {obj['StorageClass']:<13} {obj['Size']:>10}  {obj['Key']}")


def _a_year_later(s3, data: Path, env: dict) -> int:
    """A year later one 30 KB file of Documents is rewritten: only its bytes go up, as
    an increment of its atom (increment_below), and the tool restores the atom from
    its base and that increment."""
    changed = data / "Documents" / "02" / "documents-010.dat"
    changed.write_bytes(_Random(2027).bytes(30_000))
    print(f"\n== a year later: {changed.relative_to(data)} rewritten")
    before = {obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    later = {**env, "GLACIER_TODAY": f"{time.gmtime().tm_year + 1}-06-01"}
    _glacier(["backup"], later)
    _show_bucket(s3, before)
    to = WORK / "documents-now"
    _glacier(["restore", str(data / "Documents"), "--to", str(to), "--yes"], later)
    diff = _differences(data / "Documents", to / "Documents")
    if diff:
        print(f"MISMATCH after restore: {diff}")
        return 1
    print(f"== {to / 'Documents'} equals the source, byte for byte (base + increment)")
    return 0


def _restore_and_compare(s3, data: Path) -> int:
    import json
    inventory = json.loads((WORK / "inventory.json").read_text())
    restored = WORK / "restored"
    restored.mkdir()
    print(f"\n== restore by hand: restore-object, download, tar -xSf -> {restored}")
    for key in inventory["bags"]:
        s3.restore_object(Bucket=BUCKET, Key=key, RestoreRequest={
            "Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
        tar = WORK / "downloads" / Path(key).name
        tar.parent.mkdir(exist_ok=True)
        s3.download_file(BUCKET, key, str(tar))
        subprocess.run(["tar", "-xSf", str(tar), "-C", str(restored)], check=True)
        print(f"  {key}")
    diff = _differences(data, restored)
    if diff:
        print(f"MISMATCH after restore: {diff}")
        return 1
    print(f"== restored tree equals the source, byte for byte ({restored})")
    return 0


def _differences(left: Path, right: Path) -> list:
    """Paths that differ in kind, link target or bytes (not only in size and date)."""
    found = []
    for path in sorted(left.rglob("*")):
        twin = right / path.relative_to(left)
        if path.is_symlink():
            same = twin.is_symlink() and os.readlink(twin) == os.readlink(path)
        elif path.is_dir():
            same = twin.is_dir() and not twin.is_symlink()
        else:
            same = twin.is_file() and filecmp.cmp(path, twin, shallow=False)
        if not same:
            found.append(str(path.relative_to(left)))
    extra = {p.relative_to(right) for p in right.rglob("*")} - \
        {p.relative_to(left) for p in left.rglob("*")}
    return found + sorted(str(p) for p in extra)


if __name__ == "__main__":
    sys.exit(main())
