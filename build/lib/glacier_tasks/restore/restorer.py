"""Restore, carried out: thaw, download, extract and check the bags of restore.py's plans,
keeping the request's state (restorestate) after every step, so that running the same
command again skips what is done and finishes what became ready.

A bag still thawing is asked about again only with --wait, after a wait that starts
at --poll-seconds (never under MIN_POLL against real S3) and doubles up to MAX_POLL.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import cost
from ..bucket.objects import bag_problem
from . import download, check as restorecheck, state as restorestate, extract as untar
from ..formats import manifest, memberindex
from ..errors import ConfigError, GlacierError, RestoreError, StateError
from .find import fetch_manifest
from ..units import human, iso_utc

MIN_POLL_ENV = "GLACIER_MIN_POLL_SECONDS"
MIN_POLL, MAX_POLL = 60.0, 1800.0  # seconds between status checks: floor, ceiling


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
    """One request's run: thaw, download, extract, check; its state saved each step."""

    def __init__(self, run, store, options: RestoreOptions, say, sleep=time.sleep):
        self.run, self.settings, self.store = run, run.settings, store
        self.options, self.say, self.sleep = options, say, sleep
        rid = restorestate.request_id(options.path, options.all_molecules, options.dest)
        self.state_file = run.restore_state_file(rid)
        self.downloads = run.restore_downloads(rid)
        self.state = restorestate.load_state(self.state_file, options.request)

    def save(self):
        restorestate.save_state(self.state_file, self.state)

    def bag_state(self, plan):
        return self.state.bag(plan.key, plan.record["sha256"])

    def preflight(self, plans) -> dict:
        """Before anything is requested: every bag still needed is in the bucket,
        nothing is in the way. Returns key -> ObjectInfo of the bags to ask about."""
        heads = {}
        for plan in plans:
            state = self.bag_state(plan)
            if not (state.extracting or self.options.overwrite):
                self._refuse_conflicts(plan)
            if not (state.extracted or state.downloaded):
                heads[plan.key] = self.store.head(plan.key)
                if heads[plan.key] is None:
                    raise StateError(f"{plan.key}: not in the bucket; nothing was "
                                     "requested ('doit verify' checks every bag)")
                _check_object(plan, heads[plan.key])
        return heads

    def restore(self, plans) -> Outcome:
        heads = self.preflight(plans)
        pending, failed = [p for p in plans if not self.bag_state(p).extracted], {}
        floor = min_poll()
        interval = max(self.options.poll_seconds, floor)
        if self.options.wait and self.options.poll_seconds < floor and pending:
            self.say(f"--poll-seconds {self.options.poll_seconds:g}: waiting {floor:g} s "
                     f"between status checks at least ({MIN_POLL_ENV} sets the floor)")
        deadline = time.monotonic() + self.options.wait_hours * 3600
        while True:
            for plan in list(pending):
                try:
                    if self._step(plan, heads.pop(plan.key, None)):
                        pending.remove(plan)
                except GlacierError as err:
                    failed[plan.key] = str(err)
                    self.say(f"{plan.key}: {err}")
                    pending.remove(plan)
            if not pending or not self.options.wait or \
                    time.monotonic() + interval > deadline:
                break
            self.sleep(interval)
            interval = min(interval * 2, max(MAX_POLL, floor))
        self.save()
        if pending or failed:
            return Outcome(False, len(pending), failed)
        check = restorecheck.CheckResult()
        for plan in plans:
            check.add(restorecheck.check(self._manifest(plan), plan.wanted or _all,
                                         self._dest(plan)))
        self.state.finished = self.state.finished or iso_utc()
        self.save()
        if self.downloads.is_dir() and not any(self.downloads.iterdir()):
            self.downloads.rmdir()
        return Outcome(True, 0, {}, check)

    def _step(self, plan, info) -> bool:
        """Move one bag on as far as it goes now; True once it is extracted."""
        state = self.bag_state(plan)
        if state.downloaded and not self._file(plan, ".runs" if state.mode == "ranges"
                                               else "").exists():
            state.downloaded = False  # the download went missing: fetch it again
        if not state.downloaded:
            info = info or self.store.head(plan.key)
            if info is None:
                raise StateError(f"{plan.key}: not in the bucket; 'doit verify' checks "
                                 "every bag")
            _check_object(plan, info)
            if info.thaw_state == "archived":
                self.store.request_restore(plan.key, self.options.days, self.options.tier)
                state.thaw_requested, state.tier = iso_utc(), self.options.tier
                self.save()
                self.say(f"{plan.key}: thaw requested ({self.options.tier}, "
                         f"{cost.TIER_DELAY.get(self.options.tier, '?')})")
                info = self.store.head(plan.key) or info
            if info.thaw_state != "readable":
                since = f" since {state.thaw_requested}" if state.thaw_requested else ""
                self.say(f"{plan.key}: still thawing{since}")
                return False
        self._fetch(plan, state)
        self._extract(plan, state)
        return True

    def _fetch(self, plan, state) -> None:
        if not state.mode or plan.runs is None:
            state.mode = "whole" if plan.runs is None else "ranges"
        if state.mode == "ranges":
            try:
                download.download_runs(self.store, plan.key, plan.runs,
                                       self._file(plan, ".runs"))
            except download.DownloadError as err:
                self.say(f"{err}; downloading the whole bag instead")
                state.mode = "whole"
        if state.mode == "whole":
            download.download_bag(self.store, plan.key, self.downloads,
                                  plan.record["size"], plan.record["sha256"])
        state.downloaded = True
        self.save()

    def _extract(self, plan, state) -> None:
        dest = self._dest(plan)
        ours = state.extracting  # tar began before: what is in the way, it wrote
        if not (ours or self.options.overwrite):
            self._refuse_conflicts(plan)
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
            state.links = untar.extract(source, dest, plan.wanted,
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
        state.extracted = True
        self.save()
        for suffix in ("", ".runs", ".links"):
            self._file(plan, suffix).unlink(missing_ok=True)
        links = f"; {state.links} hard links restored as files" if state.links else ""
        self.say(f"{plan.key}: {how}, extracted into {dest}{links}")

    def _link_targets(self, plan, orphans):
        """For a ranged restore: the runs of the hard links' targets, downloaded."""
        names = {o.linkname for o in orphans}
        runs = memberindex.runs(memberindex.read_index(plan.index), names.__contains__,
                                plan.record["size"])
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

    def _manifest(self, plan) -> Path:
        return fetch_manifest(self.settings, self.store, plan.record)

    def _dest(self, plan) -> Path:
        return self.options.dest / plan.folder if plan.folder else self.options.dest

    def _file(self, plan, suffix: str) -> Path:
        return self.downloads / (Path(plan.key).name + suffix)


def _check_object(plan, info) -> None:
    """The object at the bag's key is the bag the inventory records (size, sha256
    metadata, CRC64NVME from the HEAD), before anything is thawed or read from it."""
    record = plan.record
    problem = bag_problem(info, record["size"], record.get("sha256"), None,
                          record.get("crc64nvme"))
    if problem:
        raise RestoreError(f"{plan.key}: {problem} (the inventory's bag was replaced "
                           "or damaged in the bucket); nothing was read from it. "
                           "'doit verify' checks every bag")


def _all(name: bytes) -> bool:
    return True
