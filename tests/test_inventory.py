"""inventory.json from a plan and the bags' markers; atomic writes; damaged files."""

import datetime
import json
import os

import pytest

from glacier_tasks.errors import StateError
from glacier_tasks.formats import inventory as inventory_format
from glacier_tasks.formats.inventory import load_inventory, stale_against, write_inventory
from tests.support.builders import typed
from glacier_tasks.backup.marker import BagMarker, ManifestReceipt, Packed, Receipt
from glacier_tasks.backup.plan import AtomState, MoleculeState, plan_bags

MOL = "/data/m0"
EMPTY = {"version": 1, "atoms": {}, "bags": {}}
CONTRACT_BAG_FIELDS = {"tar_id", "molecule", "size", "sha256", "storage_class",
                       "uploaded_at", "atoms", "manifest_key"}
CONTRACT_ATOM_FIELDS = {"molecule", "last_metadata_hash", "tar_id", "archive_key",
                        "pinned", "size", "files"}


def a(name):
    return f"{MOL}/{name}"


def plan_for(year, sizes_and_hashes, previous=EMPTY, present=True):
    atoms = [AtomState(a(n), MOL, h, size, 2, size)
             for n, (size, h) in sizes_and_hashes.items()]
    return plan_bags(atoms, [MoleculeState(MOL, "m0", present)], typed(previous), 10, year,
                     "host",
                     bag_bytes=lambda members: members)  # sums, as worked out below


def build_inventory(plan, markers, previous, **options) -> dict:
    """The inventory built, as its file holds it."""
    return inventory_format.build_inventory(plan, markers, typed(previous),
                                            **options).to_json()


def bag(plan, tar_id):
    return next(b for b in plan.bags if b.tar_id == tar_id)


def done_marker(plan, planned, atom_hashes=None, size=12345):
    hashes = atom_hashes or {x: plan.atoms[x].last_metadata_hash
                             for x in planned.atoms}
    return BagMarker(
        content_key=planned.content_key, done=True,
        packed=Packed(atom_hashes=hashes, content_key=planned.content_key, size=size,
                      sha256="5" * 64, crc64nvme="crc=="),
        uploaded=Receipt(key=planned.archive_key, size=size, sha256="5" * 64,
                         etag="etag-" + planned.tar_id, crc64nvme="crc==",
                         storage_class="DEEP_ARCHIVE",
                         uploaded_at="2026-01-15T10:00:00Z", reused=False))


def all_done(plan):
    return {b.name: done_marker(plan, b) for b in plan.uploads}


def check_consistent(inventory):
    """Every atom names a bag the inventory holds, and that bag lists the atom."""
    for key, entry in inventory["atoms"].items():
        assert CONTRACT_ATOM_FIELDS <= set(entry), key
        record = inventory["bags"][entry["archive_key"]]
        assert key in record["atoms"]
        assert record["tar_id"] == entry["tar_id"]
        assert record["molecule"] == entry["molecule"]


# 2025, target 10: C8 -> bag_001; A6 -> bag_002; B4 joins A (10)
FIRST = {"A": (6, "a1"), "B": (4, "b1"), "C": (8, "c1")}
# 2026: A grows to 9 and changes, N is new. bag_001 {C} is kept; bag_002 is dissolved:
# A9 -> 2026 bag_002 (its tar_id reused); B4 -> new bag_003; N3 joins B (7)
SECOND = {"A": (9, "a2"), "B": (4, "b1"), "C": (8, "c1"), "N": (3, "n1")}


def first_inventory():
    plan = plan_for(2025, FIRST)
    return build_inventory(plan, all_done(plan), EMPTY)


