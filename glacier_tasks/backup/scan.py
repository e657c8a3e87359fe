"""Walk a molecule's atoms and hash their metadata (never their contents).

An atom's hash covers, for every entry in a fixed order: relative path, type, size,
mtime in ns, mode and symlink target. The same walk feeds the tar member list and the
manifest, so a hash taken while packing is comparable with the one taken by the scan.

An atom's size is what GNU tar will write for it (formats/tarsize.py): every member's
header and long names, each file's content in whole blocks, a sparse file's data only
(a thin disk image holds little); the apparent size (st_size summed) is kept beside it.
A bag is planned, staged and billed at the sum, so tiny files count their headers.
"""

import errno
import hashlib
import json
import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import statefile
from ..formats import tarsize
from ..formats.inventory import LOOSE_ATOM, atom_name  # noqa: F401 (the scan's words too)

KIND = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFIFO: "p",
        stat.S_IFSOCK: "s", stat.S_IFCHR: "c", stat.S_IFBLK: "b"}


UNREADABLE = "unreadable"  # the hash of an atom the user cannot read: never a digest


@dataclass(frozen=True)
class AtomScan:
    hash: str
    size: int  # bytes GNU tar writes for the atom's members: headers, names, data
    files: int
    apparent_size: int = 0  # st_size summed, for information
    unreadable: str = ""  # "<path>: Permission denied" (or any OSError) stopping the walk


def atom_key(molecule: str, name: str) -> str:
    """An atom's name in the inventory: the molecule as list.txt spells it, '/', folder."""
    return molecule.rstrip("/") + "/" + name


