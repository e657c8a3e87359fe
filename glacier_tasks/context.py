"""What a run knows before any task runs: the settings, the molecules, the atoms now
on disk, and where the state lives. Loading it is where a bad config or list is found."""

import os

from . import crypto, scan, statefile
from .backup import plan_file
from .config import load_settings, read_molecules, today
from .errors import ConfigError

try:
    SETTINGS = load_settings()
    YEAR = today().year
    # an empty machine about to bootstrap has a config but no list yet: only the tasks
    # that read molecules fail on a missing list, with this message
    LIST_MISSING = None if SETTINGS.list_file.exists() else \
        f"{SETTINGS.list_file}: list file not found (one folder to back up per line)"
    MOLECULES = [] if LIST_MISSING else read_molecules(SETTINGS)
    if SETTINGS.encryption == "age":
        crypto.require_age()
    SETTINGS.state_dir.mkdir(parents=True, exist_ok=True)
except OSError as err:
    raise ConfigError(f"{err.filename}: {err.strerror}") from None

CONFIG_FILE = str(SETTINGS.config_file)
STATE_DIR = SETTINGS.state_dir
PLAN_FILE = plan_file(STATE_DIR)
REMOTE = [m for m in MOLECULES if m.remote]
REMOTE_FILE = STATE_DIR / "remote.json"
REMOTE_SPELLINGS = {m.spelling for m in REMOTE}
MAIN_PID = os.getpid()


def _find_atoms():
    """(molecule, atom name, atom key) of every atom now on disk, and missing reasons."""
    atoms, missing = [], {}
    for molecule in MOLECULES:
        if molecule.remote:
            continue  # its atoms are listed once it is mounted (task _mount)
        try:
            names = scan.list_atoms(molecule.path)
        except (FileNotFoundError, NotADirectoryError):
            missing[molecule.spelling] = f"folder {molecule.path} not found"
            continue
        except PermissionError:
            missing[molecule.spelling] = f"folder {molecule.path} cannot be read"
            continue
        atoms += [(molecule, name, scan.atom_key(molecule.spelling, name))
                  for name in names]
    return atoms, missing



ATOMS, MISSING = _find_atoms()


def remote_atoms():
    """(molecule, atom name, key) of the mounted remote molecules, and their failures."""
    found = statefile.read_json(REMOTE_FILE, default={}, what="remote atom list") \
        if REMOTE else {}
    atoms, missing = [], {}
    for molecule in REMOTE:
        entry = found.get(molecule.spelling, {"missing": "not mounted"})
        if "missing" in entry:
            missing[molecule.spelling] = entry["missing"]
            continue
        atoms += [(molecule, name, scan.atom_key(molecule.spelling, name))
                  for name in entry["atoms"]]
    return atoms, missing
