"""glacier.toml and list.txt parsing, and GLACIER_TODAY."""

import datetime
import socket
from pathlib import Path

import pytest

from glacier_tasks.config import find_config_file, load_settings, read_molecules, today
from glacier_tasks.errors import ConfigError


def write_config(folder: Path, settings: str = 's3_bucket = "my-bucket"\n',
                 extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "glacier.toml"
    path.write_text(f"[settings]\n{settings}\n{extra}", encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    return str(err.value)


def molecules_from(tmp_path: Path, lines: str):
    (tmp_path / "list.txt").write_text(lines, encoding="utf-8")
    return read_molecules(load_settings(write_config(tmp_path)))


def list_error(tmp_path: Path, lines: str) -> str:
    with pytest.raises(ConfigError) as err:
        molecules_from(tmp_path, lines)
    return str(err.value)


# ---------------------------------------------------------------- glacier.toml

def test_defaults(tmp_path):
    s = load_settings(write_config(tmp_path))
    assert s.config_file == tmp_path / "glacier.toml"
    assert s.s3_bucket == "my-bucket"
    assert s.target_bag_gb == 40.0
    assert s.target_bytes == 40_000_000_000
    assert s.staging_dir == tmp_path / "stage"
    assert s.manifest_dir == tmp_path / "manifests"
    assert s.inventory_file == tmp_path / "inventory.json"
    assert s.mnt_base == tmp_path / "mnt"
    assert s.list_file == tmp_path / "list.txt"
    assert s.state_dir == tmp_path / ".glacier-state"
    assert s.storage_class == "DEEP_ARCHIVE"
    assert s.endpoint_url is None and s.region is None and s.encryption is None
    assert s.host == socket.gethostname().split(".")[0]
    assert s.sshfs_options == ""
    assert s.age_recipients == ()
    assert s.prices == {}


def test_relative_paths_are_relative_to_the_config_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write_config(tmp_path / "conf", 's3_bucket = "bkt"\n'
                        'staging_dir = "big/stage"\n'
                        'inventory_file = "../state/inv.json"\n'
                        f'manifest_dir = "{tmp_path}/abs/manifests"\n')
    s = load_settings(path)
    assert s.staging_dir == tmp_path / "conf" / "big" / "stage"
    assert s.inventory_file == tmp_path / "state" / "inv.json"
    assert s.manifest_dir == tmp_path / "abs" / "manifests"
    assert s.list_file == tmp_path / "conf" / "list.txt"


@pytest.mark.parametrize("value, expected_bytes", [
    ("0.5", 500_000_000), ("1.25", 1_250_000_000), ("40", 40_000_000_000)])
def test_target_bag_gb_accepts_decimals(tmp_path, value, expected_bytes):
    s = load_settings(write_config(tmp_path, f's3_bucket = "bkt"\ntarget_bag_gb = {value}\n'))
    assert s.target_bytes == expected_bytes
    assert isinstance(s.target_bag_gb, float)


def test_explicit_settings_are_kept(tmp_path):
    s = load_settings(write_config(tmp_path, 's3_bucket = "bkt"\nhost = "nas"\n'
                                   'storage_class = "GLACIER"\n'
                                   'endpoint_url = "http://127.0.0.1:9000"\n'
                                   'age_recipients = ["age1xyz"]\n'))
    assert (s.host, s.storage_class, s.endpoint_url) == \
        ("nas", "GLACIER", "http://127.0.0.1:9000")
    assert s.age_recipients == ("age1xyz",)


def test_unknown_key_is_named(tmp_path):
    message = config_error(write_config(tmp_path, 's3_bucket = "bkt"\ncolour = "blue"\n'))
    assert "settings.colour" in message
    assert str(tmp_path / "glacier.toml") in message


def test_unknown_table_is_named(tmp_path):
    message = config_error(write_config(tmp_path, extra="[extras]\nx = 1\n"))
    assert "extras" in message


@pytest.mark.parametrize("line, key", [
    ('target_bag_gb = "40"', "settings.target_bag_gb"),
    ("target_bag_gb = true", "settings.target_bag_gb"),
    ("staging_dir = 3", "settings.staging_dir"),
    ('age_recipients = "age1xyz"', "settings.age_recipients"),
    ("host = [1]", "settings.host"),
])
def test_wrong_type_is_named(tmp_path, line, key):
    message = config_error(write_config(tmp_path, f's3_bucket = "bkt"\n{line}\n'))
    assert key in message


@pytest.mark.parametrize("line, words", [
    ('target_bag_gb = "40"', "must be a number, not '40'"),
    ("keep_years = 1.5", "must be a whole number, not 1.5"),
    ("obscure_keys = 1", "must be true or false, not 1"),
    ("host = [1]", "must be a string, not [1]"),
    ('age_recipients = "age1xyz"', "must be a list, not 'age1xyz'"),
])
def test_wrong_type_reads_as_words(tmp_path, line, words):
    message = config_error(write_config(tmp_path, f's3_bucket = "bkt"\n{line}\n'))
    assert message.endswith(words), message


@pytest.mark.parametrize("line", ["target_bag_gb = 0", "target_bag_gb = -1.5",
                                  "target_bag_gb = nan", "target_bag_gb = inf"])
def test_target_must_be_a_positive_finite_number(tmp_path, line):
    assert "settings.target_bag_gb" in config_error(
        write_config(tmp_path, f's3_bucket = "bkt"\n{line}\n'))


def test_target_is_at_most_s3s_largest_object(tmp_path):
    message = config_error(write_config(tmp_path,
                                        's3_bucket = "bkt"\ntarget_bag_gb = 5001\n'))
    assert "settings.target_bag_gb" in message and "5000" in message
    s = load_settings(write_config(tmp_path, 's3_bucket = "bkt"\ntarget_bag_gb = 5000\n'))
    assert s.target_bytes == 5_000_000_000_000


def test_bad_storage_class_is_named(tmp_path):
    assert "settings.storage_class" in config_error(
        write_config(tmp_path, 's3_bucket = "bkt"\nstorage_class = "COLD"\n'))


@pytest.mark.parametrize("settings", ['target_bag_gb = 10\n', 's3_bucket = ""\n'])
def test_missing_bucket(tmp_path, settings):
    assert "s3_bucket" in config_error(write_config(tmp_path, settings))


def test_missing_settings_table(tmp_path):
    path = tmp_path / "glacier.toml"
    path.write_text('[prices]\nput_standard = 0.01\n')
    assert "[settings]" in config_error(path)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "glacier.toml"
    path.write_text('[settings]\ns3_bucket = "unterminated\n')
    message = config_error(path)
    assert str(path) in message
    assert "TOML" in message


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "glacier.toml"
    message = config_error(path)
    assert str(path) in message
    assert "not found" in message


def test_config_file_from_environment(tmp_path, monkeypatch):
    path = write_config(tmp_path / "cfg", 's3_bucket = "from-env"\n')
    monkeypatch.setenv("GLACIER_CONFIG", str(path))
    assert load_settings().s3_bucket == "from-env"


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """An empty working folder, no GLACIER_CONFIG, an empty XDG config home."""
    work, xdg = tmp_path / "work", tmp_path / "xdg"
    work.mkdir()
    xdg.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("GLACIER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    return work, xdg


def test_no_config_anywhere_is_one_line_saying_init(no_config):
    _, xdg = no_config
    with pytest.raises(ConfigError) as err:
        find_config_file()
    message = str(err.value)
    assert "\n" not in message
    assert "GLACIER_CONFIG" in message and "./glacier.toml" in message
    assert str(xdg / "glacier-tasks" / "glacier.toml") in message
    assert "glacier init" in message
    with pytest.raises(ConfigError):
        load_settings()


def test_glacier_config_naming_a_missing_file_is_an_error(no_config, monkeypatch):
    work, _ = no_config
    write_config(work)  # ./glacier.toml exists, but the variable names another file
    missing = work / "nope" / "glacier.toml"
    monkeypatch.setenv("GLACIER_CONFIG", str(missing))
    with pytest.raises(ConfigError) as err:
        find_config_file()
    assert f"GLACIER_CONFIG={missing}" in str(err.value)
    assert "not found" in str(err.value)


def test_config_lookup_order(no_config, monkeypatch):
    work, xdg = no_config
    in_xdg = write_config(xdg / "glacier-tasks", 's3_bucket = "xdg"\n')
    assert find_config_file() == in_xdg
    here = write_config(work, 's3_bucket = "here"\n')
    assert find_config_file() == here  # ./glacier.toml before the XDG one
    from_env = write_config(work / "env", 's3_bucket = "env"\n')
    monkeypatch.setenv("GLACIER_CONFIG", str(from_env))
    assert find_config_file() == from_env  # $GLACIER_CONFIG before both
    assert load_settings().s3_bucket == "env"


def test_prices_table_overrides(tmp_path):
    s = load_settings(write_config(tmp_path, extra="[prices]\nstorage_deep_archive = 0.0018\n"
                                                   "put_deep_archive = 0\n"))
    assert s.prices == {"storage_deep_archive": 0.0018, "put_deep_archive": 0}


@pytest.mark.parametrize("line, key", [("storage_moon = 1.0", "prices.storage_moon"),
                                       ('put_standard = "cheap"', "prices.put_standard"),
                                       ("put_standard = -1", "prices.put_standard")])
def test_bad_prices_are_named(tmp_path, line, key):
    assert key in config_error(write_config(tmp_path, extra=f"[prices]\n{line}\n"))


# ---------------------------------------------------------------- list.txt

def test_comments_blank_lines_and_trailing_slashes(tmp_path):
    found = molecules_from(tmp_path, "# photos first\n\n/data/photos/\n   \n"
                                     "  /data/music  \n#/data/old\n/\n")
    assert [m.spelling for m in found] == ["/data/photos", "/data/music", "/"]
    assert [m.path for m in found] == [Path("/data/photos"), Path("/data/music"), Path("/")]
    assert [m.remote for m in found] == [False, False, False]
    assert [m.slug for m in found] == ["data-photos", "data-music", "root"]


def test_remote_lines(tmp_path):
    found = molecules_from(tmp_path, "alice@nas:/srv/share/\nbob@10.0.0.2:/home/bob\n")
    mnt = tmp_path / "mnt"
    assert [(m.spelling, m.remote) for m in found] == [
        ("alice@nas:/srv/share", True), ("bob@10.0.0.2:/home/bob", True)]
    assert found[0].path.parent == mnt
    assert found[0].path.name == found[0].slug
    assert found[0].path != found[1].path


def test_remote_root(tmp_path):
    found = molecules_from(tmp_path, "alice@nas:/\n")
    assert len(found) == 1
    assert found[0].remote is True
    assert found[0].path.parent == tmp_path / "mnt"


@pytest.mark.parametrize("line", ["photos", "./photos", "~/photos", "nas:/srv"])
def test_relative_path_names_file_and_line(tmp_path, line):
    message = list_error(tmp_path, f"# comment\n/data/a\n{line}\n")
    assert str(tmp_path / "list.txt") in message
    assert "line 3" in message
    assert line in message


def test_duplicate_line_names_both_lines(tmp_path):
    message = list_error(tmp_path, "/data/a\n\n/data/b\n/data/a/\n")
    assert str(tmp_path / "list.txt") in message
    assert "line 4" in message
    assert "line 1" in message


def test_missing_list_file_is_named(tmp_path):
    settings = load_settings(write_config(tmp_path))
    with pytest.raises(ConfigError) as err:
        read_molecules(settings)
    assert str(tmp_path / "list.txt") in str(err.value)


def test_colliding_slugs_get_distinct_suffixes(tmp_path):
    found = molecules_from(tmp_path, "/data/a b\n/data/a-b\n/data/a_b\n/data/other\n")
    slugs = [m.slug for m in found]
    assert len(set(slugs)) == 4
    assert all(s.startswith("data-a-b-") for s in slugs[:3])
    assert slugs[3] == "data-other"
    # stable: the same list gives the same slugs
    assert [m.slug for m in molecules_from(tmp_path, "/data/a b\n/data/a-b\n/data/a_b\n"
                                           "/data/other\n")] == slugs


# ---------------------------------------------------------------- GLACIER_TODAY

def test_today_from_environment(monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    assert today() == datetime.date(2027, 1, 15)


def test_today_without_environment(monkeypatch):
    monkeypatch.delenv("GLACIER_TODAY", raising=False)
    assert today() == datetime.date.today()


@pytest.mark.parametrize("value", ["2027-13-01", "tomorrow", "15/01/2027"])
def test_today_bad_value(monkeypatch, value):
    monkeypatch.setenv("GLACIER_TODAY", value)
    with pytest.raises(ConfigError) as err:
        today()
    assert "GLACIER_TODAY" in str(err.value)
    assert value in str(err.value)


@pytest.mark.parametrize("name", ["ab", "My-Bucket", "bucket_name", "-bucket", "a..b",
                                  "192.168.1.2", "xn--bucket", "data-s3alias", "x" * 64])
def test_a_name_s3_refuses_is_refused_before_use(tmp_path, name):
    message = config_error(write_config(tmp_path, f's3_bucket = "{name}"\n'))
    assert "s3_bucket" in message and "bucket name" in message


@pytest.mark.parametrize("name", ["abc", "my-glacier-bucket", "photos.2026", "a" * 63])
def test_a_good_bucket_name_is_accepted(tmp_path, name):
    assert load_settings(write_config(tmp_path, f's3_bucket = "{name}"\n')).s3_bucket == name


def test_staging_budget_and_progress_interval_defaults(tmp_path):
    s = load_settings(write_config(tmp_path))
    assert s.staging_bags == 2 and s.progress_interval == 300.0
    s = load_settings(write_config(tmp_path, 's3_bucket = "bkt"\nstaging_bags = 1\n'
                                             'progress_interval = 0.5\n'))
    assert s.staging_bags == 1 and s.progress_interval == 0.5


@pytest.mark.parametrize("line, key", [
    ("staging_bags = 0", "settings.staging_bags"),
    ("staging_bags = 1.5", "settings.staging_bags"),
    ("staging_bags = true", "settings.staging_bags"),
    ("progress_interval = 0", "settings.progress_interval"),
    ("progress_interval = -5", "settings.progress_interval"),
    ("progress_interval = inf", "settings.progress_interval"),
    ('progress_interval = "5 min"', "settings.progress_interval"),
])
def test_a_bad_staging_budget_or_progress_interval_is_named(tmp_path, line, key):
    message = config_error(write_config(tmp_path, f's3_bucket = "bkt"\n{line}\n'))
    assert key in message and "\n" not in message
