"""Downloads that survive an interruption: a whole bag, or only the byte runs of the
members asked for (see memberindex), appended to NAME.partial, whose length says
where a rerun goes on.

A whole bag must match the inventory's sha256. Runs cannot be hashed against anything,
so each member header in them is read back: its checksum must hold, its name be the one
the index gives at that place, and each run end where its last member does, or the runs
are not used (the whole bag is downloaded instead).
"""

import os
from pathlib import Path

from ..formats import tarstream
from ..formats.checksum import sha256_of
from ..bucket.objects import bag_problem
from ..errors import RestoreError, command

RANGE = 64 << 20  # one GET at most


class DownloadError(RestoreError):
    """The downloaded bytes are not the ones expected."""


def download_bag(store, key: str, folder: Path, size: int, sha256: str,
                 progress=None) -> Path:
    """Ranged GETs appended to NAME.tar.partial; the finished file must match the
    inventory's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / Path(key).name
    if done.exists() and done.stat().st_size == size and sha256_of(done) == sha256:
        return done
    partial = done.with_name(done.name + ".partial")
    _fetch(store, key, [(0, size)], partial, progress)
    if sha256_of(partial) != sha256:
        partial.unlink()
        raise DownloadError(f"{key}: downloaded bytes do not match the inventory's "
                            "sha256; deleted the download, run again to fetch it anew")
    os.replace(partial, done)
    return done


def download_runs(store, key: str, runs: list, path: Path, progress=None) -> Path:
    """The runs' bytes one after another in `path`, each member header checked."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    _fetch(store, key, [(r.start, r.end) for r in runs], partial, progress)
    try:
        check_runs(partial, runs)
    except tarstream.TarStreamError as err:
        partial.unlink()
        raise DownloadError(f"{key}: the member index does not match the bag ({err})") \
            from None
    os.replace(partial, path)
    return path


def check_runs(path: Path, runs: list) -> None:
    """Each member of each run starts where the index says, with the name it says."""
    with open(path, "rb") as f:
        reader, offset = tarstream.Reader(f, seekable=True), 0
        for run in runs:
            for member in run.members:
                expected = offset + member.start - run.start
                if reader.pos > expected:
                    raise tarstream.TarStreamError(f"the member before {member.name!r} "
                                                   "runs into it")
                reader.skip(expected - reader.pos)
                header = reader.next_header()
                if header is None or header.name != member.name:
                    found = "the end" if header is None else repr(header.name)
                    raise tarstream.TarStreamError(
                        f"{member.name!r} expected at byte {member.start}, found {found}")
                if _cut_link(header):
                    raise tarstream.TarStreamError(
                        f"{member.name!r}: its link target may start in a block before "
                        "the index's")
                reader.skip(header.data)
            offset += run.size
            if reader.pos > offset:
                raise tarstream.TarStreamError(f"a member runs past byte {run.end}")
            rest = reader.read(offset - reader.pos)  # the tar's end blocks at most
            if rest.strip(b"\0"):
                raise tarstream.TarStreamError(f"bytes before {run.end} belong to no "
                                               "member the index names")


def _cut_link(header) -> bool:
    """A link whose target fills the header's 100 bytes, with no long-link block read:
    an index made by GNU tar's --block-number starts it after that block (a target of
    exactly 100 bytes looks the same, and is fetched whole too)."""
    main = header.head[-tarstream.BLOCK:]
    return header.kind in (b"1", b"2") and b"\0" not in main[157:257] and \
        b"K" not in _kinds(header.head)


def _kinds(head: bytes) -> bytes:
    """The typeflags of the header blocks in `head` (data blocks of long names too,
    which is harmless here: only a K block's own data could hold more)."""
    return bytes(head[at + 156] for at in range(0, len(head), tarstream.BLOCK))


def _fetch(store, key: str, spans: list, partial: Path, progress) -> None:
    """Append the bytes of `spans` ((start, end) pairs) to partial, from where it ends."""
    have = partial.stat().st_size if partial.exists() else 0
    if progress:
        progress(have)
    with open(partial, "ab") as out:
        before = 0  # bytes of the spans before this one
        for start, end in spans:
            at = start + min(max(have - before, 0), end - start)
            before += end - start
            while at < end:
                got = 0
                for chunk in store.read_range(key, at, min(end, at + RANGE) - 1):
                    out.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(len(chunk))
                out.flush()
                if not got:
                    raise DownloadError(f"{key}: S3 sent no bytes from byte {at}; run "
                                        "again")
                at += got


def check_object(plan, info) -> None:
    """The object at the bag's key is the bag the inventory records (size, sha256
    metadata, CRC64NVME from the HEAD), before anything is thawed or read from it."""
    record = plan.record
    problem = bag_problem(info, record.size, record.sha256, None, record.crc64nvme)
    if problem:
        raise RestoreError(f"{plan.key}: {problem} (the inventory's bag was replaced "
                           "or damaged in the bucket); nothing was read from it. "
                           f"'{command('verify')}' checks every bag")
