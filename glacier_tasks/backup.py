"""One bag's backup: pack, upload, check, upload its manifest, free the staging space.

Each finished step is written to the bag's marker (STATE/bags/NAME.json) before the
next starts; a marker whose content key differs from the plan's is stale and ignored.
So the markers, not doit's database (which kill -9 loses), say what is left to do,
and the bucket is asked last: an object already holding these contents is adopted,
never uploaded twice.
"""

import datetime
import hashlib
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

from tqdm import tqdm

from . import bag as bagmod
from . import crypto
from . import plan as planmod
from . import statefile
from .config import load_settings
from .errors import BagError, GlacierError
from .report import human
from .store import store_for


@lru_cache(maxsize=None)
def settings_for(config_file: str):
    return load_settings(Path(config_file))


def plan_file(state_dir: Path) -> Path:
    return state_dir / "plan.json"


def marker_file(state_dir: Path, name: str) -> Path:
    return state_dir / "bags" / f"{name}.json"


def failure_file(state_dir: Path, name: str) -> Path:
    return state_dir / "failed" / f"{name}.txt"


def read_marker(state_dir: Path, name: str, content_key: str) -> dict:
    """The bag's marker if it belongs to these contents, else a fresh one."""
    try:
        marker = json.loads(marker_file(state_dir, name).read_text())
    except (OSError, ValueError):
        marker = {}
    if marker.get("content_key") != content_key:
        marker = {"content_key": content_key}
    return marker


def bag_is_done(state_dir: str, name: str, content_key: str) -> bool:
    """doit uptodate check: true once the final step's marker holds these contents."""
    return bool(read_marker(Path(state_dir), name, content_key).get("done"))


def find_bag(plan: dict, name: str) -> dict:
    for bag in plan["bags"]:
        if bag["name"] == name:
            return bag
    raise BagError(f"{name}: not in the current plan; run 'doit backup' again")


def run_bag(config_file: str, name: str) -> None:
    """doit action: bring one bag to done; a user-level failure is recorded, not raised,
    so the other bags still run and the final report fails the run."""
    settings = settings_for(config_file)
    failed = failure_file(settings.state_dir, name)
    failed.unlink(missing_ok=True)
    try:
        plan = statefile.read_json(plan_file(settings.state_dir), what="plan")
        if plan is None:
            raise BagError(f"{name}: no plan on disk; run 'doit backup'")
        _run_steps(settings, plan, find_bag(plan, name))
    except GlacierError as err:
        statefile.write_bytes(failed, (str(err) + "\n").encode())
        print(f"FAILED {name}: {err}", flush=True)


def _run_steps(settings, plan, bag):
    state = settings.state_dir
    marker = read_marker(state, bag["name"], bag["content_key"])
    store = store_for(settings)

    def save():
        statefile.write_json(marker_file(state, bag["name"]), marker)

    started = time.monotonic()
    if "uploaded" not in marker:
        _pack_and_upload(settings, plan, bag, marker, store, save)
    if "manifest" not in marker:
        marker["manifest"] = _upload_manifest(settings, plan, bag, store)
        save()
    staged = settings.staging_dir / f"{bag['name']}.tar"
    staged.unlink(missing_ok=True)
    marker["done"] = True
    save()
    receipt = marker["uploaded"]
    how = "already in the bucket, adopted" if receipt.get("reused") else \
        f"uploaded in {time.monotonic() - started:.0f} s"
    print(f"bag {bag['name']}: {len(bag['atoms'])} atoms, {human(receipt['size'])}, "
          f"{how} -> {receipt['key']}", flush=True)


def _pack_and_upload(settings, plan, bag, marker, store, save):
    key = bag["archive_key"]
    head = store.head(key)
    if head and head.get("Metadata", {}).get("content-key") == bag["content_key"]:
        # already there (an earlier run, or state lost): adopt it, never upload again
        packed = marker.get("packed")
        if not (packed and packed["sha256"] == head["Metadata"].get("sha256")):
            marker["packed"] = _adopt(settings, plan, bag, head)
        marker["uploaded"] = _receipt(key, head, reused=True)
        save()
        return
    staged = settings.staging_dir / f"{bag['name']}.tar"
    packed = marker.get("packed")
    if not packed or not staged.exists() or staged.stat().st_size != packed["size"]:
        marker.pop("upload", None)
        packed = marker["packed"] = _pack(settings, plan, bag, staged)
        save()
    if head and head["ContentLength"] == packed["size"] and \
            head.get("Metadata", {}).get("sha256") == packed["sha256"]:
        marker["uploaded"] = _receipt(key, head, reused=True)
        save()
        return

    def remember(resume):
        marker["upload"] = resume
        save()

    metadata = {"sha256": packed["sha256"], "content-key": packed["object_key"]}
    if packed.get("encryption"):  # so that a bag adopted later is known to be encrypted
        metadata["encryption"] = "age"
        metadata["recipients"] = ",".join(packed["encryption"]["recipients"])
    with _bar(packed["size"], f"upload {bag['name']}") as bar:
        sent = store.upload_file(staged, key, settings.storage_class, metadata,
                                 packed["crc64nvme"], marker.get("upload", {}), remember,
                                 bar.update)
    marker["uploaded"] = _verify(settings, store, key, packed, sent)
    marker.pop("upload", None)
    save()


