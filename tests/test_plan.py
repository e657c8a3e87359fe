"""plan_bags: property tests over several yearly runs, plus hand-worked cases."""

import copy
import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glacier_tasks.formats.layout import archive_key
from glacier_tasks.backup import plan as planning
from glacier_tasks.backup.plan import AtomState, MoleculeState, Plan
from tests.support.builders import typed

HOST = "host"
TARGET = 100
PLAIN = lambda members: members  # noqa: E731  a bag is its atoms' sum (tar's end aside)
EMPTY = {"version": 1, "atoms": {}, "bags": {}}


# ---------------------------------------------------------------- helpers

def molecule(name: str, present: bool = True) -> MoleculeState:
    return MoleculeState(spelling=f"/data/{name}", slug=name, present=present)


def atom(mol: str, name: str, size: int, hash_: str = "h", files: int = 1) -> AtomState:
    spelling = f"/data/{mol}"
    return AtomState(key=f"{spelling}/{name}", molecule=spelling, hash=hash_, size=size,
                     files=files)


def plan_bags(atoms, molecules, previous, *args, **options) -> Plan:
    """The plan from a previous inventory written as its file holds it."""
    return planning.plan_bags(atoms, molecules, typed(copy.deepcopy(previous)), *args,
                              **options)


def entries(plan: Plan) -> dict:
    """The plan's atom entries as the inventory file holds them."""
    return {k: e.to_json() for k, e in plan.atoms.items()}


def as_inventory(plan: Plan) -> dict:
    """The inventory.json a fully successful run of this plan would leave behind."""
    bags = {b.archive_key: {"tar_id": b.tar_id, "molecule": b.molecule,
                            "size": b.size, "files": b.files,
                            "atoms": list(b.atoms), "manifest_key": b.manifest_key,
                            "content_key": b.content_key}
            for b in plan.bags}
    return {"version": 1, "atoms": entries(plan), "bags": bags}


def run(atoms, molecules, previous=EMPTY, year=2025, target=TARGET, compact_below=0.5):
    return plan_bags(atoms, molecules, previous, target, year, HOST,
                     compact_below=compact_below, bag_bytes=PLAIN)


def bags_of(plan: Plan) -> dict:
    """archive_key -> bag, checking on the way that no key appears twice."""
    out = {}
    for bag in plan.bags:
        assert bag.archive_key not in out, f"two bags share {bag.archive_key}"
        out[bag.archive_key] = bag
    return out


def by_atoms(plan: Plan) -> dict:
    """frozenset of atom keys -> bag: lets a test name a bag by what it holds."""
    return {frozenset(b.atoms): b for b in plan.bags}


def key(year: int, mol: str, tar_id: str) -> str:
    return archive_key(year, HOST, mol, tar_id)


# ---------------------------------------------------------------- the properties

def check_plan(plan, atoms, molecules, previous, year, target):
    prev_atoms, prev_bags = previous["atoms"], previous["bags"]
    current = {a.key: a for a in atoms}
    planned = bags_of(plan)

    # an empty molecule is an unmounted drive, even on a first run (issue 21, case 8)
    missing = [m.spelling for m in molecules
               if not m.present or not any(a.molecule == m.spelling for a in atoms)]
    assert plan.missing_molecules == missing
    assert plan.year == year

    for mol in molecules:
        spelling = mol.spelling
        mine = {k: b for k, b in planned.items() if b.molecule == spelling}
        prev_mine = {k: b for k, b in prev_bags.items() if b["molecule"] == spelling}
        known = {k: a for k, a in prev_atoms.items() if a["molecule"] == spelling}
        if spelling in missing:
            # an unmounted or emptied molecule keeps all it had, untouched
            assert set(mine) == set(prev_mine)
            for k, bag in mine.items():
                assert bag.action == "keep"
                assert bag.tar_id == prev_mine[k]["tar_id"]
                assert bag.atoms == sorted(prev_mine[k]["atoms"])
            assert {k: a for k, a in entries(plan).items()
                    if a["molecule"] == spelling} == known
            continue
        check_present_molecule(plan, mol, mine, prev_mine, known, current, year, target)

    removed = sorted(k for k, a in prev_atoms.items()
                     if a["molecule"] not in missing and
                     a["molecule"] in {m.spelling for m in molecules} and k not in current)
    assert sorted(plan.removed_atoms) == removed


