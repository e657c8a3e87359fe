"""One bag's way into the bucket, in three steps that doit runs as tasks of their own
(commands/bags.py), so that one bag packs while another uploads:

    tar       check a kept or done bag with one HEAD (repairing it if the bucket lost
              it), else pack into staging_dir
    upload    adopt the object the bucket already holds if it holds our tar, else send
              the staged tar; check it with a HEAD, free its staging space
    manifest  upload the manifest (and member index); the bag is done

Each finished step is written to the bag's marker (see marker.py) before the next
starts, so the markers, not doit's database (which kill -9 loses), say what is left
to do. The bucket is asked first: an object that holds the very tar we packed (S3's
own CRC64NVME of it equals ours) is adopted, never uploaded twice; an object's
metadata alone proves nothing, since its writer chose it. A failed step is recorded in the bag's ledger (ledger.py)
and the bag's later steps stand aside; the other bags go on.

Keys are written once (store.py): what the bucket lost is sent again under its own key,
which is free; a key found holding something else is never replaced: it is recorded
in STATE/occupied/ and the next plan packs the bag's atoms under a new name.
"""

import time
from contextlib import contextmanager

from . import pack as tarbag
from ..formats import checksum, crypto, layout
from . import bag_manifest, remote, staging, taken_keys as taken
from ..config import REMOTE_RE
from ..errors import BagError, GlacierError, ObjectExists, command
from .ledger import BagLedger
from .marker import BagMarker, Packed, Receipt
from .increment import bag_hashes
from .plan import content_key
from ..bucket.objects import bag_problem, holds_packed, metadata_for
from ..units import duration, human, iso_utc, plural


def tar_step(run, plan, name: str) -> str:
    """tar:NAME. A kept bag (as the plan has its inventory record), or one done: one
    HEAD says whether the bucket still holds it; if not, it is packed again (a repair).
    Any other bag is packed into staging_dir, unless its staged tar is already complete
    and intact, or the bucket holds the tar a stopped run packed (adopted). Returns the
    line to print ("" when there is nothing to say)."""
    with _recorded(run, plan, name, begin=True) as ledger:
        bag = _planned(plan, name)
        store = run.store
        marker = ledger.marker()
        if bag.action == "keep" and not marker.repair or marker.done:
            line, problem = _check_in_bucket(run, plan, bag, marker, store)
            if problem is None:
                return line
            marker = _repairing(run, bag, marker, problem)
        if bag.repairs and not marker.repair and marker.uploaded is None:
            marker.repair = f"{'; '.join(bag.repairs)}; repaired: its atoms re-packed " \
                            f"into {bag.archive_key}"
            ledger.save(marker)
        if marker.uploaded is None:
            _adopt_or_pack(run, plan, bag, marker, store)
        return ""


def upload_step(run, plan, name: str) -> str:
    """upload:NAME: send the staged tar (resuming an unfinished multipart upload), check
    it with a HEAD, then free its staging space. A bag the bucket already holds (a
    stopped run's upload, finished after all) is adopted instead."""
    with _recorded(run, plan, name) as ledger:
        bag = _planned(plan, name)
        marker = ledger.marker()
        if marker.uploaded is not None:
            return ""
        if not ledger.tar_ready(marker):
            if bag.action == "keep" and marker.packed is None:
                return ""  # still in the bucket: nothing to send
            if ledger.failed:
                return ""  # its tar step failed and said so
            raise BagError(f"{name}: not packed yet; run '{command('backup')}' again")
        # packed and whole (its tar step may have had nothing to do this run): an
        # earlier run's failure is retried now
        ledger.clear_failure()
        store = run.store
        found = store.head(bag.archive_key)
        if not _adopted(run, bag, marker, found):
            if found is not None:  # never sent over: it would be refused at the end
                taken.record_occupied(run, bag, bag.archive_key, _not_ours(found, bag))
            _check_staged(run, bag, marker)
            _upload(run, bag, marker, store)
        ledger.free_staging()
        return ""


