"""plan_bags with increments (issue 27): which changed atom becomes an increment bag,
when it is packed whole again (a re-base), and what the inventory then records."""

from glacier_tasks.backup.increment import MAX_CHAIN, deletions, lost_bags
from glacier_tasks.backup.marker import BagMarker, ManifestReceipt, Packed, Receipt
from glacier_tasks.backup.plan import plan_bags
from glacier_tasks.formats.inventory import build_inventory
from glacier_tasks.formats.layout import deletions_key
from glacier_tasks.formats.records import Inventory

from .test_plan import HOST, PLAIN, TARGET, atom, molecule

EMPTY = Inventory()


def plan(atoms, previous=EMPTY, year=2025, sizes=None, below=0.5, broken=None):
    return plan_bags(atoms, [molecule("m")], previous, TARGET, year, HOST,
                     date=f"{year}-03-01", bag_bytes=PLAIN, increment_below=below,
                     increments=sizes or {}, broken=broken)


def done(plan_):
    """The markers of a run of this plan in which every bag went up."""
    markers = {}
    for bag in plan_.bags:
        if bag.action != "upload":
            continue
        hashes = {a: plan_.atoms[a].last_metadata_hash for a in bag.atoms}
        markers[bag.name] = BagMarker(
            bag.content_key, done=True,
            packed=Packed(size=bag.size, sha256="5" * 64, crc64nvme=None,
                          atom_hashes=hashes, content_key=bag.content_key),
            uploaded=Receipt(key=bag.archive_key, size=bag.size, etag="e",
                             sha256="5" * 64, crc64nvme=None,
                             storage_class="DEEP_ARCHIVE", uploaded_at="t",
                             reused=False),
            manifest=ManifestReceipt(key=bag.manifest_key, size=1, sha256="m" * 64,
                                     deletions_sha256="d" * 64 if bag.increment_of
                                     else None))
    return markers


def first_year():
    atoms = [atom("m", "a", 50, "a1"), atom("m", "b", 40, "b1")]
    p = plan(atoms)
    return p, build_inventory(p, done(p), EMPTY)


def test_a_small_change_is_an_increment_on_the_atoms_base():
    p1, inv1 = first_year()
    base = inv1.atoms["/data/m/a"].archive_key
    p2 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv1, 2026,
              sizes={"/data/m/a": 10})
    increments = [b for b in p2.bags if b.increment_of]
    assert [b.atoms for b in increments] == [["/data/m/a"]]
    assert increments[0].increment_of == "a1" and increments[0].chain == [base]
    assert increments[0].archive_key.startswith("2026-backup/")
    assert [b.action for b in p2.bags if b.archive_key == base] == ["keep"]
    inv2 = build_inventory(p2, done(p2), inv1)
    entry = inv2.atoms["/data/m/a"]
    assert entry.archive_key == base and entry.last_metadata_hash == "a2"
    assert entry.increments == [increments[0].archive_key]
    assert inv2.bags[increments[0].archive_key].atoms == ["/data/m/a"]
    assert "/data/m/a" in inv2.bags[base].atoms  # the base stays referenced


def test_past_increment_below_the_atom_is_packed_whole_and_its_chain_is_history():
    _, inv1 = first_year()
    p2 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv1, 2026,
              sizes={"/data/m/a": 20})
    inv2 = build_inventory(p2, done(p2), inv1)
    # 20 sent + 10 now = 30 of 60: above half, a re-base
    p3 = plan([atom("m", "a", 60, "a3"), atom("m", "b", 40, "b1")], inv2, 2027,
              sizes={"/data/m/a": 10})
    assert not any(b.increment_of for b in p3.bags)
    inv3 = build_inventory(p3, done(p3), inv2)
    assert not inv3.atoms["/data/m/a"].increments
    old = inv2.atoms["/data/m/a"].increments[0]
    assert old not in inv3.bags and old in inv3.history


def test_a_chain_at_its_length_limit_is_packed_whole():
    _, inv = first_year()
    for n in range(MAX_CHAIN):
        p = plan([atom("m", "a", 1000, f"a{n + 2}"), atom("m", "b", 40, "b1")], inv,
                 2026 + n, sizes={"/data/m/a": 1})
        assert any(b.increment_of for b in p.bags)
        inv = build_inventory(p, done(p), inv)
    assert len(inv.atoms["/data/m/a"].increments) == MAX_CHAIN
    p = plan([atom("m", "a", 1000, "last"), atom("m", "b", 40, "b1")], inv, 2040,
             sizes={"/data/m/a": 1})
    assert not any(b.increment_of for b in p.bags)


def test_a_failed_increment_keeps_the_previous_chain_and_hash():
    _, inv1 = first_year()
    p2 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv1, 2026,
              sizes={"/data/m/a": 10})
    markers = {k: m for k, m in done(p2).items()
               if not p2.bag(k).increment_of}  # the increment did not finish
    inv2 = build_inventory(p2, markers, inv1)
    assert inv2.atoms["/data/m/a"].to_json() == inv1.atoms["/data/m/a"].to_json()