def check_present_molecule(plan, mol, mine, prev_mine, known, current, year, target):
    cur = {k: a for k, a in current.items() if a.molecule == mol.spelling}

    # every current atom is in exactly one bag, and the plan's atom entry says which
    holders = Counter(a for bag in mine.values() for a in bag.atoms)
    assert set(holders) == set(cur)
    assert all(n == 1 for n in holders.values()), holders
    for bag in mine.values():
        for a in bag.atoms:
            entry = plan.atoms[a]
            assert entry.tar_id == bag.tar_id
            assert entry.archive_key == bag.archive_key
            assert entry.last_metadata_hash == cur[a].hash
            assert entry.size == cur[a].size
            assert entry.molecule == mol.spelling

    # tar_ids are unique within the molecule
    tar_ids = [b.tar_id for b in mine.values()]
    assert len(tar_ids) == len(set(tar_ids)), tar_ids

    for k, bag in mine.items():
        if bag.action == "keep":
            # a kept bag is a previous bag holding only unchanged old atoms: all of
            # them, or (Scenario B) those that stayed while others moved, as long as
            # they hold at least compact_below (0.5) of the bytes it was packed with
            assert k in prev_mine
            assert bag.tar_id == prev_mine[k]["tar_id"]
            assert set(bag.atoms) <= set(prev_mine[k]["atoms"])
            for a in bag.atoms:
                assert a in known, f"new atom {a} went into kept bag {k}"
                assert known[a]["last_metadata_hash"] == cur[a].hash
            if bag.atoms != sorted(prev_mine[k]["atoms"]):
                packed = prev_mine[k].get("packed_bytes") or \
                    sum(known[a]["size"] for a in prev_mine[k]["atoms"])
                assert sum(cur[a].size for a in bag.atoms) >= 0.5 * packed
                assert not any(known[a].get("pinned") for a in prev_mine[k]["atoms"])
            # an unchanged atom leaves its bag only when the whole bag is packed again
    kept_atoms = {a for b in mine.values() if b.action == "keep" for a in b.atoms}
    for k, prev in prev_mine.items():
        if k in mine and mine[k].action == "keep":
            for a in prev["atoms"]:
                if a in cur and known.get(a, {}).get("last_metadata_hash") == cur[a].hash \
                        and known[a].get("archive_key") == k:
                    assert a in kept_atoms, f"unchanged {a} left kept bag {k}"
    for k, bag in mine.items():
        if bag.action == "keep":
            continue
        else:
            assert bag.action == "upload"
            assert k == key(year, mol.slug, bag.tar_id)
            assert k.startswith(f"{year}-backup/")
            assert bag.size == sum(cur[a].size for a in bag.atoms)
            assert bag.files == sum(cur[a].files for a in bag.atoms)
            assert bag.manifest_key == \
                f"{year}-backup/manifests/{HOST}_{mol.slug}_{bag.tar_id}.txt"
        if bag.size > target and len(bag.atoms) > 1:
            # the one documented exception: pinned atoms sharing their old tar_id
            assert bag.action == "keep" or all(
                known.get(a, {}).get("pinned") and known[a]["tar_id"] == bag.tar_id
                for a in bag.atoms), bag

    # an unchanged previous bag is kept, never rebuilt
    for k, prev in prev_mine.items():
        unchanged = prev["atoms"] and all(
            a in cur and cur[a].hash == known[a]["last_metadata_hash"] and
            known[a]["archive_key"] == k for a in prev["atoms"])
        if unchanged:
            assert k in mine and mine[k].action == "keep", f"{k} was rebuilt"

    # a pinned atom keeps its tar_id and its pin
    for a, info in known.items():
        if info.get("pinned") and a in cur:
            assert plan.atoms[a].tar_id == info["tar_id"], a
            assert plan.atoms[a].pinned is True