def test_uploaded_bags_are_recorded():
    plan = plan_for(2025, FIRST)
    inventory = build_inventory(plan, all_done(plan), EMPTY)
    assert inventory["version"] == 1 and inventory["year"] == 2025
    assert list(inventory["bags"]) == ["2025-backup/host_m0_bag_001.tar",
                                       "2025-backup/host_m0_bag_002.tar"]
    record = inventory["bags"]["2025-backup/host_m0_bag_002.tar"]
    assert CONTRACT_BAG_FIELDS <= set(record)
    assert record["tar_id"] == "bag_002"
    assert record["molecule"] == MOL
    assert record["size"] == 12345  # the tar's size, from the upload receipt
    assert record["sha256"] == "5" * 64
    assert record["storage_class"] == "DEEP_ARCHIVE"
    assert record["uploaded_at"] == "2026-01-15T10:00:00Z"
    assert record["atoms"] == [a("A"), a("B")]
    assert record["manifest_key"] == "2025-backup/manifests/host_m0_bag_002.txt"
    assert record["content_key"] == bag(plan, "bag_002").content_key
    assert "pending" not in record
    assert inventory["atoms"][a("B")] == {
        "molecule": MOL, "last_metadata_hash": "b1", "tar_id": "bag_002",
        "archive_key": "2025-backup/host_m0_bag_002.tar", "pinned": False,
        "size": 4, "apparent_size": 4, "files": 2}
    check_consistent(inventory)


def test_uploaded_record_takes_the_receipts_of_the_marker():
    plan = plan_for(2025, FIRST)
    markers = all_done(plan)
    planned = bag(plan, "bag_002")
    marker = markers[planned.name]
    marker.manifest = ManifestReceipt(key=planned.manifest_key, size=321, sha256="m" * 64)
    marker.packed.encryption = {"method": "age", "recipients": ["age1xyz"]}
    record = build_inventory(plan, markers, EMPTY)["bags"][planned.archive_key]
    assert record["etag"] == "etag-bag_002"
    assert record["crc64nvme"] == "crc=="
    assert record["manifest_sha256"] == "m" * 64
    assert record["encryption"] == {"method": "age", "recipients": ["age1xyz"]}
    assert record["files"] == planned.files == 4
    other = build_inventory(plan, all_done(plan), EMPTY)["bags"][planned.archive_key]
    assert other["manifest_sha256"] is None and other["encryption"] is None


def test_hash_recorded_is_the_one_packed():
    plan = plan_for(2025, FIRST)
    markers = all_done(plan)
    planned = bag(plan, "bag_002")
    markers[planned.name] = done_marker(plan, planned,
                                        {a("A"): "dirty:changed", a("B"): "b1"})
    inventory = build_inventory(plan, markers, EMPTY)
    # A changed while it was packed: the next run must see it as changed
    assert inventory["atoms"][a("A")]["last_metadata_hash"] == "dirty:changed"
    assert inventory["atoms"][a("B")]["last_metadata_hash"] == "b1"


def test_next_year_all_done():
    previous = first_inventory()
    plan = plan_for(2026, SECOND, previous)
    assert [(b.archive_key, b.action) for b in plan.bags] == [
        ("2025-backup/host_m0_bag_001.tar", "keep"),
        ("2026-backup/host_m0_bag_002.tar", "upload"),
        ("2026-backup/host_m0_bag_003.tar", "upload")]
    inventory = build_inventory(plan, all_done(plan), previous)
    assert list(inventory["bags"]) == [b.archive_key for b in plan.bags]
    kept = "2025-backup/host_m0_bag_001.tar"
    assert inventory["bags"][kept] == previous["bags"][kept]
    assert inventory["atoms"][a("C")] == previous["atoms"][a("C")]
    assert inventory["atoms"][a("N")]["archive_key"] == "2026-backup/host_m0_bag_003.tar"
    assert inventory["atoms"][a("A")]["last_metadata_hash"] == "a2"
    check_consistent(inventory)


def test_bag_not_done_keeps_previous_entries_and_record():
    previous = first_inventory()
    plan = plan_for(2026, SECOND, previous)
    markers = all_done(plan)
    packed_only = markers["host_m0_bag_003"]  # packed, then its upload failed
    markers["host_m0_bag_003"] = BagMarker(packed_only.content_key,
                                           packed=packed_only.packed)
    inventory = build_inventory(plan, markers, previous)

    old = "2025-backup/host_m0_bag_002.tar"
    assert inventory["atoms"][a("B")] == previous["atoms"][a("B")]  # still in old bag
    assert old in inventory["bags"]
    derived = ("atoms", "referenced_bytes")  # from the atoms that point at it now
    assert {k: v for k, v in inventory["bags"][old].items() if k not in derived} == \
        {k: v for k, v in previous["bags"][old].items() if k not in derived}
    assert a("N") not in inventory["atoms"]  # new, and not uploaded
    assert "2026-backup/host_m0_bag_003.tar" not in inventory["bags"]
    assert inventory["atoms"][a("A")]["archive_key"] == "2026-backup/host_m0_bag_002.tar"
    check_consistent(inventory)