def list_atoms(molecule_path: Path) -> list[str]:
    """Atom names of a molecule: its real subfolders, plus '.' if files lie beside them."""
    names, loose = [], False
    with os.scandir(molecule_path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not _is_own_entry(entry):
                    names.append(entry.name)
            else:
                loose = True
    names.sort(key=os.fsencode)
    return names + [LOOSE_ATOM] if loose else names


def walk_atom(molecule_path: Path, atom: str):
    """Yield (relative path as bytes, lstat result) in a fixed order, parents first.

    Paths are bytes relative to the molecule folder, so they are the tar member names.
    A folder that vanishes during the walk is skipped; the hash then shows the change.
    """
    root = os.fsencode(molecule_path)
    if atom == LOOSE_ATOM:
        for name, st in _sorted_entries(root):
            if not stat.S_ISDIR(st.st_mode):
                yield name, st
        return
    name = os.fsencode(atom)
    try:
        st = os.lstat(os.path.join(root, name))
    except FileNotFoundError:
        return
    except OSError as err:  # a dead mount (ENOTCONN), a failing disk (EIO)
        raise OSError(err.errno, err.strerror, os.fsdecode(os.path.join(root, name))) \
            from None
    if stat.S_ISDIR(st.st_mode) and _own_folder(st):
        return
    yield name, st
    stack = [(name, iter(_sorted_entries(os.path.join(root, name))))]
    while stack:
        prefix, entries = stack[-1]
        for child, st in entries:
            rel = prefix + b"/" + child
            if stat.S_ISDIR(st.st_mode) and _own_folder(st):
                continue
            yield rel, st
            if stat.S_ISDIR(st.st_mode):
                stack.append((rel, iter(_sorted_entries(os.path.join(root, rel)))))
                break
        else:
            stack.pop()


OWN_FOLDER_TAG = ".glacier-tasks-own-folder"  # a note in each folder the tool made
_OWN = frozenset()  # (st_dev, st_ino) of the tool's configured folders, see keep_out


def keep_out(folders) -> None:
    """The tool's configured state, staging, manifest and mount folders, as they are
    now: never walked, never packed, even inside a molecule (a backed-up home folder
    with the state under ~/.local). Known by device and inode, never by a file inside:
    a tag file would hide any folder it was copied into, and a folder once configured
    would stay hidden after the config moved on. Set once per process, before the walk
    forks its workers."""
    global _OWN
    own = set()
    for folder in folders:
        try:
            st = os.stat(folder)
        except OSError:
            continue  # not made yet: nothing in it to keep out
        own.add((st.st_dev, st.st_ino))
    _OWN = frozenset(own)


def _own_folder(st) -> bool:
    return (st.st_dev, st.st_ino) in _OWN


def _is_own_entry(entry) -> bool:
    try:
        return _own_folder(entry.stat(follow_symlinks=False))
    except OSError:
        return False  # a dead mount as an atom: its walk says so, its bag fails alone


def _sorted_entries(folder: bytes) -> list:
    """A folder's (name, lstat) pairs by name. An entry gone between the listing and
    its stat (a busy folder's temp file) is skipped alone; the rest is still walked.
    Any other OSError (refused, a dead mount inside, EIO) is raised naming the path as
    text: the atom's scan records it and its bag fails, the other bags go on."""
    try:
        with os.scandir(folder) as it:
            found = list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as err:  # OSError(EACCES, ...) is still a PermissionError
        raise OSError(err.errno, err.strerror, os.fsdecode(folder)) from None
    entries = []
    for entry in found:
        try:
            entries.append((entry.name, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:
            continue
        except OSError as err:  # a dead mount point in this folder: ENOTCONN
            raise OSError(err.errno, err.strerror, os.fsdecode(entry.path)) from None
    entries.sort()
    return entries


def entry_record(molecule_path: Path, rel: bytes, st) -> bytes:
    """One entry's line in the atom hash; directories count no size (it is not content)."""
    mode = st.st_mode
    kind = KIND.get(stat.S_IFMT(mode), "?")
    size = st.st_size if kind in "fl" else 0
    target = b""
    if kind == "l":
        try:
            target = os.readlink(os.path.join(os.fsencode(molecule_path), rel))
        except OSError:
            target = b"?"
    return b"%s\0%s\0%d\0%d\0%o\0%s\n" % (rel, kind.encode(), size, st.st_mtime_ns,
                                          stat.S_IMODE(mode), target)


def scan_atom(molecule_path: Path, atom: str) -> AtomScan:
    """The hot loop of a no-change rerun: one lstat per entry, nothing kept."""
    digest = hashlib.sha256()
    size = apparent = files = 0
    root, links, name_field = os.fsencode(molecule_path), {}, tarsize.NAME_FIELD
    for rel, st in walk_atom(molecule_path, atom):
        mode = st.st_mode
        if mode & 0o170000 == stat.S_IFREG:  # the common case, without entry_record's calls
            length = st.st_size
            digest.update(b"%s\0f\0%d\0%d\0%o\0\n" % (rel, length, st.st_mtime_ns,
                                                        mode & 0o7777))
            if st.st_blocks * 512 < length or st.st_nlink > 1:  # sparse, or a hard link
                size += _odd_file(root, rel, st, links)
            elif len(rel) <= name_field:
                size += (length + 1023) & -512  # tarsize.member: header, content in blocks
            else:
                size += tarsize.member(len(rel), length)
            apparent += length
            files += 1
            continue
        digest.update(entry_record(molecule_path, rel, st))
        size += _other_member(rel, st, links)
        if not stat.S_ISDIR(mode):
            files += 1
    return AtomScan(digest.hexdigest(), size, files, apparent)


def member_bytes(root: bytes, rel: bytes, st, links: dict) -> int:
    """One entry's bytes in the tar (header, padding, sparse map; a later name of a
    hard link its header alone), as scan_atom counts them inline."""
    if stat.S_ISREG(st.st_mode):
        if st.st_blocks * 512 < st.st_size or st.st_nlink > 1:
            return _odd_file(root, rel, st, links)
        return tarsize.member(len(rel), st.st_size)
    return _other_member(rel, st, links)


def _odd_file(root: bytes, rel: bytes, st, links: dict) -> int:
    """A regular file's bytes in the tar when it is sparse or has other names."""
    first = _linked(links, rel, st)
    if first is not None:
        return tarsize.member(len(rel), 0, len(first))
    if st.st_blocks * 512 < st.st_size:  # what tar --sparse stores as sparse
        data, segments = _data_segments(os.path.join(root, rel), st)
        return tarsize.sparse_member(len(rel), data, segments)
    return tarsize.member(len(rel), st.st_size)


def _other_member(rel: bytes, st, links: dict) -> int:
    """Anything but a regular file: a folder's name ends in '/' in the tar, a symlink's
    target (its st_size bytes) may need a long-link member, a socket is never stored."""
    if stat.S_ISDIR(st.st_mode):
        return tarsize.member(len(rel) + 1)
    if stat.S_ISSOCK(st.st_mode):
        return 0
    first = _linked(links, rel, st)
    if first is not None:
        return tarsize.member(len(rel), 0, len(first))
    return tarsize.member(len(rel), 0, st.st_size if stat.S_ISLNK(st.st_mode) else 0)


def _linked(links: dict, rel: bytes, st) -> bytes | None:
    """The name an inode with several links was first met under in this atom, or None
    the first time: tar stores the later names as links to it, without content. (Across
    atoms of one bag tar links them too: the plan then counts a little more.)"""
    if st.st_nlink < 2:
        return None
    first = links.get((st.st_dev, st.st_ino))
    if first is None:
        links[(st.st_dev, st.st_ino)] = rel
    return first


def _data_segments(path: bytes, st) -> tuple[int, int]:
    """(data bytes, runs of data) of a sparse file, found as GNU tar finds them (SEEK_DATA,
    SEEK_HOLE; no blocks at all is one hole, unlooked at). No content is read. A file
    that cannot be opened, or a filesystem that cannot say, counts its allocated bytes
    as one run (tar names an unreadable file; the bag fails anyway)."""
    if st.st_blocks == 0:
        return 0, 0
    guess = min(st.st_blocks * 512, st.st_size), 1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return guess
    data = segments = offset = 0
    try:
        while offset < st.st_size:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            offset = min(os.lseek(fd, start, os.SEEK_HOLE), st.st_size)
            data, segments = data + max(offset - start, 0), segments + 1
    except OSError as err:
        if err.errno != errno.ENXIO:  # ENXIO: no data after offset, the rest is a hole
            return guess
    finally:
        os.close(fd)
    return data, segments


def unreadable_scan(err: OSError) -> AtomScan:
    """The scan of an atom whose walk was refused or failed (a dead mount, EIO): its
    hash never matches, so its bag is packed, and fails naming the path; the other
    atoms go on."""
    return AtomScan(UNREADABLE, 0, 0, 0, f"{err.filename}: {err.strerror}")


def scan_atoms(pairs: list, workers: int):
    """Yield ((molecule path, atom), AtomScan) for many atoms, on every core: the walk
    is mostly system calls and per-entry Python work, both of which parallelise. An
    atom that cannot be read yields its OSError instead of an AtomScan."""
    if workers < 2 or len(pairs) < 2:
        for pair in pairs:
            yield pair, _scan_pair(pair)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, len(pairs) // (workers * 8))
        yield from zip(pairs, pool.map(_scan_pair, pairs, chunksize=chunk))


def _scan_pair(pair):
    try:
        return scan_atom(*pair)
    except OSError as err:
        return err


def hash_path(state_dir: str, atom_key: str) -> str:
    """hash_file_for as a plain string: called once per atom on every run (10,000
    atoms: pathlib alone would cost a quarter of a second)."""
    digest = hashlib.sha256(atom_key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{state_dir}/atoms/{digest[:24]}.json"


def hash_file_for(state_dir: Path, atom_key: str) -> Path:
    """Where an atom's hash lives; named by a digest since atom names may be anything."""
    return Path(hash_path(str(state_dir), atom_key))


def atom_record(atom_key: str, result: AtomScan) -> dict:
    """What an atom's hash file holds."""
    record = {"atom": atom_key, "hash": result.hash, "size": result.size,
              "size_of": tarsize.FORMAT, "files": result.files,
              "apparent_size": result.apparent_size}
    if result.unreadable:
        record["unreadable"] = result.unreadable
    return record


def write_atom_hash(molecule_path: Path, atom: str, atom_key: str, hash_file: Path,
                    result: AtomScan | None = None) -> bool:
    """Scan one atom (unless already scanned); rewrite its hash file only if the result
    differs, so its mtime, which doit checks first, moves only on a change."""
    record = atom_record(atom_key, result or scan_atom(molecule_path, atom))
    if read_atom_hash(hash_file) == record:
        return False
    statefile.write_json(hash_file, record)
    return True


def walk_atoms(items: list, workers: int):
    """Yield (atom key, new record or None) for many atoms, on every core: each item is
    (molecule path, atom, atom key, hash file path), and None means its hash file
    already holds what the walk found. The comparison is made where the walk is, so
    an unchanged atom costs the main process nothing."""
    if workers < 2 or len(items) < 2:
        for item in items:
            yield item[2], _walk_item(item)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, len(items) // (workers * 8))
        yield from zip((item[2] for item in items),
                       pool.map(_walk_item, items, chunksize=chunk))


def _walk_item(item):
    molecule_path, atom, key, path = item
    try:
        result = scan_atom(molecule_path, atom)
    except OSError as err:
        # recorded, not raised: the bag holding this atom fails naming the folder,
        # every other bag goes on
        result = unreadable_scan(err)
    record = atom_record(key, result)
    try:
        with open(path, "rb") as f:
            if json.loads(f.read()) == record:
                return None
    except (OSError, ValueError):
        pass
    return record


OLD_OVERHEAD_PER_ENTRY = 1536  # a header and a long name, as staging once reserved


def planned_size(record: dict) -> int:
    """An atom's bytes in a bag, from its hash file. A file written before sizes counted
    tar's headers (no `size_of`) has the content alone: its size is a floor, a header
    and a long name per entry are added (the next walk rewrites the file anyway)."""
    if record.get("size_of") == tarsize.FORMAT:
        return record["size"]
    return record["size"] + (record.get("files", 0) + 1) * OLD_OVERHEAD_PER_ENTRY


def read_atom_hash(hash_file: Path) -> dict | None:
    try:
        return json.loads(hash_file.read_text())
    except (OSError, ValueError):
        return None