# ---------------------------------------------------------------- the generator

POOL = [f"a{i}" for i in range(8)]
ACTIONS = ["keep", "keep", "keep", "touch", "resize", "remove", "pin", "unpin"]


def draw_world(data, n_molecules):
    world = {}
    for i in range(n_molecules):
        names = data.draw(st.sets(st.sampled_from(POOL), max_size=6), label=f"m{i} atoms")
        world[f"m{i}"] = {n: [data.draw(st.integers(1, 150)), 0] for n in sorted(names)}
    return world


def current_atoms(world, present):
    return [atom(m, n, size, f"{size}-{version}", files=size % 7 + 1)
            for m, found in world.items() if present[m]
            for n, (size, version) in sorted(found.items())]


def change_world(data, world, previous):
    """Random edits between two runs: in the folders, and pins set by hand."""
    for m, found in world.items():
        for name in sorted(found):
            action = data.draw(st.sampled_from(ACTIONS), label=f"{m}/{name}")
            entry = previous["atoms"].get(f"/data/{m}/{name}")
            if action == "touch":
                found[name][1] += 1
            elif action == "resize":
                found[name][0] = data.draw(st.integers(1, 150))
            elif action == "remove":
                del found[name]
            elif action in ("pin", "unpin") and entry is not None:
                entry["pinned"] = action == "pin"
        for name in data.draw(st.sets(st.sampled_from(POOL), max_size=2), label="new"):
            if name not in found:
                found[name] = [data.draw(st.integers(1, 150)), 0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_plan_properties_over_several_years(data):
    n_molecules = data.draw(st.integers(1, 3), label="molecules")
    world = draw_world(data, n_molecules)
    previous = copy.deepcopy(EMPTY)
    for year in range(2025, 2025 + data.draw(st.integers(1, 4), label="years")):
        present = {m: data.draw(st.sampled_from([True, True, True, False]),
                                label=f"{m} present in {year}") for m in world}
        molecules = [molecule(m, present[m]) for m in world]
        atoms = current_atoms(world, present)
        target = data.draw(st.sampled_from([TARGET, TARGET, 60, 150]), label="target")
        before = copy.deepcopy(previous)

        plan = plan_bags(atoms, molecules, previous, target, year, HOST, bag_bytes=PLAIN)

        assert previous == before, "plan_bags changed its input"
        check_plan(plan, atoms, molecules, previous, year, target)
        assert plan_bags(atoms, molecules, copy.deepcopy(previous), target, year,
                         HOST, bag_bytes=PLAIN) == plan, "same input, other plan"
        # STATE/plan.json between tasks: what a later task reads is this very plan
        assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
        previous = as_inventory(plan)
        change_world(data, world, previous)


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(1, 250), max_size=12), target=st.integers(1, 200))
def test_first_run_packs_every_atom_once_within_target(sizes, target):
    atoms = [atom("m0", f"a{i:02d}", s) for i, s in enumerate(sizes)]
    plan = run(atoms, [molecule("m0")], target=target)
    check_plan(plan, atoms, [molecule("m0")], EMPTY, 2025, target)
    assert all(b.action == "upload" for b in plan.bags)
    # first fit: an atom opens a new bag only if it fit in no earlier one, so no two
    # bags below the target could have been merged into one
    small = [b for b in plan.bags if len(b.atoms) and b.size < target]
    for i, one in enumerate(small):
        for other in small[i + 1:]:
            assert one.size + other.size > target, (one, other)


# ---------------------------------------------------------------- hand-worked cases

