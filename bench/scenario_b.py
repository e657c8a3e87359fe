#!/usr/bin/env python3
"""What a yearly run sends, and what it leaves dead in the bucket (issue 23).

1. The plan over simulated years (the real plan_bags and build_inventory, in memory,
   every planned bag taken as uploaded): 10 TB-like, 5,000 atoms of 0.2 to 3.8 units
   in bags of target 40 (the 40 GB bags of a 10 TB archive, one unit a GB), 5% of
   atoms changed, 1% removed and 1% added each year, over 5 years; for compact_below
   = 0.5 (the default), and 1 (the design's section 1: any change re-sends the bag).
   Per year: units uploaded / units of changed and new atoms.     target: <= 1.1
   After 5 years: dead units in kept bags / units stored.    stated (bound: < 0.5)
2. A real no-change rerun of `doit backup` (moto on 127.0.0.1, 400 atoms of 10 files)
   with compact_below = 0.5 against 1, side by side, best of 5.  target: <= 1.05

Run: .venv/bin/python bench/scenario_b.py (part of `make bench` it is not: it is
quick, and its figures are in the README)."""

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from glacier_tasks.backup.marker import BagMarker, Packed, Receipt  # noqa: E402
from glacier_tasks.backup.plan import AtomState, MoleculeState, plan_bags  # noqa: E402
from glacier_tasks.formats.inventory import build_inventory  # noqa: E402
from tests.support.s3server import CREDENTIALS, S3Server  # noqa: E402

MOL = "/data"
ATOMS, TARGET, YEARS = 5000, 40_000, 5
CHANGED, REMOVED, ADDED = 0.05, 0.01, 0.01


def done(plan, bag, year):
    hashes = {a: plan.atoms[a]["last_metadata_hash"] for a in bag.atoms}
    size = sum(plan.atoms[a]["size"] for a in bag.atoms)
    return BagMarker(content_key=bag.content_key, done=True, packed=Packed(
        atom_hashes=hashes, content_key=bag.content_key, size=size, sha256="5" * 64,
        crc64nvme="c", atom_files={a: 1 for a in bag.atoms}), uploaded=Receipt(
        key=bag.archive_key, size=size, sha256="5" * 64, etag="e", crc64nvme="c",
        storage_class="DEEP_ARCHIVE", uploaded_at=f"{year}-01-15T00:00:00Z",
        reused=False))


def simulate(compact_below: float, seed: int = 7) -> list:
    rng = random.Random(seed)
    atoms = {f"{MOL}/a{n:05d}": (rng.randint(200, 3800), "h0") for n in range(ATOMS)}
    inventory, rows, serial = {"atoms": {}, "bags": {}}, [], ATOMS
    for year in range(2025, 2025 + YEARS + 1):
        moved = 0
        if year > 2025:
            keys = sorted(atoms)
            for key in rng.sample(keys, int(len(keys) * CHANGED)):
                atoms[key] = (atoms[key][0], f"h{year}")
                moved += atoms[key][0]
            for key in rng.sample(sorted(atoms), int(len(keys) * REMOVED)):
                del atoms[key]
            for _ in range(int(len(keys) * ADDED)):
                size = rng.randint(200, 3800)
                atoms[f"{MOL}/a{serial:05d}"] = (size, "h0")
                serial += 1
                moved += size
        states = [AtomState(k, MOL, h, size, 1) for k, (size, h) in atoms.items()]
        plan = plan_bags(states, [MoleculeState(MOL, "data", True)], inventory, TARGET,
                         year, "host", compact_below=compact_below)
        markers = {b.name: done(plan, b, year) for b in plan.uploads}
        inventory = build_inventory(plan, markers, inventory)
        sent = sum(b.size for b in plan.uploads)
        stored = sum(b.get("packed_bytes") or 0 for b in inventory["bags"].values())
        dead = stored - sum(b.get("referenced_bytes") or 0
                            for b in inventory["bags"].values())
        rows.append((year, sent, moved, stored, dead, len(inventory["bags"])))
    return rows


def rerun_seconds(compact_below: float, work: Path, server) -> float:
    project = work / f"compact-{compact_below:g}"
    data = project / "data"
    for n in range(400):
        (data / f"atom{n:03d}").mkdir(parents=True)
        for f in range(10):
            (data / f"atom{n:03d}" / f"f{f}").write_bytes(os.urandom(100))
    bucket = f"bench-b-{int(compact_below * 10)}"
    server.client().create_bucket(Bucket=bucket)
    (project / "glacier.toml").write_text(
        f'[settings]\ns3_bucket = "{bucket}"\nendpoint_url = "{server.endpoint}"\n'
        f'region = "us-east-1"\nhost = "bench"\ntarget_bag_gb = 0.001\n'
        f'compact_below = {compact_below}\n')
    (project / "list.txt").write_text(f"{data}\n")
    env = {**os.environ, **CREDENTIALS, "GLACIER_CONFIG": str(project / "glacier.toml"),
           "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "backup"]
    subprocess.run(command, env=env, cwd=project, check=True, capture_output=True)
    best = None
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=project, check=True, capture_output=True)
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best


def main() -> None:
    print(f"1. {ATOMS} atoms of 200-3800 units, bags of {TARGET}; each year "
          f"{CHANGED:.0%} changed, {REMOVED:.0%} removed, {ADDED:.0%} added")
    for compact_below in (0.5, 1.0):
        print(f"   compact_below = {compact_below:g}")
        print("   year    sent   changed+new   sent/changed   stored    dead   dead/stored"
              "   bags")
        for year, sent, moved, stored, dead, bags in simulate(compact_below):
            ratio = f"{sent / moved:13.2f}" if moved else f"{'-':>13}"
            print(f"   {year}  {sent:7d}  {moved:11d}  {ratio}  {stored:8d}  {dead:6d}  "
                  f"{dead / stored:11.3f}  {bags:5d}")
    work = REPO / "bench" / "work-scenario-b"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = S3Server(work)
    try:
        new = rerun_seconds(0.5, work, server)
        old = rerun_seconds(1.0, work, server)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"2. no-change rerun, 400 atoms: compact_below 0.5 {new:.2f} s, 1 {old:.2f} s, "
          f"ratio {new / old:.3f}")


if __name__ == "__main__":
    main()
