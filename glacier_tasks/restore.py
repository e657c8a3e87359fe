"""Restore: thaw the bags a path needs, download, verify and extract them.

Pure parts first (which bags a path needs, what state a bag is in from its HEAD), then
the I/O: a thaw request that is idempotent, a ranged download that resumes from what
is on disk, a sha256 check against the inventory, and GNU tar extracting with sparse
support, never over an existing file unless asked.
"""

import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import cost, crypto, manifest, scan
from .errors import GlacierError, StateError
from .find import local_manifest, member_exists
from .inventory import find_atom
from .report import human

TIER_DELAY = {"Bulk": "about 48 hours", "Standard": "about 12 hours",
              "Expedited": "1-5 minutes"}
TIER_HOURS = {"Bulk": 48, "Standard": 12, "Expedited": 1}
RANGE = 64 << 20


class RestoreError(GlacierError):
    """A restore cannot go on (a checksum, a conflict with an existing file)."""


@dataclass(frozen=True)
class Target:
    """What to extract from one bag: the member path inside it, or the whole atom."""
    atom: str
    archive_key: str
    member: bytes


def resolve_targets(inventory: dict, path: str) -> list[Target]:
    """The atoms (or the part of one) that a user's path names."""
    path = path.rstrip("/") or "/"
    atoms = inventory["atoms"]
    whole = [k for k, a in atoms.items() if a["molecule"].rstrip("/") == path.rstrip("/")]
    if whole:
        return [_target(k, atoms[k], k) for k in sorted(whole)]
    atom = find_atom(inventory, path)
    if atom is None:
        raise StateError(f"{path}: not in the inventory (no atom holds it); "
                         "'doit find NAME' searches the manifests")
    return [_target(atom, atoms[atom], path)]


def _target(atom: str, entry: dict, path: str) -> Target:
    name = scan.atom_name(entry["molecule"], atom)
    if name == scan.LOOSE_ATOM:
        folder = entry["molecule"].rstrip("/")
        member = path[len(folder):].lstrip("/") if path != atom else ""
    else:
        rest = path[len(atom):].lstrip("/")
        member = f"{name}/{rest}" if rest else name
    return Target(atom, entry["archive_key"], os.fsencode(member))


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