def test_a_bag_is_planned_at_the_size_gnu_tar_writes():
    # issue 21, case 13: atoms count their members' headers (the scan), a bag adds
    # tar's two end blocks and pads to a 10,240-byte record, and the target holds
    # against that: two atoms of 5,000 bytes (10,000 in all) no longer share a bag of
    # 10,240, since tar would write 20,480 bytes for them
    atoms = [atom("m0", n, 5000) for n in ("a", "b")]
    plan = plan_bags(atoms, [molecule("m0")], EMPTY, 10_240, 2026, HOST)
    assert [(b.atoms, b.size) for b in plan.bags] == [
        (["/data/m0/a"], 10_240), (["/data/m0/b"], 10_240)]
    together = plan_bags(atoms, [molecule("m0")], EMPTY, 20_480, 2026, HOST)
    assert [(b.atoms, b.size) for b in together.bags] == [
        (["/data/m0/a", "/data/m0/b"], 20_480)]
    # 9,216 bytes of members and the end blocks fill one record exactly
    exact = plan_bags([atom("m0", "a", 9216)], [molecule("m0")], EMPTY, 10**9, 2026, HOST)
    assert exact.bags[0].size == 10_240


def test_first_fit_decreasing_with_known_sizes():
    # target 10, sizes 7 5 4 3 1, taken largest first:
    # 7 -> bag A (7); 5 -> A would be 12, new bag B (5); 4 -> A 11 no, B 9;
    # 3 -> A 10 fits; 1 -> A is full, B 10 fits.  A = {7, 3}, B = {5, 4, 1}
    sizes = {"s7": 7, "s5": 5, "s4": 4, "s3": 3, "s1": 1}
    atoms = [atom("m0", n, s) for n, s in sizes.items()]
    plan = run(atoms, [molecule("m0")], target=10, year=2026)
    got = [(b.tar_id, b.atoms, b.size, b.action) for b in plan.bags]
    assert got == [
        ("bag_001", ["/data/m0/s3", "/data/m0/s7"], 10, "upload"),
        ("bag_002", ["/data/m0/s1", "/data/m0/s4", "/data/m0/s5"], 10, "upload"),
    ]
    assert plan.bags[0].archive_key == "2026-backup/host_m0_bag_001.tar"
    assert plan.bags[0].manifest_key == "2026-backup/manifests/host_m0_bag_001.txt"
    assert plan.bags[0].name == "host_m0_bag_001"
    assert plan.atoms["/data/m0/s1"].archive_key == "2026-backup/host_m0_bag_002.tar"


def test_atom_at_or_above_target_gets_its_own_bag():
    atoms = [atom("m0", "huge", 15), atom("m0", "exact", 10), atom("m0", "x", 3),
             atom("m0", "y", 2)]
    plan = run(atoms, [molecule("m0")], target=10)
    assert sorted(sorted(b.atoms) for b in plan.bags) == [
        ["/data/m0/exact"], ["/data/m0/huge"], ["/data/m0/x", "/data/m0/y"]]
    assert [b.tar_id for b in plan.bags] == ["bag_001", "bag_002", "bag_003"]
    assert by_atoms(plan)[frozenset(["/data/m0/huge"])].size == 15


def first_year():
    """2025, target 10: C8 -> bag_001; A6 -> bag_002; B3 joins A (9)."""
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b1"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], year=2025, target=10)
    assert by_atoms(plan)[frozenset(["/data/m0/C"])].tar_id == "bag_001"
    assert by_atoms(plan)[frozenset(["/data/m0/A", "/data/m0/B"])].tar_id == "bag_002"
    return atoms, plan


def test_adding_an_atom_does_not_renumber_unchanged_bags():
    atoms, plan_2025 = first_year()
    atoms = atoms + [atom("m0", "D", 5, "d1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2025-backup/host_m0_bag_002.tar", ["/data/m0/A", "/data/m0/B"], "keep"),
        ("2026-backup/host_m0_bag_003.tar", ["/data/m0/D"], "upload"),
    ]
    assert plan.bags[2].reasons == ["new atom"]
    assert plan.removed_atoms == []


