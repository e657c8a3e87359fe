"""staging.py: what a tar step clears before packing, and what the budget needs."""

import os
import time

import pytest

from glacier_tasks.backup.marker import BagMarker, Packed, write_marker
from glacier_tasks.backup.plan import PlannedBag
from tests.support.builders import plan_of, planned_bag
from glacier_tasks.run import load_run
from glacier_tasks.backup.staging import budget_need, make_room
from tests.test_run import make_config


def planned(n: int, size: int = 1000, files: int = 1) -> PlannedBag:
    return planned_bag(n, host="host", atoms=["/m/a"], size=size, files=files,
                       content_key=f"ck{n}")


def run_with(tmp_path, staging_bags: int):
    load_run.cache_clear()
    return load_run(str(make_config(tmp_path / f"conf{staging_bags}", ["/m"],
                                    f"staging_bags = {staging_bags}\n")))


def stage(run, bag, size=10, packed=True, failed=False) -> None:
    run.settings.staging_dir.mkdir(parents=True, exist_ok=True)
    run.staged_tar(bag.name).write_bytes(b"t" * size)
    if packed:
        write_marker(run.marker_file(bag.name), BagMarker(
            bag.content_key, packed=Packed(size, "s", "c", {}, bag.content_key)))
    if failed:
        run.failure_file(bag.name).parent.mkdir(parents=True, exist_ok=True)
        run.failure_file(bag.name).write_text("the network went\n")


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")


@pytest.mark.parametrize("budget, failed_tar_stays", [(2, False), (3, True)])
def test_make_room_keeps_what_waits_for_its_upload(tmp_path, budget, failed_tar_stays):
    run = run_with(tmp_path, budget)
    b1, b2, b3, b4 = bags = [planned(n) for n in (1, 2, 3, 4)]
    stage(run, b1)                      # packed, its upload to come: stays
    stage(run, b2, failed=True)         # its upload failed: goes if room is short
    stage(run, b3, packed=False)        # no marker claims it (a stopped run's): goes
    folder = run.settings.staging_dir
    (folder / f"{b4.name}.tar.partial").write_bytes(b"half")  # a killed pack: goes
    (folder / f"{b4.name}.tar.members").write_bytes(b"")
    (folder / "notes.txt").write_text("not ours")             # never touched
    (folder / "otherhost_m_bag_009.tar").write_bytes(b"x")    # another host's name
    make_room(run, plan_of(bags), b4)
    left = sorted(p.name for p in folder.iterdir())
    expected = [f"{b1.name}.tar"] + ([f"{b2.name}.tar"] if failed_tar_stays else []) + \
        ["notes.txt", "otherhost_m_bag_009.tar"]
    assert left == sorted(expected)


def test_the_oldest_failed_tar_goes_first(tmp_path):
    run = run_with(tmp_path, 2)
    b1, b2, b3 = bags = [planned(n) for n in (1, 2, 3)]
    stage(run, b1, failed=True)
    stage(run, b2, failed=True)
    old = time.time() - 100
    os.utime(run.staged_tar(b2.name), (old, old))
    make_room(run, plan_of(bags), b3)  # room for one besides b3
    assert run.staged_tar(b1.name).exists() and not run.staged_tar(b2.name).exists()


def test_the_budget_needs_the_largest_bags_at_once():
    plan = plan_of([planned(1, 5_000), planned(2, 9_000), planned(3, 7_000)])
    need, held = budget_need(plan, 2)
    assert held == 2 and 9_000 + 7_000 < need < 9_000 + 7_000 + 2 * (2 << 20)
    assert budget_need(plan, 5)[1] == 3
    assert budget_need(plan_of([]), 2) == (0, 0)
