"""Restore, carried out: thaw, download, extract and check the bags of restore.py's plans,
keeping the request's state (restorestate) after every step, so that running the same
command again skips what is done and finishes what became ready.

Each round asks S3 about every bag not yet downloaded, then downloads and extracts
those readable, and says in one line how many are readable and which still thaw. A
bag still thawing is asked about again only with --wait, after a wait that starts at
--poll-seconds (never under MIN_POLL against real S3) and doubles up to MAX_POLL.
"""

import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import cost
from ..bucket.objects import ObjectStore
from . import download, check as restorecheck, space, state as restorestate, \
    extract as untar
from ..formats import manifest, memberindex
from ..errors import ConfigError, GlacierError, RestoreError, StateError, command
from .find import fetch_manifest
from .plan import shown
from ..units import human, iso_utc, plural

MIN_POLL_ENV = "GLACIER_MIN_POLL_SECONDS"
MIN_POLL, MAX_POLL = 60.0, 1800.0  # seconds between status checks: floor, ceiling
SHOWN = 5  # bags still thawing named in a round's line; the rest are counted


def min_poll() -> float:
    """The shortest wait between status checks; tests lower it with the variable."""
    text = os.environ.get(MIN_POLL_ENV)
    try:
        return MIN_POLL if text is None else max(0.0, float(text))
    except ValueError:
        raise ConfigError(f"{MIN_POLL_ENV}={text}: not a number of seconds") from None


@dataclass(frozen=True)
class RestoreOptions:
    path: str
    dest: Path
    tier: str = "Bulk"
    days: int = 7
    yes: bool = False
    wait: bool = False
    wait_hours: float = 72
    overwrite: bool = False
    poll_seconds: float = 60
    all_molecules: bool = False
    year: int | None = None  # restored as that year's run archived it

    @property
    def request(self) -> dict:
        return {"path": self.path, "all": self.all_molecules, "dest": str(self.dest)}


@dataclass
class Outcome:
    finished: bool        # every bag extracted and checked
    thawing: int = 0      # bags still thawing
    failed: dict = None   # key -> why
    check: restorecheck.CheckResult = None


