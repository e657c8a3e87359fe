"""First run: a commented starter glacier.toml and an empty list.txt, or the spec's
old INI glacier.cfg converted to TOML. Never overwrites a file."""

import configparser
from pathlib import Path

import tomli_w

from .errors import ConfigError

# key: (starter value, comment); the spec's INI keys are the first six
STARTER = {
    "s3_bucket": ("my-glacier-bucket", "required: your bucket's name"),
    "target_bag_gb": (40, "bag size to aim for, in GB; a bigger atom gets a bag of its "
                          "own. Decide it now: bags already uploaded keep their size"),
    "staging_dir": ("stage", "room for the largest bag is needed here"),
    "manifest_dir": ("manifests", "local copies of the manifests"),
    "inventory_file": ("inventory.json", "atom -> bag map; a copy goes to the bucket"),
    "mnt_base": ("mnt", "where remote molecules (user@host:/path) are mounted"),
    "list_file": ("list.txt", "the molecules: one folder per line"),
    "state_dir": (".glacier-state", "markers that let an interrupted run resume"),
    "storage_class": ("DEEP_ARCHIVE", "storage class of the bags"),
    "region": ("us-east-1", "the bucket's region"),
    "keep_years": (1, "years a replaced or deleted file's old bag is kept (history); each "
                      "year kept costs about $1 per TB-month of data changed that year; "
                      "0 keeps only the latest copy"),
}
INI_KEYS = ("s3_bucket", "target_bag_gb", "staging_dir", "manifest_dir",
            "inventory_file", "mnt_base")
HEADER = ("# glacier-tasks configuration (see README.md). Relative paths are relative to\n"
          "# this file's folder. Credentials never go here: boto3 finds them itself.\n")


ENCRYPTION_NOTE = ("encryption with age before upload (README.md, \"Encryption with "
                   "age\"): decide before the first backup, bags are never re-encrypted")
ENCRYPTION_KEYS = ("encryption", "age_recipients", "age_identity_file")


def starter_toml(values: dict) -> str:
    """The config text: each key written by tomli-w, with its comment above it; the
    encryption keys set when chosen, else shown commented out."""
    lines = [HEADER, "[settings]"]
    for key, (default, comment) in STARTER.items():
        lines.append(f"# {comment}")
        lines.append(tomli_w.dumps({key: values.get(key, default)}).strip())
    lines.append(f"# {ENCRYPTION_NOTE}")
    if values.get("encryption"):
        lines += [tomli_w.dumps({k: values[k]}).strip() for k in ENCRYPTION_KEYS
                  if values.get(k)]
    else:
        lines += ['# encryption = "age"', '# age_recipients = ["age1..."]',
                  '# age_identity_file = "~/.config/glacier-tasks/age-key.txt"']
    return "\n".join(lines) + "\n"


def values_from_cfg(path: Path) -> dict:
    """The [settings] of the original scripts' glacier.cfg, checked key by key."""
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except (configparser.Error, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not an INI file: {str(err).splitlines()[0]}") from None
    if not parser.has_section("settings"):
        raise ConfigError(f"{path}: no [settings] section")
    values = {}
    for key, value in parser.items("settings"):
        if key not in INI_KEYS:
            raise ConfigError(f"{path}: unknown key '{key}' in [settings]")
        values[key] = value
    if "target_bag_gb" in values:
        try:
            values["target_bag_gb"] = float(values["target_bag_gb"])
        except ValueError:
            raise ConfigError(f"{path}: target_bag_gb = {values['target_bag_gb']!r} is "
                              "not a number") from None
    return values


def write_starter(config_file: Path, values: dict) -> list[str]:
    """Write the config and the list beside it unless they exist; say what happened."""
    said = []
    if config_file.exists():
        said.append(f"{config_file} exists: left as it is")
    else:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(starter_toml(values), encoding="utf-8")
        said.append(f"Wrote {config_file}" + (
            f" (bucket {values['s3_bucket']}, region "
            f"{values.get('region', STARTER['region'][0])}, bags of about "
            f"{values.get('target_bag_gb', STARTER['target_bag_gb'][0]):g} GB, "
            f"{'encrypted with age' if values.get('encryption') else 'not encrypted'})"
            if values.get("s3_bucket") else ": set s3_bucket and region"))
    list_file = config_file.parent / "list.txt"
    if list_file.exists():
        said.append(f"{list_file} exists: left as it is")
    else:
        list_file.write_text("# one folder to back up per line: /path or user@host:/path\n",
                             encoding="utf-8")
        said.append(f"Wrote {list_file}: add the folders to back up")
    return said
