"""What a run says: the dry run's plan summary and the backup's closing report (pure)."""

from . import cost

STATUS_WORDS = {"keep": "unchanged", "upload": "to upload"}


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def describe_bag(bag: dict, done: bool = False) -> str:
    """The line `doit list` shows for a bag task."""
    what = "unchanged" if bag["action"] == "keep" else \
        ("uploaded: " if done else "to upload: ") + ", ".join(bag["reasons"])
    return (f"{bag['molecule']}  {len(bag['atoms'])} atoms  {human(bag['size'])}  "
            f"{what}")


def plan_summary(plan: dict, settings) -> str:
    prices = settings.prices
    lines = [f"Plan for {plan['year']}: bucket {settings.s3_bucket}, "
             f"{settings.storage_class}, bags up to {settings.target_bag_gb:g} GB"]
    by_molecule = {}
    for bag in plan["bags"]:
        by_molecule.setdefault(bag["molecule"], []).append(bag)
    for molecule, bags in by_molecule.items():
        todo = [b for b in bags if b["action"] == "upload"]
        reasons = sorted({r for b in todo for r in b["reasons"]})
        lines.append(f"  {molecule}: {len(bags)} bags, {len(bags) - len(todo)} unchanged, "
                     f"{len(todo)} to upload" +
                     (f" ({', '.join(reasons)}), {human(sum(b['size'] for b in todo))}"
                      if todo else ""))
    todo = [b for b in plan["bags"] if b["action"] == "upload"]
    upload = cost.upload_estimate([b["size"] for b in todo], settings.storage_class, prices)
    total = sum(b["size"] for b in plan["bags"])
    monthly = cost.monthly_storage(total, len(plan["bags"]), settings.storage_class, prices)
    lines.append(f"To upload: {len(todo)} bags, {human(sum(b['size'] for b in todo))}, "
                 f"{upload['requests']} PUT requests, fee about ${upload['fee']:.4f}")
    lines.append(f"Stored after the run: {len(plan['bags'])} bags, {human(total)}, about "
                 f"${monthly:.2f} per month (prices of {cost.PRICES_DATE})")
    lines += _warnings(plan)
    return "\n".join(lines)


def _warnings(plan: dict) -> list:
    lines = []
    if plan["removed_atoms"]:
        lines.append(f"Atoms gone from disk, leaving the inventory: "
                     f"{', '.join(plan['removed_atoms'])}")
    for molecule in plan["dropped_molecules"]:
        lines.append(f"Molecule {molecule} is no longer in the list; its atoms leave the "
                     "inventory")
    for molecule in plan["missing_molecules"]:
        lines.append(f"MISSING molecule {molecule}: {missing_reason(plan, molecule)}; "
                     "its atoms stay in the inventory untouched")
    return lines


def missing_reason(plan: dict, molecule: str) -> str:
    return plan.get("missing_reasons", {}).get(molecule, "folder not found or empty "
                                                         "(drive not mounted?)")


def run_report(plan: dict, failures: dict) -> tuple[str, bool]:
    """The closing lines of a backup and whether every molecule was backed up."""
    lines = [f"FAILED bag {name}: {message}" for name, message in sorted(failures.items())]
    for molecule in plan["missing_molecules"]:
        lines.append(f"FAILED molecule {molecule}: {missing_reason(plan, molecule)}; "
                     "mount or fix it and run 'doit backup' again")
    if plan["removed_atoms"]:
        lines.append(f"Left the inventory (gone from disk): "
                     f"{', '.join(plan['removed_atoms'])}")
    ok = not failures and not plan["missing_molecules"]
    kept = sum(1 for b in plan["bags"] if b["action"] == "keep")
    uploaded = len(plan["bags"]) - kept - len(failures)
    lines.append(f"Backup {plan['year']}: {len(plan['bags'])} bags, {kept} unchanged, "
                 f"{uploaded} uploaded, {len(failures)} failed" +
                 ("" if ok else "; run 'doit backup' again once fixed"))
    return "\n".join(lines), ok