def test_changed_atom_moves_alone_and_its_bag_stays_with_the_others():
    """Issue 23, Scenario B: B changed; A (6 of the bag's 9 bytes) stays in bag_002,
    which is kept; only B is packed, into a new bag of this year."""
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b2"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2025-backup/host_m0_bag_002.tar", ["/data/m0/A"], "keep"),
        ("2026-backup/host_m0_bag_003.tar", ["/data/m0/B"], "upload"),
    ]
    assert plan.bags[1].dead == ["/data/m0/B"]
    assert plan.bags[2].reasons == ["changed atom"]
    assert plan.atoms["/data/m0/A"].archive_key == "2025-backup/host_m0_bag_002.tar"
    assert plan.superseded_bags == []


def test_a_bag_below_compact_below_is_packed_again_whole():
    """A (6 of 9 bytes) stays only while compact_below <= 6/9."""
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b2"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10,
               compact_below=0.7)
    rebuilt = next(b for b in plan.bags if b.action == "upload")
    assert rebuilt.atoms == ["/data/m0/A", "/data/m0/B"]
    assert any(r.startswith("compacted: 66% of its bytes still referenced")
               for r in rebuilt.reasons), rebuilt.reasons
    never = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10,
                compact_below=0)
    assert [b.atoms for b in never.bags if b.action == "keep"] == [["/data/m0/C"],
                                                                    ["/data/m0/A"]]


def test_changed_atom_rebuilds_its_whole_bag_under_the_new_year_with_its_tar_id():
    """compact_below = 1: the design's section 1, any change sends the whole bag."""
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b2"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10,
               compact_below=1)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2026-backup/host_m0_bag_002.tar", ["/data/m0/A", "/data/m0/B"], "upload"),
    ]
    rebuilt = plan.bags[1]
    assert rebuilt.reasons[0] == "changed atom"
    assert plan.atoms["/data/m0/B"].last_metadata_hash == "b2"
    assert plan.atoms["/data/m0/A"].archive_key == "2026-backup/host_m0_bag_002.tar"
    assert rebuilt.content_key != plan_2025.bags[1].content_key


def test_kept_bag_keeps_its_record_fields():
    atoms, plan_2025 = first_year()
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10)
    assert [b.action for b in plan.bags] == ["keep", "keep"]
    for old, new in zip(plan_2025.bags, plan.bags):
        for field in ("archive_key", "tar_id", "manifest_key", "content_key", "size",
                      "files", "atoms", "name"):
            assert getattr(new, field) == getattr(old, field), field


def test_removed_atom_leaves_its_bag_and_is_reported():
    """Issue 23: B removed; A stays in bag_002 (nothing is sent); with compact_below =
    1 the bag is packed again without B, as before."""
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2025-backup/host_m0_bag_002.tar", ["/data/m0/A"], "keep"),
    ]
    assert plan.removed_atoms == ["/data/m0/B"]
    assert "/data/m0/B" not in plan.atoms
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10,
               compact_below=1)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2026-backup/host_m0_bag_002.tar", ["/data/m0/A"], "upload"),
    ]
    assert plan.removed_atoms == ["/data/m0/B"]
    assert "/data/m0/B" not in plan.atoms


def test_pinned_atom_keeps_its_tar_id_when_its_bag_is_dissolved():
    atoms, plan_2025 = first_year()
    previous = as_inventory(plan_2025)
    previous["atoms"]["/data/m0/B"]["pinned"] = True
    # A grows to 9: A and B no longer fit together; B keeps bag_002, A gets a new bag
    atoms = [atom("m0", "A", 9, "a2"), atom("m0", "B", 3, "b1"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], previous, year=2026, target=10)
    got = [(b.archive_key, b.atoms, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], "keep"),
        ("2026-backup/host_m0_bag_002.tar", ["/data/m0/B"], "upload"),
        ("2026-backup/host_m0_bag_003.tar", ["/data/m0/A"], "upload"),
    ]
    assert plan.atoms["/data/m0/B"].pinned is True
    assert "pinned" in plan.bags[1].reasons