def manifest_step(run, plan, name: str) -> str:
    """manifest:NAME: upload the manifest (and the member index), then mark the bag
    done; return the bag's closing line."""
    with _recorded(run, plan, name) as ledger:
        bag = _planned(plan, name)
        marker = ledger.marker()
        if marker.done or marker.uploaded is None:
            return ""  # done, kept and whole, or its upload failed and said so
        receipt, store = marker.uploaded, run.store
        problem = bag_problem(store.head(receipt.key), receipt.size, receipt.sha256,
                              receipt.storage_class, receipt.crc64nvme)
        if problem:  # gone since its upload (a stopped run's marker): start it again
            _start_again(run, bag, marker)
            if problem != "missing":  # there, but not ours: never sent over
                taken.record_occupied(run, bag, receipt.key, f"{problem} since it was uploaded")
            raise BagError(f"{receipt.key} {problem} since it was uploaded; run "
                           f"'{command('backup')}' again to send it anew")
        if marker.manifest is None:
            progress = run.progress
            progress.step("manifest", name, "started")
            marker.manifest = bag_manifest.upload(run, plan, bag, run.store,
                                               packed=marker.packed)
            ledger.save(marker)
            progress.step("manifest", name, "done")
        ledger.free_staging()
        marker.done = True
        ledger.save(marker)
        run.progress.finished(name)
        if marker.repair:
            ledger.record_repair(marker.repair)
            return f"bag {name}: {marker.repair}"
        receipt = marker.uploaded
        how = "already in the bucket, adopted" if receipt.reused else \
            f"uploaded in {receipt.seconds or 0:.0f} s"
        return (f"bag {name}: {plural(len(bag.atoms), 'atom')}, {human(receipt.size)}, "
                f"{how} -> {receipt.key}")


@contextmanager
def _recorded(run, plan, name: str, begin=False):
    """Yield the bag's ledger; a failure is written to it (for the closing report, and
    so that its later steps stand aside), then raised. `begin`: the tar step, the
    first of this run, forgets an earlier run's failure and repair."""
    bag = plan.bag(name)
    ledger = BagLedger.of(run, bag) if bag else BagLedger(run, name, "")
    if begin:
        ledger.begin_run()
    try:
        yield ledger
    except GlacierError as err:
        ledger.fail(str(err))
        raise


def _planned(plan, name: str):
    bag = plan.bag(name)
    if bag is None:
        raise BagError(f"{name}: not in the current plan; run '{command('backup')}' again")
    return bag


def _save(run, bag, marker: BagMarker) -> None:
    BagLedger.of(run, bag).save(marker)


