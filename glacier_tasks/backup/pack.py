"""Write one bag: a GNU tar of whole atoms, its checksums and its manifest.

GNU tar does the archiving (sparse files, hard links, long and odd names, special
files) from an explicit NUL-separated member list in our walk's order, so the bytes
are deterministic for unchanged files; Python hashes the stream on its way to disk and
reads it as tar (tarstream), in a thread, as it passes: each member's first header block
becomes the member index, each file's content sha256 its manifest line's checksum.

A bag holds exactly what its manifest lists, and nothing torn:
- an entry that vanished before tar reached it (tar names it on stderr) leaves the
  manifest and its atom's hash, as it left the tar;
- once tar is done every stored regular file is looked at again: if its size, mtime or
  ctime moved since the walk that listed it (borg's rule), tar may have stored a mix
  that never existed on disk. The bag is packed again once; if a file still moves, its
  atom is left out (it keeps its previous bag, and the run fails naming the file) and
  the bag's other atoms are packed once more without it; a bag whose every atom moves
  fails.
"""

import base64
import dataclasses
import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import marshal
import stat
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..formats import manifest, memberindex, tarstream
from . import scan
from ..errors import BagError
from ..units import human

CHUNK = 1 << 20
ATTEMPTS = 2  # a bag with a moving file is packed once more before it fails

# tar's messages (LC_ALL=C, names in its 'escape' quoting, ':' escaped too)
VANISHED = re.compile(rb"^tar: (.*): (?:Cannot (?:stat|open|readlink): (?:No such file "
                      rb"or directory|Not a directory)|File removed before we read it)$")
CHANGED = re.compile(rb"^tar: (.*): (?:file changed as we read it|"
                     rb"File shrank by \d+ bytes; padding with zeros)$")
SUMMARY = b"tar: Exiting with failure status due to previous errors"



@dataclass(frozen=True)
class PackedTar:
    tar_path: Path
    manifest_path: Path
    size: int
    sha256: str
    crc64nvme: str  # base64 of the big-endian CRC, as S3 reports it
    atom_hashes: dict  # atom key -> metadata hash of exactly what the tar holds
    atom_entries: dict  # atom key -> (entries, files) the tar holds: files are non-folders
    left_out: dict = dataclasses.field(default_factory=dict)  # atom key -> why not in it


@dataclass(frozen=True)
class TarRun:
    """What one run of tar wrote and said."""
    size: int
    sha256: str
    crc64nvme: str
    code: int
    errors: list  # messages that fail the bag (unreadable file, I/O error)
    vanished: set  # member names tar found gone before it read them
    changed: set  # member names tar itself saw change while reading


def staging_need(size: int) -> int:
    """Room for a bag planned at `size` bytes: that is GNU tar's own count (headers and
    padding included); age adds 16 bytes per 64 KiB chunk, and a MiB to spare."""
    return size + size // 2048 + (1 << 20)


def check_room(staging_dir: Path, bag_name: str, size: int) -> None:
    staging_dir.mkdir(parents=True, exist_ok=True)
    need = staging_need(size)
    free = shutil.disk_usage(staging_dir).free
    if free < need:
        raise BagError(f"{bag_name}: staging_dir {staging_dir} has {human(free)} "
                       f"free, the bag needs about {human(need)}; free some space "
                       "or point staging_dir elsewhere")


