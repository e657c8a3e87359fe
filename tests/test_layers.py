"""The rooms stay apart: every import of the package runs down a floor or stays in its
room; doit lives in commands/ and cli.py only, boto3 in bucket/ only, and nothing but
the command line imports commands/ (glacier_tasks/__init__.py draws the map)."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "glacier_tasks"

# room -> floor; a module may import its own room and any lower floor, nothing else
FLOORS = {
    "errors": 0, "statefile": 1,
    "formats": 2,
    "units": 3,
    "bucket": 4,
    "cost": 5, "config": 6, "starter": 6,
    "backup": 7, "restore": 7,
    "report": 8, "run": 8, "prune": 8, "verify": 8,
    "commands": 9, "cli": 10,
}
DOIT_ROOMS = {"commands", "cli"}
S3_ROOMS = {"bucket"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "_source" not in p.parts)


def room_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return "__init__" if rel == ("__init__",) else rel[0]


def imported(path: Path):
    """(top-level package, glacier_tasks room or None) of every import in the module."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                yield parts[0], parts[1] if parts[0] == "glacier_tasks" and len(parts) > 1 \
                    else None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".")
            if parts[0] != "glacier_tasks":
                yield parts[0], None
            elif len(parts) > 1:
                yield "glacier_tasks", parts[1]
            else:  # from glacier_tasks import x, y: each name is a room or a value
                for alias in node.names:
                    yield "glacier_tasks", alias.name if alias.name in FLOORS else None


def test_every_room_has_a_floor():
    rooms = {room_of(p) for p in modules()} - {"__init__"}
    assert rooms <= set(FLOORS), f"rooms without a floor: {sorted(rooms - set(FLOORS))}"


def test_a_room_opens_with_the_words_it_uses():
    for room in ("formats", "bucket", "backup", "restore", "report", "commands"):
        doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text()))
        assert doc and 3 <= len(doc.splitlines()) <= 8, room


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_a_floor_or_stay_in_the_room(path):
    room = room_of(path)
    if room == "__init__":
        return
    wrong = []
    for top, target in imported(path):
        if top == "doit" and room not in DOIT_ROOMS:
            wrong.append("doit (only commands/ and cli.py run the task graph)")
        if top in ("boto3", "botocore") and room not in S3_ROOMS:
            wrong.append(f"{top} (only bucket/ speaks S3)")
        if top != "glacier_tasks" or target is None or target == room:
            continue
        if target == "commands" and room != "cli":
            wrong.append("commands (only the command line imports the commands)")
        elif FLOORS[target] >= FLOORS[room]:
            wrong.append(f"{target} (floor {FLOORS[target]}, not below {room}'s "
                         f"{FLOORS[room]})")
    assert not wrong, f"{path.relative_to(PACKAGE)} imports " + "; ".join(wrong)


def test_the_guard_sees_a_wrong_import(tmp_path, monkeypatch):
    """The checker itself: a formats module importing bucket/ is caught."""
    fake = tmp_path / "glacier_tasks" / "formats"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from ..bucket import store\nimport boto3\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "glacier_tasks")
    with pytest.raises(AssertionError, match="bucket .*boto3|boto3.*bucket"):
        test_imports_run_down_a_floor_or_stay_in_the_room(fake / "bad.py")
