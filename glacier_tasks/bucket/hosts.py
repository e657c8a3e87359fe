"""Which machine owns a host name in a shared bucket: the first backup claims it
(glacier-hosts/HOST.json, written only if absent), and a second machine using the same
name is refused, so two machines never write one namespace. A take-over adds
glacier-hosts/HOST/NNNNNN.json rather than replacing the claim."""

import datetime
import hashlib
import json
import os
from pathlib import Path

from ..formats import layout
from ..errors import GlacierError


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
    take_over (a bootstrap rebuilding this host on a new machine) claims it anyway.
    A claim is never replaced: a take-over writes the next one, the newest counts."""
    number, owner = newest_claim(store, host)
    if owner is not None and owner.get("machine") == machine:
        return
    if owner is None or take_over:
        body = json.dumps({"host": host, "machine": machine, "claimed_at":
                           datetime.datetime.now(datetime.timezone.utc).isoformat()})
        if store.put_new(layout.host_claim_key(host, number + 1), body.encode(), {}):
            return
        number, owner = newest_claim(store, host)  # another machine was first
        if owner is not None and owner.get("machine") == machine:
            return
    raise ClaimError(
        f"host name '{host}' is already used in bucket '{store.bucket}' by another "
        f"machine (claimed {(owner or {}).get('claimed_at', '?')[:10]}); set host = "
        "\"a-name-of-its-own\" in glacier.toml; or, if this machine replaces that "
        f"one, run 'glacier bootstrap' on it (it takes the name over, with its "
        f"inventory); if only its state folder moved, run once with {TAKE_OVER}=1")


def newest_claim(store, host: str) -> tuple[int, dict | None]:
    """(number, contents) of the host's newest claim; (-1, None) when unclaimed."""
    numbers = [n for key in store.list_objects(layout.host_claims_prefix(host))
               if (n := layout.claim_number(key, host)) is not None]
    if not numbers:
        numbers = [0] if store.head(layout.host_claim_key(host, 0)) else []
    if not numbers:
        return -1, None
    number = max(numbers)
    try:
        owner = json.loads(store.get_bytes(layout.host_claim_key(host, number)))
    except ValueError:
        owner = {}
    return number, owner if isinstance(owner, dict) else {}


def check_take_over(store, host: str, inventory: dict) -> None:
    """A backup taking a host name over must know that host's bags: one whose inventory
    names none while the bucket holds some would treat them all as unreferenced (and
    `prune` would delete them). `bootstrap` is the way in."""
    if inventory.get("bags"):
        return
    keys = store.list_objects("")
    if any(layout.owner(k) == host for k in keys) or \
            any(owner == host for _, owner in layout.system_folders(keys)):
        raise ClaimError(
            f"{TAKE_OVER}=1 with an inventory that names none of host {host}'s bags in "
            f"bucket '{store.bucket}': run 'glacier bootstrap' first (it takes the name "
            "over and keeps them), or choose another host name")