def _check_in_bucket(run, plan, bag, marker: BagMarker, store):
    """(line, problem): problem is None when the bucket holds the bag as recorded (a
    kept bag's inventory entry, or a done bag's receipt); a kept bag's lost manifest is
    rewritten here, and `line` says so. A marker never outranks the bucket."""
    if bag.action == "keep":
        want = (bag.size, bag.sha256, bag.storage_class, bag.crc64nvme)
        key = bag.archive_key
    else:
        receipt = marker.uploaded
        want = (receipt.size, receipt.sha256, receipt.storage_class, receipt.crc64nvme)
        key = receipt.key
    problem = bag_problem(store.head(key), *want)
    if problem is None and bag.increment_of:
        deletions = store.head(layout.deletions_key(key))
        if deletions is None or deletions.sha256 != _deletions_sha256(plan, bag, marker):
            taken.record_occupied(run, bag, key, "has its deletion list missing or "
                                  f"changed; {NEVER_AGAIN}")
    if problem is None and bag.action == "keep":
        manifest = store.head(bag.manifest_key)
        expected = bag.manifest_sha256
        changed = manifest is not None and expected is not None \
            and manifest.sha256 != expected
        if manifest is None or changed:
            if layout.owner(key) != run.settings.host:
                raise BagError(f"{key} has its manifest missing or changed; it is host "
                               f"{layout.owner(key)}'s bag, which this machine never "
                               "writes")
            if _in_chain(plan, bag):  # its manifest lists what the disk held then
                taken.record_occupied(run, bag, bag.manifest_key, "lost its manifest; "
                                      f"{NEVER_AGAIN}")
            _needs_molecule(plan, bag, "has its manifest missing or changed")
            if bag.dead:  # the disk no longer holds what its tar holds: not rewritable
                taken.record_occupied(run, bag, bag.manifest_key, "lost its manifest, "
                                      "and atoms moved out of it since it was packed")
            if changed:
                taken.record_occupied(run, bag, bag.manifest_key,
                                      "holds another manifest than the one recorded")
            if bag.atoms and _moved(plan, tarbag.write_manifest(
                    bag, plan.molecule_paths[bag.molecule],
                    run.manifest_file(bag.manifest_key))):
                raise BagError(f"{key}: its manifest is missing and its atoms changed "
                               "since the scan; the next backup packs them anew")
            # the inventory records the manifest now in the bucket (with a new keyed
            # hash when the state, and the key, were lost since)
            marker.manifest = bag_manifest.upload(run, plan, bag, store)
            _save(run, bag, marker)
            line = f"{key} has its manifest missing; repaired: manifest re-packed and " \
                   "uploaded"
            BagLedger.of(run, bag).record_repair(line)
            return f"bag {bag.name}: {line}", None
    if problem is None:
        return "", None
    if layout.owner(key) != run.settings.host:  # e.g. an inventory from bootstrap --host
        raise BagError(f"{key} {problem}; it is host {layout.owner(key)}'s bag, which "
                       "this machine never writes")
    _needs_molecule(plan, bag, problem)
    if problem != "missing":
        taken.record_occupied(run, bag, key, problem)
    if _in_chain(plan, bag):  # what it held was the disk then, against the chain then
        taken.record_occupied(run, bag, key, f"{problem}; {NEVER_AGAIN}")
    if bag.dead:  # its manifest and index, written once, still list the atoms that
        # moved out: a tar re-packed from disk without them goes under a new name
        taken.record_occupied(run, bag, key, "missing, and atoms moved out of it since "
                              "it was packed (its manifest still lists them)")
    return "", f"{key} {problem}; repaired: bag re-packed and uploaded"


NEVER_AGAIN = "a bag of an increment chain is never packed again: its atom is " \
    "packed whole by the next backup"


def _in_chain(plan, bag) -> bool:
    """An increment, or the base of one: the disk now is not what it holds, so it is
    never packed again (the plan re-bases a chain it sees broken; this is for one
    broken after the plan)."""
    return bool(bag.increment_of) or any(
        plan.atoms[a].increments for a in bag.atoms if a in plan.atoms)


def _deletions_sha256(plan, bag, marker: BagMarker) -> str | None:
    """The deletion list an increment bag was recorded with (its marker's, once
    sent; a kept one's, as the plan copied it from the inventory)."""
    if marker.manifest is not None and marker.manifest.deletions_sha256:
        return marker.manifest.deletions_sha256
    return bag.deletions_sha256


def _needs_molecule(plan, bag, problem: str) -> None:
    if bag.molecule in plan.missing_molecules:  # its files are not here to pack again
        raise BagError(f"{bag.archive_key} {problem}; it cannot be repaired while "
                       f"{bag.molecule} is missing ({plan.missing_reasons[bag.molecule]})")


def _repairing(run, bag, marker: BagMarker, repair: str) -> BagMarker:
    """The bucket lost (or broke) the bag: its steps start again. A repair a stopped
    run began goes on from where it was."""
    if marker.repair and not (marker.done or marker.uploaded):
        return marker
    marker = BagLedger.of(run, bag).start_again(repair)
    run.progress.add_bag(bag.name, bag.size)
    return marker


def _adopt_or_pack(run, plan, bag, marker: BagMarker, store) -> None:
    ledger = BagLedger.of(run, bag)
    if ledger.tar_ready(marker) or _adopted(
            run, bag, marker, store.head(bag.archive_key) if marker.packed else None):
        return  # packed and intact (the upload step asks the bucket first), or adopted
    staging.make_room(run, plan, bag)
    marker.upload = {}
    marker.packed = _pack(run, plan, bag)
    ledger.packed_now()
    ledger.save(marker)


