"""Client-side encryption with age (https://age-encryption.org/v1), through the `age`
command: the same tool restores a bag by hand (`age -d -i KEY BAG | tar -xS`), it
streams through pipes, and it adds no Python dependency."""

import hashlib
import hmac
import shutil
import subprocess
from pathlib import Path

from ..errors import ConfigError, GlacierError

MAGIC = b"age-encryption.org/v1"


class CryptoError(GlacierError):
    """age could not encrypt or decrypt."""


def require_age() -> str:
    path = shutil.which("age")
    if path is None:
        raise ConfigError("encryption = \"age\" needs the age command (Debian/Ubuntu: "
                          "sudo apt install age)")
    return path


def encrypt_command(recipients) -> list[str]:
    command = [require_age()]
    for recipient in recipients:
        command += ["-r", recipient]
    return command


def decrypt_command(identity: Path | None) -> list[str]:
    if identity is None:
        raise ConfigError("this data is encrypted: set age_identity_file in glacier.toml "
                          "to the key that decrypts it")
    if not Path(identity).exists():
        raise ConfigError(f"age_identity_file {identity} does not exist")
    return [require_age(), "-d", "-i", str(identity)]


def encrypt_bytes(data: bytes, recipients) -> bytes:
    return _run(encrypt_command(recipients), data, "encrypting")


def decrypt_bytes(data: bytes, identity: Path | None) -> bytes:
    return _run(decrypt_command(identity), data, "decrypting")


def fingerprint(data: bytes, key: bytes | None) -> str:
    """What an object's `sha256` metadata records of the bytes it was made from: their
    sha256, or, when they leave encrypted, a keyed hash (HMAC-SHA256 with a key that
    never leaves this machine), so reading the bucket confirms no guess of the text."""
    if key is None:
        return hashlib.sha256(data).hexdigest()
    # the key's id says which key made it: a new state folder makes a new key, whose
    # hashes are not comparable with the old ones
    return f"hmac-sha256:{_key_id(key)}:" + hmac.new(key, data, hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"glacier-tasks key id\0" + key).hexdigest()[:12]


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _run(command, data, doing) -> bytes:
    done = subprocess.run(command, input=data, capture_output=True)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise CryptoError(f"age failed {doing}: {message[-1] if message else done.returncode}")
    return done.stdout
