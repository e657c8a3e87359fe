"""One bag's way into the bucket: pack, upload, check, upload its manifest, free the
staging space.

Each finished step is written to the bag's marker (see marker.py) before the next
starts, so the markers, not doit's database (which kill -9 loses), say what is left
to do. The bucket is asked last: an object that provably holds these contents is
adopted, never uploaded twice.
"""

import datetime
import hashlib
import sys
import time

from tqdm import tqdm

from . import bag as tarbag
from . import crypto, layout, memberindex, statefile
from .errors import BagError, GlacierError
from .marker import BagMarker, ManifestReceipt, Packed, Receipt, read_marker, write_marker
from .plan import content_key
from .report import human
from .store import bag_problem, metadata_for, store_for


def bring_bag(run, plan, name: str, record: dict | None = None) -> str:
    """Bring one planned bag to done; return the line that says what happened ("" for
    a kept bag found whole). `record` is a kept bag's inventory entry: the bucket is
    asked whether it still holds it, and what is missing or wrong is re-packed and
    re-uploaded (a repair).

    A failure is recorded in STATE/failed/NAME.txt and raised as a BagError; the
    file is removed when the bag later succeeds."""
    failed, repaired = run.failure_file(name), run.repair_file(name)
    failed.unlink(missing_ok=True)
    repaired.unlink(missing_ok=True)
    bag = plan.bag(name)
    try:
        if bag is None:
            raise BagError(f"{name}: not in the current plan; run 'doit backup' again")
        if bag.action == "keep":
            return _check_kept(run, plan, bag, record or {}, repaired)
        return _run_steps(run, plan, bag)
    except GlacierError as err:
        statefile.write_bytes(failed, (str(err) + "\n").encode())
        raise


def _check_kept(run, plan, bag, record: dict, repaired) -> str:
    """One HEAD for the bag, one for its manifest: the bucket, not a marker, says
    whether a kept bag is still there as the inventory records it."""
    store = store_for(run.settings)
    problem = bag_problem(store.head(bag.archive_key), record.get("size"),
                          record.get("sha256"), record.get("storage_class"),
                          record.get("crc64nvme"))
    what = "bag"
    if problem is None:
        manifest = store.head(bag.manifest_key)
        expected = record.get("manifest_sha256")
        if manifest is not None and (expected is None or manifest.sha256 == expected):
            return ""
        problem, what = "has its manifest missing or changed", "manifest"
    if bag.molecule in plan.missing_molecules:  # its files are not here to pack again
        raise BagError(f"{bag.archive_key} {problem}; it cannot be repaired while "
                       f"{bag.molecule} is missing ({plan.missing_reasons[bag.molecule]})")
    if what == "manifest":
        _upload_manifest(run, plan, bag, store, rewrite=True)
    else:
        marker = read_marker(run.marker_file(bag.name), bag.content_key)
        if marker.done or marker.uploaded:  # the bucket says otherwise: start again
            write_marker(run.marker_file(bag.name), BagMarker(bag.content_key))
        _run_steps(run, plan, bag)
    line = f"{bag.archive_key} {problem}; repaired: {what} re-packed and uploaded"
    statefile.write_bytes(repaired, (line + "\n").encode())
    return f"bag {bag.name}: {line}"


def is_done(run, name: str, content: str) -> bool:
    return read_marker(run.marker_file(name), content).done


def _run_steps(run, plan, bag) -> str:
    settings = run.settings
    marker = read_marker(run.marker_file(bag.name), bag.content_key)
    store = store_for(settings)

    def save():
        write_marker(run.marker_file(bag.name), marker)

    if marker.done:  # a marker never outranks the bucket: one HEAD to be sure
        receipt = marker.uploaded
        problem = bag_problem(store.head(receipt.key), receipt.size, receipt.sha256,
                              receipt.storage_class, receipt.crc64nvme)
        if problem is None:
            return ""
        marker = BagMarker(bag.content_key)
        save()
        statefile.write_bytes(run.repair_file(bag.name), (
            f"{receipt.key} {problem}; repaired: bag re-packed and uploaded\n").encode())
    started = time.monotonic()
    if marker.uploaded is None:
        _pack_and_upload(run, plan, bag, marker, store, save)
    if marker.manifest is None:
        marker.manifest = _upload_manifest(run, plan, bag, store, packed=marker.packed)
        save()
    run.staged_tar(bag.name).unlink(missing_ok=True)
    marker.done = True
    save()
    receipt = marker.uploaded
    how = "already in the bucket, adopted" if receipt.reused else \
        f"uploaded in {time.monotonic() - started:.0f} s"
    return (f"bag {bag.name}: {len(bag.atoms)} atoms, {human(receipt.size)}, {how} -> "
            f"{receipt.key}")


