"""A bag's manifest and member index on their way to the bucket (STANDARD, written
once): the last of a bag's steps (bag_steps.manifest_step), and the repair of a kept
bag whose manifest the bucket lost."""

import hashlib

from . import increment, pack as tarbag, taken_keys as taken
from ..errors import ObjectExists
from ..formats import crypto, layout, memberindex
from .marker import ManifestReceipt


def upload(run, plan, bag, store, packed=None) -> ManifestReceipt:
    """Upload the bag's manifest (encrypted with the bag) and its member index; a key
    holding another manifest fails the bag (taken.record_occupied)."""
    settings = run.settings
    path = run.manifest_file(bag.manifest_key)
    if not path.exists():
        tarbag.write_manifest(bag, plan.molecule_paths[bag.molecule], path)
    data = path.read_bytes()
    sha = crypto.fingerprint(data, run.fingerprint_key)  # of the text, keyed if encrypted
    metadata = {"sha256": sha}
    if settings.encryption == "age":
        data = crypto.encrypt_bytes(data, settings.age_recipients)
        metadata["encryption"] = "age"
    def accept(found):  # the manifest the inventory records (a kept bag sent again)
        return bag.action == "keep" and bag.manifest_sha256 is not None and \
            found.sha256 == bag.manifest_sha256
    stored = _put_once(store, bag.manifest_key, data, metadata, accept=accept)
    if stored is None:
        taken.record_occupied(run, bag, bag.manifest_key, "holds another manifest")
    return ManifestReceipt(key=bag.manifest_key, size=len(data), sha256=stored,
                           index_sha256=_upload_index(run, bag, store, packed),
                           deletions_sha256=_upload_deletions(run, bag, store, path))


def _upload_deletions(run, bag, store, manifest_path) -> str | None:
    """An increment bag's deletion list (STANDARD, plain like the index: raw names,
    so that `xargs -0 rm -rf --` reads it); its sha256, None for a whole bag. A key
    holding another list fails the bag: without its list the chain is not true."""
    if not bag.increment_of:
        return None
    key = layout.deletions_key(bag.archive_key)
    data = increment.deletions_path(manifest_path).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if _put_once(store, key, data, {"sha256": sha}) is None:
        taken.record_occupied(run, bag, key, "holds another deletion list")
    return sha


def _upload_index(run, bag, store, packed) -> str | None:
    """Upload the bag's member index (STANDARD) if the one on disk describes this very
    tar, unencrypted; return its sha256, or None for a bag without one."""
    key = layout.index_key(bag.archive_key)
    path = run.manifest_file(key)
    if packed is None or packed.encryption or memberindex.bag_of(path) != packed.sha256:
        return None
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    # another index under this key is not worth failing the bag over: without one,
    # a restore reads the whole bag (it trusts only an index of the recorded sha256)
    return _put_once(store, key, data, {"sha256": sha})


def _put_once(store, key: str, data: bytes, metadata: dict,
              accept=lambda found: False) -> str | None:
    """Write a STANDARD object unless the bucket has it; return the sha256 metadata of
    what the key holds: ours, or another that `accept` admits; None when it holds
    something else, which is never replaced."""
    found = store.head(key)
    if found is None:
        try:
            store.put_bytes(key, data, "STANDARD", metadata)
            return metadata["sha256"]
        except ObjectExists:  # another writer between the HEAD and the PUT
            found = store.head(key)
    if found is not None and (found.sha256 == metadata["sha256"] or accept(found)):
        return found.sha256
    return None
