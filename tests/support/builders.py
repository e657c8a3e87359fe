"""Plans and planned bags for unit tests, with every field a test does not care about
at a plain value (host h, molecule /m, year 2027)."""

from glacier_tasks.backup.plan import Plan, PlannedBag
from glacier_tasks.formats import layout
from glacier_tasks.formats.records import AtomEntry, Inventory


def planned_bag(n: int, year: int = 2027, host: str = "h", atoms=None,
                size: int = 30_000_000, files: int = 1, action: str = "upload",
                **fields) -> PlannedBag:
    """Bag number n of molecule /m (slug m); atoms default to /m/a{n}."""
    tar_id = f"bag_{n:03d}"
    key = layout.archive_key(year, host, "m", tar_id)
    return PlannedBag(name=layout.bag_name(key), tar_id=tar_id, molecule="/m",
                      archive_key=key, manifest_key=layout.manifest_key(key),
                      atoms=list(atoms) if atoms is not None else [f"/m/a{n}"],
                      size=size, files=files, action=action, **fields)


def plan_of(bags, year: int = 2027, missing=(), removed=(), atoms=None, **fields) -> Plan:
    """A plan of these bags; a missing molecule's reason is 'folder not found'."""
    atoms = {k: AtomEntry.from_json(e) if isinstance(e, dict) else e
             for k, e in (atoms or {}).items()}
    return Plan(year=year, bags=list(bags), atoms=atoms,
                removed_atoms=list(removed), missing_molecules=list(missing),
                dropped_molecules=[], superseded_bags=[], superseded_molecules={},
                missing_reasons={m: "folder not found" for m in missing}, **fields)


def typed(inventory) -> Inventory:
    """An inventory as the code takes it, from the JSON a test writes it as."""
    return Inventory.from_json(inventory) if isinstance(inventory, dict) else inventory
