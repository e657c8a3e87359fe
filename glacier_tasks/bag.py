"""Write one bag: a GNU tar of whole atoms, its checksums and its manifest.

GNU tar does the archiving (sparse files, hard links, long and odd names, special
files) from an explicit NUL-separated member list in our walk's order, so the bytes
are deterministic for unchanged files; Python hashes the stream on its way to disk.
The atoms are walked again after tar ends: an atom whose metadata moved meanwhile is
recorded as dirty, so the next run rebuilds it instead of trusting a torn copy.
"""

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import manifest, scan
from .errors import BagError

CHUNK = 1 << 20
TAR_OVERHEAD_PER_ENTRY = 1536  # header block, padding and a long-name block at worst
VANISHED = ("No such file or directory", "File removed before we read it")


@dataclass(frozen=True)
class PackedTar:
    tar_path: Path
    manifest_path: Path
    size: int
    sha256: str
    crc64nvme: str  # base64 of the big-endian CRC, as S3 reports it
    atom_hashes: dict  # atom key -> metadata hash of what went in ("dirty:" if torn)
    dirty: list


def staging_need(size: int, files: int) -> int:
    return size + files * TAR_OVERHEAD_PER_ENTRY + (1 << 20)


def check_room(staging_dir: Path, bag_name: str, size: int, files: int) -> None:
    staging_dir.mkdir(parents=True, exist_ok=True)
    need = staging_need(size, files)
    free = shutil.disk_usage(staging_dir).free
    if free < need:
        raise BagError(f"{bag_name}: staging_dir {staging_dir} has {free / 1e9:.2f} GB "
                       f"free, the bag needs about {need / 1e9:.2f} GB; free some space "
                       "or point staging_dir elsewhere")


def pack_bag(bag, molecule_path, tar_path: Path, manifest_path: Path,
             progress=None, encrypt: list | None = None) -> PackedTar:
    """Write the bag's tar and its manifest; temp names until complete. `bag` is a
    planned bag (name, molecule, atoms, size, files).

    With `encrypt` (an age command), the tar stream is encrypted on its way to disk:
    the staged file, its size and checksums are those of the ciphertext."""
    molecule_path = Path(molecule_path)
    staging_dir = tar_path.parent
    check_room(staging_dir, bag.name, bag.size, bag.files)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    partial = tar_path.with_name(tar_path.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(dir=staging_dir) as tmp:
            members = Path(tmp) / "members"
            before = _list_members(bag, molecule_path, members, manifest_path)
            size, sha, crc, errors, code = _run_tar(molecule_path, members, partial,
                                                    progress, encrypt)
    except OSError as err:  # the disk filled up anyway (another writer, a bad estimate)
        partial.unlink(missing_ok=True)
        where = err.filename or staging_dir
        raise BagError(f"{bag.name}: writing {where} failed: {err.strerror}; the "
                       "partial bag was removed, free some space and run backup again") \
            from None
    unreadable = [e for e in errors if not any(v in e for v in VANISHED)]
    if unreadable or code > 2:
        partial.unlink(missing_ok=True)
        detail = unreadable[0] if unreadable else "age failed to encrypt the stream" \
            if code == 3 and encrypt else f"tar exited with status {code}"
        raise BagError(f"{bag.name}: {detail}; fix it and run backup again")
    after = {k: _hash_atom(molecule_path, scan.atom_name(bag.molecule, k))
             for k in bag.atoms}
    torn = code != 0 and before == after
    dirty = sorted(k for k in bag.atoms if torn or before[k] != after[k])
    hashes = {k: (f"dirty:{before[k]}" if k in dirty else before[k]) for k in bag.atoms}
    os.replace(partial, tar_path)
    return PackedTar(tar_path, manifest_path, size, sha, crc, hashes, dirty)


def write_manifest(bag, molecule_path, manifest_path: Path) -> dict:
    """Write only the manifest (the bag is already in the bucket); return atom hashes."""
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    return _list_members(bag, Path(molecule_path), os.devnull, manifest_path)


def _list_members(bag, molecule_path, members_file, manifest_path) -> dict:
    """Write tar's member list and the manifest; return each atom's metadata hash."""
    hashes = {}
    tmp_manifest = manifest_path.with_name(manifest_path.name + ".partial")
    with open(members_file, "wb") as names, \
            open(tmp_manifest, "w", encoding="utf-8") as lines:
        for key in bag.atoms:
            digest = hashlib.sha256()
            for rel, st in scan.walk_atom(molecule_path, scan.atom_name(bag.molecule, key)):
                digest.update(scan.entry_record(molecule_path, rel, st))
                if stat.S_ISSOCK(st.st_mode):  # no archive format can hold a socket
                    lines.write(manifest.manifest_line(rel, st, note="skipped: socket"))
                    continue
                names.write(rel + b"\0")
                lines.write(manifest.manifest_line(rel, st))
            hashes[key] = digest.hexdigest()
    os.replace(tmp_manifest, manifest_path)
    return hashes


def _hash_atom(molecule_path, name) -> str:
    return scan.scan_atom(molecule_path, name).hash


def _is_summary(line: str) -> bool:
    return "changed as we read it" in line or "Exiting with failure status" in line


def _run_tar(molecule_path, members, partial, progress, encrypt=None):
    command = ["tar", "--create", "--format=gnu", "--sparse", "--no-recursion",
               "--directory", str(molecule_path), "--null", "--verbatim-files-from",
               "--no-unquote", "--files-from", str(members), "--file", "-"]
    from awscrt import checksums  # 50 ms to import: only a run that packs pays for it
    sha, crc, size = hashlib.sha256(), 0, 0
    with open(partial, "wb") as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                env={**os.environ, "LC_ALL": "C"})
        age = None
        stream = proc.stdout
        if encrypt:
            age = subprocess.Popen(encrypt, stdin=proc.stdout, stdout=subprocess.PIPE,
                                   stderr=err)
            proc.stdout.close()  # age holds the pipe now
            stream = age.stdout
        try:
            while chunk := stream.read(CHUNK):
                sha.update(chunk)
                crc = checksums.crc64nvme(chunk, crc)
                out.write(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
        finally:
            stream.close()
            code = proc.wait()
            if age is not None and age.wait() != 0:
                code = max(code, 3)  # a ciphertext cut short is never a finished bag
        out.flush()
        os.fsync(out.fileno())
        err.seek(0)
        errors = [line.strip() for line in err.read().decode(errors="replace")
                  .splitlines() if line.startswith("tar: ") and not _is_summary(line)]
    crc64 = base64.b64encode(crc.to_bytes(8, "big")).decode()
    return size, sha.hexdigest(), crc64, errors, code
