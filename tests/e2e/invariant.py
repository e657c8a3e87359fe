"""The promise every backup keeps, whatever its exit status, checked from the bucket:

every atom in inventory.json points at an object whose size, sha256 and CRC64NVME are
what the inventory records; the bag's manifest (in S3 Standard) lists exactly the
members the tar holds; its member index (where the inventory records one) is the one
recorded and names every member at its first header block (long-name, long-link and
pax blocks included), as Python's tarfile finds them; and `prune` offers no bag the
inventory references, nor any bag this host's newest inventory in the bucket's system
folder references (what a bootstrap would rebuild from, even while the local
inventory has moved past it)."""

import codecs
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tomllib

from glacier_tasks.formats import layout
from glacier_tasks.formats.inventory import atom_name
from glacier_tasks.formats.manifest import read_entry, unescape_name


def check_invariant(project) -> None:
    inventory = project.inventory
    s3, bucket = project.s3, project.bucket
    for atom, entry in inventory["atoms"].items():
        assert entry["archive_key"] in inventory["bags"], atom
        for key in entry.get("increments", []):
            assert key in inventory["bags"], atom
    for key, bag in inventory["bags"].items():
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == bag["size"], key
        assert head["Metadata"].get("sha256") == bag["sha256"], key
        if bag.get("crc64nvme") and head.get("ChecksumCRC64NVME"):
            assert head["ChecksumCRC64NVME"] == bag["crc64nvme"], key
        data = _thawed_bytes(s3, bucket, key)
        assert hashlib.sha256(data).hexdigest() == bag["sha256"], key
        if bag.get("encryption"):
            continue  # the tar inside is checked by the encryption tests' restores
        manifest = s3.get_object(Bucket=bucket, Key=bag["manifest_key"])["Body"].read()
        listed = [entry.name for entry in map(read_entry, manifest.decode().splitlines())
                  if not entry.skipped]
        assert _members(data) == listed, f"{key}: manifest and tar disagree"
        _check_atoms(inventory, key, bag, manifest.decode())
        if bag.get("index_sha256"):
            _check_index(s3, bucket, key, bag, data)
        if bag.get("increment_of"):  # issue 27: its deletion list, as recorded
            listed = s3.get_object(Bucket=bucket, Key=layout.deletions_key(key))
            assert hashlib.sha256(listed["Body"].read()).hexdigest() == \
                bag["deletions_sha256"], key
    prunable = project.run("prune")
    assert prunable.returncode == 0, prunable.stdout + prunable.stderr
    # the bags prune keeps though part of them is dead are named, not offered
    offered = "\n".join(line for line in prunable.stdout.splitlines()
                        if not line.endswith("no atom points at any more"))
    for key in inventory["bags"]:
        assert key not in offered, f"prune offers {key}, which the inventory needs"
        assert layout.deletions_key(key) not in offered, key
    for key in bucket_newest_bags(project):
        assert key not in offered, \
            f"prune offers {key}, which the bucket's newest system inventory needs"


def _check_atoms(inventory, key, bag, manifest: str) -> None:
    """Each atom the inventory puts in this bag is in it, with as many files (all but
    folders) as the inventory records for it: never an atom recorded as packed empty."""
    files, present = {}, set()
    for line in manifest.splitlines():
        entry = read_entry(line)
        folder, path = entry.folder, entry.name
        # a top-level folder is an atom; top-level other entries are the loose atom
        atom = path.split(b"/", 1)[0] if b"/" in path or folder else b"."
        present.add(atom)
        files[atom] = files.get(atom, 0) + (not folder)
    for atom_key in bag["atoms"]:
        entry = inventory["atoms"][atom_key]
        name = os.fsencode(atom_name(entry["molecule"], atom_key))
        if bag.get("increment_of"):
            continue  # holds what changed (maybe nothing but deletions): its chain holds all
        assert name in present, f"{key}: atom {atom_key} is not in the bag"
        if "files" in entry and not entry.get("increments"):  # a chain holds them all
            assert files[name] == entry["files"], \
                f"{key}: atom {atom_key} holds {files[name]} files, the inventory " \
                f"says {entry['files']}"


def bucket_newest_bags(project) -> set:
    """The bags (still in the bucket) of this host's newest system inventory there: of
    each folder's highest-numbered copy, the one written last (`written_at`). An
    encrypted copy is skipped: the encryption tests read those."""
    settings = tomllib.loads(project.config.read_text())["settings"]
    keys = [k for page in project.s3.get_paginator("list_objects_v2").paginate(
        Bucket=project.bucket) for k in (o["Key"] for o in page.get("Contents", []))]
    copies = {}
    for year, host in layout.system_folders(keys):
        if host in (settings.get("host"), None):
            key = layout.newest_system_keys(keys, year, host).get("inventory.json")
            if key and not key.endswith(".age"):
                copies[key] = json.loads(project.s3.get_object(
                    Bucket=project.bucket, Key=key)["Body"].read())
    if not copies:
        return set()
    newest = max(copies.values(), key=lambda inv: inv.get("written_at", ""))
    return set(newest["bags"]) & set(keys)


def _check_index(s3, bucket, key, bag, data: bytes) -> None:
    index = s3.get_object(Bucket=bucket, Key=layout.index_key(key))["Body"].read()
    assert hashlib.sha256(index).hexdigest() == bag["index_sha256"], key
    listed = []
    for line in index.decode().splitlines()[1:]:
        block, _, name = line.partition("\t")
        listed.append((int(block) * 512, unescape_name(name).rstrip(b"/")))
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8",
                      errors="surrogateescape") as tar:
        found = [(m.offset, os.fsencode(m.name)) for m in tar.getmembers()]
    assert listed == found, f"{key}: the member index does not start every member at " \
                            "its first header"


def _thawed_bytes(s3, bucket, key) -> bytes:
    s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={
        "Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _members(tar_bytes: bytes) -> list:
    """Member names as GNU tar reads them (C escapes undone: names may hold newlines)."""
    listing = subprocess.run(["tar", "-t", "--quoting-style=escape", "-f", "-"],
                             input=tar_bytes, capture_output=True, check=True,
                             env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    return [codecs.escape_decode(name)[0].rstrip(b"/")
            for name in listing.stdout.split(b"\n") if name]



def check_written_once(project, seen: dict) -> None:
    """No object seen before was replaced since (keys are written once): `seen` maps
    key -> (ETag, LastModified) and takes in the new keys. A test that deletes or
    damages an object itself removes or updates its entry first."""
    now = {}
    for page in project.s3.get_paginator("list_objects_v2").paginate(
            Bucket=project.bucket):
        for obj in page.get("Contents", []):
            now[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    replaced = sorted(k for k, first in seen.items() if k in now and now[k] != first)
    assert not replaced, f"replaced in the bucket: {replaced}"
    seen.update({k: v for k, v in now.items() if k not in seen})