def test_missing_molecule_keeps_everything():
    atoms, plan_2025 = first_year()
    previous = as_inventory(plan_2025)
    for mol in (molecule("m0", present=False), molecule("m0", present=True)):
        # present=False: unmounted; present with no atoms: an empty mount point
        plan = run([], [mol], previous, year=2026, target=10)
        assert plan.missing_molecules == ["/data/m0"]
        assert plan.removed_atoms == []
        assert entries(plan) == previous["atoms"]
        assert [(b.archive_key, b.action) for b in plan.bags] == [
            ("2025-backup/host_m0_bag_001.tar", "keep"),
            ("2025-backup/host_m0_bag_002.tar", "keep")]


def test_missing_molecule_does_not_disturb_its_neighbour():
    atoms, plan_2025 = first_year()
    other = [atom("m1", "X", 4, "x1")]
    previous = as_inventory(run(atoms + other, [molecule("m0"), molecule("m1")],
                                year=2025, target=10))
    plan = run([atom("m1", "X", 4, "x2")], [molecule("m0", False), molecule("m1")],
               previous, year=2026, target=10)
    assert plan.missing_molecules == ["/data/m0"]
    m1 = [b for b in plan.bags if b.molecule == "/data/m1"]
    assert [(b.archive_key, b.action) for b in m1] == [
        ("2026-backup/host_m1_bag_001.tar", "upload")]


def test_molecule_no_longer_listed_keeps_everything_until_dropped():
    _, plan_2025 = first_year()
    previous = as_inventory(plan_2025)
    plan = run([atom("m1", "X", 4)], [molecule("m1")], previous, year=2026, target=10)
    assert plan.missing_molecules == ["/data/m0"]
    assert "no longer in list.txt" in plan.missing_reasons["/data/m0"]
    assert "doit drop /data/m0" in plan.missing_reasons["/data/m0"]
    kept = [b for b in plan.bags if b.molecule == "/data/m0"]
    assert {b.archive_key for b in kept} == set(previous["bags"])
    assert all(b.action == "keep" for b in kept)
    assert {k: a for k, a in entries(plan).items() if a["molecule"] == "/data/m0"} == \
        previous["atoms"]
    assert plan.superseded_bags == [] and plan.removed_atoms == []


def test_second_run_in_the_same_year_does_not_reuse_an_existing_key():
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b2"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2025, target=10)
    rebuilt = [b for b in plan.bags if b.action == "upload"]
    assert [(b.archive_key, b.atoms) for b in rebuilt] == [
        ("2025-backup/host_m0_bag_003.tar", ["/data/m0/B"])]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2025, target=10,
               compact_below=1)
    rebuilt = [b for b in plan.bags if b.action == "upload"]
    assert [(b.archive_key, b.atoms) for b in rebuilt] == [
        ("2025-backup/host_m0_bag_003.tar", ["/data/m0/A", "/data/m0/B"])]


def test_pinned_atoms_sharing_a_tar_id_stay_together_even_above_target():
    # the documented exception: A and B are both pinned to bag_002; A grows to 9, so
    # the rebuilt bag_002 holds 12 > 10, and no other atom joins it
    atoms, plan_2025 = first_year()
    previous = as_inventory(plan_2025)
    for name in ("A", "B"):
        previous["atoms"][f"/data/m0/{name}"]["pinned"] = True
    atoms = [atom("m0", "A", 9, "a2"), atom("m0", "B", 3, "b1"), atom("m0", "C", 8, "c1"),
             atom("m0", "D", 1, "d1")]
    plan = run(atoms, [molecule("m0")], previous, year=2026, target=10)
    got = [(b.archive_key, b.atoms, b.size, b.action) for b in plan.bags]
    assert got == [
        ("2025-backup/host_m0_bag_001.tar", ["/data/m0/C"], 8, "keep"),
        ("2026-backup/host_m0_bag_002.tar", ["/data/m0/A", "/data/m0/B"], 12, "upload"),
        ("2026-backup/host_m0_bag_003.tar", ["/data/m0/D"], 1, "upload"),
    ]
    check_plan(plan, atoms, [molecule("m0")], previous, 2026, 10)


