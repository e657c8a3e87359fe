#!/usr/bin/env python3
"""Benchmark of `doit backup` against the raw tools it wraps (`make bench`).

Everything happens in bench/work/ (deleted and recreated on each run), against a moto
S3 server started here on a free port of 127.0.0.1 and stopped at the end.

1. many small files: 200 atoms x 1,000 files (200,000 files, 22,200 folders).
   First `doit backup` (timed once), then a no-change rerun (best of 3) against
   `find TREE -printf '%s %T@\\n' > /dev/null` (best of 3).      target: ratio <= 2
2. unthrottled, ~1 GB of incompressible files (5 atoms of 8-64 MiB files): a full
   `doit backup` (fresh bucket, fresh state) against `tar -cf - -C MOLECULE . | <one
   streaming boto3 upload of stdin>` with the tool's full-object CRC64NVME checksum
   (moto builds that checksum over an extra in-memory copy of the object), and
   without it (best of 3 each, after one untimed warm-up upload, in a rotating order).
                                       target: backup / checksum baseline <= 1.2
   Peak RSS of the backup: /usr/bin/time's maximum (the largest single process of the
   tree) and the sampled sum over the whole process tree.        target: < 200 MB
   Peak staging: staging_dir sampled every 5 ms.    target: <= staging_bags bags
3. 10,000 atoms of one tiny file each: first `doit backup`, then the no-op rerun
   (best of 3).
4. uplink-bound: ~1.5 GB in 5 atoms of 300 MiB (5 bags) through a loopback proxy that
   limits the upload bandwidth to 40 MB/s (tests/support/proxy.py: the line, not the
   machine, is the bottleneck, as on a real uplink), against the bare `tar | upload`
   of the same bytes through the same proxy (best of 2 each, rotating), and, for
   information, the same with the tool's CRC64NVME checksum. The overlap of packing
   and uploading is what this measures.                          target: ratio <= 1.1
   Peak RSS and peak staging as in 2.

The figures are printed as a table and written to bench/work/results.txt; the command
logs stay in bench/work/logs/. The trees are deleted at the end (BENCH_KEEP_TREES=1
keeps them, e.g. to profile a rerun by hand).
"""

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from multiprocessing import Pool
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.s3server import CREDENTIALS, S3Server  # noqa: E402  (one way to run moto)
from tests.support.proxy import LoopbackProxy  # noqa: E402  (a slow uplink)
from tests.support.staging import StagingSampler  # noqa: E402  (staging at its fullest)
WORK = REPO / "bench" / "work"
LOGS = WORK / "logs"
PYTHON = sys.executable
DOIT_BIN = Path(sys.executable).parent / "doit"
DOIT = [str(DOIT_BIN)] if DOIT_BIN.exists() else [PYTHON, "-m", "doit"]
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
MIB = 1 << 20
COMMAND_TIMEOUT = 420  # seconds; no single step may hang the bench

# workload sizes
W1_ATOMS, W1_DIRS, W1_SUBDIRS, W1_FILES = 200, 10, 10, 10   # 200 x 10 x 10 x 10 files
W2_ATOMS = 5
W2_FILE_MIB = (64, 48, 32, 24, 16, 8, 8)                     # 200 MiB per atom
W2_TRIALS = 3
W3_ATOMS = 10_000
W4_ATOMS, W4_ATOM_MIB, W4_RATE, W4_TRIALS = 5, 300, 40e6, 2  # 1.57 GB at 40 MB/s

T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", flush=True)


# ---------------------------------------------------------------- moto server