def pack_bag(bag, molecule_path, tar_path: Path, manifest_path: Path,
             progress=None, encrypt: list | None = None,
             remote: tuple | None = None) -> PackedTar:
    """Write the bag's tar and its manifest; temp names until complete. `bag` is a
    planned bag (name, molecule, atoms, size, files).

    With `encrypt` (an age command), the tar stream is encrypted on its way to disk:
    the staged file, its size and checksums are those of the ciphertext. With `remote`
    (ssh command, folder), tar runs on the molecule's host, in that folder; the walk
    and the checks still read the mount at molecule_path."""
    molecule_path = Path(molecule_path)
    check_room(tar_path.parent, bag.name, bag.size)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    partial = tar_path.with_name(tar_path.name + ".partial")
    draft = manifest_path.with_name(manifest_path.name + ".partial")
    left_out, packing = {}, bag
    try:
        for attempt in range(ATTEMPTS + 1):
            tar, (hashes, entries), moving = _pack_once(
                packing, molecule_path, partial, draft, progress, encrypt, remote)
            if not moving[1]:
                os.replace(draft, manifest_path)
                os.replace(partial, tar_path)
                memberindex.settle(tar_path, manifest_path, tar.sha256, bool(encrypt))
                return PackedTar(tar_path, manifest_path, tar.size, tar.sha256,
                                 tar.crc64nvme, hashes, entries, left_out)
            if attempt == ATTEMPTS - 1:
                # still moving: those atoms are left out (they keep their previous
                # bag), the others packed once more without them
                busy = [packing.atoms[i] for i in sorted(moving[2])]
                rest = [a for a in packing.atoms if a not in busy]
                if not rest:
                    break
                why = f"{_moving_text(molecule_path, moving)} changed while it was " \
                      f"read, twice"
                left_out = {a: why for a in busy}
                packing = dataclasses.replace(packing, atoms=rest)
    finally:
        partial.unlink(missing_ok=True)
        draft.unlink(missing_ok=True)
        memberindex.listing_for(partial).unlink(missing_ok=True)
    raise BagError(f"{bag.name}: {_moving_text(molecule_path, moving)} changed while it "
                   f"was read, twice; stop what writes it (or move it out of "
                   f"{bag.molecule}) and run backup again")


def write_manifest(bag, molecule_path, manifest_path: Path) -> dict:
    """Write only the manifest (the bag is already in the bucket); return atom hashes.
    Its lines carry no content checksum: without the tar, only the files could give
    one, and they may differ from what the bag holds."""
    molecule_path = Path(molecule_path)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    draft = manifest_path.with_name(manifest_path.name + ".partial")
    with tempfile.TemporaryFile() as records:
        _list_members(bag, molecule_path, os.devnull, records)
        (hashes, _), _ = _settle(bag, molecule_path, records, draft, set(), None)
    os.replace(draft, manifest_path)
    return hashes


def _pack_once(bag, molecule_path, partial, draft, progress, encrypt, remote=None):
    """Walk, run tar, look again: (TarRun, (atom hashes, atom entries), files that
    moved)."""
    staging_dir = partial.parent
    try:
        with tempfile.TemporaryDirectory(dir=staging_dir) as tmp:
            members = Path(tmp) / "members"
            stream = Path(tmp) / "stream"
            with open(Path(tmp) / "records", "w+b") as records:
                _list_members(bag, molecule_path, members, records)
                tar = _run_tar(molecule_path, members, partial, progress, encrypt, stream,
                               remote)
                _check_tar(bag, tar, encrypt)
                atoms, moving = _settle(bag, molecule_path, records, draft, tar.vanished,
                                        tar.changed, stream)
                memberindex.write_index(
                    ((offset, name) for offset, name, _ in _read_stream(stream)),
                    memberindex.listing_for(partial), tar.sha256)
    except OSError as err:  # the disk filled up anyway (another writer, a bad estimate)
        where = err.filename or staging_dir
        raise BagError(f"{bag.name}: writing {where} failed: {err.strerror}; the "
                       "partial bag was removed, free some space and run backup again") \
            from None
    return tar, atoms, moving


def _check_tar(bag, tar: TarRun, encrypt) -> None:
    """tar's status 1 (a file changed) and 2 with only vanished names are left to
    _settle; anything else fails the bag (a signal is a negative status)."""
    if tar.errors or tar.code not in (0, 1, 2) or \
            (tar.code == 2 and not (tar.vanished or tar.changed)):
        detail = tar.errors[0] if tar.errors else "age failed to encrypt the stream" \
            if tar.code == 3 and encrypt else f"tar exited with status {tar.code}"
        raise BagError(f"{bag.name}: {detail}; fix it and run backup again")


def _list_members(bag, molecule_path, members_file, records) -> None:
    """Walk the bag's atoms once: tar's member list, and a record of every entry (its
    lstat and its line in the atom hash) for _settle, on disk, not in memory."""
    with open(members_file, "wb") as names:
        for index, key in enumerate(bag.atoms):
            atom = scan.atom_name(bag.molecule, key)
            try:
                for rel, st in scan.walk_atom(molecule_path, atom):
                    if not stat.S_ISSOCK(st.st_mode):  # no archive format holds a socket
                        names.write(rel + b"\0")
                    # marshal: any int (an mtime past 2262 overflows 64 bits of ns)
                    line = scan.entry_record(molecule_path, rel, st)
                    marshal.dump((index, rel, st.st_mode, st.st_size, st.st_mtime_ns,
                                  st.st_ctime_ns, line), records)
            except OSError as err:  # refused, a dead mount inside (ENOTCONN), EIO
                raise BagError(_unreadable_text(bag, err)) from None


