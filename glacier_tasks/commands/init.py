"""`doit init [--from-cfg glacier.cfg]`: the one command that works before any config
exists. It writes to $GLACIER_CONFIG, else to the XDG path
(~/.config/glacier-tasks/glacier.toml); never over an existing file.

On a terminal it asks the day-one questions (bucket, region, bag size, encryption:
the last two cannot change for bags already uploaded). Without one (a script, a pipe)
it asks nothing and writes nothing unless the options give the bucket: a placeholder
bucket written silently would only fail later, further from its cause."""

import sys
from pathlib import Path

from doit.exceptions import TaskFailed

from .. import starter
from ..config import config_file_choice, xdg_config_file
from ..errors import GlacierError, command
from .base import param, say


def init_action(from_cfg, bucket, region, target_bag_gb, encryption, age_recipient,
                age_identity_file):
    config_file = config_file_choice()
    try:
        values = starter.values_from_cfg(Path(from_cfg)) if from_cfg else {}
        values.update(_options(bucket, region, target_bag_gb, encryption, age_recipient,
                               age_identity_file))
    except GlacierError as err:
        return TaskFailed(str(err))
    if not config_file.exists() and not from_cfg:
        if sys.stdin.isatty():
            values = {**_ask(values, ask_encryption=not encryption), **values}
        elif not values.get("s3_bucket"):
            return TaskFailed(
                "stdin is not a terminal, so nothing was asked and nothing written: give "
                f"the bucket, '{command('init')} --bucket NAME' (also --region, "
                "--target-bag-gb, --encryption age --age-recipient KEY "
                "--age-identity-file FILE)")
    if config_file == xdg_config_file():  # big and changing files do not go in ~/.config
        values = {**XDG_PLACES, **values}
    said = starter.write_starter(config_file, values)
    say(said + (next_steps(config_file) if said[0].startswith("Wrote") else []))


def _options(bucket, region, target_bag_gb, encryption, recipients, identity) -> dict:
    """The answers given as options, checked as the config's loader would."""
    values = {k: v for k, v in (("s3_bucket", bucket), ("region", region)) if v}
    if target_bag_gb is not None:
        values["target_bag_gb"] = _bag_size(target_bag_gb)
    if encryption not in ("", "none", "age"):
        raise GlacierError(f"--encryption {encryption}: \"age\" or \"none\"")
    if encryption == "age":
        values.update(_age(list(recipients or []), identity))
    return values


def _bag_size(text) -> float:
    try:
        size = float(text)
    except (TypeError, ValueError):
        size = -1
    if not 0 < size <= 5000:
        raise GlacierError(f"target_bag_gb {text}: a number of GB above 0, at most 5000")
    return size


def _age(recipients: list, identity: str) -> dict:
    bad = [r for r in recipients if not r.startswith(("age1", "ssh-ed25519 ", "ssh-rsa "))]
    if not recipients or bad:
        raise GlacierError("encryption age needs the public key to encrypt to (age1... or "
                           "an ssh public key): --age-recipient KEY; 'age-keygen -o "
                           "FILE' makes a key pair")
    values = {"encryption": "age", "age_recipients": recipients}
    if identity:
        values["age_identity_file"] = identity
    return values


def next_steps(config_file: Path) -> list[str]:
    return [f"Next: add the folders to back up to {config_file.parent / 'list.txt'}; then, "
            "with the AWS account owner's credentials, "
            f"'{command('setup_bucket --object-lock 180')}' creates and hardens the "
            f"bucket; '{command('policy --role backup')}' prints the IAM policy of the "
            f"everyday key (it cannot delete); '{command('check')}' checks the "
            f"credentials, the bucket and staging room; '{command('dryrun')}' shows the "
            "plan and its cost (README.md, \"Real use on AWS\")"]


XDG_PLACES = {"staging_dir": "~/.cache/glacier-tasks/stage",
              "manifest_dir": "~/.local/share/glacier-tasks/manifests",
              "inventory_file": "~/.local/share/glacier-tasks/inventory.json",
              "list_file": "list.txt",
              "mnt_base": "~/.local/state/glacier-tasks/mnt",
              "state_dir": "~/.local/state/glacier-tasks"}


def _ask(given: dict, ask_encryption: bool) -> dict:
    """The day-one questions on a terminal (those the options did not answer); Enter
    keeps the value in brackets. A wrong answer is asked again."""
    answers = {}
    try:
        for key in ("s3_bucket", "region"):
            if key not in given:
                answer = input(f"{key} [{starter.STARTER[key][0]}]: ").strip()
                if answer:
                    answers[key] = answer
        while "target_bag_gb" not in given:
            answer = input("target_bag_gb, the bag size in GB (bags already uploaded "
                           "keep theirs) [40]: ").strip()
            try:
                answers["target_bag_gb"] = _bag_size(answer) if answer else 40
                break
            except GlacierError as err:
                print(err)
        if ask_encryption and input(
                "Encrypt with age before upload? Decide now: bags are never "
                "re-encrypted [y/N]: ").strip().lower() in ("y", "yes"):
            answers.update(_ask_age())
    except EOFError:
        pass
    return answers


def _ask_age() -> dict:
    while True:
        key = input("age public key to encrypt to (age1... or ssh-ed25519 ...; "
                    "'age-keygen -o FILE' makes a pair): ").strip()
        identity = input("its private key file, for restores (never uploaded) "
                         "[none for now]: ").strip()
        try:
            return _age([key] if key else [], identity)
        except GlacierError as err:
            print(err)


INIT_PARAMS = [
    param("from_cfg", str, "", "convert the original scripts' INI glacier.cfg"),
    param("bucket", str, "", "s3_bucket: the bucket's name (asked on a terminal)",
          metavar="NAME"),
    param("region", str, "", "the bucket's region (default us-east-1)", metavar="REGION"),
    param("target_bag_gb", str, None, "bag size in GB (default 40)", metavar="GB"),
    param("encryption", str, "", "age: encrypt before upload; none (the default)",
          metavar="age|none"),
    param("age_recipient", list, [],
          "with --encryption age: a public key (repeatable; none by default)",
          metavar="KEY"),
    param("age_identity_file", str, "", "with --encryption age: the private key file",
          metavar="FILE")]


def task_init():
    """write glacier.toml (asks bucket, region, bag size, encryption) and list.txt"""
    return {"actions": [(init_action, [])], "uptodate": [False], "params": INIT_PARAMS}