def _adopted(run, bag, marker: BagMarker, found) -> bool:
    """Already in the bucket (a stopped run's upload that finished after all, or one
    whose state was lost and whose bag was packed again): adopt it, never upload it
    again; but only bytes this machine packed, by S3's own checksum of the object
    (`found`, a HEAD) against ours (metadata is whatever the object's writer chose)."""
    if not holds_packed(found, marker.packed, run.settings.storage_class):
        return False
    marker.uploaded = _receipt(found, reused=True)
    _save(run, bag, marker)
    run.progress.adopted(bag.name)
    return True


def _not_ours(found, bag) -> str:
    """Why an object at a bag's key is not the tar packed now, in words."""
    if found.content_key == bag.content_key:
        return ("holds an upload of these atoms made of other bytes than the tar packed "
                "now (an owner or mode changed since, or someone else's object)")
    return "holds other contents"


def _start_again(run, bag, marker: BagMarker) -> None:
    """The bag's steps start over next run (a repair it was stays one)."""
    ledger = BagLedger.of(run, bag)
    ledger.free_staging()
    ledger.start_again(marker.repair)


def _check_staged(run, bag, marker: BagMarker) -> None:
    """A staged tar an earlier run left is hashed before it is sent: a file of the
    right size may have changed on disk since, and an upload under the bag's key can
    never be taken back. A damaged one is dropped and packed again next run."""
    ledger = BagLedger.of(run, bag)
    if ledger.packed_here:
        return
    staged = ledger.staged
    if checksum.sha256_of(staged) != marker.packed.sha256:
        _start_again(run, bag, marker)
        raise BagError(f"{staged}: the staged tar changed on disk since it was packed; "
                       "dropped, it is packed again on the next run")


def _upload(run, bag, marker: BagMarker, store) -> None:
    settings, key, packed = run.settings, bag.archive_key, marker.packed
    staged = run.staged_tar(bag.name)

    def remember(resume):
        marker.upload = resume
        _save(run, bag, marker)

    extra = {}
    if packed.encryption:  # so that a bag adopted later is known to be encrypted
        extra = {"encryption": "age", "recipients": ",".join(packed.encryption["recipients"])}
    metadata = metadata_for(packed.size, packed.sha256, packed.crc64nvme, packed.content_key,
                            extra)
    progress = run.progress
    progress.resize(bag.name, packed.size)
    progress.step("upload", bag.name, "started", human(packed.size))
    started = time.monotonic()
    try:
        with progress.upload_bar(bag.name, packed.size) as acknowledged:
            sent = store.upload_file(staged, key, settings.storage_class, metadata,
                                     packed.crc64nvme, marker.upload, remember,
                                     acknowledged)
    except ObjectExists:  # taken since the plan: ours after all (a stopped run's), or not
        found = store.head(key)
        if not holds_packed(found, packed, settings.storage_class):
            taken.record_occupied(run, bag, key, "holds other contents")
        marker.uploaded, marker.upload = _receipt(found, reused=True), {}
        _save(run, bag, marker)
        run.progress.adopted(bag.name)
        return
    seconds = time.monotonic() - started
    found = store.head(key)
    problem = bag_problem(found, packed.size, packed.sha256, settings.storage_class,
                          packed.crc64nvme)
    if problem:  # the key is used up (written once): the atoms go under a new name
        _start_again(run, bag, marker)
        taken.record_occupied(run, bag, key, f"{problem} after upload")
    marker.uploaded = _receipt(found, reused=False, parts=sent["parts"], seconds=seconds)
    marker.upload = {}
    _save(run, bag, marker)
    progress.step("upload", bag.name, "done",
                  f"{human(packed.size)} in {duration(seconds)}, "
                  f"{human(packed.size / max(seconds, 1e-3))}/s")


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
    progress = run.progress
    progress.step("tar", bag.name, "started", f"{human(bag.size)} planned")
    started = time.monotonic()
    with progress.pack_bar(bag.name, bag.size) as written:
        packed = tarbag.pack_bag(bag, molecule_path, run.staged_tar(bag.name),
                                 run.manifest_file(bag.manifest_key), written, encrypt,
                                 _remote_tar(settings, bag.molecule),
                                 run.state_dir if settings.increment_below > 0 or
                                 bag.increment_of else None)
    lost = lost_since_scan(bag, plan.atoms, packed.atom_entries, packed.left_out)
    if lost:
        _drop_staged(run, bag)
        raise BagError(_lost_text(bag, plan, lost))
    progress.resize(bag.name, packed.size)
    progress.step("tar", bag.name, "done",
                  f"{human(packed.size)} in {duration(time.monotonic() - started)}")
    for atom, why in packed.left_out.items():
        progress.step("tar", bag.name, "left out", f"atom {atom}: {why}; it keeps its "
                      "previous bag, the bag's other atoms go on")
    # a file that moved while read fails the bag in pack_bag: nothing is ever "dirty"
    return Packed(size=packed.size, sha256=packed.sha256, crc64nvme=packed.crc64nvme,
                  atom_hashes=packed.atom_hashes,
                  content_key=content_key(bag.archive_key,
                                          bag_hashes(bag, packed.atom_hashes)),
                  encryption=encryption,
                  atom_files={k: files for k, (_, files) in packed.atom_entries.items()},
                  left_out=packed.left_out or None)


