"""Which machine owns a host name in a shared bucket: the first writing command (a
backup, `prune --delete`) claims it (glacier-hosts/HOST.json, written only if absent),
and a second machine using the same name is refused, so two machines never write one
namespace. A take-over is asked for explicitly (GLACIER_TAKE_OVER_HOST=1) and adds
glacier-hosts/HOST/NNNNNN.json rather than replacing the claim; `bootstrap` only reads,
so a disaster drill on a spare machine takes nothing from the real one."""

import datetime
import hashlib
import json
import os
import socket
from pathlib import Path

from ..formats import layout
from ..formats.records import Inventory
from ..errors import GlacierError, command


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


def claim_host(store, host: str, state_dir: Path, take_over: bool = False) -> None:
    """Make sure `host` is this machine's in the bucket, claiming it if free;
    take_over (GLACIER_TAKE_OVER_HOST=1: this machine replaces the owner) claims it
    anyway. A claim is never replaced: a take-over writes the next one, the newest
    counts. Only a writing command claims: `bootstrap` and the readers never do."""
    machine = machine_id(state_dir)
    number, owner = newest_claim(store, host)
    if owner is not None and owner.get("machine") == machine:
        return
    if owner is None or take_over:
        body = json.dumps({"host": host, "machine": machine, "claimed_at":
                           datetime.datetime.now(datetime.timezone.utc).isoformat(),
                           "name": socket.gethostname(), "state_dir": str(state_dir)})
        if store.put_new(layout.host_claim_key(host, number + 1), body.encode(), {}):
            return
        number, owner = newest_claim(store, host)  # another machine was first
        if owner is not None and owner.get("machine") == machine:
            return
    raise ClaimError(refusal(store, host, owner or {}, _held_before(store, host, machine)))


def refusal(store, host: str, owner: dict, held_before: bool) -> str:
    """The one line a refused writer reads: whose the name is, since when, what to do."""
    who, when = describe(owner), _shown(owner.get("claimed_at", "?"))[:16].replace("T", " ")
    if held_before:  # the name was this machine's: a spare (a drill?) took it over
        return (f"host name '{host}' was taken over from this machine in bucket "
                f"'{store.bucket}' by {who} on {when} UTC; if that machine replaces this "
                f"one, stop backing up here or set host = \"a-name-of-its-own\" in "
                f"glacier.toml; if the take-over was a mistake (a drill), take the name "
                f"back with one '{command('backup')}' run with {TAKE_OVER}=1")
    return (f"host name '{host}' is already used in bucket '{store.bucket}' by {who} "
            f"(claimed {when} UTC); if this machine replaces it, run '{command('backup')}' "
            f"once with {TAKE_OVER}=1 (after '{command('bootstrap')}'); otherwise set "
            f"host = \"a-name-of-its-own\" in glacier.toml")


def describe(owner: dict) -> str:
    """A claim's writer in words: its machine's name and state folder, when recorded
    (claims of older versions hold only the id)."""
    if owner.get("name") or owner.get("state_dir"):
        return (f"machine {_shown(owner.get('name', '?'))} (state folder "
                f"{_shown(owner.get('state_dir', '?'))})")
    return "another machine"


def _shown(value) -> str:
    """A claim's field as one line may show it: anyone who may add objects can write
    a claim, so no newline or terminal escape of theirs reaches the screen."""
    return "".join(c if c.isprintable() else "?" for c in str(value))[:200]


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


def owner_of(store, host: str, state_dir: Path) -> dict | None:
    """The newest claim of `host` when another machine wrote it; None when the name is
    free or this machine's. Only reads."""
    _, owner = newest_claim(store, host)
    return owner if owner is not None and owner.get("machine") != machine_id(
        state_dir) else None


def _held_before(store, host: str, machine: str) -> bool:
    """Whether an earlier claim of `host` is this machine's (only on a refusal)."""
    every = store.list_objects(layout.host_claim_key(host).removesuffix(".json"))
    for key in [k for k in every if layout.claim_number(k, host) is not None]:
        try:
            claim = json.loads(store.get_bytes(key))
        except ValueError:
            continue
        if isinstance(claim, dict) and claim.get("machine") == machine:
            return True
    return False


def check_take_over(store, host: str, inventory: Inventory) -> None:
    """A backup taking a host name over must know that host's bags: one whose inventory
    names none while the bucket holds some would treat them all as unreferenced (and
    `prune` would delete them). `bootstrap` is the way in."""
    if inventory.bags:
        return
    keys = store.list_objects("")
    if any(layout.owner(k) == host for k in keys) or \
            any(owner == host for _, owner in layout.system_folders(keys)):
        raise ClaimError(
            f"{TAKE_OVER}=1 with an inventory that names none of host {host}'s bags in "
            f"bucket '{store.bucket}': run '{command('bootstrap')}' first (it fetches "
            "them), "
            f"then this backup again with {TAKE_OVER}=1; or choose another host name")


class RenameError(GlacierError):
    """The host name changed under an inventory of this machine's old name."""


def check_renamed(store, host: str, state_dir: Path, inventory: Inventory) -> None:
    """Refuse a new host name over an inventory whose bags are all this machine's
    under another name (`host` changed in glacier.toml, or the machine's own name with
    `host` unset): going on would start a second namespace without a word, the old
    name's bags referenced but never this host's, and `prune` refusing for ever. Only
    this machine's old name counts (its claim says so); an inventory of another
    machine (`bootstrap --host`) is not a rename."""
    owners = {layout.owner(k) for k in inventory.bags}
    if len(owners) != 1 or host in owners or None in owners:
        return
    old = owners.pop()
    _, owner = newest_claim(store, old)
    if owner is None or owner.get("machine") != machine_id(state_dir):
        return
    raise RenameError(
        f"host is now '{host}', but this machine backed up as '{old}' and its inventory "
        f"names only '{old}' bags (the bucket's claim of '{old}' is this machine's): "
        f"set host = \"{old}\" in glacier.toml to go on under the old name with its "
        f"bags (README: \"A renamed host\")")