def test_pinned_atom_rebuilt_in_the_same_year_never_overwrites_its_old_key():
    # the old bag_002 [A, B] stays whole in the bucket until the new bags are in: if
    # A's new bag failed, A would still point at it
    atoms, plan_2025 = first_year()
    previous = as_inventory(plan_2025)
    previous["atoms"]["/data/m0/B"]["pinned"] = True
    atoms = [atom("m0", "A", 9, "a2"), atom("m0", "B", 3, "b1"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], previous, year=2025, target=10)
    uploads = {b.archive_key for b in plan.bags if b.action == "upload"}
    assert "2025-backup/host_m0_bag_002.tar" not in uploads
    assert plan.atoms["/data/m0/B"].pinned is True
    assert len(uploads) == 2


# ---------------------------------------------------------------- the Plan record

def test_plan_json_round_trip_equals():
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 9, "a2"), atom("m0", "B", 3, "b1"), atom("m0", "C", 8, "c1"),
             atom("m1", "X", 2, "x1")]
    molecules = [MoleculeState("/data/m0", "m0", True, path="/mnt/m0"),
                 MoleculeState("/data/m1", "m1", True),
                 MoleculeState("/data/m2", "m2", False, missing_reason="not mounted")]
    plan = run(atoms, molecules, as_inventory(plan_2025), year=2026, target=10)
    assert plan.uploads and plan.superseded_bags  # a plan with something in every list
    text = json.dumps(plan.to_json())
    again = Plan.from_json(json.loads(text))
    assert again == plan
    assert again.bags[0] == plan.bags[0] and type(again.bags[0]) is type(plan.bags[0])
    assert json.dumps(again.to_json()) == text


