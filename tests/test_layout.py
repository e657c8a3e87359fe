"""layout.py: every S3 key name, and the local manifest copies that mirror them."""

from pathlib import Path

import pytest

from glacier_tasks.formats import layout
from glacier_tasks.formats.layout import (BACKUP_KEY, archive_key, bag_name,
                                          local_manifest, manifest_key, system_key,
                                          system_prefix, system_years, year_prefix)

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


def test_each_run_writes_system_files_under_its_own_number():
    assert system_key(2026, "inventory.json", "rabbit", 7) == \
        "2026-backup/system/rabbit/inventory.000007.json"
    assert system_key(2026, "inventory.json.age", "rabbit", 7) == \
        "2026-backup/system/rabbit/inventory.000007.json.age"
    assert system_key(2026, "glacier.toml", "rabbit", 7).endswith("/glacier.000007.toml")
    assert system_key(2026, "list.txt.age", "rabbit", 12).endswith("/list.000012.txt.age")
    assert system_key(2026, layout.SOURCE_ARCHIVE, "rabbit", 7).endswith(
        "/glacier-tasks-src.000007.tar.gz")
    for name in layout.SYSTEM_FILES + ("inventory.json.age", "list.txt.age"):
        for host, number in (("rabbit", 7), ("nas-2.home", 1234567), (None, 3)):
            assert layout.parse_system_key(system_key(2026, name, host, number)) == \
                (2026, host, name, number)
        assert layout.parse_system_key(system_key(2026, name, "rabbit")) == \
            (2026, "rabbit", name, 0)  # as older versions wrote it
    for other in ("2026-backup/system/rabbit/inventory.json.bak",
                  "2026-backup/system/rabbit/glacier.000007.toml.age",
                  "2026-backup/system/rabbit/notes.000001.txt",
                  "2026-backup/system/a/b/inventory.000001.json", BAG, MANIFEST,
                  "glacier-hosts/rabbit.json"):
        assert layout.parse_system_key(other) is None, other


def test_the_newest_copy_of_each_system_file_is_the_highest_number():
    folder = "2026-backup/system/rabbit/"
    keys = [folder + "inventory.json", folder + "glacier.toml",  # older versions
            folder + "inventory.000001.json", folder + "list.000001.txt",
            folder + "inventory.000002.json.age", folder + "list.000002.txt",
            folder + "inventory.000010.json",  # by number, not by the keys' order
            "2026-backup/system/nas/inventory.000011.json",  # another host's
            "2026-backup/system/inventory.000012.json",  # the shared folder
            "2027-backup/system/rabbit/inventory.000013.json"]  # another year
    assert layout.newest_system_keys(keys, 2026, "rabbit") == {
        "inventory.json": folder + "inventory.000010.json",
        "glacier.toml": folder + "glacier.toml",
        "list.txt": folder + "list.000002.txt"}
    assert layout.newest_system_keys(keys[:6], 2026, "rabbit")["inventory.json"] == \
        folder + "inventory.000002.json.age"  # encrypted since: still the inventory
    assert layout.newest_system_keys(keys, 2026) == {
        "inventory.json": "2026-backup/system/inventory.000012.json"}
    assert layout.newest_system_keys(keys, 2025, "rabbit") == {}
    assert layout.next_system_number(keys, 2026, "rabbit") == 11
    assert layout.next_system_number(keys[:2], 2026, "rabbit") == 1  # after 0
    assert layout.next_system_number([], 2026, "rabbit") == 1
    assert layout.next_system_number(keys, 2027, "rabbit") == 14  # numbered per year


def test_numbered_inventories_mark_system_folders():
    keys = [system_key(2026, "inventory.json", "rabbit", 3),
            system_key(2027, "inventory.json.age", "nas", 1),
            system_key(2025, "inventory.json"),  # shared, unnumbered
            system_key(2028, "list.txt", "rabbit", 4)]  # no inventory that year
    assert layout.system_folders(keys) == [(2025, None), (2026, "rabbit"), (2027, "nas")]
    assert layout.system_years(keys, "rabbit") == [2026]
    assert layout.owner(keys[0]) is None and not BACKUP_KEY.match(keys[0])


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


def test_parse_reads_every_kind_of_key_the_tool_writes():
    bag = layout.archive_key(2026, "rabbit", "home-me_2_Photos", "bag_012")
    for key, kind in ((bag, "bag"), (layout.manifest_key(bag), "manifest"),
                      (layout.index_key(bag), "index")):
        parsed = layout.parse(key)
        assert (parsed.year, parsed.kind, parsed.host, parsed.slug, parsed.tar_id) == \
            (2026, kind, "rabbit", "home-me_2_Photos", "bag_012")
        assert parsed.archive == bag
    system = layout.parse(layout.system_key(2027, "inventory.json.age", "rabbit", 7))
    assert (system.year, system.kind, system.host) == (2027, "system", "rabbit")
    assert layout.parse("2025-backup/system/list.txt").host is None  # the shared folder
    assert layout.parse("2025-backup/notes.md").kind == "other"
    assert layout.parse("2025-backup/manifests/rabbit_x_bag_001.tar").kind == "other"
    assert layout.parse("glacier-hosts/rabbit.json") is None
    assert layout.parse("photos/2025-backup/rabbit_x_bag_001.tar") is None