def encryption_of(settings) -> dict | None:
    """What the inventory records for a bag packed now: method and recipients."""
    if settings.encryption != "age":
        return None
    return {"method": "age", "recipients": list(settings.age_recipients)}


def _pack(settings, plan, bag, staged) -> dict:
    molecule_path = Path(plan["molecule_paths"][bag["molecule"]])
    encryption = encryption_of(settings)
    encrypt = crypto.encrypt_command(settings.age_recipients) if encryption else None
    with _bar(bag["size"], f"pack {bag['name']}") as bar:
        packed = bagmod.pack_bag(bag, molecule_path, settings.staging_dir,
                                 settings.manifest_dir, bar.update, encrypt)
    for atom in packed.dirty:
        print(f"WARNING {atom} changed while it was packed; the next backup packs it "
              "again", flush=True)
    return {"size": packed.size, "sha256": packed.sha256, "crc64nvme": packed.crc64nvme,
            "atom_hashes": packed.atom_hashes, "dirty": packed.dirty,
            "object_key": planmod.content_key(bag["archive_key"], packed.atom_hashes),
            "encryption": encryption}


def _adopt(settings, plan, bag, head) -> dict:
    """The bucket already holds this bag's contents: only the manifest is rewritten."""
    molecule_path = Path(plan["molecule_paths"][bag["molecule"]])
    manifest_path = settings.manifest_dir / f"{bag['name']}.txt"
    settings.manifest_dir.mkdir(parents=True, exist_ok=True)
    hashes = bagmod.write_manifest(bag, molecule_path, manifest_path)
    method = head["Metadata"].get("encryption")
    recipients = [r for r in head["Metadata"].get("recipients", "").split(",") if r]
    return {"size": head["ContentLength"], "sha256": head["Metadata"].get("sha256"),
            "crc64nvme": head.get("ChecksumCRC64NVME"), "atom_hashes": hashes,
            "dirty": [], "object_key": bag["content_key"],
            "encryption": {"method": method, "recipients": recipients} if method else None}


def _verify(settings, store, key, packed, sent) -> dict:
    head = store.head(key)
    problem = None
    if head is None:
        problem = "is missing after upload"
    elif head["ContentLength"] != packed["size"]:
        problem = f"has {head['ContentLength']} bytes, expected {packed['size']}"
    elif head.get("StorageClass", "STANDARD") != settings.storage_class:
        problem = f"has storage class {head.get('StorageClass', 'STANDARD')}"
    elif head.get("Metadata", {}).get("sha256") != packed["sha256"]:
        problem = "has another sha256 in its metadata"
    elif head.get("ChecksumCRC64NVME") not in (None, packed["crc64nvme"]):
        problem = "has another CRC64NVME checksum"
    if problem:
        raise BagError(f"{key} {problem}; run backup again to re-upload it")
    receipt = _receipt(key, head, reused=False)
    receipt["parts"] = sent["parts"]
    return receipt


def _receipt(key, head, reused) -> dict:
    return {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
            "sha256": head.get("Metadata", {}).get("sha256"),
            "crc64nvme": head.get("ChecksumCRC64NVME"),
            "storage_class": head.get("StorageClass", "STANDARD"),
            "uploaded_at": _iso(head["LastModified"]), "reused": reused,
            "recorded_at": _iso(datetime.datetime.now(datetime.timezone.utc))}


def _upload_manifest(settings, plan, bag, store) -> dict:
    path = settings.manifest_dir / f"{bag['name']}.txt"
    if not path.exists():
        molecule_path = Path(plan["molecule_paths"][bag["molecule"]])
        bagmod.write_manifest(bag, molecule_path, path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()  # of the plain text, which stays local
    key = bag["manifest_key"]
    head = store.head(key)
    if not (head and head.get("Metadata", {}).get("sha256") == sha):
        metadata = {"sha256": sha}
        if settings.encryption == "age":
            data = crypto.encrypt_bytes(data, settings.age_recipients)
            metadata["encryption"] = "age"
        store.put_bytes(key, data, "STANDARD", metadata)
    return {"key": key, "size": len(data), "sha256": sha}


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bar(total: int, label: str):
    return tqdm(total=total, desc=label, unit="B", unit_scale=True, leave=False,
                disable=not sys.stderr.isatty(), file=sys.stderr)
