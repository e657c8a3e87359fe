"""glacier.toml and list.txt -> frozen dataclasses; every validation of user input."""

import datetime
import hashlib
import math
import os
import re
import shlex
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .formats.layout import HOST_RE

STORAGE_CLASSES = ("DEEP_ARCHIVE", "GLACIER", "GLACIER_IR", "STANDARD_IA",
                   "ONEZONE_IA", "INTELLIGENT_TIERING", "STANDARD")

# key: (accepted types, default); a path default is relative to the config's folder.
SETTINGS_KEYS = {
    "s3_bucket": ((str,), None),
    "target_bag_gb": ((int, float), 40),
    "staging_dir": ((str,), "stage"),
    "manifest_dir": ((str,), "manifests"),
    "inventory_file": ((str,), "inventory.json"),
    "mnt_base": ((str,), "mnt"),
    "list_file": ((str,), "list.txt"),
    "state_dir": ((str,), ".glacier-state"),
    "storage_class": ((str,), "DEEP_ARCHIVE"),
    "endpoint_url": ((str,), None),
    "region": ((str,), None),
    "host": ((str,), None),
    "sshfs_options": ((str,), ""),
    "encryption": ((str,), None),
    "age_recipients": ((list,), []),
    "age_identity_file": ((str,), None),
    "max_age_days": ((int,), 400),  # `glacier status` fails when the last backup is older
    "obscure_keys": ((bool,), False),  # name new bags by a keyed hash, not the path
    "keep_years": ((int,), 0),  # how long a superseded bag stays as history (0: mirror)
    "staging_bags": ((int,), 2),  # staged tars at most at once (packing overlaps uploads)
    "progress_interval": ((int, float), 300),  # seconds between heartbeats in a log
    "compact_below": ((int, float), 0.5),  # a bag less referenced than this is re-packed
    # a changed atom whose new and modified files are under this fraction of it is sent
    # as an increment bag (issue 27); 0: off, every changed atom is packed whole
    "increment_below": ((int, float), 0.5),
    "alert_url": ((str,), None),  # pinged at a backup's start and end (report/alert.py)
    "alert_command": ((str,), None),  # run with the event and a one-line message
}
PATH_KEYS = ("staging_dir", "manifest_dir", "inventory_file", "mnt_base", "list_file",
             "state_dir", "age_identity_file")
REMOTE_RE = re.compile(r"^(?P<user>[^@/\s:]+)@(?P<host>[^@/\s:]+):(?P<path>/.*)$")


@dataclass(frozen=True)
class Settings:
    config_file: Path
    s3_bucket: str
    target_bag_gb: float
    staging_dir: Path
    manifest_dir: Path
    inventory_file: Path
    mnt_base: Path
    list_file: Path
    state_dir: Path
    storage_class: str
    endpoint_url: str | None
    region: str | None
    host: str
    sshfs_options: str
    encryption: str | None
    age_recipients: tuple = ()
    age_identity_file: Path | None = None
    max_age_days: int = 400
    obscure_keys: bool = False
    keep_years: int = 0
    staging_bags: int = 2
    progress_interval: float = 300
    compact_below: float = 0.5
    increment_below: float = 0.5
    alert_url: str | None = None
    alert_command: str | None = None
    prices: dict = field(default_factory=dict)

    @property
    def target_bytes(self) -> int:
        return int(self.target_bag_gb * 1e9)


@dataclass(frozen=True)
class Molecule:
    """A line of list.txt: `spelling` as written, `path` where its atoms are read."""
    spelling: str
    path: Path
    slug: str
    remote: bool = False


def xdg_config_file() -> Path:
    """Where `init` writes by default: $XDG_CONFIG_HOME/glacier-tasks/glacier.toml."""
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return (Path(base).expanduser() / "glacier-tasks" / "glacier.toml").absolute()


def config_file_choice() -> Path:
    """The config this run uses: $GLACIER_CONFIG (existing or not), else ./glacier.toml,
    else the XDG one. Never a file inside the installed package."""
    env = os.environ.get("GLACIER_CONFIG")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd() / "glacier.toml"
    return here.resolve() if here.exists() else xdg_config_file()


def find_config_file() -> Path:
    """The config file to load; a one-line ConfigError when there is none."""
    try:
        path = config_file_choice()
        if path.exists():
            return path
    except OSError as err:  # a folder on the way cannot be read
        raise ConfigError(f"{err.filename}: cannot read: {err.strerror}") from None
    if os.environ.get("GLACIER_CONFIG"):
        raise ConfigError(f"GLACIER_CONFIG={path}: config file not found; run 'glacier init' to "
                          "write one there, or fix the variable")
    raise ConfigError(f"no glacier.toml found (looked in $GLACIER_CONFIG, ./glacier.toml "
                      f"and {path}); run 'glacier init' to write one")


