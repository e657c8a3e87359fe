"""Entries that vanish during a walk or before tar reads them: skipped alone, and the
manifest lists exactly what the tar holds. Folders the user cannot read fail their
bag, naming the folder."""

import os
import tarfile

import pytest

from glacier_tasks.backup import pack as bag, scan
from glacier_tasks.formats import memberindex
from glacier_tasks.errors import BagError
from glacier_tasks.formats.layout import archive_key, bag_name, manifest_key
from glacier_tasks.formats.manifest import escape_name, read_entries
from glacier_tasks.backup.plan import PlannedBag

MOLECULE = "/data"
ODD = [b"new\nline", b"tab\there", b"back\\slash", b"col:on", b"not-utf8-\xff\xfe",
       b" spaces ", b"quote\"'`$", b"-dash", b"oct\\101al"]


def planned(root, *names) -> PlannedBag:
    scans = [scan.scan_atom(root, n) for n in names]
    key = archive_key(2026, "host", "data", "bag_001")
    return PlannedBag(name=bag_name(key), tar_id="bag_001", molecule=MOLECULE,
                      archive_key=key, manifest_key=manifest_key(key),
                      atoms=[scan.atom_key(MOLECULE, n) for n in names],
                      size=sum(s.size for s in scans), files=sum(s.files for s in scans),
                      action="upload")


def pack(root, tmp_path, names, progress=None):
    plan = planned(root, *names)
    return bag.pack_bag(plan, root, tmp_path / "stage" / f"{plan.name}.tar",
                        tmp_path / "manifests" / f"{plan.name}.txt", progress)


def members(tar_path) -> list[bytes]:
    with tarfile.open(tar_path, encoding="utf-8", errors="surrogateescape") as tar:
        return [os.fsencode(m.name) for m in tar.getmembers()]


def listed(manifest_path) -> list[bytes]:
    return [entry.name for entry in read_entries(manifest_path)]


# -- the walk ------------------------------------------------------------------------


def test_entry_gone_between_listing_and_stat_is_skipped_alone(tmp_path, monkeypatch):
    busy = tmp_path / "Busy"
    busy.mkdir()
    for n in range(50):
        (busy / f"f{n:02d}").write_text("x")
    real_scandir = os.scandir

    class Vanishing:  # a temp file deleted right after the folder was listed
        name = b"~tmp"

        def stat(self, follow_symlinks=True):
            raise FileNotFoundError(2, "No such file or directory")

    class Listing:
        def __init__(self, folder):
            self.inner = real_scandir(folder)

        def __enter__(self):
            return iter([Vanishing(), *self.inner])

        def __exit__(self, *exc):
            self.inner.close()

    monkeypatch.setattr(os, "scandir", Listing)
    walked = [rel for rel, _ in scan.walk_atom(tmp_path, "Busy")]
    assert walked == [b"Busy"] + [b"Busy/f%02d" % n for n in range(50)]
    assert scan.scan_atom(tmp_path, "Busy").files == 50


# -- tar -------------------------------------------------------------------------------


def odd_tree(tmp_path):
    root = tmp_path / "molecule"
    (root / "A" / "z").mkdir(parents=True)
    (root / "A" / "0big").write_bytes(os.urandom(3_000_000))  # tar is still in it...
    for name in ODD:  # ...when these go, after the first MB of the stream
        with open(os.path.join(os.fsencode(root / "A" / "z"), name), "wb") as f:
            f.write(b"odd\n")
    (root / "A" / "z" / "stays").write_text("kept\n")
    return root


def test_member_gone_before_tar_read_it_leaves_the_manifest_and_the_hash(tmp_path):
    root = odd_tree(tmp_path)
    folder = os.fsencode(root / "A" / "z")

    def delete_while_tar_reads_0big(_bytes):
        for name in ODD:
            if os.path.lexists(os.path.join(folder, name)):
                os.unlink(os.path.join(folder, name))

    walked = os.stat(folder)
    packed = pack(root, tmp_path, ["A"], delete_while_tar_reads_0big)
    stored = members(packed.tar_path)
    assert stored == [b"A", b"A/0big", b"A/z", b"A/z/stays"]
    assert listed(packed.manifest_path) == stored
    # the atom's hash is that of what the tar holds: the tree now, with its folder's
    # mtime as the walk saw it (the deletions moved it, so a rescan repacks the atom)
    atom = scan.atom_key(MOLECULE, "A")
    assert packed.atom_hashes[atom] != scan.scan_atom(root, "A").hash
    os.utime(folder, ns=(walked.st_atime_ns, walked.st_mtime_ns))
    assert packed.atom_hashes == {atom: scan.scan_atom(root, "A").hash}


def test_tar_quoted_names_read_back_to_their_bytes():
    for name in ODD + [b"\a\b\f\v\r", b"x" * 255, "été".encode()]:
        quoted = name.replace(b"\\", b"\\\\").replace(b":", b"\\:")
        for raw, text in ((b"\n", b"\\n"), (b"\t", b"\\t"), (b"\a", b"\\a"),
                          (b"\b", b"\\b"), (b"\f", b"\\f"), (b"\v", b"\\v"),
                          (b"\r", b"\\r")):
            quoted = quoted.replace(raw, text)
        quoted = b"".join(b"\\%03o" % c if c > 126 else bytes([c]) for c in quoted)
        assert memberindex.unquote(quoted) == name, quoted


# -- a folder the user cannot read -----------------------------------------------------


def test_unreadable_folder_fails_its_bag_naming_it(tmp_path, monkeypatch):
    root = odd_tree(tmp_path)
    plan = planned(root, "A")
    where = os.fsdecode(os.path.join(os.fsencode(root), b"A/caf\xe9"))

    def refused(molecule_path, atom):  # root reads everything: pretend
        yield b"A", os.lstat(root / "A")
        raise PermissionError(13, "Permission denied", where)

    monkeypatch.setattr(scan, "walk_atom", refused)
    with pytest.raises(BagError) as caught:
        bag.pack_bag(plan, root, tmp_path / "stage" / "b.tar", tmp_path / "m" / "b.txt")
    message = str(caught.value)
    assert f"cannot read folder {escape_name(os.fsencode(where))}: Permission denied" \
        in message and "\\xe9" in message
    message.encode("utf-8")  # printable under a strict UTF-8 output
    assert list((tmp_path / "stage").iterdir()) == []
    assert not (tmp_path / "m").exists() or list((tmp_path / "m").iterdir()) == []


def test_unreadable_atom_is_recorded_with_a_hash_that_never_matches(tmp_path):
    error = PermissionError(13, "Permission denied", str(tmp_path / "lost+found"))
    result = scan.unreadable_scan(error)
    hash_file = scan.hash_file_for(tmp_path / "state", "/data/lost+found")
    scan.write_atom_hash(tmp_path, "lost+found", "/data/lost+found", hash_file, result)
    record = scan.read_atom_hash(hash_file)
    assert record["unreadable"] == f"{tmp_path}/lost+found: Permission denied"
    assert record["hash"] == scan.UNREADABLE
    assert all(c not in "0123456789abcdef" for c in record["hash"][:2])  # never a digest