def _pack_and_upload(run, plan, bag, marker: BagMarker, store, save):
    settings, key = run.settings, bag.archive_key
    found = store.head(key)
    if adoptable(found, bag.content_key, settings.storage_class):
        # already there (an earlier run, or state lost): adopt it, never upload again
        if not (marker.packed and marker.packed.sha256 == found.sha256):
            marker.packed = _adopt(run, plan, bag, found)
        marker.uploaded = _receipt(found, reused=True)
        save()
        return
    staged = run.staged_tar(bag.name)
    packed = marker.packed
    if not packed or not staged.exists() or staged.stat().st_size != packed.size:
        marker.upload = {}
        packed = marker.packed = _pack(run, plan, bag)
        save()

    def remember(resume):
        marker.upload = resume
        save()

    extra = {}
    if packed.encryption:  # so that a bag adopted later is known to be encrypted
        extra = {"encryption": "age", "recipients": ",".join(packed.encryption["recipients"])}
    metadata = metadata_for(packed.size, packed.sha256, packed.crc64nvme, packed.content_key,
                            extra)
    with _bar(packed.size, f"upload {bag.name}") as bar:
        sent = store.upload_file(staged, key, settings.storage_class, metadata,
                                 packed.crc64nvme, marker.upload, remember, bar.update)
    found = store.head(key)
    problem = bag_problem(found, packed.size, packed.sha256, settings.storage_class,
                          packed.crc64nvme)
    if problem:
        raise BagError(f"{key} {problem} after upload; run backup again to re-upload it")
    marker.uploaded = _receipt(found, reused=False, parts=sent["parts"])
    marker.upload = {}
    save()


def adoptable(found, content: str, storage_class: str) -> bool:
    """Does this object hold these contents, by S3's own account? Its metadata names the
    contents and records what was sent; S3's size, checksum and class must agree."""
    if found is None or found.content_key != content or not found.sent:
        return False
    sent = found.sent
    return found.crc64nvme is not None and bag_problem(
        found, sent["size"], sent["sha256"], storage_class, sent["crc64nvme"]) is None


def encryption_of(settings) -> dict | None:
    """What the inventory records for a bag packed now: method and recipients."""
    if settings.encryption != "age":
        return None
    return {"method": "age", "recipients": list(settings.age_recipients)}


def _pack(run, plan, bag) -> Packed:
    settings = run.settings
    molecule_path = plan.molecule_paths[bag.molecule]
    encryption = encryption_of(settings)
    encrypt = crypto.encrypt_command(settings.age_recipients) if encryption else None
    with _bar(bag.size, f"pack {bag.name}") as bar:
        packed = tarbag.pack_bag(bag, molecule_path, run.staged_tar(bag.name),
                                 run.manifest_file(bag.manifest_key), bar.update, encrypt)
    listing = memberindex.listing_for(run.staged_tar(bag.name))
    if encryption:  # age has no random access: an index would serve nothing
        listing.unlink(missing_ok=True)
    elif listing.exists():
        memberindex.write_index(listing, run.manifest_file(layout.index_key(
            bag.archive_key)), packed.sha256)
    # a file that moved while read fails the bag in pack_bag: nothing is ever "dirty"
    return Packed(size=packed.size, sha256=packed.sha256, crc64nvme=packed.crc64nvme,
                  atom_hashes=packed.atom_hashes,
                  content_key=content_key(bag.archive_key, packed.atom_hashes),
                  encryption=encryption)


def _adopt(run, plan, bag, found) -> Packed:
    """The bucket already holds this bag's contents: only the manifest is rewritten."""
    hashes = tarbag.write_manifest(bag, plan.molecule_paths[bag.molecule],
                                   run.manifest_file(bag.manifest_key))
    method = found.encryption
    return Packed(size=found.size, sha256=found.sha256, crc64nvme=found.crc64nvme,
                  atom_hashes=hashes, content_key=bag.content_key,
                  encryption={"method": method, "recipients": found.recipients}
                  if method else None)


def _receipt(found, reused: bool, parts: int | None = None) -> Receipt:
    return Receipt(key=found.key, size=found.size, etag=found.etag, sha256=found.sha256,
                   crc64nvme=found.crc64nvme, storage_class=found.storage_class,
                   uploaded_at=_iso(found.last_modified), reused=reused,
                   recorded_at=_iso(datetime.datetime.now(datetime.timezone.utc)),
                   parts=parts)


def _upload_manifest(run, plan, bag, store, rewrite=False,
                     packed=None) -> ManifestReceipt:
    settings = run.settings
    path = run.manifest_file(bag.manifest_key)
    if rewrite or not path.exists():
        tarbag.write_manifest(bag, plan.molecule_paths[bag.molecule], path)
    data = path.read_bytes()
    sha = crypto.fingerprint(data, run.fingerprint_key)  # of the text, keyed if encrypted
    found = store.head(bag.manifest_key)
    if rewrite or not (found and found.sha256 == sha):
        metadata = {"sha256": sha}
        if settings.encryption == "age":
            data = crypto.encrypt_bytes(data, settings.age_recipients)
            metadata["encryption"] = "age"
        store.put_bytes(bag.manifest_key, data, "STANDARD", metadata)
    return ManifestReceipt(key=bag.manifest_key, size=len(data), sha256=sha,
                           index_sha256=_upload_index(run, bag, store, packed))


def _upload_index(run, bag, store, packed) -> str | None:
    """Upload the bag's member index (STANDARD) if the one on disk describes this very
    tar, unencrypted; return its sha256, or None for a bag without one."""
    key = layout.index_key(bag.archive_key)
    path = run.manifest_file(key)
    if packed is None or packed.encryption or memberindex.bag_of(path) != packed.sha256:
        return None
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    found = store.head(key)
    if not (found and found.sha256 == sha):
        store.put_bytes(key, data, "STANDARD", {"sha256": sha})
    return sha


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bar(total: int, label: str):
    return tqdm(total=total, desc=label, unit="B", unit_scale=True, leave=False,
                disable=not sys.stderr.isatty(), file=sys.stderr)
