"""One bag's ledger: everything this machine keeps about one bag's way into the bucket,
read and written here only. The files are those older versions wrote (a run they
stopped resumes), each written atomically (kill -9 leaves the old or the new):

    STATE/bags/NAME.json      the marker (marker.py): which steps are finished, for
                              which contents
    STATE/failed/NAME.txt     why the bag failed in this run: its later steps stand
                              aside, and its staged tar is the first to go when
                              staging_dir is short of room (staging.py)
    STATE/repaired/NAME.txt   what this run repaired of it (the bucket lost or broke it)
    STATE/occupied/NAME.json  a key of the bag found holding something else: written
                              once, it is never replaced, so the next plan names the
                              bag anew (taken_keys.py)
    staging_dir/NAME.tar      the staged tar (and NAME.tar.members), until S3 holds it

What the marker's stages mean for the task graph (which step a bag waits for, whether
a step has anything left to do) is said here too. `outcomes(run, plan)` reads every
bag's ledger at once: the closing report, the closing lines of a stopped run and
`glacier status` all read it.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import statefile
from ..errors import GlacierError
from ..formats import memberindex
from ..units import iso_utc
from .marker import BagMarker, Receipt, read_marker, write_marker

# staged tars this process wrote: as written, so not hashed again before their upload
_PACKED_HERE = set()


@dataclass(frozen=True)
class BagLedger:
    """One bag's files, for one set of contents. Cheap to make: it holds paths only,
    and reads the disk when asked (another process may have written since)."""
    run: object
    name: str
    content_key: str  # the marker of other contents is stale: read as a fresh one
    kept: bool = False  # the plan keeps the bag as it is in the bucket

    @classmethod
    def of(cls, run, bag) -> "BagLedger":
        return cls(run, bag.name, bag.content_key, bag.action == "keep")

    # -- the marker

    @property
    def marker_file(self) -> Path:
        return self.run.marker_file(self.name)

    def marker(self) -> BagMarker:
        return read_marker(self.marker_file, self.content_key)

    def save(self, marker: BagMarker) -> None:
        write_marker(self.marker_file, marker)

    def start_again(self, repair: str = "") -> BagMarker:
        """A fresh marker, written: every step of the bag is to do again."""
        marker = BagMarker(self.content_key, repair=repair)
        self.save(marker)
        return marker

    # -- failure and repair, this run's

    @property
    def failed(self) -> bool:
        """A step of this run failed: the later steps stand aside, and the staged tar
        goes first when staging_dir is short of room."""
        return self.run.failure_file(self.name).exists()

    def failure(self) -> str | None:
        return _text(self.run.failure_file(self.name))

    def fail(self, why: str) -> None:
        statefile.write_bytes(self.run.failure_file(self.name), (why + "\n").encode())

    def repaired(self) -> str | None:
        return _text(self.run.repair_file(self.name))

    def record_repair(self, line: str) -> None:
        statefile.write_bytes(self.run.repair_file(self.name), (line + "\n").encode())

    def begin_run(self) -> None:
        """The tar step starts the bag's run: an earlier run's failure and repair are
        not this one's."""
        self.clear_failure()
        self.run.repair_file(self.name).unlink(missing_ok=True)

    def clear_failure(self) -> None:
        self.run.failure_file(self.name).unlink(missing_ok=True)

    # -- a key holding something else

    def record_occupied(self, archive_key: str, key: str, problem: str) -> None:
        statefile.write_json(self.run.occupied_file(self.name), {
            "archive_key": archive_key, "key": key, "problem": problem})

    # -- the staged tar

    @property
    def staged(self) -> Path:
        return self.run.staged_tar(self.name)

    def tar_ready(self, marker: BagMarker | None = None) -> bool:
        """Is the staged tar complete and intact, waiting for its upload? Its marker
        says it was packed (for these contents) and the file has that size."""
        marker = self.marker() if marker is None else marker
        if marker.packed is None or marker.uploaded is not None:
            return False
        try:
            return os.stat(self.staged).st_size == marker.packed.size
        except OSError:
            return False

    def packed_now(self) -> None:
        _PACKED_HERE.add((str(self.staged), self.content_key))

    @property
    def packed_here(self) -> bool:
        """Did this process write the staged tar (so it is as its marker says)?"""
        return (str(self.staged), self.content_key) in _PACKED_HERE

    def free_staging(self) -> None:
        """The staged tar's upload is checked (or it must go nowhere): space is free."""
        self.staged.unlink(missing_ok=True)
        memberindex.listing_for(self.staged).unlink(missing_ok=True)
        _PACKED_HERE.discard((str(self.staged), self.content_key))

    # -- the stages, as the task graph reads them

    def settled(self, marker: BagMarker | None = None) -> bool:
        """Nothing left to do: done, or kept and not under repair."""
        marker = self.marker() if marker is None else marker
        return marker.done or (self.kept and not marker.repair)

    def waiting_for(self) -> str:
        """The step the bag waits for ("" when it is done or kept)."""
        marker = self.marker()
        if self.settled(marker):
            return ""
        if marker.uploaded is not None:
            return "tar done, upload done, manifest pending"
        if self.tar_ready(marker):
            return "tar done, upload pending" + (" (resumes)" if marker.upload else "")
        return "tar pending"

    def uploaded(self) -> bool:
        """upload:NAME has nothing to do: uploaded, or kept and not packed again."""
        marker = self.marker()
        return marker.uploaded is not None or (self.kept and marker.packed is None)

    def finished(self) -> bool:
        """manifest:NAME has nothing to do: done, or kept and not uploaded again."""
        marker = self.marker()
        return marker.done or (self.kept and marker.uploaded is None)

    def to_send(self, planned: int) -> int | None:
        """The bytes this run still sends for the bag (its packed size once known);
        None when it is done."""
        marker = self.marker()
        if marker.done:
            return None
        return marker.packed.size if marker.packed else planned

    def sent_since(self, started: float) -> Receipt | None:
        """The bag's upload if this run sent it (not adopted) since `started`."""
        receipt = self.marker().uploaded
        # recorded_at has whole seconds: the marker's own time (written at or after the
        # receipt) tells a run that ended in the same second as this one began
        if receipt is None or receipt.reused or receipt.recorded_at < iso_utc(started):
            return None
        try:
            return receipt if os.stat(self.marker_file).st_mtime >= started else None
        except OSError:
            return None