def load_settings(path: Path | None = None) -> Settings:
    path = Path(path).absolute() if path else find_config_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set GLACIER_CONFIG or create "
                          "glacier.toml)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    unknown = set(raw) - {"settings", "prices"}
    if unknown:
        raise ConfigError(f"{path}: unknown table or key '{sorted(unknown)[0]}' "
                          "(expected [settings] and optionally [prices])")
    if not isinstance(raw.get("settings"), dict):
        raise ConfigError(f"{path}: missing [settings] table")
    values = _check_settings(path, raw["settings"])
    values["prices"] = _check_prices(path, raw.get("prices", {}))
    return Settings(config_file=path, **values)


# a TOML value's type as a message names it ("must be a whole number", not "a int")
KIND_WORDS = {(int,): "a whole number", (int, float): "a number", (str,): "a string",
              (bool,): "true or false", (list,): "a list"}


def _check_settings(path: Path, table: dict) -> dict:
    for key in table:
        if key not in SETTINGS_KEYS:
            raise ConfigError(f"{path}: unknown key 'settings.{key}'")
    values = {}
    for key, (types, default) in SETTINGS_KEYS.items():
        value = table.get(key, default)
        if value is None:
            values[key] = None
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            kind = KIND_WORDS.get(types, " or ".join(t.__name__ for t in types))
            raise ConfigError(f"{path}: key 'settings.{key}' must be {kind}, "
                              f"not {value!r}")
        values[key] = value
    if not values["s3_bucket"]:
        raise ConfigError(f"{path}: key 'settings.s3_bucket' is required")
    problem = bucket_name_problem(values["s3_bucket"])
    if problem:
        raise ConfigError(f"{path}: key 'settings.s3_bucket': {values['s3_bucket']!r} "
                          f"{problem}")
    if not (math.isfinite(values["target_bag_gb"]) and 0 < values["target_bag_gb"] <= 5000):
        raise ConfigError(f"{path}: key 'settings.target_bag_gb' must be a number above 0 "
                          "and at most 5000 (S3's largest object is 5 TB)")
    values["target_bag_gb"] = float(values["target_bag_gb"])
    if values["keep_years"] < 0:
        raise ConfigError(f"{path}: key 'settings.keep_years' must be 0 (keep no history) "
                          "or more years")
    if values["staging_bags"] < 1:
        raise ConfigError(f"{path}: key 'settings.staging_bags' must be a whole number of "
                          "bags, at least 1 (1: pack only while nothing uploads)")
    if not (math.isfinite(values["progress_interval"]) and values["progress_interval"] > 0):
        raise ConfigError(f"{path}: key 'settings.progress_interval' must be a number of "
                          "seconds above 0")
    values["progress_interval"] = float(values["progress_interval"])
    if not (math.isfinite(values["compact_below"]) and 0 <= values["compact_below"] <= 1):
        raise ConfigError(f"{path}: key 'settings.compact_below' must be a fraction from "
                          "0 (never re-pack a bag) to 1 (re-pack a bag at any change)")
    values["compact_below"] = float(values["compact_below"])
    if not (math.isfinite(values["increment_below"]) and 0 <= values["increment_below"] <= 1):
        raise ConfigError(f"{path}: key 'settings.increment_below' must be a fraction from "
                          "0 (never send increments) to 1")
    values["increment_below"] = float(values["increment_below"])
    if values["max_age_days"] < 1:
        raise ConfigError(f"{path}: key 'settings.max_age_days' must be a whole number "
                          "of days, at least 1")
    if values["storage_class"] not in STORAGE_CLASSES:
        raise ConfigError(f"{path}: key 'settings.storage_class' must be one of "
                          f"{', '.join(STORAGE_CLASSES)}")
    endpoint = values["endpoint_url"]
    if endpoint is not None and not re.match(r"^https?://[^/\s]+", endpoint):
        raise ConfigError(f"{path}: key 'settings.endpoint_url' must be a URL such as "
                          f"\"https://s3.example.com\", not {endpoint!r}")
    _check_alerts(path, values)
    if values["encryption"] not in (None, "age"):
        raise ConfigError(f"{path}: key 'settings.encryption' must be \"age\" or absent")
    values["age_recipients"] = tuple(values["age_recipients"])
    for recipient in values["age_recipients"]:
        if not isinstance(recipient, str) or not recipient.startswith(
                ("age1", "ssh-ed25519 ", "ssh-rsa ")):
            raise ConfigError(f"{path}: key 'settings.age_recipients': {recipient!r} is "
                              "not an age public key (age1...) or an ssh public key")
    if values["encryption"] and not values["age_recipients"]:
        raise ConfigError(f"{path}: key 'settings.age_recipients' must list at least one "
                          "public key when encryption = \"age\"")
    if values["host"] is not None and not HOST_RE.match(values["host"]):
        raise ConfigError(f"{path}: key 'settings.host' must be letters, digits, '.' and "
                          f"'-' (it starts every bag's name, up to a '_'), not "
                          f"{values['host']!r}")
    values["host"] = values["host"] or default_host()
    for key in PATH_KEYS:
        if values[key] is not None:
            values[key] = (path.parent / Path(values[key]).expanduser()).resolve()
    for key in ("inventory_file", "list_file", "age_identity_file"):
        if values[key] is not None and values[key].is_dir():
            raise ConfigError(f"{path}: key 'settings.{key}' names a folder, "
                              f"{values[key]}; name a file")
    for key in ("state_dir", "staging_dir", "manifest_dir", "mnt_base"):
        if values[key].exists() and not values[key].is_dir():
            raise ConfigError(f"{path}: key 'settings.{key}' names a file, "
                              f"{values[key]}; name a folder")
    return values


