"""prune's executor (commands/prune.prune_bucket) against a bucket in memory: what
`doit prune [--delete]` deletes and what it never touches (the bags the inventory
names, another host's, the system folder, what Object Lock holds, what is young),
after a real backup through the bag steps. The decisions alone: test_prune.py."""

import datetime

import pytest

from glacier_tasks.commands.prune import prune_bucket
from glacier_tasks.formats import layout
from tests.test_verify import backed_up, bag_key  # noqa: F401  (fixtures)
from tests.test_bag_steps import bag_run  # noqa: F401


@pytest.fixture
def old_bags(backed_up):  # noqa: F811
    """Beside the backup: a superseded bag of this host (with its manifest, listing a
    file no newer bag holds) and another host's bag, both older than a year."""
    run, inv = backed_up
    store, key = run.store, bag_key(inv)
    ours = key.replace("bag_001", "bag_007")
    theirs = key.replace(f"/{run.settings.host}_", "/other_")
    store.put_bytes(ours, b"an old tar", "DEEP_ARCHIVE", {})
    store.put_bytes(layout.manifest_key(ours), b"Books/gone.txt\t5\t2026-01-01T00:00:00Z\n",
                    "STANDARD", {})
    store.put_bytes(theirs, b"their tar", "DEEP_ARCHIVE", {})
    return run, inv, ours, theirs


def deletes(store) -> list:
    return [key for verb, key in store.requests if verb == "DELETE"]


def test_prune_without_delete_deletes_nothing(old_bags, capsys):
    run, _, ours, theirs = old_bags
    prune_bucket(run, delete=False, force=False, min_age_days=180)
    out = capsys.readouterr().out
    assert f"Would delete {ours}" in out and "Books/gone.txt" in out  # what it loses
    assert theirs not in out and deletes(run.store) == []


def test_delete_takes_only_this_hosts_unreferenced_objects(old_bags, capsys):
    run, inv, ours, theirs = old_bags
    before = set(run.store.objects)
    prune_bucket(run, delete=True, force=False, min_age_days=180)
    assert sorted(deletes(run.store)) == sorted([ours, layout.manifest_key(ours)])
    assert set(run.store.objects) == before - {ours, layout.manifest_key(ours)} | {
        k for k in run.store.objects if k.startswith("glacier-hosts/")}
    assert theirs in run.store.objects and bag_key(inv) in run.store.objects
    assert any(k.startswith("glacier-hosts/") for k in run.store.objects)  # claimed
    assert f"Deleted {ours}" in capsys.readouterr().out
    assert not run.manifest_file(layout.manifest_key(ours)).exists()


def test_a_young_bag_is_kept_unless_forced(old_bags, capsys):
    run, _, ours, _ = old_bags
    prune_bucket(run, delete=True, force=False, min_age_days=1000)
    assert deletes(run.store) == []
    assert f"Kept {ours}: 365 days old, under --min-age-days 1000" in \
        capsys.readouterr().out
    prune_bucket(run, delete=True, force=True, min_age_days=1000)
    out = capsys.readouterr().out
    assert ours in deletes(run.store) and f"Deleting {ours} loses 1 file" in out


def test_what_object_lock_holds_waits_with_its_manifest(old_bags, capsys):
    run, _, ours, _ = old_bags
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    run.store.lock(ours, until)
    prune_bucket(run, delete=True, force=False, min_age_days=180)
    out = capsys.readouterr().out
    assert deletes(run.store) == [] and ours in run.store.objects
    assert f"Waits {ours}: Object Lock (GOVERNANCE) until" in out
    assert f"Waits {layout.manifest_key(ours)}: kept with its bag {ours}" in out


def test_after_a_bootstrap_delete_waits_for_a_backup_and_claims_nothing(old_bags):
    run, _, _, _ = old_bags
    run.bootstrapped_file.write_text("prune --delete waits for a backup\n")
    before = list(run.store.requests)
    failed = prune_bucket(run, delete=True, force=True, min_age_days=0)
    assert "no backup has yet put the files on disk into bags" in str(failed)
    assert [r for r in run.store.requests[len(before):] if r[0] in ("PUT", "DELETE")] == []


def test_delete_refuses_while_a_bag_the_inventory_names_is_lost(old_bags):
    """An older bag may then hold the only good copy of its atoms."""
    run, inv, _, _ = old_bags
    run.store.delete(bag_key(inv))
    failed = prune_bucket(run, delete=True, force=True, min_age_days=0)
    assert f"{bag_key(inv)} is missing in the bucket" in str(failed)
    assert deletes(run.store) == [bag_key(inv)]  # the test's own, nothing more
