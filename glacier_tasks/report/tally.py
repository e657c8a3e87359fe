"""What last-run.json carries from run to run besides the newest record of each kind:
this year's atoms added, changed and removed (by name, over the year's backups), and
the newest backup that sent bags, which a later run that sent nothing must not hide."""

from ..formats.records import Inventory


def stored_changes(before: Inventory, after: Inventory) -> dict:
    """Atom names new in `after`, changed since `before` and gone from it: what a run
    really stored (an atom whose bag failed keeps its previous entry)."""
    old, new = before.atoms, after.atoms
    return {"added": sorted(set(new) - set(old)),
            "changed": sorted(k for k in set(new) & set(old) if
                              new[k].last_metadata_hash != old[k].last_metadata_hash),
            "removed": sorted(set(old) - set(new))}


def tally_year(tally: dict | None, year, run: dict) -> dict:
    """This year's atoms added, changed and removed, by name, after one more run's:
    an atom added and then changed stays added, one added and then removed leaves no
    trace, one removed and back again is changed. A new year starts a new tally."""
    if not tally or str(tally.get("year")) != str(year):
        tally = {}
    added, changed, removed = (set(tally.get(k, [])) for k in ("added", "changed",
                                                                 "removed"))
    for atom in run["added"]:
        (changed if atom in removed else added).add(atom)
        removed.discard(atom)
    changed |= set(run["changed"]) - added
    for atom in run["removed"]:
        if atom in added:
            added.discard(atom)
        else:
            changed.discard(atom)
            removed.add(atom)
    return {"year": year, "added": sorted(added), "changed": sorted(changed),
            "removed": sorted(removed)}


def last_upload(data: dict | None, inventory: Inventory) -> dict | None:
    """The newest backup that sent bags: last-run.json's, or else the newest
    `uploaded_at` of the inventory's bags (a file written before it kept one)."""
    found = (data or {}).get("latest", {}).get("upload")
    if found:
        return found
    times = [b.uploaded_at for b in inventory.bags.values() if b.uploaded_at]
    if not times:
        return None
    day = max(times)[:10]
    sent = [b for b in inventory.bags.values() if (b.uploaded_at or "")[:10] == day]
    return {"run_date": day, "sent": {"bags": len(sent),
                                      "bytes": sum(b.size for b in sent)}}
