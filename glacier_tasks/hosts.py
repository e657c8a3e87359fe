"""Which machine owns a host name in a shared bucket: the first backup claims it
(glacier-hosts/HOST.json, written only if absent), and a second machine using the same
name is refused, so two machines never write one namespace."""

import datetime
import hashlib
import json
import os
from pathlib import Path

from . import layout
from .errors import GlacierError


class ClaimError(GlacierError):
    """Another machine owns this host name in the bucket."""


TAKE_OVER = "GLACIER_TAKE_OVER_HOST"


def machine_id(state_dir: Path) -> str:
    """This writer: this machine and this state folder (two state folders are two
    writers, each with its own lock, so they must not share a host name). Losing the
    state folder keeps the id; moving it, or a new machine, needs a take-over."""
    try:
        base = Path("/etc/machine-id").read_text().strip()
    except OSError:
        base = ""
    return hashlib.sha256(f"{base}\0{state_dir}".encode()).hexdigest()[:24]


def taking_over() -> bool:
    return os.environ.get(TAKE_OVER) == "1"


def claim_host(store, host: str, machine: str, take_over: bool = False) -> None:
    """Make sure `host` is this machine's in the bucket, claiming it if free;
    take_over (a bootstrap rebuilding this host on a new machine) claims it anyway."""
    key = layout.host_claim_key(host)
    body = json.dumps({"host": host, "machine": machine, "claimed_at":
                       datetime.datetime.now(datetime.timezone.utc).isoformat()}).encode()
    if take_over:
        store.put_bytes(key, body, "STANDARD", {})
        return
    if store.head(key) is None and store.put_new(key, body, {}):
        return
    try:
        owner = json.loads(store.get_bytes(key))
    except ValueError:
        owner = {}
    if owner.get("machine") != machine:
        raise ClaimError(
            f"host name '{host}' is already used in bucket '{store.bucket}' by another "
            f"machine (claimed {owner.get('claimed_at', '?')[:10]}); set host = "
            "\"a-name-of-its-own\" in glacier.toml; or, if this machine replaces that "
            f"one (or its state folder moved), run once with {TAKE_OVER}=1")
