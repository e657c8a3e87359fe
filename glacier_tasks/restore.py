"""Restore: thaw the bags a path needs, download what was asked for, extract and check it.

Words: a *target* is what one bag must give back (an atom, or a folder or a file in
one). A bag's *plan* says what is downloaded: only the byte *runs* of the members asked
for when the bag has a member index and is not encrypted (S3 still thaws the whole
object), else the whole bag. Pure parts first (targets, plans, the estimate), then the
loop, which keeps the request's state (restorestate) after every step so that running
the same command again skips what is done and finishes what became ready.
"""

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import config, cost, download, layout, memberindex, restorecheck, scan, statefile
from . import restorestate, untar
from .errors import ConfigError, GlacierError, StateError
from .find import local_manifest, member_exists
from .inventory import find_atom
from .report import human

TIER_DELAY = {"Bulk": "about 48 hours", "Standard": "about 12 hours",
              "Expedited": "1-5 minutes"}
TIER_HOURS = {"Bulk": 48, "Standard": 12, "Expedited": 1}
MIN_POLL_ENV = "GLACIER_MIN_POLL_SECONDS"
MIN_POLL, MAX_POLL = 60.0, 1800.0  # seconds between status checks: floor, ceiling


class RestoreError(GlacierError):
    """A restore cannot go on (a file in the way, bytes that do not check out)."""


@dataclass(frozen=True)
class Target:
    """What one bag gives back: a member path inside it (b"" with a loose atom: all
    its files), under `folder` of the destination (the molecule's, with --all)."""
    atom: str
    archive_key: str
    member: bytes
    whole: bool = False  # the whole atom
    folder: str = ""


def resolve_targets(inventory: dict, path: str) -> list[Target]:
    """The atoms (or the part of one) that a user's path names."""
    path = path.rstrip("/") or "/"
    atoms = inventory["atoms"]
    whole = [k for k, a in atoms.items() if a["molecule"].rstrip("/") == path.rstrip("/")]
    if whole:
        return [_target(k, atoms[k], k) for k in sorted(whole)]
    atom = find_atom(inventory, path)
    if atom is None:
        raise StateError(f"{path}: not in the inventory (no atom holds it); 'doit find "
                         "NAME' searches the manifests, 'restore --all' restores every "
                         "molecule")
    return [_target(atom, atoms[atom], path)]


def resolve_all(inventory: dict) -> list[Target]:
    """Every atom, each molecule under a folder of its own named by its slug."""
    atoms = inventory["atoms"]
    if not atoms:
        raise StateError("the inventory holds no atom: nothing to restore")
    folders = molecule_folders({a["molecule"] for a in atoms.values()})
    return [_target(k, a, k, folders[a["molecule"]]) for k, a in sorted(atoms.items())]


def molecule_folders(molecules) -> dict:
    """molecule -> its folder name under --to: its slug, with a short hash appended
    when two slugs collide (as the bags' keys do)."""
    slugs = {m: config.slugify(m) for m in molecules}
    taken = list(slugs.values())
    return {m: s if taken.count(s) == 1 else
            f"{s}-{hashlib.sha1(m.encode()).hexdigest()[:6]}" for m, s in slugs.items()}


def _target(atom: str, entry: dict, path: str, folder: str = "") -> Target:
    name = scan.atom_name(entry["molecule"], atom)
    if name == scan.LOOSE_ATOM:
        root = entry["molecule"].rstrip("/")
        member = path[len(root):].lstrip("/") if path != atom else ""
    else:
        rest = path[len(atom):].lstrip("/")
        member = f"{name}/{rest}" if rest else name
    return Target(atom, entry["archive_key"], os.fsencode(member), path == atom, folder)


def wanted(targets) -> callable:
    """name -> is it asked for? Names as tar and the manifest spell them (a folder
    ends in '/'); a member asked for brings everything under it."""
    members = {t.member for t in targets if t.member}
    loose = any(not t.member for t in targets)

    def accept(name: bytes) -> bool:
        if loose and b"/" not in name:
            return True
        base = name.rstrip(b"/")
        if base in members:
            return True
        cut = base.find(b"/")
        while cut != -1:
            if base[:cut] in members:
                return True
            cut = base.find(b"/", cut + 1)
        return False
    return accept


def tier_problem(tier: str, storage_classes) -> str | None:
    """Why this thaw tier cannot serve bags of these storage classes, or None."""
    if tier not in TIER_DELAY:
        return f"--tier {tier}: not a thaw tier; use Bulk (about 48 h, cheapest) or " \
               "Standard (about 12 h)"
    if tier == "Expedited" and "DEEP_ARCHIVE" in storage_classes:
        return "--tier Expedited: Deep Archive offers no Expedited tier; use Bulk " \
               "(about 48 h, cheapest) or Standard (about 12 h); only GLACIER class bags " \
               "may use it"
    return None


def check_members(settings, store, inventory: dict, targets) -> None:
    """A path inside an atom must be in its bag's manifest (fetched if needed)."""
    for t in targets:
        if t.whole or not t.member or t.member == os.fsencode(
                scan.atom_name(inventory["atoms"][t.atom]["molecule"], t.atom)):
            continue
        bag = inventory["bags"][t.archive_key]
        if not member_exists(local_manifest(settings, store, bag), t.member):
            raise StateError(f"{os.fsdecode(t.member)}: not in the manifest of "
                             f"{t.archive_key}; 'doit find' shows what was backed up")


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class BagPlan:
    key: str
    record: dict
    targets: tuple
    runs: tuple | None  # the byte runs to download; None: the whole bag
    why_whole: str = ""  # why the whole bag is downloaded
    index: Path | None = None

    @property
    def name(self) -> str:
        return layout.bag_name(self.key)

    @property
    def folder(self) -> str:
        return self.targets[0].folder

    @property
    def everything(self) -> bool:
        """Every atom of the bag is asked for: tar reads it all, nothing is left out."""
        return set(self.record.get("atoms", [])) <= {t.atom for t in self.targets
                                                     if t.whole}

    @property
    def wanted(self):
        return None if self.everything else wanted(self.targets)

    @property
    def download_size(self) -> int:
        return self.record["size"] if self.runs is None else \
            sum(r.size for r in self.runs)