def lost_since_scan(bag, planned: dict, packed: dict, left_out=()) -> list:
    """The bag's atoms that the scan saw holding files and the pack found gone or
    emptied: (atom key, files then, entries now). A drive unmounted or an atom renamed
    during the run looks like this; packed, it would record the atom as empty and
    leave its only copy to be pruned. Other changes since the scan (a file edited,
    added or removed) are packed as they are now: the pack's own walk saw them."""
    lost = []
    for key in bag.atoms:
        if key in left_out:
            continue  # not packed on purpose (a file that kept moving): said so
        then = planned[key].files if key in planned else 0
        entries, now = packed.get(key, (0, 0))
        if (then and not now) or (not entries and planned.get(key)):
            lost.append((key, then, entries))
    return lost


def _lost_text(bag, plan, lost) -> str:
    key, then, entries = lost[0]
    more = f" (and {len(lost) - 1} more atoms)" if len(lost) > 1 else ""
    where = plan.molecule_paths.get(bag.molecule, bag.molecule)
    state = "gone" if not entries else "empty"
    state += f" ({plural(then, 'file')} when scanned)" if then else ""
    return (f"{bag.name}: atom {key}{more} is {state} now: was a drive unmounted or a "
            f"folder moved in {where} during the run? Nothing of it is recorded; its "
            "previous bag stays. Run backup again once it is back (a folder really "
            "removed is then seen as removed)")


def _drop_staged(run, bag) -> None:
    """A packed bag that must not go anywhere: its staged tar, manifest and index."""
    BagLedger.of(run, bag).free_staging()
    run.manifest_file(bag.manifest_key).unlink(missing_ok=True)
    run.manifest_file(layout.index_key(bag.archive_key)).unlink(missing_ok=True)


def _remote_tar(settings, molecule: str):
    """A remote molecule's bags are written by tar on its host (sparse files kept)."""
    if not REMOTE_RE.match(molecule):
        return None
    return remote.remote_tar(molecule, settings.sshfs_options)


def _moved(plan, hashes: dict) -> bool:
    """Do these atom hashes differ from the plan's (taken when the atoms were scanned)?"""
    return any(atom not in plan.atoms or plan.atoms[atom].last_metadata_hash != digest
               for atom, digest in hashes.items())


def _receipt(found, reused: bool, parts: int | None = None,
             seconds: float | None = None) -> Receipt:
    return Receipt(key=found.key, size=found.size, etag=found.etag, sha256=found.sha256,
                   crc64nvme=found.crc64nvme, storage_class=found.storage_class,
                   uploaded_at=iso_utc(found.last_modified), reused=reused,
                   recorded_at=iso_utc(),
                   parts=parts, seconds=seconds)
