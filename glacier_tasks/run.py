"""Run: what one invocation knows before any task runs, and where its state lives.

Built from the config path by `load_run` (cached: one per path and process), never at
import. It is the one owner of every local state path: a new state file gets its
name here. Reading it is where a bad config or list is found.
"""

import datetime
import functools
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from .formats import crypto, layout
from .backup import scan
from . import statefile
from .config import Molecule, Settings, load_settings, read_molecules, today
from .errors import ConfigError, command


class AtomRef(NamedTuple):
    molecule: Molecule
    name: str  # the folder's name inside the molecule ('.' for the loose files)
    key: str   # the atom's name in the inventory: MOLECULE/NAME


@dataclass(frozen=True)
class Run:
    settings: Settings
    molecules: tuple
    list_problem: str | None  # the list file is missing: commands that need it say so
    today: datetime.date
    store_override: object = None  # a test's bucket in memory (bucket/memory.py)

    @property
    def store(self):
        """The bucket (an objects.ObjectStore, and the S3 Store's bucket settings):
        one Store per bucket and process, or a test's. Every command and bag step takes
        it from here, never from store.store_for, so their rules are tested against
        memory."""
        if self.store_override is not None:
            return self.store_override
        from .bucket.store import store_for
        return store_for(self.settings)

    @property
    def year(self) -> int:
        return self.today.year

    @property
    def config_file(self) -> str:
        """What every task action is given (a string pickles for `doit -n`)."""
        return str(self.settings.config_file)

    @property
    def remote(self) -> list:
        return [m for m in self.molecules if m.remote]

    # every local state path, in one place

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "lock"

    @property
    def doit_db(self) -> Path:
        return self.state_dir / "doit-db.json"

    @property
    def plan_file(self) -> Path:
        return self.state_dir / "plan.json"

    @property
    def bootstrapped_file(self) -> Path:
        """There while the inventory is the bucket's (bootstrap) and no backup has yet
        put every file on disk into a bag: `prune --delete` waits for one."""
        return self.state_dir / "bootstrapped"

    @property
    def last_run_file(self) -> Path:
        """The last backup's, dry run's or verify's status (glacier_tasks/status.py)."""
        return self.state_dir / "last-run.json"

    @property
    def started_file(self) -> Path:
        """The newest backup's start (run id, time, pid): a backup whose end is not
        recorded in last-run.json did not finish (report/last_run.py)."""
        return self.state_dir / "backup-started.json"

    @property
    def report_file(self) -> Path:
        """Where `doit report` writes its page unless told: beside the inventory."""
        return self.settings.inventory_file.with_name("report.html")

    @property
    def remote_file(self) -> Path:
        """The atoms of the mounted remote molecules (written by the _mount task)."""
        return self.state_dir / "remote.json"

    @property
    def markers_dir(self) -> Path:
        return self.state_dir / "bags"

    @property
    def downloads_dir(self) -> Path:
        return self.state_dir / "downloads"

    @property
    def restores_dir(self) -> Path:
        """The restore requests' state files (see restore/state.py)."""
        return self.state_dir / "restores"

    def restore_state_file(self, request_id: str) -> Path:
        """One restore request's steps done (see restorestate)."""
        return self.restores_dir / f"{request_id}.json"

    def restore_downloads(self, request_id: str) -> Path:
        """Where that request's bags (or their members' runs) are downloaded."""
        return self.downloads_dir / request_id

    @property
    def dryrun_file(self) -> Path:
        return self.settings.inventory_file.with_name("inventory_dryrun.json")

    def hash_file(self, atom_key: str) -> Path:
        return scan.hash_file_for(self.state_dir, atom_key)

    @property
    def walk_file(self) -> Path:
        """What the last walk found: the atoms whose hash file is not what it saw."""
        return self.state_dir / "walk.json"

    @cached_property
    def progress(self):
        """What a person watching this run sees (bars, or timestamped lines in a log):
        one per Run, shared by the tasks that run in this process's threads."""
        from .backup.progress import Progress
        return Progress(self.settings)

    def marker_file(self, bag_name: str) -> Path:
        return self.markers_dir / f"{bag_name}.json"

    def failure_file(self, bag_name: str) -> Path:
        return self.state_dir / "failed" / f"{bag_name}.txt"

    @cached_property
    def fingerprint_key(self) -> bytes | None:
        """With encryption on, the key of the keyed hashes in object metadata (see
        crypto.fingerprint); made once, kept in the state folder, never uploaded."""
        if self.settings.encryption != "age":
            return None
        path = self.state_dir / "fingerprint.key"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            statefile.write_bytes(path, os.urandom(32))
            return path.read_bytes()

    def own_folders(self) -> dict:
        """setting -> the folder the tool keeps its own files in."""
        settings = self.settings
        return {"state_dir": self.state_dir, "staging_dir": settings.staging_dir,
                "manifest_dir": settings.manifest_dir, "mnt_base": settings.mnt_base}

    def tag_own_folders(self) -> None:
        """Make the state, staging, manifest and mount folders (each with a note saying
        whose they are), and keep them out of every walk. A configured folder that
        lies in a molecule and already holds files the tool did not make is refused:
        those files would never be backed up while it is configured."""
        for setting, folder in self.own_folders().items():
            tag = folder / scan.OWN_FOLDER_TAG
            if not tag.exists():
                self._refuse_foreign(setting, folder)
                folder.mkdir(parents=True, exist_ok=True)
                tag.write_text("glacier-tasks keeps its own files here (the setting "
                               f"{setting}); backups skip this folder while it is "
                               "configured\n")
        scan.keep_out(self.own_folders().values())

    def _refuse_foreign(self, setting: str, folder: Path) -> None:
        try:
            with os.scandir(folder) as entries:
                first = next(entries, None)
        except OSError:
            return  # not there yet (made now), or not a folder (mkdir says so)
        if first is None:
            return
        real = folder.resolve()
        for molecule in self.molecules:
            if molecule.remote or not molecule.path:
                continue
            inside = Path(molecule.path).resolve()
            if real == inside or inside in real.parents:
                raise ConfigError(
                    f"{setting} = {folder} is inside the molecule {molecule.spelling} "
                    f"and already holds files this tool did not make ({first.name}, ...): "
                    f"while it is {setting} they would never be backed up; point "
                    f"{setting} at a new or empty folder")

    def occupied_file(self, bag_name: str) -> Path:
        """A key of this bag found holding something else in the bucket: written once,
        it is never replaced, so the next plan packs the bag's atoms under a new name."""
        return self.occupied_dir / f"{bag_name}.json"

    @property
    def occupied_dir(self) -> Path:
        return self.state_dir / "occupied"

    def repair_file(self, bag_name: str) -> Path:
        """What this run repaired of a kept bag, for the closing report."""
        return self.state_dir / "repaired" / f"{bag_name}.txt"

    def mount_marker(self, molecule: Molecule) -> Path:
        return self.state_dir / "mounts" / f"{molecule.slug}.json"

    def bootstrap_dir(self, year: int) -> Path:
        return self.state_dir / "bootstrap" / str(year)

    def staged_tar(self, bag_name: str) -> Path:
        return self.settings.staging_dir / f"{bag_name}.tar"

    def manifest_file(self, key: str) -> Path:
        """The local copy of the manifest with this key."""
        return layout.local_manifest(self.settings.manifest_dir, key)

    # the atoms now on disk

    @cached_property
    def _local(self) -> tuple:
        atoms, missing = [], {}
        for molecule in self.molecules:
            if molecule.remote:
                continue  # its atoms are listed once it is mounted (task _mount)
            try:
                names = scan.list_atoms(molecule.path)
            except (FileNotFoundError, NotADirectoryError):
                missing[molecule.spelling] = f"folder {molecule.path} not found"
                continue
            except OSError as err:  # refused, a dead mount (ENOTCONN), a loop, EIO
                missing[molecule.spelling] = (f"folder {molecule.path} cannot be read: "
                                              f"{err.strerror}")
                continue
            atoms += [AtomRef(molecule, n, scan.atom_key(molecule.spelling, n))
                      for n in names]
        return atoms, missing

    @property
    def local_atoms(self) -> list:
        return self._local[0]

    @property
    def local_missing(self) -> dict:
        """molecule -> why its folder could not be listed."""
        return self._local[1]

    def remote_atoms(self) -> tuple[list, dict]:
        """The atoms of the mounted remote molecules, and why the others are missing;
        read afresh: _mount writes them during the run."""
        if not self.remote:
            return [], {}
        try:
            found = json.loads(self.remote_file.read_text())
        except (OSError, ValueError):
            found = {}
        atoms, missing = [], {}
        for molecule in self.remote:
            entry = found.get(molecule.spelling, {"missing": "not mounted"})
            if "missing" in entry:
                missing[molecule.spelling] = entry["missing"]
                continue
            atoms += [AtomRef(molecule, n, scan.atom_key(molecule.spelling, n))
                      for n in entry["atoms"]]
        return atoms, missing

    def require_list(self) -> None:
        if self.list_problem:
            raise ConfigError(self.list_problem)


@functools.lru_cache(maxsize=None)
def load_run(config_file: str) -> Run:
    """The Run of this config, read once per process."""
    settings = load_settings(Path(config_file))
    try:
        # an empty machine about to bootstrap has a config but no list yet: only the
        # commands that read molecules fail, with this message
        problem = None if settings.list_file.exists() else \
            f"{settings.list_file}: list file not found (one folder to back up per line)"
        molecules = () if problem else tuple(read_molecules(settings))
        if not problem and not molecules:  # never read as "everything was deleted"
            problem = f"{settings.list_file}: lists no folder to back up; add one per " \
                      f"line ('{command('drop')}' forgets a molecule on purpose)"
    except OSError as err:
        raise ConfigError(f"{err.filename}: {err.strerror}") from None
    if settings.encryption == "age":
        crypto.require_age()
    run = Run(settings, molecules, problem, today())
    scan.keep_out(run.own_folders().values())
    return run