def _unreadable_text(bag, err: OSError) -> str:
    path = manifest.escape_name(os.fsencode(err.filename or "?"))
    if isinstance(err, PermissionError):
        return (f"{bag.name}: cannot read folder {path}: {err.strerror}; let the "
                "backup's user read it (or move it out of the molecule) and run backup "
                "again")
    return (f"{bag.name}: cannot read {path}: {err.strerror}; check that disk or mount "
            "(remount it, or move it out of the molecule) and run backup again")


def _read_records(records):
    """(atom index, name, (mode, size, mtime, ctime), line in the atom hash) each."""
    records.seek(0)
    while True:
        try:
            index, rel, *seen, line = marshal.load(records)
        except EOFError:
            return
        yield index, rel, tuple(seen), line


def _read_stream(path):
    """(offset, name, content sha256 or None) of each member, as the tar stream had them."""
    if path is None:
        return
    with open(path, "rb") as f:
        while True:
            try:
                yield marshal.load(f)
            except EOFError:
                return


def _settle(bag, molecule_path, records, draft, vanished, changed, stream=None):
    """Write the manifest of what the tar holds (with each file's content sha256 when
    the tar `stream` was read) and hash each atom the same way; with `changed` (a set,
    after tar), also count the stored files that moved since the walk: ((atom hashes,
    atom (entries, files)), (the first of them, how many, the indexes of their atoms))."""
    digests = [hashlib.sha256() for _ in bag.atoms]
    entries, files = [0] * len(bag.atoms), [0] * len(bag.atoms)
    first, count, atoms_moving = None, 0, set()
    root = os.fsencode(molecule_path)
    members = _read_stream(stream)
    member = next(members, None)  # the walk's order is the tar's, sockets aside
    with open(draft, "w", encoding="utf-8") as lines:
        for index, rel, seen, line in _read_records(records):
            if rel in vanished:
                continue  # not in the tar: not in its manifest, not in its hash
            digests[index].update(line)
            mode, content = seen[0], None
            entries[index] += 1
            files[index] += not stat.S_ISDIR(mode)
            note = "skipped: socket" if stat.S_ISSOCK(mode) else ""
            if member is not None and not note and member[1].rstrip(b"/") == rel:
                content, member = member[2], next(members, None)
            lines.write(manifest.entry_line(rel, mode, seen[1], seen[2], note, content))
            if changed is not None and stat.S_ISREG(mode) and \
                    _moved(os.path.join(root, rel), seen, rel in changed):
                first, count = first or rel, count + 1
                atoms_moving.add(index)
    hashes = {key: d.hexdigest() for key, d in zip(bag.atoms, digests)}
    return (hashes, dict(zip(bag.atoms, zip(entries, files)))), \
        (first, count, atoms_moving)


def _moved(path: bytes, seen: tuple, tar_saw_change: bool) -> bool:
    """Did a stored file move while it was read? One gone since is not torn: what tar
    read of it is all there was."""
    try:
        now = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # cannot be looked at again: cannot be trusted either
    return tar_saw_change or (now.st_size, now.st_mtime_ns, now.st_ctime_ns) != seen[1:]


def _moving_text(molecule_path, moving: tuple) -> str:
    first, count, _ = moving
    path = manifest.escape_name(os.path.join(os.fsencode(molecule_path), first))
    return path + (f" (and {count - 1} more files)" if count > 1 else "")


def _read_messages(err) -> tuple[list, set, set]:
    """Sort tar's stderr: errors that fail the bag, names gone, names changed."""
    errors, vanished, changed = [], set(), set()
    err.seek(0)
    for raw in err:
        line = raw.rstrip(b"\n")
        if not line.startswith(b"tar: ") or line == SUMMARY:
            continue
        if match := VANISHED.match(line):
            vanished.add(memberindex.unquote(match.group(1)))
        elif match := CHANGED.match(line):
            changed.add(memberindex.unquote(match.group(1)))
        else:
            errors.append(line.decode(errors="replace"))
    return errors, vanished, changed


