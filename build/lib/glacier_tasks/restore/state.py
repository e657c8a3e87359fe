"""A restore's own state: STATE/restores/ID.json, one per request (what, into where).

Per bag it records the steps done: the thaw this tool requested, the bytes downloaded
and checked, tar started (`extracting`: a file in the way is then one this restore
wrote, replaced without --overwrite) and finished (`extracted`). Running the same
command again reads it, skips what is done and finishes what became ready. A bag whose
sha256 differs from the one recorded (a newer backup) starts again. Written atomically
after every step, so Ctrl-C or kill -9 loses at most the step under way.
"""

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .. import statefile
from ..units import iso_utc


@dataclass
class BagState:
    sha256: str
    mode: str = ""            # "ranges" (the members asked for) or "whole"
    thaw_requested: str = ""  # when this tool asked S3 to thaw it (UTC)
    tier: str = ""
    downloaded: bool = False  # on disk and checked: sha256, or each member's header
    extracting: bool = False  # tar has started writing into the destination
    extracted: bool = False   # every member asked for is written; the download is gone
    links: int = 0            # hard links restored as files (their target not asked for)


@dataclass
class RestoreState:
    request: dict  # {"path": P or "", "all": bool, "dest": DIR}
    started: str
    bags: dict = field(default_factory=dict)  # archive key -> BagState
    finished: str = ""

    def bag(self, key: str, sha256: str) -> BagState:
        """This bag's state; a fresh one if none or if it was of other contents."""
        found = self.bags.get(key)
        if found is None or found.sha256 != sha256:
            found = self.bags[key] = BagState(sha256)
        return found


def request_id(path: str, all_molecules: bool, dest: Path) -> str:
    """The same command (what, into where) gives the same state file."""
    what = "--all" if all_molecules else path.rstrip("/") or "/"
    return hashlib.sha256(f"{what}\0{dest}".encode()).hexdigest()[:16]


def load_state(path: Path, request: dict) -> RestoreState:
    data = statefile.read_json(path, default=None, what="restore state")
    if not isinstance(data, dict) or data.get("request") != request:
        return RestoreState(request, iso_utc())
    known = {f.name for f in fields(BagState)}
    bags = {key: BagState(**{k: v for k, v in entry.items() if k in known})
            for key, entry in (data.get("bags") or {}).items()}
    return RestoreState(request, data.get("started") or iso_utc(), bags,
                        data.get("finished") or "")


def save_state(path: Path, state: RestoreState) -> None:
    statefile.write_json(path, asdict(state))

