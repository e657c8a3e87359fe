"""Extract with GNU tar: a whole bag, or only the members asked for, sparse files kept
sparse, never over an existing file unless told to.

Only what was asked for is passed to tar (tarstream.copy_members), so tar never sees a
member it should not write. A hard link whose target was not asked for (restoring
`Photos/` when the file's first name is `Books/x`) cannot be made by tar: its target is
extracted on its own into a scratch folder inside the destination and linked into
place, so the link is restored as a regular file with the target's contents (links
among the restored files stay links).

A *source* is a callable that opens the tar bytes: `open_file(path)` for a local tar,
`open_age(path, identity)` for an age-encrypted one (decrypted on the way).
"""

import contextlib
import datetime
import os
import stat
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..formats import crypto, manifest, tarstream
from ..errors import RestoreError


class ExtractError(RestoreError):
    """tar could not write what was asked for (a file in the way, a full disk)."""


def open_file(path: Path):
    @contextlib.contextmanager
    def source():
        with open(path, "rb") as f:
            yield f, True
    source.path = path  # tar may read it itself
    return source


def open_age(path: Path, identity):
    @contextlib.contextmanager
    def source():
        with tempfile.TemporaryFile() as err:
            age = subprocess.Popen(crypto.decrypt_command(identity) + [str(path)],
                                   stdout=subprocess.PIPE, stderr=err)
            try:
                yield age.stdout, False
            finally:
                age.stdout.close()
                code = age.wait()
            if code != 0:
                err.seek(0)
                raise ExtractError(f"age could not decrypt {path.name}: "
                                   f"{err.read().decode(errors='replace').strip()}")
    return source


def source_for(path: Path, identity=None):
    """A local tar as a source, decrypted if it is age-encrypted."""
    with open(path, "rb") as f:
        encrypted = crypto.is_encrypted(f.read(len(crypto.MAGIC)))
    return open_age(path, identity) if encrypted else open_file(path)


def extract(source, dest: Path, wanted=None, overwrite: bool = False,
            targets=None) -> int:
    """tar -xS the members `wanted(name)` accepts (all with None) into dest. Hard links
    whose target was left out are rebuilt from `targets(links)`, a source holding
    their targets (by default the same source). Returns how many were rebuilt."""
    dest.mkdir(parents=True, exist_ok=True)
    if wanted is None and getattr(source, "path", None):
        _run_tar(dest, overwrite, None, source.path)
        return 0
    orphans = []
    with source() as (stream, seekable):
        if wanted is None:
            _run_tar(dest, overwrite, lambda stdin: shutil.copyfileobj(stream, stdin,
                                                                         1 << 20))
        else:
            _run_tar(dest, overwrite, lambda stdin: orphans.extend(
                tarstream.copy_members(stream, stdin, wanted, seekable)))
    if orphans:
        _link_orphans(targets(orphans) if targets else source, dest, orphans, overwrite)
    return len(orphans)


def _run_tar(dest: Path, overwrite: bool, feed, path: Path | None = None) -> None:
    """tar -xS into dest, from `path` or from what `feed(stdin)` writes."""
    keep = "--overwrite" if overwrite else "--keep-old-files"
    # --preserve-permissions: archived modes, not this process's owner-only umask
    command = ["tar", "-x", "-S", "--preserve-permissions", "-f", str(path or "-"), "-C",
               str(dest), keep]
    with tempfile.TemporaryFile() as err:
        tar = subprocess.Popen(command, stdin=subprocess.PIPE if feed else None,
                               stderr=err, env={**os.environ, "LC_ALL": "C"})
        try:
            if feed:
                feed(tar.stdin)
                tar.stdin.close()
        except BrokenPipeError:
            pass  # tar stopped early: its own message says why
        finally:
            if feed and not tar.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    tar.stdin.close()
            code = tar.wait()
        if code:
            err.seek(0)
            _raise(err.read().decode(errors="replace"), code)


def _raise(stderr: str, code: int):
    lines = [x for x in stderr.strip().splitlines() if "Exiting with failure" not in x]
    first = lines[0] if lines else f"tar exited with status {code}"
    if "exists" in first:
        raise ExtractError(f"{first}; nothing was overwritten (use --overwrite to "
                           "replace existing files)")
    raise ExtractError(f"extracting: {first}")


def set_folder_times(entries, dest: Path) -> int:
    """Give each folder entry (manifest Entries) its archived time again, as tar sets
    it: a later bag of a chain creates files in folders whose newest version an
    earlier bag held and set, and a refill writes into folders it does not extract;
    either moves the folder's time to now. The times are whole seconds, as GNU-format
    bags hold them. Returns how many folders were set."""
    root, count = os.fsencode(dest), 0
    for entry in entries:
        if not entry.folder:
            continue
        path = os.path.join(root, entry.name)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode):  # the user's link or file: not ours to touch
            continue
        when = datetime.datetime.fromisoformat(entry.mtime.removesuffix("Z")) \
            .replace(tzinfo=datetime.timezone.utc)
        seconds = (when - manifest.EPOCH) // datetime.timedelta(seconds=1)
        if seconds in (manifest.FIRST_SECOND, manifest.LAST_SECOND):
            continue  # a time the manifest rounded to its range: tar's is the true one
        if st.st_mtime_ns != seconds * 1_000_000_000:
            os.utime(path, ns=(st.st_atime_ns, seconds * 1_000_000_000),
                     follow_symlinks=False)
            count += 1
    return count


def _link_orphans(targets, dest: Path, orphans: list, overwrite: bool) -> None:
    """Extract the orphans' targets into a scratch folder in dest, link each orphan to
    its target's copy there, and leave the folders' times as tar set them."""
    wanted = {o.linkname for o in orphans}
    root = os.fsencode(dest)
    scratch = tempfile.mkdtemp(prefix=".glacier-links-", dir=dest)
    try:
        extract(targets, Path(scratch), wanted.__contains__, overwrite=True)
        for orphan in orphans:
            path = os.path.join(root, orphan.name)
            if not overwrite and os.path.lexists(path):
                raise ExtractError(f"{manifest.escape_name(orphan.name)}: exists; "
                                   "nothing was overwritten (use --overwrite to replace "
                                   "existing files)")
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            times = os.stat(folder)
            fresh = os.path.join(folder, b".glacier-link-" + str(os.getpid()).encode())
            os.link(os.path.join(os.fsencode(scratch), orphan.linkname),
                    fresh, follow_symlinks=False)
            os.replace(fresh, path)
            os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
