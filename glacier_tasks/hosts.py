"""Which machine owns a host name in a shared bucket: the first backup claims it
(glacier-hosts/HOST.json, written only if absent), and a second machine using the same
name is refused, so two machines never write one namespace."""

import datetime
import json
import uuid
from pathlib import Path

from . import layout, statefile
from .errors import GlacierError


class ClaimError(GlacierError):
    """Another machine owns this host name in the bucket."""


def machine_id(state_dir: Path) -> str:
    """This writer's identity: a random id kept in its state folder (it moves with the
    folder; two state folders, on one machine or two, are two writers, each with its
    own lock, so they must not share a host name)."""
    path = state_dir / "machine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        statefile.write_bytes(path, (uuid.uuid4().hex + "\n").encode())
        return path.read_text().strip()


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
            "one (its state folder was lost), move inventory.json aside and run 'doit "
            "bootstrap', which takes the name over")
