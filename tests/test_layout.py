"""layout.py: every S3 key name, and the local manifest copies that mirror them."""

from pathlib import Path

import pytest

from glacier_tasks import layout
from glacier_tasks.layout import (BACKUP_KEY, archive_key, bag_name, local_manifest,
                                  manifest_key, system_key, system_prefix, system_years,
                                  year_prefix)

BAG = "2026-backup/rabbit_home-greenc-Backup_bag_003.tar"
MANIFEST = "2026-backup/manifests/rabbit_home-greenc-Backup_bag_003.txt"


def test_archive_key():
    assert year_prefix(2026) == "2026-backup/"
    assert archive_key(2026, "rabbit", "home-greenc-Backup", "bag_003") == BAG


def test_manifest_key_sits_in_the_years_manifests_folder():
    assert manifest_key(BAG) == MANIFEST
    assert manifest_key("2025-backup/h_m_bag_001.tar") == \
        "2025-backup/manifests/h_m_bag_001.txt"


def test_bag_name_is_the_keys_stem():
    assert bag_name(BAG) == "rabbit_home-greenc-Backup_bag_003"
    assert bag_name(archive_key(2024, "h", "m", "bag_010")) == "h_m_bag_010"


def test_system_folder():
    assert system_prefix(2026) == "2026-backup/system/"
    assert system_key(2026, "inventory.json") == "2026-backup/system/inventory.json"
    assert system_key(2026, "list.txt.age") == "2026-backup/system/list.txt.age"
    for name in layout.SYSTEM_FILES:
        assert system_key(2027, name).startswith(system_prefix(2027))


def test_each_host_has_its_own_system_folder_and_owns_its_keys():
    assert layout.system_prefix(2026, "rabbit") == "2026-backup/system/rabbit/"
    assert layout.system_key(2026, "inventory.json", "nas") == \
        "2026-backup/system/nas/inventory.json"
    keys = [layout.system_key(2026, "inventory.json", "rabbit"),
            layout.system_key(2027, "inventory.json.age", "nas"),
            layout.system_key(2025, "inventory.json"),  # shared, as older versions wrote
            layout.system_key(2027, "list.txt", "rabbit")]
    assert layout.system_folders(keys) == [(2025, None), (2026, "rabbit"), (2027, "nas")]
    assert layout.system_years(keys, "rabbit") == [2026]
    assert layout.system_years(keys) == [2025]
    assert layout.owner(BAG) == "rabbit" and layout.owner(manifest_key(BAG)) == "rabbit"
    assert layout.owner(layout.system_key(2026, "inventory.json", "rabbit")) is None
    assert layout.HOST_RE.match("nas-2.home") and not layout.HOST_RE.match("my_nas")


def test_system_years_are_those_holding_an_inventory():
    keys = [system_key(2026, "inventory.json"), system_key(2024, "inventory.json.age"),
            system_key(2025, "glacier.toml"),  # no inventory that year
            system_key(2026, "list.txt"),
            "2023-backup/inventory.json",  # not in a system folder
            "2022-backup/system/inventory.json.bak", BAG, MANIFEST, "photos/x.jpg"]
    assert system_years(keys) == [2024, 2026]
    assert system_years([]) == []
    assert system_years(iter(keys)) == [2024, 2026]  # any iterable, e.g. dict keys


@pytest.mark.parametrize("key, ours", [
    (BAG, True),
    (MANIFEST, True),
    ("2026-backup/system/inventory.json", False),
    ("2026-backup/system/glacier.toml", False),
    ("photos/2026-backup/x.tar", False),
    ("26-backup/x.tar", False),
    ("2026-backups/x.tar", False),
])
def test_backup_key_matches_bags_and_manifests_not_system_files(key, ours):
    assert bool(BACKUP_KEY.match(key)) is ours


def test_local_manifest_is_laid_out_as_in_the_bucket(tmp_path):
    assert local_manifest(tmp_path, MANIFEST) == tmp_path / MANIFEST
    # two years may hold a bag of the same name: their copies never share a file
    other_year = MANIFEST.replace("2026-", "2027-")
    assert local_manifest(tmp_path, other_year) != local_manifest(tmp_path, MANIFEST)
    assert local_manifest(tmp_path, manifest_key(BAG)).name == f"{bag_name(BAG)}.txt"