def test_a_broken_increment_re_bases_its_atom():
    _, inv1 = first_year()
    p2 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv1, 2026,
              sizes={"/data/m/a": 10})
    inv2 = build_inventory(p2, done(p2), inv1)
    lost = inv2.atoms["/data/m/a"].increments[0]
    p3 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv2, 2027,
              broken={lost: "missing"})
    moved = [b for b in p3.bags if "/data/m/a" in b.atoms and b.action == "upload"]
    assert len(moved) == 1 and not moved[0].increment_of


def chain_in_bucket():
    """Year 1 whole, year 2 an increment of a: the inventory, and every object the
    bucket holds of it (bags and the increment's deletion list)."""
    _, inv1 = first_year()
    p2 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv1, 2026,
              sizes={"/data/m/a": 10})
    inv2 = build_inventory(p2, done(p2), inv1)
    objects = set(inv2.bags) | {b.manifest_key for b in inv2.bags.values()} | \
        {deletions_key(k) for k, b in inv2.bags.items() if b.increment_of}
    return inv2, objects


def test_a_chains_lost_bag_or_deletion_list_re_bases_its_atom_in_that_run():
    inv2, objects = chain_in_bucket()
    entry = inv2.atoms["/data/m/a"]
    base, inc = entry.archive_key, entry.increments[0]
    assert lost_bags(dict.fromkeys(objects), inv2, HOST) == {}
    manifest = {k: inv2.bags[k].manifest_key for k in (base, inc)}
    for gone, broken_bag in [(base, base), (inc, inc), (deletions_key(inc), inc),
                             (manifest[base], base), (manifest[inc], inc)]:
        lost = lost_bags(dict.fromkeys(objects - {gone}), inv2, HOST)
        assert list(lost) == [broken_bag] and lost[broken_bag].startswith(gone + " missing")
        # the atom did not change since: it goes whole all the same, saying why
        p3 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv2, 2027,
                  broken=lost)
        moved = [b for b in p3.bags if "/data/m/a" in b.atoms and b.action == "upload"]
        assert len(moved) == 1 and not moved[0].increment_of, gone
        assert moved[0].archive_key.startswith("2027-backup/"), gone
        assert any(gone in why for why in moved[0].repairs), (gone, moved[0].repairs)
        assert p3.atoms["/data/m/a"].increments == [], gone
        assert {base, inc} <= set(p3.superseded_bags), gone


def test_a_lost_whole_bag_or_another_hosts_chain_is_not_a_lost_chain():
    _, inv1 = first_year()
    # no chain yet: a whole bag the bucket lost is sent again under its own key
    assert lost_bags({}, inv1, HOST) == {}
    inv2, objects = chain_in_bucket()
    base = inv2.atoms["/data/m/a"].archive_key
    assert lost_bags(dict.fromkeys(objects - {base}), inv2, "other") == {}


def test_a_lost_base_shared_with_a_whole_atom_re_packs_both_under_new_names():
    inv2, objects = chain_in_bucket()
    base = inv2.atoms["/data/m/a"].archive_key
    assert inv2.atoms["/data/m/b"].archive_key == base  # one bag held both
    lost = lost_bags(dict.fromkeys(objects - {base}), inv2, HOST)
    p3 = plan([atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")], inv2, 2027,
              broken=lost)
    for key in ("/data/m/a", "/data/m/b"):
        assert p3.atoms[key].archive_key.startswith("2027-backup/"), key
        assert p3.atoms[key].increments == [], key
    assert all(b.repairs for b in p3.uploads), p3.uploads


def test_off_or_pinned_means_whole():
    _, inv1 = first_year()
    atoms = [atom("m", "a", 52, "a2"), atom("m", "b", 40, "b1")]
    off = plan(atoms, inv1, 2026, sizes={"/data/m/a": 10}, below=0)
    assert not any(b.increment_of for b in off.bags)
    inv1.atoms["/data/m/a"].pinned = True
    pinned = plan(atoms, inv1, 2026, sizes={"/data/m/a": 10})
    assert not any(b.increment_of for b in pinned.bags)


def test_deletions_name_the_topmost_gone_path_and_kind_changes():
    before = {b"A": ("d",), b"A/x": ("d",), b"A/x/1": ("f",), b"A/y": ("f",),
              b"A/z": ("f",)}
    now = {b"A": ("d",), b"A/y": ("d",), b"A/z": ("f",)}
    assert deletions(before, now) == [b"A/x", b"A/y"]


def test_an_atom_whose_base_is_compacted_goes_whole_not_as_an_increment():
    atoms = [atom("m", "a", 30, "a1"), atom("m", "b", 60, "b1")]
    p1 = plan(atoms)
    inv1 = build_inventory(p1, done(p1), EMPTY)
    # b leaves: 30 of 90 still referenced, under compact_below: a is packed again
    p2 = plan([atom("m", "a", 31, "a2")], inv1, 2026, sizes={"/data/m/a": 5})
    assert not any(b.increment_of for b in p2.bags)
    moved = [b for b in p2.bags if b.action == "upload"]
    assert [b.atoms for b in moved] == [["/data/m/a"]]
    inv2 = build_inventory(p2, done(p2), inv1)
    assert not inv2.atoms["/data/m/a"].increments