def _check_alerts(path: Path, values: dict) -> None:
    url = values["alert_url"]
    if url is not None and not re.match(r"^https?://[^/\s]+\S*$", url):
        raise ConfigError(f"{path}: key 'settings.alert_url' must be an http or https "
                          f"URL such as \"https://hc-ping.com/UUID\", not {url!r}")
    command = values["alert_command"]
    if command is not None:
        try:
            words = shlex.split(command)
        except ValueError as err:
            words, why = [], str(err)
        else:
            why = "it is empty"
        if not words:
            raise ConfigError(f"{path}: key 'settings.alert_command' must be a command "
                              f"line such as \"/usr/local/bin/notify\" ({why})")


BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_TABOO = (("xn--", "sthree-", "amzn-s3-demo-"),
                ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))


def bucket_name_problem(name: str) -> str | None:
    """What breaks S3's rules for a general purpose bucket's name, in words, or None."""
    if not BUCKET_RE.match(name):
        return ("is not a bucket name: 3 to 63 lower-case letters, digits, '.' and '-', "
                "starting and ending with a letter or digit")
    if ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        return "is not a bucket name: no '..', and not shaped like an IP address"
    if name.startswith(BUCKET_TABOO[0]) or name.endswith(BUCKET_TABOO[1]):
        return "is not a bucket name: that prefix or suffix is reserved by S3"
    return None


def default_host() -> str:
    """This machine's short name, in the letters a bag's name allows."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname().split(".")[0]).strip("-.")
    return name or "host"


def _check_prices(path: Path, table) -> dict:
    from .cost import PRICES
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'prices' must be a table")
    for key, value in table.items():
        if key not in PRICES:
            raise ConfigError(f"{path}: unknown key 'prices.{key}'")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{path}: key 'prices.{key}' must be a number >= 0")
    return dict(table)


def read_molecules(settings: Settings) -> list[Molecule]:
    """Parse list.txt; a line that is neither an absolute path nor user@host:/path fails."""
    list_file = settings.list_file
    try:
        text = list_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{list_file}: list file not found (one folder to back up "
                          "per line)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{list_file}: not UTF-8 text") from None
    molecules, seen = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        spelling = line.strip()
        if not spelling or spelling.startswith("#"):
            continue
        if "\0" in spelling:
            raise ConfigError(f"{list_file}, line {number}: holds a NUL byte; one folder "
                              "per line, as text")
        spelling = normalise_spelling(spelling)
        if spelling in seen:
            raise ConfigError(f"{list_file}, line {number}: '{spelling}' is already "
                              f"listed on line {seen[spelling]}")
        seen[spelling] = number
        molecules.append(_parse_molecule(list_file, number, spelling, settings))
    return _unique_slugs(molecules)


def normalise_spelling(spelling: str) -> str:
    """Drop trailing slashes, keeping a root ('/' or 'user@host:/') as it is."""
    remote = REMOTE_RE.match(spelling)
    if remote:
        path = remote["path"].rstrip("/") or "/"
        return f"{remote['user']}@{remote['host']}:{path}"
    return spelling.rstrip("/") or "/"


def _parse_molecule(list_file, number, spelling, settings) -> Molecule:
    remote = REMOTE_RE.match(spelling)
    if remote:
        where = f"{remote['user']}@{remote['host']}{remote['path']}"
        return Molecule(spelling, settings.mnt_base / slugify(where), slugify(where), True)
    if not spelling.startswith("/"):
        raise ConfigError(f"{list_file}, line {number}: '{spelling}' is not an absolute "
                          "path or user@host:/path")
    return Molecule(spelling, Path(spelling), slugify(spelling))


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9.@-]+", "-", text).strip("-.")
    return slug or "root"


def _unique_slugs(molecules: list[Molecule]) -> list[Molecule]:
    """Two molecules whose slugs collide get a short hash of their spelling appended."""
    counts = {}
    for m in molecules:
        counts[m.slug] = counts.get(m.slug, 0) + 1
    out = []
    for m in molecules:
        if counts[m.slug] > 1:
            suffix = hashlib.sha1(m.spelling.encode()).hexdigest()[:6]
            m = Molecule(m.spelling, m.path, f"{m.slug}-{suffix}", m.remote)
        out.append(m)
    return out


def today() -> datetime.date:
    """The date the tool believes it is: $GLACIER_TODAY (YYYY-MM-DD) or the clock."""
    env = os.environ.get("GLACIER_TODAY")
    if not env:
        return datetime.date.today()
    try:
        return datetime.date.fromisoformat(env)
    except ValueError:
        raise ConfigError(f"GLACIER_TODAY={env!r} is not a date like 2027-01-15") from None