def download_bag(store, key: str, folder: Path, size: int, sha256: str,
                 progress=None) -> Path:
    """Ranged GETs appended to NAME.tar.partial, so a rerun continues where it
    stopped; the finished file must match the inventory's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / Path(key).name
    if done.exists() and done.stat().st_size == size and _sha256(done) == sha256:
        return done
    partial = done.with_name(done.name + ".partial")
    have = partial.stat().st_size if partial.exists() else 0
    if progress:
        progress(have)
    with open(partial, "ab") as out:
        while have < size:
            for chunk in store.read_range(key, have, min(size, have + RANGE) - 1):
                out.write(chunk)
                have += len(chunk)
                if progress:
                    progress(len(chunk))
            out.flush()
    if _sha256(partial) != sha256:
        partial.unlink()
        raise RestoreError(f"{key}: downloaded bytes do not match the inventory's sha256; "
                           "deleted the download, run again to fetch it anew")
    os.replace(partial, done)
    return done


def verify_file(path: Path, sha256: str | None) -> None:
    if sha256 and _sha256(path) != sha256:
        raise RestoreError(f"{path}: sha256 differs from the inventory's; not extracted")


def extract(tar_path: Path, dest: Path, members: list[bytes], overwrite: bool,
            identity: Path | None = None) -> None:
    """tar -xS into dest: whole atoms or the given members, sparse files kept sparse.
    An age-encrypted bag is decrypted on the way (`age -d -i KEY BAG | tar -xS`)."""
    dest.mkdir(parents=True, exist_ok=True)
    keep = ["--overwrite"] if overwrite else ["--keep-old-files"]
    with open(tar_path, "rb") as f:
        encrypted = crypto.is_encrypted(f.read(len(crypto.MAGIC)))
    source = b"-" if encrypted else os.fsencode(tar_path)
    command = [b"tar", b"-x", b"-S", b"-f", source, b"-C",
               os.fsencode(dest), *[k.encode() for k in keep], b"--"] + members
    env = {**os.environ, "LC_ALL": "C"}
    if encrypted:
        age = subprocess.Popen(crypto.decrypt_command(identity) + [str(tar_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        result = subprocess.run(command, stdin=age.stdout, capture_output=True, env=env)
        age.stdout.close()
        if age.wait() != 0:
            raise RestoreError(f"age could not decrypt {tar_path.name}: "
                               f"{age.stderr.read().decode(errors='replace').strip()}")
    else:
        result = subprocess.run(command, capture_output=True, env=env)
    if result.returncode:
        errors = result.stderr.decode(errors="replace").strip().splitlines()
        first = errors[0] if errors else f"tar exited with status {result.returncode}"
        if "exists" in first:
            raise RestoreError(f"{first}; nothing was overwritten (use --overwrite to "
                               "replace existing files)")
        raise RestoreError(f"extracting {tar_path.name}: {first}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def members_for(targets: list[Target], manifest_path: Path) -> list[bytes]:
    """tar member arguments: a loose atom's files are the bag's top-level files."""
    members = []
    for t in targets:
        if t.member:
            members.append(t.member)
            continue
        with open(manifest_path, encoding="utf-8") as lines:
            for line in lines:
                name = manifest.parse_line(line)[0]
                if b"/" not in name:
                    members.append(name)
    return members


def check_members(targets: list[Target], manifest_path: Path, atoms: dict) -> None:
    for t in targets:
        if t.atom in atoms and t.member and \
                os.fsencode(scan.atom_name(atoms[t.atom]["molecule"], t.atom)) != t.member \
                and not member_exists(manifest_path, t.member):
            raise StateError(f"{os.fsdecode(t.member)}: not in the manifest of "
                             f"{t.archive_key}; 'doit find' shows what was backed up")


def thaw_plan_lines(bags: dict, options: RestoreOptions, prices) -> list[str]:
    total = sum(b["size"] for b in bags.values())
    figures = cost.restore_cost(total, len(bags), options.tier, prices)
    lines = [f"  {key}  {human(b['size'])}" for key, b in sorted(bags.items())]
    lines.append(f"{len(bags)} bags, {human(total)}; {options.tier} thaw takes "
                 f"{TIER_DELAY.get(options.tier, '?')}; estimated cost "
                 f"${figures['total']:.2f} (retrieval ${figures['retrieval']:.2f}, "
                 f"requests ${figures['requests']:.4f}, transfer out "
                 f"${figures['transfer']:.2f})")
    return lines


def restore_from_bucket(settings, store, inventory: dict, targets: list[Target],
                        options: RestoreOptions, downloads: Path, say,
                        sleep=time.sleep) -> bool:
    """Thaw, wait (with --wait), download, verify, extract. True once all is restored."""
    pending = {t.archive_key for t in targets}
    interval, deadline = options.poll_seconds, time.monotonic() + options.wait_hours * 3600
    while True:
        for key in sorted(pending):
            state = (store.head(key) or _missing(key)).thaw_state
            if state == "archived":
                store.request_restore(key, options.days, options.tier)
                say(f"{key}: thaw requested ({options.tier}, "
                    f"{TIER_DELAY.get(options.tier, '?')})")
                state = (store.head(key) or _missing(key)).thaw_state
            if state == "thawing":
                say(f"{key}: still thawing")
            else:
                _fetch_and_extract(settings, store, inventory, key, targets, options,
                                   downloads, say)
                pending.discard(key)
        if not pending:
            say(f"Restored {options.path} into {options.dest}")
            return True
        if not options.wait or time.monotonic() + interval > deadline:
            hours = TIER_HOURS.get(options.tier, 48)
            say(f"{len(pending)} bags still thawing; run the same command again in about "
                f"{hours} h (or add --wait)")
            return False
        sleep(interval)
        interval = min(interval * 2, 1800)


def _missing(key):
    raise StateError(f"{key}: not in the bucket; 'doit verify' checks every bag")


def _fetch_and_extract(settings, store, inventory, key, targets, options, downloads, say):
    bag = inventory["bags"][key]
    tar = download_bag(store, key, downloads, bag["size"], bag["sha256"])
    manifest_path = local_manifest(settings, store, bag)
    mine = [t for t in targets if t.archive_key == key]
    extract(tar, options.dest, members_for(mine, manifest_path), options.overwrite,
            settings.age_identity_file)
    tar.unlink()
    say(f"{key}: downloaded, sha256 checked, extracted")