def test_no_marker_at_all_keeps_the_previous_inventory():
    previous = first_inventory()
    plan = plan_for(2026, SECOND, previous)
    inventory = build_inventory(plan, {}, previous)
    assert inventory["atoms"] == previous["atoms"]
    assert inventory["bags"] == previous["bags"]


def test_dry_run_marks_bags_pending():
    previous = first_inventory()
    plan = plan_for(2026, SECOND, previous)
    inventory = build_inventory(plan, {}, previous, pending_ok=True)
    new = "2026-backup/host_m0_bag_003.tar"
    assert inventory["bags"][new]["pending"] is True
    assert inventory["bags"][new]["sha256"] is None
    assert inventory["bags"][new]["atoms"] == [a("B"), a("N")]
    assert inventory["atoms"][a("N")]["archive_key"] == new
    kept = "2025-backup/host_m0_bag_001.tar"
    assert inventory["bags"][kept] == previous["bags"][kept]
    assert "pending" not in inventory["bags"][kept]
    assert "2025-backup/host_m0_bag_002.tar" not in inventory["bags"]
    check_consistent(inventory)


def test_missing_molecule_keeps_its_atoms_and_bags():
    previous = first_inventory()
    plan = plan_for(2026, {}, previous, present=False)
    inventory = build_inventory(plan, {}, previous)
    assert inventory["atoms"] == previous["atoms"]
    assert inventory["bags"] == previous["bags"]


def test_removed_atom_leaves_the_inventory():
    previous = first_inventory()
    plan = plan_for(2026, {"A": (6, "a1"), "C": (8, "c1")}, previous)
    inventory = build_inventory(plan, all_done(plan), previous)
    assert a("B") not in inventory["atoms"]
    assert all(a("B") not in record["atoms"] for record in inventory["bags"].values())
    check_consistent(inventory)


# ---------------------------------------------------------------- files


def write(path, inventory) -> bool:
    return write_inventory(path, typed(inventory))


def load(path) -> dict:
    """The inventory loaded, as its file would hold it again."""
    return load_inventory(path).to_json()


def test_write_inventory_atomically_with_backup(tmp_path):
    path = tmp_path / "inventory.json"
    first = first_inventory()
    assert write(path, first) is True
    assert without_written_at(json.loads(path.read_text())) == first
    assert not (tmp_path / "inventory.json.bak").exists()
    first_text = path.read_text()

    second = build_inventory(plan_for(2026, SECOND, first), {}, first, pending_ok=True)
    assert write(path, second) is True
    assert without_written_at(json.loads(path.read_text())) == second
    assert (tmp_path / "inventory.json.bak").read_text() == first_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.json",
                                                          "inventory.json.bak"]


def test_write_inventory_skips_identical_content(tmp_path):
    path = tmp_path / "inventory.json"
    inventory = first_inventory()
    write(path, inventory)
    os.utime(path, ns=(10**18, 10**18))
    assert write(path, json.loads(json.dumps(inventory))) is False
    assert path.stat().st_mtime_ns == 10**18
    assert not (tmp_path / "inventory.json.bak").exists()


def test_load_missing_inventory_is_empty(tmp_path):
    assert load(tmp_path / "inventory.json") == EMPTY


def test_load_round_trip(tmp_path):
    path = tmp_path / "inventory.json"
    write(path, first_inventory())
    assert without_written_at(load(path)) == first_inventory()


def test_written_at_is_the_real_time_of_a_write_that_changed_something(tmp_path):
    path = tmp_path / "inventory.json"
    write(path, first_inventory())
    stamp = load(path)["written_at"]
    assert stamp.startswith(str(datetime.date.today().year)) and stamp.endswith("Z")
    assert write(path, load(path)) is False  # same content
    assert write(path, first_inventory()) is False     # stamp alone differs


def without_written_at(inventory: dict) -> dict:
    return {k: v for k, v in inventory.items() if k != "written_at"}


