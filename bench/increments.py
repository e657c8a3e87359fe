#!/usr/bin/env python3
"""What a yearly change costs with increments (issue 27), measured on real runs.

Four atoms of 32 files of 1 MB (128 MB; BENCH_FILES sets how many), backed up once,
then one year's change:
  a. one 1,000,000-byte file rewritten (the issue's case);
  b. ten new 1 MB photos in one atom (a photo archive's year).
For each: the bytes this tool uploads (bags, manifests, member indexes, deletion lists)
with increment_below = 0.5 and with increments off (0), over the bytes of new and
modified files; restic's repository growth on the same data side by side when the
`restic` command is installed. Then the no-change rerun, increments on against off,
best of 5.

Run: .venv/bin/python bench/increments.py (its figures are in the README);
BENCH_FILES=256 makes the atoms 256 MB each, the issue's 1 GB in four folders."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.s3server import CREDENTIALS, S3Server  # noqa: E402

MB = 1_000_000
ATOMS = 4
FILES = int(os.environ.get("BENCH_FILES", "32"))  # per atom; 256 is the 1 GB


def make_data(data: Path, seed: int) -> None:
    for a in range(ATOMS):
        for f in range(FILES):
            path = data / f"atom{a}" / f"f{f:02d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(MB))


class Project:
    def __init__(self, work: Path, server, name: str, below: float):
        self.root, self.server = work / name, server
        self.data = self.root / "data"
        self.bucket = "bench-inc-" + "".join(c if c.isalnum() else "-" for c in name)
        server.client().create_bucket(Bucket=self.bucket)
        make_data(self.data, 1)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "glacier.toml").write_text(
            f'[settings]\ns3_bucket = "{self.bucket}"\nendpoint_url = "{server.endpoint}"\n'
            f'region = "us-east-1"\nhost = "bench"\ntarget_bag_gb = 0.3\n'
            f'increment_below = {below}\n')
        (self.root / "list.txt").write_text(f"{self.data}\n")
        self.env = {**os.environ, **CREDENTIALS, "PYTHONPATH": str(REPO),
                    "GLACIER_CONFIG": str(self.root / "glacier.toml")}

    def backup(self, year: int) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"),
                        "backup"], env={**self.env, "GLACIER_TODAY": f"{year}-03-01"},
                       cwd=self.root, check=True, capture_output=True, text=True)
        return time.perf_counter() - start

    def sent(self, year: int) -> int:
        """Bytes of this year's objects but the system folder."""
        total = 0
        pages = self.server.client().get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{year}-backup/")
        for page in pages:
            for obj in page.get("Contents", []):
                if "/system/" not in obj["Key"]:
                    total += obj["Size"]
        return total


def change_one_file(data: Path) -> int:
    (data / "atom1" / "f07.bin").write_bytes(os.urandom(MB))
    return MB


def new_photos(data: Path) -> int:
    for n in range(10):
        (data / "atom2" / f"new{n}.jpg").write_bytes(os.urandom(MB))
    return 10 * MB


def restic_growth(work: Path, name: str, change) -> int | None:
    if shutil.which("restic") is None:
        return None
    repo, data = work / f"restic-{name}", work / f"restic-{name}-data"
    make_data(data, 1)
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
    subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
    subprocess.run(["restic", "backup", str(data)], env=env, check=True,
                   capture_output=True)
    before = _du(repo)
    change(data)
    subprocess.run(["restic", "backup", str(data)], env=env, check=True,
                   capture_output=True)
    return _du(repo) - before


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    try:
        run()
    except subprocess.CalledProcessError as err:
        sys.exit(f"{err}\n{err.stdout}\n{err.stderr}")


def run() -> None:
    work = REPO / "bench" / "work-increments"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = S3Server(work)
    try:
        print(f"{ATOMS} atoms of {FILES} files of 1 MB; bytes uploaded in the year of "
              "the change (bags, manifests, indexes, deletion lists)")
        print("   change                      new+modified   increments on   "
              "off (whole atom)   on/changed   restic")
        for label, change in (("one 1 MB file rewritten", change_one_file),
                              ("ten new 1 MB photos", new_photos)):
            figures = []
            for below in (0.5, 0.0):
                project = Project(work, server, f"{change.__name__}-{below:g}", below)
                project.backup(2025)
                changed = change(project.data)
                project.backup(2026)
                figures.append(project.sent(2026))
            restic = restic_growth(work, change.__name__, change)
            print(f"   {label:26s}  {changed:12,d}  {figures[0]:14,d}  {figures[1]:16,d}"
                  f"  {figures[0] / changed:11.3f}   "
                  + (f"{restic:,d}" if restic is not None else "not installed"))
        times = {}
        for below in (0.5, 0.0):
            project = Project(work, server, f"rerun-{below:g}", below)
            project.backup(2025)
            times[below] = min(project.backup(2025) for _ in range(5))
        print(f"no-change rerun: increments on {times[0.5]:.2f} s, off {times[0.0]:.2f} s, "
              f"ratio {times[0.5] / times[0.0]:.3f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