def plan_bags(settings, store, inventory: dict, targets: list) -> list[BagPlan]:
    by_bag = {}
    for t in targets:
        by_bag.setdefault(t.archive_key, []).append(t)
    return [plan_bag(settings, store, key, inventory["bags"][key], tuple(mine))
            for key, mine in sorted(by_bag.items())]


def plan_bag(settings, store, key: str, record: dict, targets: tuple) -> BagPlan:
    """The runs to download, or why the whole bag is."""
    plan = BagPlan(key, record, targets, None)
    why = "every file in it is asked for" if plan.everything else \
        "encrypted: age has no random access" if record.get("encryption") else \
        "packed before bags had a member index" if not record.get("index_sha256") else ""
    if why:
        return BagPlan(key, record, targets, None, why)
    index = _index_file(settings, store, key, record)
    if index is None:
        return BagPlan(key, record, targets, None, "its member index is not the one "
                       "the inventory records")
    runs = memberindex.runs(memberindex.read_index(index), wanted(targets), record["size"])
    return BagPlan(key, record, targets, tuple(runs), "", index)


def _index_file(settings, store, key: str, record: dict) -> Path | None:
    """The bag's member index in manifest_dir, fetched from S3 Standard if needed; None
    if what the bucket holds is not what the inventory recorded."""
    index_key = layout.index_key(key)
    path = layout.local_manifest(settings.manifest_dir, index_key)
    if path.exists() and download.sha256_of(path) == record["index_sha256"]:
        return path
    data = store.get_bytes(index_key)
    if hashlib.sha256(data).hexdigest() != record["index_sha256"]:
        return None
    statefile.write_bytes(path, data)
    return path


def estimate_lines(plans: list[BagPlan], tier: str, prices) -> list[str]:
    """What the restore thaws and downloads, how long the thaw takes, what it costs."""
    lines = []
    for p in plans:
        size = human(p.record["size"])
        lines.append(f"  {p.key}  {size} to thaw; downloads " + (
            f"{human(p.download_size)}: only the members asked for" if p.runs is not None
            else f"all of it ({p.why_whole})"))
    thawed = sum(p.record["size"] for p in plans)
    fetched = sum(p.download_size for p in plans)
    figures = cost.restore_cost(thawed, len(plans), tier, prices, transfer_size=fetched)
    lines.append(f"{len(plans)} bags, {human(thawed)} to thaw, {human(fetched)} to "
                 f"download; {tier} thaw takes {TIER_DELAY.get(tier, '?')}; estimated "
                 f"cost ${figures['total']:.2f} (retrieval ${figures['retrieval']:.2f}, "
                 f"requests ${figures['requests']:.4f}, transfer out "
                 f"${figures['transfer']:.2f})")
    return lines


def min_poll() -> float:
    """The shortest wait between status checks; tests lower it with the variable."""
    text = os.environ.get(MIN_POLL_ENV)
    try:
        return MIN_POLL if text is None else max(0.0, float(text))
    except ValueError:
        raise ConfigError(f"{MIN_POLL_ENV}={text}: not a number of seconds") from None


# ---------------------------------------------------------------- the loop


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
    check: restorecheck.Check = None


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
        check = restorecheck.Check()
        for plan in plans:
            check.add(restorecheck.check(self._manifest(plan), plan.wanted or _all,
                                         self._dest(plan)))
        self.state.finished = self.state.finished or restorestate.now()
        self.save()
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
            if info.thaw_state == "archived":
                self.store.request_restore(plan.key, self.options.days, self.options.tier)
                state.thaw_requested, state.tier = restorestate.now(), self.options.tier
                self.save()
                self.say(f"{plan.key}: thaw requested ({self.options.tier}, "
                         f"{TIER_DELAY.get(self.options.tier, '?')})")
                info = self.store.head(plan.key) or info
            if info.thaw_state == "thawing":
                since = f" since {state.thaw_requested}" if state.thaw_requested else ""
                self.say(f"{plan.key}: still thawing{since}")
                return False
            if info.thaw_state == "archived":
                return False
        self._fetch(plan, state)
        self._extract(plan, state)
        return True

    def _fetch(self, plan, state) -> None:
        if not state.mode:
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
        state.links = untar.extract(source, dest, plan.wanted,
                                    self.options.overwrite or ours, targets)
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
            raise RestoreError(f"{dest / os.fsdecode(clash[0])}: exists{more}; nothing "
                               "was overwritten (use --overwrite to replace existing "
                               "files)")

    def _manifest(self, plan) -> Path:
        return local_manifest(self.settings, self.store, plan.record)

    def _dest(self, plan) -> Path:
        return self.options.dest / plan.folder if plan.folder else self.options.dest

    def _file(self, plan, suffix: str) -> Path:
        return self.downloads / (Path(plan.key).name + suffix)


def _all(name: bytes) -> bool:
    return True