@pytest.mark.parametrize("text", ['{"version": 1, "atoms": {', "\xff garbage",
                                  "[]", '{"atoms": {}}', '{"atoms": [], "bags": {}}'])
def test_load_damaged_inventory_names_the_path(tmp_path, text):
    path = tmp_path / "inventory.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(StateError) as err:
        load(path)
    assert str(path) in str(err.value)
    # its .bak is an older run's: it would not know the newest bags
    assert "glacier bootstrap" in str(err.value) and ".bak" not in str(err.value)


@pytest.mark.parametrize("edit, words", [
    (lambda inv: inv["atoms"]["/m/A"].update(molecule=5), 'atoms["/m/A"].molecule is 5'),
    (lambda inv: inv["atoms"]["/m/A"].update(pinned="yes"), "pinned is \"yes\", not true"),
    (lambda inv: inv["bags"]["k.tar"].update(size=True), "size is true, not a whole"),
    (lambda inv: inv.update(history=[]), "history is [], not an object"),
    (lambda inv: inv.update(history={"o.tar": {"superseded_on": "soon"}}),
     'history["o.tar"].superseded_on is "soon", not a date'),
    (lambda inv: inv["bags"].clear(), 'atoms["/m/A"].archive_key names "k.tar", which'),
    (lambda inv: inv["atoms"].update({"/m/B": []}), 'atoms["/m/B"] is a list'),
    (lambda inv: inv["atoms"]["/m/A"].pop("archive_key"), 'atoms["/m/A"] has no archive')])
def test_a_field_of_the_wrong_type_is_named(tmp_path, edit, words):
    inv = {"version": 1, "atoms": {"/m/A": {"molecule": "/m", "archive_key": "k.tar",
                                            "pinned": False, "size": 1}},
           "bags": {"k.tar": {"size": 1, "atoms": ["/m/A"], "sha256": None}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    assert load(path)["atoms"] == {"/m/A": {**inv["atoms"]["/m/A"], "files": 0}}
    assert load(path)["bags"]["k.tar"]["atoms"] == ["/m/A"]
    write(path, load(path))
    assert load(path)["atoms"] == {"/m/A": {**inv["atoms"]["/m/A"], "files": 0}}
    edit(inv)
    path.write_text(json.dumps(inv))
    with pytest.raises(StateError) as err:
        load(path)
    assert words in str(err.value) and str(path) in str(err.value)


def test_an_inventory_whose_atom_names_no_bag_is_never_written(tmp_path):
    path = tmp_path / "inventory.json"
    with pytest.raises(StateError):
        write(path, {"atoms": {"/m/A": {"molecule": "/m", "archive_key": "k.tar"}},
                     "bags": {}})
    assert not path.exists()


def test_an_inventory_is_stale_when_it_does_not_know_a_bag_of_the_buckets():
    def inventory(bags=(), history=()):
        return typed({"atoms": {}, "bags": {k: {"size": 1} for k in bags},
                      "history": {k: {"superseded_on": "2026-01-01"} for k in history}})
    newest = inventory(["new.tar", "gone.tar", "old.tar"])
    assert stale_against(inventory(["old.tar"]), newest, {"new.tar", "old.tar"}) \
        == "it does not know 1 of its bags (e.g. new.tar)"
    assert stale_against(inventory([], ["new.tar", "old.tar"]),
                         newest, {"new.tar", "old.tar"}) is None  # superseded since
    assert stale_against(inventory(["old.tar"]), newest, {"old.tar"}) is None


def test_superseded_bags_enter_the_history_with_their_day():
    first = first_inventory()
    plan = plan_for(2026, SECOND, first)
    plan.date = "2026-03-01"
    second = build_inventory(plan, all_done(plan), first)
    gone = set(first["bags"]) - set(second["bags"])
    assert gone and set(second["history"]) == gone
    for key in gone:
        entry = second["history"][key]
        assert entry["superseded_on"] == "2026-03-01"
        assert entry["manifest_key"] == first["bags"][key]["manifest_key"]
    plan = plan_for(2026, SECOND, second)  # a later run keeps the first day
    plan.date = "2026-09-01"
    third = build_inventory(plan, all_done(plan), second)
    assert third["history"] == second["history"]