class BenchS3(S3Server):
    """The tests' moto server (tests/support/s3server.py), with what the bench also needs."""

    def __init__(self):
        super().__init__(LOGS)

    def new_bucket(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def empty_bucket(self, bucket: str) -> None:
        """Free moto's memory between the big trials."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})

    def object_size(self, bucket: str, key: str) -> int:
        return self.client().head_object(Bucket=bucket, Key=key)["ContentLength"]


# ---------------------------------------------------------------- tree generation

def settle(what: str) -> None:
    """Flush the new tree to disk so no writeback runs during the timed commands."""
    start = time.perf_counter()
    os.sync()
    log(f"{what}: sync {time.perf_counter() - start:.1f} s")


def remove(path: Path) -> None:
    if path.exists():
        start = time.perf_counter()
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
        log(f"removed {path.relative_to(REPO)} ({time.perf_counter() - start:.1f} s)")


def _write_w1_atom(args):
    molecule, a = args
    atom = os.path.join(molecule, f"atom_{a:03d}")
    os.mkdir(atom)
    n = 0
    for d in range(W1_DIRS):
        dpath = os.path.join(atom, f"dir_{d:02d}")
        os.mkdir(dpath)
        for s in range(W1_SUBDIRS):
            spath = os.path.join(dpath, f"sub_{s:02d}")
            os.mkdir(spath)
            for f in range(W1_FILES):
                fd = os.open(os.path.join(spath, f"file_{f:02d}.txt"),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, b"%d %d %d %d\n" % (a, d, s, f))
                os.close(fd)
                n += 1
    return n


def make_tree_small_files(molecule: Path) -> int:
    molecule.mkdir(parents=True)
    with Pool(2) as pool:
        files = sum(pool.map(_write_w1_atom, [(str(molecule), a) for a in range(W1_ATOMS)]))
    return files


def _write_w2_atom(args):
    molecule, a = args
    atom = os.path.join(molecule, f"atom_{a}")
    os.makedirs(os.path.join(atom, "data"))
    total = 0
    for i, mib in enumerate(W2_FILE_MIB):
        path = os.path.join(atom, "data" if i % 2 else "", f"blob_{i}.bin")
        with open(path, "wb") as out:
            for _ in range(mib // 8):
                out.write(os.urandom(8 * MIB))
        total += mib * MIB
    return total


def make_tree_big_files(molecule: Path) -> int:
    molecule.mkdir(parents=True)
    with Pool(2) as pool:
        total = sum(pool.map(_write_w2_atom, [(str(molecule), a) for a in range(W2_ATOMS)]))
    return total


def make_tree_many_atoms(molecule: Path) -> int:
    molecule.mkdir(parents=True)
    for a in range(W3_ATOMS):
        atom = molecule / f"atom_{a:05d}"
        atom.mkdir()
        (atom / "note.txt").write_bytes(b"%d\n" % a)
    return W3_ATOMS


# ---------------------------------------------------------------- configs and runs

def write_config(folder: Path, bucket: str, molecule: Path, endpoint: str,
                 target_gb: float = 0.5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "glacier.toml"
    config.write_text(
        "[settings]\n"
        f's3_bucket = "{bucket}"\n'
        f"target_bag_gb = {target_gb}\n"
        f'endpoint_url = "{endpoint}"\n'
        'region = "us-east-1"\n')
    (folder / "list.txt").write_text(f"{molecule}\n")
    return config


def env_for(config: Path) -> dict:
    env = {**os.environ, **CREDENTIALS, "GLACIER_CONFIG": str(config),
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    return env


class TreeRSS:
    """Samples the summed RSS of a process and all its descendants (from /proc)."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        parents, rss = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/statm") as f:
                    pages = int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
        tree, changed = {self.pid}, True
        while changed:
            changed = False
            for pid, ppid in parents.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        return sum(rss.get(p, 0) for p in tree)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run(label: str, command, env=None, shell=False, measure_rss=False) -> dict:
    """Run a command, output to bench/work/logs/LABEL.log; fail loudly on error."""
    out_path = LOGS / f"{label}.log"
    rss_file = LOGS / f"{label}.time"
    if measure_rss and TIME_BIN and not shell:
        command = [TIME_BIN, "-v", "-o", str(rss_file)] + list(command)
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, shell=shell, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                executable="/bin/bash" if shell else None)
        sampler = TreeRSS(proc.pid) if measure_rss else None
        try:
            code = proc.wait(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{label}: still running after {COMMAND_TIMEOUT} s")
        finally:
            tree_peak = sampler.stop() if sampler else 0
        seconds = time.perf_counter() - start
    if code != 0:
        tail = out_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{label}: exit status {code}; end of {out_path}:\n{tail}")
    result = {"seconds": seconds, "log": out_path, "tree_rss": tree_peak}
    if measure_rss and rss_file.exists():
        for line in rss_file.read_text().splitlines():
            if "Maximum resident set size" in line:
                result["max_rss"] = int(line.rsplit(":", 1)[1]) * 1024
    return result


def doit_backup(label: str, config: Path, measure_rss=False) -> dict:
    staging = StagingSampler(config.parent / "stage")
    try:
        result = run(label, DOIT + ["-f", str(REPO / "dodo.py"), "backup"],
                     env=env_for(config), measure_rss=measure_rss)
    finally:
        result_staging = staging.stop()
    result["staging_tars"], result["staging_bytes"] = result_staging
    text = result["log"].read_text(errors="replace")
    result["bag_lines"] = [ln for ln in text.splitlines() if ln.startswith("bag ")]
    if "FAILED" in text:
        raise RuntimeError(f"{label}: a bag failed; see {result['log']}")
    return result


def noop_rerun(label: str, config: Path) -> dict:
    result = doit_backup(label, config)
    if result["bag_lines"]:
        raise RuntimeError(f"{label}: the no-change rerun uploaded bags: "
                           f"{result['bag_lines'][:3]}")
    return result


def find_time(label: str, tree: Path) -> float:
    return run(label, f"find '{tree}' -printf '%s %T@\\n' > /dev/null",
               shell=True)["seconds"]


UPLOAD_STDIN = r"""
import sys
import boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, key = sys.argv[1:4]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
# same part size and concurrency as glacier_tasks.store uses for a 0.5 GB bag
config = TransferConfig(multipart_chunksize=16 << 20, max_concurrency=4)
extra = {"ChecksumAlgorithm": "CRC64NVME"} if sys.argv[4:] == ["crc64nvme"] else None
client.upload_fileobj(sys.stdin.buffer, bucket, key, Config=config, ExtraArgs=extra)
"""


def baseline_upload(label: str, molecule: Path, endpoint: str, bucket: str,
                    key: str, checksum: str = "") -> dict:
    script = LOGS / "upload_stdin.py"
    script.write_text(UPLOAD_STDIN)
    command = (f"set -o pipefail; tar -cf - -C '{molecule}' . | "
               f"'{PYTHON}' '{script}' '{endpoint}' '{bucket}' '{key}' {checksum}")
    return run(label, command, env=env_for(WORK / "none.toml"), shell=True)


# ---------------------------------------------------------------- the workloads

def workload_small_files(s3: BenchS3, figures: dict) -> None:
    base = WORK / "w1"
    tree = base / "tree"
    start = time.perf_counter()
    files = make_tree_small_files(tree)
    log(f"W1: wrote {files:,} files in {W1_ATOMS} atoms "
        f"({time.perf_counter() - start:.1f} s)")
    settle("W1")
    config = write_config(base / "cfg", s3.new_bucket("bench-w1"), tree, s3.endpoint)
    first = doit_backup("w1_first", config)
    log(f"W1: first doit backup {first['seconds']:.2f} s ({len(first['bag_lines'])} bags)")
    find_time("w1_find_warmup", tree)
    reruns, finds = [], []
    for i in range(3):
        reruns.append(noop_rerun(f"w1_rerun{i}", config)["seconds"])
        finds.append(find_time(f"w1_find{i}", tree))
        log(f"W1: rerun {reruns[-1]:.3f} s, find {finds[-1]:.3f} s")
    figures["w1"] = {"files": files, "first": first["seconds"], "reruns": reruns,
                     "finds": finds, "rerun": min(reruns), "find": min(finds),
                     "ratio": min(reruns) / min(finds)}


def workload_big_files(s3: BenchS3, figures: dict) -> None:
    base = WORK / "w2"
    tree = base / "tree"
    start = time.perf_counter()
    total = make_tree_big_files(tree)
    log(f"W2: wrote {total / 1e9:.2f} GB in {W2_ATOMS} atoms "
        f"({time.perf_counter() - start:.1f} s)")
    settle("W2")
    warm = s3.new_bucket("bench-w2-warmup")  # moto's first GB is slow (heap growth)
    warmup = baseline_upload("w2_warmup", tree, s3.endpoint, warm, "warmup.tar")
    log(f"W2: warm-up upload, untimed ({warmup['seconds']:.2f} s)")
    s3.empty_bucket(warm)
    backups, baselines, crc_baselines = [], [], []

    def plain(trial, bucket):
        key = f"baseline/trial{trial}.tar"
        result = baseline_upload(f"w2_baseline{trial}", tree, s3.endpoint, bucket, key)
        size = s3.object_size(bucket, key)
        baselines.append(result["seconds"])
        log(f"W2: baseline tar | upload {result['seconds']:.2f} s "
            f"({size / 1e9:.3f} GB object)")

    def crc(trial, bucket):
        # informational: the same pipeline asking for the tool's full-object CRC64NVME
        # checksum, which moto computes over a second in-memory copy of the object
        result = baseline_upload(f"w2_baseline_crc{trial}", tree, s3.endpoint, bucket,
                                 f"baseline/crc{trial}.tar", "crc64nvme")
        crc_baselines.append(result["seconds"])
        log(f"W2: baseline with CRC64NVME {result['seconds']:.2f} s")

    def tool(trial, bucket):
        cfg = base / f"cfg{trial}"          # fresh state (and an emptied bucket)
        config = write_config(cfg, bucket, tree, s3.endpoint)
        result = doit_backup(f"w2_backup{trial}", config, measure_rss=True)
        backups.append(result)
        log(f"W2: doit backup {result['seconds']:.2f} s, "
            f"max RSS {result.get('max_rss', 0) / 1e6:.0f} MB, "
            f"tree RSS {result['tree_rss'] / 1e6:.0f} MB, {len(result['bag_lines'])} bags, "
            f"staging at most {result['staging_tars']} tars, "
            f"{result['staging_bytes'] / 1e6:.0f} MB")
        shutil.rmtree(cfg / "stage", ignore_errors=True)

    orders = [(plain, crc, tool), (tool, plain, crc), (crc, tool, plain)]
    for trial in range(W2_TRIALS):
        bucket = s3.new_bucket("bench-w2")
        for step in orders[trial % len(orders)]:   # rotate: no side always goes first
            step(trial, bucket)
            s3.empty_bucket(bucket)
    best = min(b["seconds"] for b in backups)
    figures["w2"] = {"bytes": total, "backups": [b["seconds"] for b in backups],
                     "baselines": baselines, "backup": best, "baseline": min(baselines),
                     "crc_baselines": crc_baselines, "crc_baseline": min(crc_baselines),
                     "ratio": best / min(baselines),
                     "crc_ratio": best / min(crc_baselines),
                     **peaks(backups, base / "cfg0"),
                     "bags": len(backups[0]["bag_lines"])}


def peaks(backups: list, cfg: Path) -> dict:
    """Peak RSS and staging of these backups, and the largest bag (from an inventory)."""
    import json
    bags = json.loads((cfg / "inventory.json").read_text())["bags"].values()
    return {"max_rss": max(b.get("max_rss", 0) for b in backups),
            "tree_rss": max(b["tree_rss"] for b in backups),
            "staging_tars": max(b["staging_tars"] for b in backups),
            "staging_bytes": max(b["staging_bytes"] for b in backups),
            "largest_bag": max(b["size"] for b in bags)}


def workload_uplink(s3: BenchS3, figures: dict) -> None:
    """4: the line is the bottleneck; the overlap of packing and uploading shows."""
    base = WORK / "w4"
    tree = base / "tree"
    start = time.perf_counter()
    tree.mkdir(parents=True)
    for a in range(W4_ATOMS):
        atom = tree / f"atom_{a}"
        atom.mkdir()
        with open(atom / "blob.bin", "wb") as out:
            for _ in range(W4_ATOM_MIB // 10):
                out.write(os.urandom(10 * MIB))
    total = W4_ATOMS * W4_ATOM_MIB * MIB
    log(f"W4: wrote {total / 1e9:.2f} GB in {W4_ATOMS} atoms "
        f"({time.perf_counter() - start:.1f} s)")
    settle("W4")
    line = LoopbackProxy(s3.port, rate=W4_RATE)
    log(f"W4: uplink of {W4_RATE / 1e6:.0f} MB/s at {line.endpoint}")
    backups, baselines, crc_baselines = [], [], []

    def bare(trial, bucket):
        result = baseline_upload(f"w4_baseline{trial}", tree, line.endpoint, bucket,
                                 f"baseline/trial{trial}.tar")
        baselines.append(result["seconds"])
        log(f"W4: bare tar | upload through the line {result['seconds']:.2f} s")

    def crc(trial, bucket):
        result = baseline_upload(f"w4_baseline_crc{trial}", tree, line.endpoint, bucket,
                                 f"baseline/crc{trial}.tar", "crc64nvme")
        crc_baselines.append(result["seconds"])
        log(f"W4: the same with CRC64NVME {result['seconds']:.2f} s")

    def tool(trial, bucket):
        cfg = base / f"cfg{trial}"
        config = write_config(cfg, bucket, tree, line.endpoint,
                              target_gb=W4_ATOM_MIB * MIB / 1e9 + 0.01)  # a bag per atom
        result = doit_backup(f"w4_backup{trial}", config, measure_rss=True)
        backups.append(result)
        log(f"W4: doit backup {result['seconds']:.2f} s, {len(result['bag_lines'])} bags, "
            f"staging at most {result['staging_tars']} tars, "
            f"{result['staging_bytes'] / 1e6:.0f} MB, "
            f"max RSS {result.get('max_rss', 0) / 1e6:.0f} MB")
        shutil.rmtree(cfg / "stage", ignore_errors=True)

    try:
        for trial in range(W4_TRIALS):
            bucket = s3.new_bucket("bench-w4")
            for step in ((bare, crc, tool), (tool, bare, crc))[trial % 2]:
                step(trial, bucket)
                s3.empty_bucket(bucket)
    finally:
        line.stop()
    best = min(b["seconds"] for b in backups)
    figures["w4"] = {"bytes": total, "backups": [b["seconds"] for b in backups],
                     "baselines": baselines, "backup": best, "baseline": min(baselines),
                     "crc_baselines": crc_baselines, "crc_baseline": min(crc_baselines),
                     "ratio": best / min(baselines), **peaks(backups, base / "cfg0"),
                     "bags": len(backups[0]["bag_lines"])}


def workload_many_atoms(s3: BenchS3, figures: dict) -> None:
    base = WORK / "w3"
    tree = base / "tree"
    start = time.perf_counter()
    make_tree_many_atoms(tree)
    log(f"W3: wrote {W3_ATOMS:,} atoms ({time.perf_counter() - start:.1f} s)")
    settle("W3")
    config = write_config(base / "cfg", s3.new_bucket("bench-w3"), tree, s3.endpoint)
    first = doit_backup("w3_first", config)
    log(f"W3: first doit backup {first['seconds']:.2f} s ({len(first['bag_lines'])} bags)")
    reruns = []
    for i in range(3):
        reruns.append(noop_rerun(f"w3_rerun{i}", config)["seconds"])
        log(f"W3: rerun {reruns[-1]:.3f} s")
    figures["w3"] = {"first": first["seconds"], "reruns": reruns, "rerun": min(reruns)}


# ---------------------------------------------------------------- report

def table(figures: dict, total: float) -> str:
    rows = [("figure", "value", "target")]
    if "w1" in figures:
        w = figures["w1"]
        rows += [
            (f"W1 {w['files']:,} files: first doit backup", f"{w['first']:.2f} s", ""),
            ("W1 no-change rerun of doit backup (best of 3)", f"{w['rerun']:.3f} s", ""),
            ("W1 find -printf '%s %T@\\n' (best of 3)", f"{w['find']:.3f} s", ""),
            ("W1 ratio rerun / find", f"{w['ratio']:.2f}x",
             "<= 2x " + ("OK" if w["ratio"] <= 2 else "MISSED")),
        ]
    if "w2" in figures:
        w = figures["w2"]
        rows += [
            (f"W2 {w['bytes'] / 1e9:.2f} GB: full doit backup (best of {W2_TRIALS}, "
             f"{w['bags']} bags)", f"{w['backup']:.2f} s", ""),
            (f"W2 tar | boto3 upload_fileobj(stdin) (best of {W2_TRIALS})",
             f"{w['baseline']:.2f} s", ""),
            (f"W2 same pipeline + CRC64NVME full-object checksum (best of {W2_TRIALS})",
             f"{w['crc_baseline']:.2f} s", ""),
            ("W2 ratio backup / checksum baseline", f"{w['crc_ratio']:.2f}x",
             "<= 1.2x " + ("OK" if w["crc_ratio"] <= 1.2 else "MISSED")),
            ("W2 (info) ratio backup / baseline without checksum", f"{w['ratio']:.2f}x",
             ""),
            ("W2 peak RSS, largest process (/usr/bin/time -v)",
             f"{w['max_rss'] / 1e6:.0f} MB",
             "< 200 MB " + ("OK" if w["max_rss"] < 200e6 else "MISSED")),
            ("W2 peak RSS, whole process tree (sampled 0.1 s)",
             f"{w['tree_rss'] / 1e6:.0f} MB",
             "< 200 MB " + ("OK" if w["tree_rss"] < 200e6 else "MISSED")),
            staging_row("W2", w),
        ]
    if "w3" in figures:
        w = figures["w3"]
        rows += [
            (f"W3 {W3_ATOMS:,} atoms: first doit backup", f"{w['first']:.2f} s", ""),
            ("W3 no-op rerun of doit backup (best of 3)", f"{w['rerun']:.3f} s", ""),
        ]
    if "w4" in figures:
        w = figures["w4"]
        rows += [
            (f"W4 {w['bytes'] / 1e9:.2f} GB, {w['bags']} bags, uplink {W4_RATE / 1e6:.0f} "
             f"MB/s: full doit backup (best of {W4_TRIALS})", f"{w['backup']:.2f} s", ""),
            (f"W4 bare tar | upload through the same line (best of {W4_TRIALS})",
             f"{w['baseline']:.2f} s", ""),
            ("W4 ratio backup / bare upload", f"{w['ratio']:.2f}x",
             "<= 1.1x " + ("OK" if w["ratio"] <= 1.1 else "MISSED")),
            (f"W4 (info) bare upload + CRC64NVME checksum (best of {W4_TRIALS})",
             f"{w['crc_baseline']:.2f} s", ""),
            ("W4 (info) ratio backup / checksum baseline",
             f"{w['backup'] / w['crc_baseline']:.2f}x", ""),
            ("W4 peak RSS, largest process / whole tree",
             f"{w['max_rss'] / 1e6:.0f} MB / {w['tree_rss'] / 1e6:.0f} MB",
             "< 200 MB " + ("OK" if max(w["max_rss"], w["tree_rss"]) < 200e6
                            else "MISSED")),
            staging_row("W4", w),
        ]
    rows.append(("whole bench, wall clock", f"{total:.0f} s", "< ~900 s"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    samples = []
    for name, w in figures.items():
        for k in ("reruns", "finds", "backups", "baselines", "crc_baselines"):
            if k in w:
                samples.append(f"{name} {k}: " + ", ".join(f"{s:.3f}" for s in w[k]))
    return "\n".join(lines + ["", "all samples (s):"] + samples + ["", "context:"]
                     + CONTEXT) + "\n"


def staging_row(name: str, w: dict) -> tuple:
    """Peak staging against the budget: staging_bags (2) of the largest bag, and a
    little for tar's headers."""
    budget = 2 * w["largest_bag"] * 1.01
    return (f"{name} peak staging (sampled 5 ms): tars / bytes",
            f"{w['staging_tars']} / {w['staging_bytes'] / 1e6:.0f} MB",
            "<= 2 bags " + ("OK" if w["staging_tars"] <= 2 and w["staging_bytes"] <= budget
                            else "MISSED"))


CONTEXT = []


def note_context(when: str) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    CONTEXT.append(f"load average {when}: {load} ({os.cpu_count()} CPUs)")


def code_version() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no", "--", "glacier_tasks", "dodo.py"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in glacier_tasks' if dirty else ''}"


WORKLOADS = (workload_small_files, workload_big_files, workload_many_atoms,
             workload_uplink)
# BENCH_ONLY=workload_many_atoms (comma-separated function names) runs only those
ONLY = {w for w in os.environ.get("BENCH_ONLY", "").split(",") if w}


def main() -> int:
    CONTEXT.append(f"code: {code_version()}")
    remove(WORK)
    LOGS.mkdir(parents=True)
    if not shutil.which("tar") or not shutil.which("find"):
        print("bench needs tar and find on PATH", file=sys.stderr)
        return 2
    figures, failed = {}, None
    s3 = BenchS3()
    log(f"moto S3 server on {s3.endpoint} (pid {s3.proc.pid})")
    try:
        for workload in WORKLOADS:
            if ONLY and workload.__name__ not in ONLY:
                continue
            note_context(f"before {workload.__name__}")
            try:
                workload(s3, figures)
            except RuntimeError as err:
                failed = err
                log(f"FAILED {workload.__name__}: {err}")
    finally:
        s3.stop()
    note_context("at the end")
    if os.environ.get("BENCH_KEEP_TREES") != "1":  # 1.3 GB and 232,000 files
        for name in ("w1", "w2", "w3", "w4"):
            remove(WORK / name)
    text = table(figures, time.monotonic() - T0)
    (WORK / "results.txt").write_text(text)
    print("\n" + text, end="")
    print(f"(written to {WORK / 'results.txt'}; command logs in {LOGS})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