class Restorer:
    """One request's run: thaw, download, extract, check; its state saved each step.
    `alert(event, message)` is told when every bag is readable and when it finishes."""

    def __init__(self, run, store: ObjectStore, options: RestoreOptions, say,
                 sleep=time.sleep, alert=None):
        self.run, self.settings, self.store = run, run.settings, store
        self.options, self.say, self.sleep = options, say, sleep
        self.alert = alert or (lambda event, message: None)
        rid = restorestate.request_id(options.path, options.all_molecules, options.dest)
        self.state_file = run.restore_state_file(rid)
        self.downloads = run.restore_downloads(rid)
        self.state = restorestate.load_state(self.state_file, options.request)
        self.state.command = restorestate.continue_command(run.config_file, options)

    def save(self):
        restorestate.save_state(self.state_file, self.state)

    def bag_state(self, plan):
        return self.state.bag(plan.key, plan.record.sha256)

    def preflight(self, plans) -> dict:
        """Before anything is requested: every bag still needed is in the bucket,
        nothing is in the way. Returns key -> ObjectInfo of the bags to ask about."""
        heads = {}
        for plan in plans:
            state = self._refill(plan, self.bag_state(plan))
            if not state.extracted:
                self._refuse_blocked(plan)
            if not (state.extracting or state.refill or self.options.overwrite):
                self._refuse_conflicts(plan)
            if not (state.extracted or state.downloaded):
                heads[plan.key] = self.store.head(plan.key)
                if heads[plan.key] is None:
                    raise StateError(f"{plan.key}: not in the bucket; nothing was "
                                     f"requested ('{command('verify')}' checks every bag)")
                download.check_object(plan, heads[plan.key])
        # the request is these bags now (a newer backup may have replaced some)
        self.state.bags = {p.key: self.bag_state(p) for p in plans}
        problem = space.shortfall(self.space_needs(plans))
        if problem:
            raise RestoreError(problem)
        return heads

    def space_needs(self, plans) -> list[space.Need]:
        """What the bags not yet extracted need on disk (see space)."""
        files = largest = 0
        for plan in plans:
            state = self.bag_state(plan)
            if state.extracting or state.extracted:
                continue  # tar writes over what it wrote itself
            refill = self._gone(plan) if state.refill and not self.options.overwrite \
                else None
            files += space.restored_size(plan, lambda: self._manifest(plan), refill)
            if not state.downloaded:
                largest = max(largest, plan.download_size - self._on_disk(plan))
        return [space.Need(self.options.dest, files, space.FILES),
                space.Need(self.downloads, largest, space.DOWNLOAD)]

    def _gone(self, plan):
        """name -> has it gone from the destination since it was restored?"""
        gone = set(restorecheck.missing(self._manifest(plan), plan.wanted or _all,
                                        self._dest(plan)))
        return lambda name: name.rstrip(b"/") in gone

    def _refill(self, plan, state):
        """An extracted bag whose files have gone from the destination since (rm -rf)
        is restored again: only what is missing is written."""
        if not state.extracted:
            return state
        gone = restorecheck.missing(self._manifest(plan), plan.wanted or _all,
                                    self._dest(plan))
        how = "are missing from"
        if not gone and self.options.overwrite:  # asked to replace what was changed
            gone = restorecheck.differing(self._manifest(plan), plan.wanted or _all,
                                          self._dest(plan))
            how = "differ from the manifest in"
        if not gone:
            return state
        self.say(f"{plan.key}: {len(gone)} of the files and folders restored before "
                 f"{how} {self._dest(plan)}; restoring them again")
        state = self.state.bags[plan.key] = restorestate.BagState(state.sha256,
                                                                  refill=True)
        self.state.finished = self.state.readable = ""
        return state

    def restore(self, plans) -> Outcome:
        heads = self.preflight(plans)
        pending, failed = [p for p in plans if not self.bag_state(p).extracted], {}
        floor = min_poll()
        interval = max(self.options.poll_seconds, floor)
        if self.options.wait and self.options.poll_seconds < floor and pending:
            self.say(f"--poll-seconds {self.options.poll_seconds:g}: waiting {floor:g} s "
                     f"between status checks at least ({MIN_POLL_ENV} sets the floor)")
        deadline = time.monotonic() + self.options.wait_hours * 3600
        while pending:
            pending = self._round(plans, pending, heads, failed)
            if not pending:
                break
            again = self.options.wait and time.monotonic() + interval <= deadline
            self.say(self._round_line(plans, pending, failed, interval if again else None))
            if not again:
                break
            self.sleep(interval)
            interval = min(interval * 2, max(MAX_POLL, floor))
        self.save()
        if pending or failed:
            return Outcome(False, len(pending), failed)
        for plan in plans:
            if any(t.names is not None for t in plan.targets):
                # a later bag of the chain (or a refill) wrote into folders an earlier
                # bag set: their times as the newest view has them
                untar.set_folder_times(restorecheck.entries(self._manifest(plan),
                                                            plan.wanted or _all),
                                       self._dest(plan))
        check = restorecheck.CheckResult()
        for plan in plans:  # a chain's bags: each its share of the atom's newest view
            check.add(restorecheck.check(self._manifest(plan), plan.wanted or _all,
                                         self._dest(plan)))
        if not self.state.finished:
            self.state.finished = iso_utc()
            self.save()
            self._tell("restore-finished", restorecheck.summary(check))
        if self.downloads.is_dir() and not any(self.downloads.iterdir()):
            self.downloads.rmdir()
        return Outcome(True, 0, {}, check)

    def _round(self, plans, pending, heads, failed) -> list:
        """Ask S3 about every bag pending (thawing it if archived), say so once all
        are readable, then download and extract those that are. Returns the bags
        still thawing."""
        ready, thawing = [], []
        for plan in pending:
            try:
                (ready if self._ready(plan, heads.pop(plan.key, None))
                 else thawing).append(plan)
            except GlacierError as err:
                self._failed(plan, err, failed)
        self.state.checked = iso_utc()
        self.save()
        if ready and not thawing and not failed and not self.state.readable:
            self.state.readable = iso_utc()
            self.save()
            self._tell("restore-readable", f"all {plural(len(plans), 'bag')} thawed; "
                       "downloading and extracting")
        for plan in ready:
            try:
                if not self.bag_state(plan).downloaded:
                    self._fetch(plan, self.bag_state(plan))
                before = self._before(plan, plans)
                if any(p.key in failed for p in before):
                    raise RestoreError("an earlier bag of its chain failed; it is "
                                       "extracted after that one")
                if not all(self.bag_state(p).extracted for p in before):
                    thawing.append(plan)  # downloaded; extracted after its chain's bags
                    continue
                self._extract(plan, self.bag_state(plan))
            except GlacierError as err:
                self._failed(plan, err, failed)
        return thawing

    @staticmethod
    def _before(plan, plans) -> list:
        """The bags of its atoms' chains extracted before it (issue 27): a folder's
        newest entry, in a later bag, sets its time after the files of earlier ones."""
        if not plan.step:
            return []
        atoms = {t.atom for t in plan.targets}
        return [p for p in plans if p.step < plan.step and
                atoms & {t.atom for t in p.targets}]

    def _failed(self, plan, err, failed) -> None:
        failed[plan.key] = str(err)
        self.say(f"{plan.key}: {err}")

    def _round_line(self, plans, thawing, failed, interval) -> str:
        """One line per round: how far the thaw is, which bags it waits for, and
        when it asks again (with --wait)."""
        readable = len(plans) - len(thawing) - len(failed)
        since = min((self.bag_state(p).thaw_requested for p in thawing
                     if self.bag_state(p).thaw_requested), default="")
        names = ", ".join(p.key for p in thawing[:SHOWN]) + (
            f" and {len(thawing) - SHOWN} more" if len(thawing) > SHOWN else "")
        line = (f"{readable} of {plural(len(plans), 'bag')} readable, "
                f"{len(thawing)} still thawing" + (f" since {since}" if since else "") +
                f": {names}")
        if interval is not None:
            line += f"; next check at {_clock(time.time() + interval)}"
        return line

    def _tell(self, event: str, what: str) -> None:
        """An alert naming the event, the request and the command that continues it."""
        request = "everything (--all)" if self.options.all_molecules else \
            shown(self.options.path)
        self.alert(event, f"glacier {event} on {self.settings.host}: {request} into "
                          f"{self.options.dest}: {what}")

    def _ready(self, plan, info) -> bool:
        """Is the bag readable now (or downloaded already)? Asks S3 to thaw it if
        it is archived."""
        state = self.bag_state(plan)
        if state.downloaded and not self._file(plan, ".runs" if state.mode == "ranges"
                                               else "").exists():
            state.downloaded = False  # the download went missing: fetch it again
        if state.downloaded:
            return True
        info = info or self.store.head(plan.key)
        if info is None:
            raise StateError(f"{plan.key}: not in the bucket; '{command('verify')}' checks "
                             "every bag")
        download.check_object(plan, info)
        if info.thaw_state == "archived":
            self.store.request_restore(plan.key, self.options.days, self.options.tier)
            state.thaw_requested, state.tier = iso_utc(), self.options.tier
            state.readable = ""  # a thawed copy that expired: thawing again
            self.save()
            self.say(f"{plan.key}: thaw requested ({self.options.tier}, "
                     f"{cost.TIER_DELAY.get(self.options.tier, '?')})")
            info = self.store.head(plan.key) or info
        if info.thaw_state != "readable":
            return False
        state.readable = state.readable or iso_utc()
        return True

    def _fetch(self, plan, state) -> None:
        if not state.mode or plan.runs is None:
            state.mode = "whole" if plan.runs is None else "ranges"
        if state.mode == "ranges":
            self._refuse_full(plan.download_size - self._on_disk(plan, ".runs"))
            try:
                download.download_runs(self.store, plan.key, plan.runs,
                                       self._file(plan, ".runs"))
            except download.DownloadError as err:
                self.say(f"{err}; downloading the whole bag instead")
                state.mode = "whole"
        if state.mode == "whole":
            self._refuse_full(plan.record.size - self._on_disk(plan, ""))
            download.download_bag(self.store, plan.key, self.downloads,
                                  plan.record.size, plan.record.sha256)
        state.downloaded = True
        self.save()

    def _extract(self, plan, state) -> None:
        dest = self._dest(plan)
        ours = state.extracting  # tar began before: what is in the way, it wrote
        self._refuse_blocked(plan, "nothing was extracted from this bag")
        if not (ours or state.refill or self.options.overwrite):
            self._refuse_conflicts(plan)
        # a later bag of a chain: nothing of its share is in the way (just checked, or
        # only what went missing is written), but the folders earlier bags made are,
        # and tar sets an existing folder's mode and time only with --overwrite
        ours = ours or plan.step > 0
        wanted = plan.wanted
        if state.refill and not self.options.overwrite:  # only what went missing
            wanted = self._gone(plan)
        state.extracting = True
        self.save()
        if state.mode == "ranges":
            path = self._file(plan, ".runs")
            source = untar.open_file(path)
            targets = lambda orphans: self._link_targets(plan, orphans)  # noqa: E731
            how = f"{human(path.stat().st_size)} of its members downloaded"
        else:
            path = self._file(plan, "")
            source = untar.source_for(path, self.settings.age_identity_file)
            targets = None
            how = "downloaded whole, sha256 checked"
        try:
            state.links = untar.extract(source, dest, wanted,
                                        self.options.overwrite or ours, targets)
        except GlacierError as err:
            if state.mode != "ranges":
                raise
            self.say(f"{plan.key}: extracting its members failed ({err}); downloading "
                     "the whole bag instead")
            state.mode, state.downloaded = "whole", False
            self.save()
            self._fetch(plan, state)
            self._extract(plan, state)
            return
        state.extracted, state.refill = True, False
        self.save()
        for suffix in ("", ".runs", ".links"):
            self._file(plan, suffix).unlink(missing_ok=True)
        links = f"; {state.links} hard links restored as files" if state.links else ""
        self.say(f"{plan.key}: {how}, extracted into {dest}{links}")

    def _link_targets(self, plan, orphans):
        """For a ranged restore: the runs of the hard links' targets, downloaded."""
        names = {o.linkname for o in orphans}
        runs = memberindex.runs(memberindex.read_index(plan.index), names.__contains__,
                                plan.record.size)
        return untar.open_file(download.download_runs(
            self.store, plan.key, runs, self._file(plan, ".links")))

    def _refuse_conflicts(self, plan) -> None:
        dest = self._dest(plan)
        clash = restorecheck.conflicts(self._manifest(plan), plan.wanted or _all, dest)
        if clash:
            more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
            raise RestoreError(f"{dest}/{manifest.escape_name(clash[0])}: exists{more}; "
                               "nothing was overwritten (use --overwrite to replace "
                               "existing files)")

    def _refuse_blocked(self, plan, done: str = "nothing was requested") -> None:
        """A file where a folder must be: tar would fail, after the paid thaw."""
        dest = self._dest(plan)
        blocked = restorecheck.blocked_folder(self._manifest(plan), plan.wanted or _all,
                                              dest)
        if blocked is not None:
            path = f"{dest}/{manifest.escape_name(blocked)}" if blocked else str(dest)
            raise RestoreError(f"{path}: not a folder, and the restore puts files in "
                               f"it; {done} (move it away, or restore into another "
                               "folder with --to)")

    def _refuse_full(self, size: int) -> None:
        """Before a download (the whole bag, when its runs could not be used)."""
        problem = space.shortfall([space.Need(self.downloads, size, space.DOWNLOAD)],
                                  "nothing was downloaded")
        if problem:
            raise RestoreError(problem)

    def _on_disk(self, plan, suffix: str | None = None) -> int:
        """Bytes of the plan's download already on disk, finished or partial (a rerun
        goes on from them)."""
        if suffix is None:
            suffix = "" if plan.runs is None else ".runs"
        for path in (self._file(plan, suffix), self._file(plan, suffix + ".partial")):
            if path.exists():
                return path.stat().st_size
        return 0

    def _manifest(self, plan) -> Path:
        return fetch_manifest(self.settings, self.store, plan.record)

    def _dest(self, plan) -> Path:
        return self.options.dest / plan.folder if plan.folder else self.options.dest

    def _file(self, plan, suffix: str) -> Path:
        return self.downloads / (Path(plan.key).name + suffix)


def _clock(when: float) -> str:
    """A time later today as HH:MM UTC; the date too if it is not today."""
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return moment.strftime("%H:%M UTC" if moment.date() == today else
                           "%Y-%m-%d %H:%M UTC")


def _all(name: bytes) -> bool:
    return True