def tar_command(folder: str, members: str) -> list[str]:
    return ["tar", "--create", "--format=gnu", "--sparse", "--no-recursion",
            "--directory", folder, "--null", "--verbatim-files-from", "--no-unquote",
            "--quoting-style=escape", "--files-from", members, "--file", "-"]


def _run_tar(molecule_path, members, partial, progress, encrypt=None,
             stream=None, remote=None) -> TarRun:
    command, names = tar_command(str(molecule_path), str(members)), None
    if remote:  # the member list goes over ssh's stdin
        ssh, folder = remote
        command = [*ssh, shlex.join(["env", "LC_ALL=C", *tar_command(folder, "-")])]
        names = open(members, "rb")
    from awscrt import checksums  # 50 ms to import: only a run that packs pays for it
    staged = _Staged(progress, checksums.crc64nvme)
    reader = _StreamReader(stream or os.devnull)
    with open(partial, "wb") as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                stdin=names, env={**os.environ, "LC_ALL": "C"})
        if names is not None:
            names.close()
        age = writer = None
        sink = lambda chunk: staged.write(chunk, out)  # noqa: E731
        if encrypt:
            age = subprocess.Popen(encrypt, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=err)
            writer = threading.Thread(target=staged.drain, args=(age.stdout, out))
            writer.start()
            sink = age.stdin.write
        reader.start()
        try:
            while chunk := proc.stdout.read(CHUNK):
                reader.feed(chunk)
                sink(chunk)
        except BrokenPipeError:
            pass  # age stopped: its status says so below
        finally:
            proc.stdout.close()
            reader.finish()
            code = proc.wait()
            if age is not None:
                _close_quietly(age.stdin)
                writer.join()
                if age.wait() != 0:
                    code = max(code, 3)  # a ciphertext cut short is never a finished bag
        if age is not None and staged.failure is not None:
            raise staged.failure
        if reader.error is not None:
            code = max(code, 4)  # the stream was not the tar it should be: never trusted
            staged.errors.append(f"reading the tar stream: {reader.error}")
        out.flush()
        os.fsync(out.fileno())
        errors, vanished, changed = _read_messages(err)
    crc64 = base64.b64encode(staged.crc.to_bytes(8, "big")).decode()
    return TarRun(staged.size, staged.sha.hexdigest(), crc64, code,
                  staged.errors + errors, vanished, changed)


def _close_quietly(pipe) -> None:
    try:
        pipe.close()
    except BrokenPipeError:
        pass


class _Staged:
    """The staged file's bytes as they are written: size, sha256, CRC64NVME, progress."""

    def __init__(self, progress, crc64nvme):
        self.sha, self.crc, self.size, self.errors = hashlib.sha256(), 0, 0, []
        self.progress, self.crc64nvme = progress, crc64nvme

    def write(self, chunk: bytes, out) -> None:
        self.sha.update(chunk)
        self.crc = self.crc64nvme(chunk, self.crc)
        out.write(chunk)
        self.size += len(chunk)
        if self.progress:
            self.progress(len(chunk))

    def drain(self, stream, out) -> None:
        """In a thread: age's output to disk; a write that fails (a full disk) is kept
        for the main thread to raise, and the rest is read so age is never stuck."""
        self.failure = None
        with stream:
            while chunk := stream.read(CHUNK):
                if self.failure is None:
                    try:
                        self.write(chunk, out)
                    except OSError as err:
                        self.failure = err


class _StreamReader(threading.Thread):
    """Reads the plaintext tar as it passes (through a pipe): each member's offset,
    name and content sha256, marshalled to `path` for the index and the manifest."""

    def __init__(self, path):
        super().__init__(daemon=True)
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # fewer switches, Linux only
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, CHUNK)
        self.source, self.sink = os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb")
        self.path, self.error = path, None

    def feed(self, chunk: bytes) -> None:
        self.sink.write(chunk)

    def finish(self) -> None:
        self.sink.close()
        self.join()

    def run(self) -> None:
        try:
            with open(self.path, "wb") as out:
                for header, digest in tarstream.content_digests(self.source):
                    marshal.dump((header.offset, header.name, digest), out)
        except (tarstream.TarStreamError, OSError) as err:
            self.error = err
        finally:
            while self.source.read(CHUNK):
                pass  # the rest (end blocks, padding) read, so the writer never waits
            self.source.close()
