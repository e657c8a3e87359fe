"""What a restore takes from each bag of an atom's chain (issue 27), against an
in-memory bucket: from each bag only the names whose newest version it holds, so
nothing the atom lost comes back and a bag with nothing newest is not read."""

import hashlib
import stat
from types import SimpleNamespace

from glacier_tasks.bucket.memory import MemoryStore
from glacier_tasks.formats import layout, manifest
from glacier_tasks.formats.records import AtomEntry, BagRecord, Inventory
from glacier_tasks.restore import plan as restore_plan

FILE, FOLDER = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755
ATOM = "/m/Photos"


def _bag(store, year: int, n: int, lines, deleted=None) -> tuple[str, BagRecord]:
    key = layout.archive_key(year, "h", "m", f"bag_{n:03d}")
    text = "".join(manifest.entry_line(name, mode, size, 0) for name, mode, size in lines)
    store.put_bytes(layout.manifest_key(key), text.encode(), "STANDARD", {})
    record = BagRecord(size=1, molecule="/m", atoms=[ATOM],
                       manifest_key=layout.manifest_key(key))
    if deleted is not None:
        data = b"".join(name + b"\0" for name in deleted)
        store.put_bytes(layout.deletions_key(key), data, "STANDARD", {})
        record.increment_of = "hash"
        record.deletions_sha256 = hashlib.sha256(data).hexdigest()
    return key, record


def chain_of(tmp_path):
    """2025: a, old/, old/x, y/, y/b; 2026: y/b changed, old/ gone, y/c new;
    2027: nothing but y/d new."""
    store = MemoryStore()
    base = _bag(store, 2025, 1, [(b"Photos", FOLDER, 0), (b"Photos/a", FILE, 1),
                                 (b"Photos/old", FOLDER, 0), (b"Photos/old/x", FILE, 2),
                                 (b"Photos/y", FOLDER, 0), (b"Photos/y/b", FILE, 3)])
    one = _bag(store, 2026, 2, [(b"Photos", FOLDER, 0), (b"Photos/y", FOLDER, 0),
                                (b"Photos/y/b", FILE, 4), (b"Photos/y/c", FILE, 5)],
               deleted=[b"Photos/old"])
    two = _bag(store, 2027, 3, [(b"Photos/y", FOLDER, 0), (b"Photos/y/d", FILE, 6)],
               deleted=[])
    inventory = Inventory(
        atoms={ATOM: AtomEntry(molecule="/m", archive_key=base[0],
                               increments=[one[0], two[0]])},
        bags=dict([base, one, two]))
    settings = SimpleNamespace(manifest_dir=tmp_path, age_identity_file=None)
    return settings, store, inventory, (base[0], one[0], two[0])


def shares(settings, store, inventory, path):
    targets = restore_plan.resolve_targets(inventory, path)
    return {t.archive_key: (t.step, sorted(t.names))
            for target in targets
            for t in restore_plan.chain_targets(settings, store, inventory, target)}


def test_an_atom_takes_from_each_bag_its_newest_names_only(tmp_path):
    settings, store, inventory, (base, one, two) = chain_of(tmp_path)
    got = shares(settings, store, inventory, ATOM)
    assert got == {
        base: (0, [b"Photos/a"]),  # old/ and old/x were deleted; y/b changed since
        one: (1, [b"Photos/", b"Photos/y/b", b"Photos/y/c"]),
        two: (2, [b"Photos/y/", b"Photos/y/d"]),
    }
    plans = restore_plan.plan_restore(settings, store, inventory,
                                      restore_plan.resolve_targets(inventory, ATOM))
    assert [p.key for p in plans] == [base, one, two]
    wanted = plans[0].wanted
    assert wanted(b"Photos/a") and not wanted(b"Photos/old/x") \
        and not wanted(b"Photos/y/b") and not wanted(b"Photos/old/")
    assert not plans[0].everything  # the bag's other names are older versions


def test_a_folder_reads_only_the_bags_that_hold_its_newest_names(tmp_path):
    settings, store, inventory, (base, one, two) = chain_of(tmp_path)
    got = shares(settings, store, inventory, ATOM + "/y")
    # the base holds nothing of y/ as it is now: it is not thawed at all
    assert got == {one: (0, [b"Photos/y/b", b"Photos/y/c"]),
                   two: (1, [b"Photos/y/", b"Photos/y/d"])}


def test_a_file_reads_the_one_bag_of_its_newest_version(tmp_path):
    settings, store, inventory, (base, one, two) = chain_of(tmp_path)
    assert shares(settings, store, inventory, ATOM + "/y/b") == \
        {one: (0, [b"Photos/y/b"])}
    assert shares(settings, store, inventory, ATOM + "/a") == {base: (0, [b"Photos/a"])}