def test_uploads_and_bag_by_name():
    atoms, plan_2025 = first_year()
    atoms = atoms + [atom("m0", "D", 5, "d1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10)
    assert [b.name for b in plan.uploads] == ["host_m0_bag_003"]
    assert plan.bag("host_m0_bag_003") is plan.uploads[0]
    assert plan.bag("host_m0_bag_001").action == "keep"
    assert plan.bag("host_m0_bag_999") is None


def test_dissolved_bags_are_reported_superseded_with_their_molecule():
    atoms, plan_2025 = first_year()
    atoms = [atom("m0", "A", 6, "a1"), atom("m0", "B", 3, "b2"), atom("m0", "C", 8, "c1")]
    plan = run(atoms, [molecule("m0")], as_inventory(plan_2025), year=2026, target=10,
               compact_below=1)
    assert plan.superseded_bags == ["2025-backup/host_m0_bag_002.tar"]
    assert plan.superseded_molecules == {"2025-backup/host_m0_bag_002.tar": "/data/m0"}
    unchanged = run(first_year()[0], [molecule("m0")], as_inventory(plan_2025),
                    year=2026, target=10)
    assert unchanged.superseded_bags == [] and unchanged.uploads == []


def test_missing_molecules_say_why_and_present_ones_where_they_are_read():
    atoms, plan_2025 = first_year()
    previous = as_inventory(run(atoms + [atom("m1", "X", 4, "x1")],
                                [molecule("m0"), molecule("m1")], year=2025, target=10))
    molecules = [MoleculeState("/data/m0", "m0", False, missing_reason="folder gone"),
                 MoleculeState("/data/m1", "m1", True, path="/mnt/m1")]
    plan = run([], molecules, previous, year=2026, target=10)
    assert plan.missing_molecules == ["/data/m0", "/data/m1"]
    # m1 is mounted but empty while the inventory knows atoms of it
    assert plan.missing_reasons == {"/data/m0": "folder gone",
                                    "/data/m1": "folder is empty (drive not mounted?)"}
    assert plan.molecule_paths == {"/data/m1": "/mnt/m1"}


# ---------------------------------------------------------------- write-once keys

def test_a_key_the_bucket_holds_is_never_given_to_other_contents():
    """A bag superseded earlier in the year (no longer in the inventory) or a stopped
    run's upload of other atoms still occupies its key: a new bag takes another."""
    atoms = [atom("m", "a", 60), atom("m", "b", 60)]
    held = {key(2025, "m", "bag_001"): "someone else's contents",
            key(2025, "m", "bag_002"): None}  # an orphan manifest: nothing provable
    plan = plan_bags(atoms, [molecule("m")], EMPTY, TARGET, 2025, HOST,
                     occupied=held)
    assert sorted(b.tar_id for b in plan.bags) == ["bag_003", "bag_004"]
    assert plan.bucket_checked


def test_a_key_holding_exactly_these_contents_is_taken_again_to_be_adopted():
    first = run([atom("m", "a", 60), atom("m", "b", 60)], [molecule("m")])
    # the run was stopped after its uploads, before its inventory; the next plan
    # (whatever order it meets the bins in) names each bin as the bucket holds it
    held = {b.archive_key: b.content_key for b in first.bags}
    again = plan_bags([atom("m", "a", 60), atom("m", "b", 60)], [molecule("m")], EMPTY,
                      TARGET, 2025, HOST, occupied=held)
    assert {(b.tar_id, b.content_key) for b in again.bags} == \
        {(b.tar_id, b.content_key) for b in first.bags}
    # an atom changed since: its bag's contents differ, so it gets a new name
    changed = plan_bags([atom("m", "a", 60, "h2"), atom("m", "b", 60)], [molecule("m")],
                        EMPTY, TARGET, 2025, HOST, occupied=held)
    names = {frozenset(b.atoms): b.tar_id for b in changed.bags}
    before = {frozenset(b.atoms): b.tar_id for b in first.bags}
    assert names[frozenset({"/data/m/b"})] == before[frozenset({"/data/m/b"})]
    assert names[frozenset({"/data/m/a"})] not in before.values()


def test_a_bag_broken_in_the_bucket_is_packed_anew_under_a_new_name():
    atoms = [atom("m", "a", 60), atom("m", "b", 60)]
    first = run(atoms, [molecule("m")])
    broken_key = by_atoms(first)[frozenset({"/data/m/a"})].archive_key
    problem = f"{broken_key} has 4 bytes, expected 60"
    again = plan_bags(atoms, [molecule("m")], as_inventory(first), TARGET, 2025, HOST,
                      occupied={}, broken={broken_key: problem})
    rebuilt = by_atoms(again)[frozenset({"/data/m/a"})]
    assert rebuilt.action == "upload" and rebuilt.archive_key != broken_key
    assert rebuilt.repairs == [problem] and "changed in the bucket" in rebuilt.reasons
    assert by_atoms(again)[frozenset({"/data/m/b"})].action == "keep"
    assert again.superseded_bags == [broken_key]


def test_a_broken_bag_of_a_missing_molecule_is_kept_until_its_files_are_back():
    first = run([atom("m", "a", 60)], [molecule("m")])
    [bag] = first.bags
    again = plan_bags([], [molecule("m", present=False)], as_inventory(first), TARGET,
                      2025, HOST, occupied={}, broken={bag.archive_key: "torn"})
    assert [(b.archive_key, b.action) for b in again.bags] == [(bag.archive_key, "keep")]


def test_a_plan_made_without_the_bucket_says_so():
    assert not run([atom("m", "a", 60)], [molecule("m")]).bucket_checked