def _text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return None


# -- every bag of a plan ----------------------------------------------------------------


@dataclass
class Outcomes:
    """What the bags of a plan came to, from their ledgers."""
    failures: dict = field(default_factory=dict)  # bag name -> why it failed
    repaired: dict = field(default_factory=dict)  # bag name -> what was repaired
    done: set = field(default_factory=set)        # bags whose marker says done
    pending: list = field(default_factory=list)   # bags to upload, not done yet
    left_out: dict = field(default_factory=dict)  # atom -> why its done bag went
    # without it (a file that kept moving)


def outcomes(run, plan) -> Outcomes:
    """Every bag's ledger, once (an empty Outcomes without a plan)."""
    found = Outcomes()
    if plan is None:
        return found
    uploads = {b.name for b in plan.uploads}
    for bag in plan.bags:
        ledger = BagLedger.of(run, bag)
        marker = ledger.marker()
        failure, repaired = ledger.failure(), ledger.repaired()
        if failure is not None:
            found.failures[bag.name] = failure
        if repaired is not None:
            found.repaired[bag.name] = repaired
        if marker.done:
            found.done.add(bag.name)
        if bag.name not in uploads:
            continue
        if not marker.done:
            found.pending.append(bag.name)
        elif marker.packed is not None:
            found.left_out.update(marker.packed.left_out or {})
    return found


def markers(run, plan) -> dict:
    """bag name -> BagMarker of every bag of the plan (a fresh one where none is kept)."""
    return {b.name: BagLedger.of(run, b).marker() for b in plan.bags}


def marker_files(run) -> list:
    """Every bag's marker on disk, of this plan or an older one."""
    folder = run.markers_dir
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def forget_unplanned(run, plan) -> None:
    """The markers of bags no plan has any more go."""
    planned = {b.name for b in plan.bags}
    for path in marker_files(run):
        if path.stem not in planned:
            path.unlink()


def occupied_records(run) -> list[dict]:
    """What the bag steps found holding something else (STATE/occupied/), for the plan."""
    found = []
    for path in sorted(run.occupied_dir.glob("*.json")):
        try:
            record = statefile.read_json(path, default={})
        except GlacierError:
            record = {}
        if isinstance(record, dict) and record.get("archive_key"):
            found.append(record)
    return found


def any_occupied(run) -> bool:
    return any(run.occupied_dir.glob("*.json"))


def forget_occupied(run) -> None:
    """The plan has taken the occupied keys in."""
    for path in run.occupied_dir.glob("*.json"):
        path.unlink()
