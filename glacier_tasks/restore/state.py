"""A restore's own state: STATE/restores/ID.json, one per request (what, into where).

Per bag it records the steps done: the thaw this tool requested, when S3 first said
the bag was readable, the bytes downloaded and checked, tar started (`extracting`: a
file in the way is then one this restore wrote, replaced without --overwrite) and
finished (`extracted`). Running the same command again reads it, skips what is done
and finishes what became ready. A bag whose sha256 differs from the one recorded (a
newer backup) starts again; so does an extracted bag whose files have gone from the
destination since (`refill`: only the missing ones are written). Written atomically
after every step, so Ctrl-C or kill -9 loses at most the step under way.

A request not `finished` is *pending*: `restore --pending` and `status` list it from
this file alone (no S3), with the command that continues it.
"""

import hashlib
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .. import statefile
from ..errors import GlacierError
from ..units import iso_utc
from . import plan

# a bag's step, as `restore --pending` and `status --json` name it
STEPS = ("restored", "downloaded", "thawed", "thawing", "not requested")


@dataclass
class BagState:
    sha256: str
    mode: str = ""            # "ranges" (the members asked for) or "whole"
    thaw_requested: str = ""  # when this tool asked S3 to thaw it (UTC)
    tier: str = ""
    readable: str = ""        # when S3 first said its thawed copy was readable
    downloaded: bool = False  # on disk and checked: sha256, or each member's header
    extracting: bool = False  # tar has started writing into the destination
    extracted: bool = False   # every member asked for is written; the download is gone
    links: int = 0            # hard links restored as files (their target not asked for)
    refill: bool = False      # extracted before, files gone since: write the missing

    @property
    def step(self) -> str:
        """Where the bag is, one of STEPS."""
        return "restored" if self.extracted else "downloaded" if self.downloaded else \
            "thawed" if self.readable else "thawing" if self.thaw_requested else \
            "not requested"


@dataclass
class RestoreState:
    request: dict  # {"path": P or "", "all": bool, "dest": DIR}
    started: str
    bags: dict = field(default_factory=dict)  # archive key -> BagState
    finished: str = ""
    command: str = ""   # the command line that continues it
    checked: str = ""   # when S3 was last asked about its bags
    readable: str = ""  # when every bag was first readable (the alert was sent)

    def bag(self, key: str, sha256: str) -> BagState:
        """This bag's state; a fresh one if none or if it was of other contents."""
        found = self.bags.get(key)
        if found is None or found.sha256 != sha256:
            found = self.bags[key] = BagState(sha256)
        return found

    def counts(self) -> dict:
        """step -> how many of its bags are there (every step, zeros included)."""
        steps = [b.step for b in self.bags.values()]
        return {step: steps.count(step) for step in STEPS}

    def thawing_since(self) -> str:
        """When the oldest thaw still under way was requested ("" if none is)."""
        return min((b.thaw_requested for b in self.bags.values()
                    if b.step == "thawing"), default="")


def request_id(path: str, all_molecules: bool, dest: Path) -> str:
    """The same command (what, into where) gives the same state file."""
    what = "--all" if all_molecules else path.rstrip("/") or "/"
    text = f"{what}\0{dest}".encode("utf-8", "surrogateescape")  # a name's raw bytes
    return hashlib.sha256(text).hexdigest()[:16]


def read_state(path: Path) -> RestoreState | None:
    """The state in the file, or None if there is none (or it is not a request's)."""
    data = statefile.read_json(path, default=None, what="restore state")
    if not isinstance(data, dict) or not isinstance(data.get("request"), dict):
        return None
    known = {f.name for f in fields(BagState)}
    bags = {key: BagState(**{k: v for k, v in entry.items() if k in known})
            for key, entry in (data.get("bags") or {}).items()}
    return RestoreState(data["request"], data.get("started") or iso_utc(), bags,
                        data.get("finished") or "", data.get("command") or "",
                        data.get("checked") or "", data.get("readable") or "")


def load_state(path: Path, request: dict) -> RestoreState:
    found = read_state(path)
    if found is None or found.request != request:
        return RestoreState(request, iso_utc())
    return found


def save_state(path: Path, state: RestoreState) -> None:
    statefile.write_json(path, asdict(state))


def pending_states(folder: Path) -> list[tuple[str, RestoreState]]:
    """(id, state) of every request in the folder not finished, oldest first. A damaged
    file is skipped here: the restore that owns it names it when run again."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            state = read_state(path)
        except GlacierError:
            continue
        if state is not None and not state.finished:
            found.append((path.stem, state))
    return sorted(found, key=lambda item: item[1].started)


def continue_command(config_file: str, options) -> str:
    """The command line that goes on with this request, for the user to paste."""
    path = plan.shown(options.path)  # a name that is not UTF-8 as find prints it: \xNN
    what = ["--all"] if options.all_molecules else \
        ["--path", path] if path.startswith("-") else [path]
    words = ["glacier", "restore", *what, "--to", str(options.dest), "--yes"]
    if options.tier != "Bulk":
        words += ["--tier", options.tier]
    if options.days != 7:
        words += ["--days", str(options.days)]
    if options.year is not None:
        words += ["--year", str(options.year)]
    if options.overwrite:
        words.append("--overwrite")
    return f"GLACIER_CONFIG={shlex.quote(str(config_file))} {shlex.join(words)}"
