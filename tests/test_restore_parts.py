"""The parts of a restore without S3: the member index GNU tar writes while packing,
reading members out of a tar stream, extracting only what was asked for (hard links
cut off from their target included), resumable downloads, the request's state, the
check against the manifest, and the pure choices (what is wanted, folders, estimate)."""

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from glacier_tasks.restore import (download, plan as restore, check as restorecheck,
                                   restorer, state as restorestate, extract as untar)
from glacier_tasks.formats import manifest, memberindex, tarstream
from glacier_tasks.formats.records import BagRecord
from glacier_tasks.errors import ConfigError, RestoreError

ODD = [b"A/tab\there", b"A/new\nline", b"A/bad\xff\xfe", b"A/back\\slash",
       b"A/colon: x", b"A/arrow -> y", "A/été".encode(), b"A/" + b"L" * 150,
       b"A/ctl\x01"]


def make_tree(root: Path) -> list[bytes]:
    """Odd names, a long one, a sparse file, a symlink, hard links, an empty folder;
    returns the members in walk order, as the bag's member list gives them to tar."""
    top = os.fsencode(root)
    os.makedirs(os.path.join(top, b"A", b"sub"))
    members = [b"A", b"A/first.bin"]
    with open(os.path.join(top, b"A/first.bin"), "wb") as f:
        f.write(os.urandom(3000))
    for name in ODD:
        with open(os.path.join(top, name), "wb") as f:
            f.write(name * 3)
        members.append(name)
    with open(os.path.join(top, b"A/sparse.img"), "wb") as f:
        f.seek(5_000_000)
        f.write(b"end")
    os.symlink(b"./" * 60 + b"first.bin", os.path.join(top, b"A/link"))  # a long link
    os.link(os.path.join(top, b"A/first.bin"), os.path.join(top, b"A/sub/hard1"))
    os.link(os.path.join(top, b"A/first.bin"), os.path.join(top, b"A/sub/hard2"))
    os.makedirs(os.path.join(top, b"A/sub/empty"))
    (root / "B").mkdir()
    (root / "B" / "b.txt").write_text("b\n")
    return members + [b"A/sparse.img", b"A/link", b"A/sub", b"A/sub/hard1",
                      b"A/sub/hard2", b"A/sub/empty", b"B", b"B/b.txt"]


@pytest.fixture
def packed(tmp_path):
    """A tar written as pack.py writes it, with its index."""
    root = tmp_path / "src"
    root.mkdir()
    members = make_tree(root)
    names = tmp_path / "members"
    names.write_bytes(b"".join(m + b"\0" for m in members))
    tar = tmp_path / "bag.tar"
    subprocess.run(["tar", "--create", "--format=gnu", "--sparse", "--no-recursion",
                    "--directory", str(root), "--null", "--verbatim-files-from",
                    "--no-unquote", "--quoting-style=escape", "--files-from", str(names),
                    "--file", str(tar)], check=True, env={**os.environ, "LC_ALL": "C"})
    index = tmp_path / "bag.idx"
    with open(tar, "rb") as stream:  # read as pack.py reads the stream
        memberindex.write_index([(h.offset, h.name) for h, _ in
                                 tarstream.content_digests(stream)], index, "ab" * 32)
    assert memberindex.mismatch(index, tar) is None
    return root, tar, index


def offsets_by_python(tar: Path) -> dict:
    with tarfile.open(tar, encoding="utf-8", errors="surrogateescape") as t:
        return {os.fsencode(m.name): m.offset for m in t.getmembers()}


# ---------------------------------------------------------------- the member index


def test_the_index_gives_every_member_where_python_tarfile_finds_it(packed):
    _, tar, index = packed
    assert memberindex.bag_of(index) == "ab" * 32
    members = memberindex.read_index(index)
    by_python = offsets_by_python(tar)
    assert [m.name.rstrip(b"/") for m in members] == list(by_python)
    assert {m.name.rstrip(b"/"): m.start for m in members} == by_python
    assert b"A/sub/" in {m.name for m in members}  # a folder keeps its '/'
    assert b"A/" + b"L" * 150 in {m.name for m in members}
    text = index.read_text(encoding="utf-8")
    assert "A/tab\\there" in text and "A/new\\nline" in text and "\\xff\\xfe" in text
    assert not memberindex.listing_for(tar).exists()


def test_runs_cover_the_members_asked_for_and_gnu_tar_extracts_them(packed, tmp_path):
    root, tar, index = packed
    members = memberindex.read_index(index)
    wanted = restore.wanted([restore.Target("a", "k", b"A/sub"),
                             restore.Target("a", "k", b"A/arrow -> y")])
    runs = memberindex.runs(members, wanted, tar.stat().st_size)
    assert [len(r.members) for r in runs] == [1, 4]
    data = tar.read_bytes()
    stream = b"".join(data[r.start:r.end] for r in runs)
    out = tmp_path / "out"
    out.mkdir()
    copied = io.BytesIO()
    orphans = tarstream.copy_members(io.BytesIO(stream), copied, wanted)
    assert [(o.name, o.linkname) for o in orphans] == [(b"A/sub/hard1", b"A/first.bin"),
                                                       (b"A/sub/hard2", b"A/first.bin")]
    subprocess.run(["tar", "-x", "-S", "-f", "-", "-C", str(out)], input=copied.getvalue(),
                   check=True)
    assert sorted(os.listdir(out / "A")) == ["arrow -> y", "sub"]
    assert os.listdir(out / "A" / "sub") == ["empty"]  # the links are left to untar


def test_runs_of_nothing_and_of_the_last_member():
    members = [memberindex.Member(0, b"A/"), memberindex.Member(512, b"A/x"),
               memberindex.Member(2048, b"B/")]
    assert memberindex.runs(members, lambda n: False, 10240) == []
    [last] = memberindex.runs(members, lambda n: n.startswith(b"B"), 10240)
    assert (last.start, last.end, last.size) == (2048, 10240, 8192)


# ---------------------------------------------------------------- tar streams


def test_copy_members_keeps_sparse_long_and_odd_members_whole(packed, tmp_path):
    root, tar, _ = packed
    copied = io.BytesIO()
    with open(tar, "rb") as f:
        orphans = tarstream.copy_members(f, copied, lambda n: n.startswith(b"A/") and
                                         not n.startswith(b"A/sub/"), seekable=True)
    assert orphans == []  # the hard links are not asked for either
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-x", "-S", "-f", "-", "-C", str(out)], input=copied.getvalue(),
                   check=True)
    for name in ODD + [b"A/first.bin", b"A/sparse.img"]:
        with open(os.path.join(os.fsencode(out), name), "rb") as got, \
                open(os.path.join(os.fsencode(root), name), "rb") as source:
            assert got.read() == source.read(), name
    assert os.stat(out / "A" / "sparse.img").st_blocks * 512 < 100_000
    assert not (out / "A" / "sub").exists() and not (out / "B").exists()


def test_bytes_that_do_not_start_on_a_member_are_refused(packed):
    _, tar, _ = packed
    with pytest.raises(tarstream.TarStreamError, match="no tar header at byte 0"):
        list(tarstream.headers(io.BytesIO(tar.read_bytes()[100:]), False))


def test_header_numbers_in_octal_and_in_gnu_base_256():
    assert tarstream._number(b"00000001750\0") == 0o1750
    assert tarstream._number(b"\x80" + (10**12).to_bytes(11, "big")) == 10**12  # > 8 GB
    assert tarstream._number(bytes(12)) == 0


# ---------------------------------------------------------------- extraction


def test_hard_links_cut_off_from_their_target_come_back_as_files(packed, tmp_path):
    root, tar, _ = packed
    dest = tmp_path / "out"
    wanted = restore.wanted([restore.Target("a", "k", b"A/sub")])
    made = untar.extract(untar.open_file(tar), dest, wanted)
    assert made == 2
    first = (root / "A" / "first.bin").read_bytes()
    one, two = dest / "A" / "sub" / "hard1", dest / "A" / "sub" / "hard2"
    assert one.read_bytes() == two.read_bytes() == first
    assert os.stat(one).st_ino == os.stat(two).st_ino and os.stat(one).st_nlink == 2
    assert sorted(os.listdir(dest)) == ["A"] and sorted(os.listdir(dest / "A")) == ["sub"]
    # the folder keeps the time tar gave it, as the manifest says
    assert os.stat(dest / "A" / "sub").st_mtime == int(os.stat(root / "A" / "sub")
                                                       .st_mtime)


def test_extract_never_overwrites_unless_told(packed, tmp_path):
    _, tar, _ = packed
    dest = tmp_path / "out"
    (dest / "B").mkdir(parents=True)
    (dest / "B" / "b.txt").write_text("mine\n")
    wanted = restore.wanted([restore.Target("b", "k", b"B")])
    with pytest.raises(RestoreError, match="--overwrite"):
        untar.extract(untar.open_file(tar), dest, wanted)
    assert (dest / "B" / "b.txt").read_text() == "mine\n"
    untar.extract(untar.open_file(tar), dest, wanted, overwrite=True)
    assert (dest / "B" / "b.txt").read_text() == "b\n"


# ---------------------------------------------------------------- downloads


class Bytes:
    """A store holding one object; counts the bytes it sends."""

    def __init__(self, data: bytes):
        self.data, self.sent, self.gets = data, 0, 0

    def read_range(self, key, start, end):
        self.gets += 1
        chunk = self.data[start:end + 1]
        self.sent += len(chunk)
        yield chunk


def test_runs_download_resumes_and_checks_each_header(packed, tmp_path):
    _, tar, index = packed
    members = memberindex.read_index(index)
    runs = memberindex.runs(members, restore.wanted([restore.Target("a", "k", b"B")]),
                            tar.stat().st_size)
    store = Bytes(tar.read_bytes())
    path = tmp_path / "dl" / "bag.tar.runs"
    path.parent.mkdir()
    expected = b"".join(store.data[r.start:r.end] for r in runs)
    path.with_name(path.name + ".partial").write_bytes(expected[:700])  # a killed run
    assert download.download_runs(store, "k", runs, path) == path
    assert path.read_bytes() == expected and store.sent == len(expected) - 700
    shifted = [memberindex.Span(r.start + 512, r.end, r.members) for r in runs]
    with pytest.raises(RestoreError, match="member index does not match the bag"):
        download.download_runs(store, "k", shifted, tmp_path / "dl" / "other.runs")
    assert not (tmp_path / "dl" / "other.runs.partial").exists()


# ---------------------------------------------------------------- state and check


def test_state_round_trips_and_forgets_a_bag_of_other_contents(tmp_path):
    path = tmp_path / "restores" / "x.json"
    request = {"path": "/data/A", "all": False, "dest": "/r"}
    state = restorestate.load_state(path, request)
    state.bag("2026-backup/b.tar", "s1").downloaded = True
    restorestate.save_state(path, state)
    again = restorestate.load_state(path, request)
    assert again.bags["2026-backup/b.tar"].downloaded
    assert not again.bag("2026-backup/b.tar", "s2").downloaded  # a newer bag
    assert restorestate.load_state(path, {**request, "dest": "/other"}).bags == {}
    ids = {restorestate.request_id("/data/A", False, Path(d)) for d in ("/r", "/s")}
    assert len(ids) == 2
    assert restorestate.request_id("/data/A/", False, Path("/r")) in ids


def test_pending_states_say_each_bags_step_and_skip_the_finished(tmp_path):
    folder = tmp_path / "restores"
    request = {"path": "/data/A", "all": False, "dest": "/r"}
    state = restorestate.load_state(folder / "a.json", request)
    state.bag("k1", "s").extracted = True
    state.bag("k2", "s").downloaded = True
    state.bag("k3", "s").readable = "2027-02-02T00:00:00Z"
    state.bag("k4", "s").thaw_requested = "2027-02-01T09:00:00Z"
    state.bag("k5", "s").thaw_requested = "2027-02-01T08:00:00Z"
    state.bag("k6", "s")
    restorestate.save_state(folder / "a.json", state)
    done = restorestate.load_state(folder / "b.json", {**request, "dest": "/s"})
    done.finished = "2027-02-03T00:00:00Z"
    restorestate.save_state(folder / "b.json", done)
    (folder / "c.json").write_text("{half")  # its own restore names it, not the list
    [(rid, found)] = restorestate.pending_states(folder)
    assert rid == "a" and found.counts() == {"restored": 1, "downloaded": 1,
                                             "thawed": 1, "thawing": 2,
                                             "not requested": 1}
    assert found.thawing_since() == "2027-02-01T08:00:00Z"
    assert restorestate.pending_states(tmp_path / "none") == []


def test_the_command_that_continues_a_restore_pastes_as_it_is():
    options = restorer.RestoreOptions("/data/My Photos", Path("/r/it's"), "Standard",
                                      days=3, year=2025)
    line = restorestate.continue_command("/etc/g t/glacier.toml", options)
    assert line == ("GLACIER_CONFIG='/etc/g t/glacier.toml' glacier restore "
                    "'/data/My Photos' --to '/r/it'\"'\"'s' --yes --tier Standard "
                    "--days 3 --year 2025")
    everything = restorer.RestoreOptions("", Path("/r"), all_molecules=True)
    assert restorestate.continue_command("/g.toml", everything) == \
        "GLACIER_CONFIG=/g.toml glacier restore --all --to /r --yes"


def test_missing_names_what_was_deleted_since_the_restore(tmp_path):
    dest = tmp_path / "out"
    (dest / "A").mkdir(parents=True)
    (dest / "A" / "x").write_bytes(b"x")
    lines = ["A/\t0\t2001-01-01T00:00:00Z\n", "A/x\t1\t2001-01-01T00:00:00Z\n",
             "A/gone\t1\t2001-01-01T00:00:00Z\n", "B/\t0\t2001-01-01T00:00:00Z\n",
             "A/sock\t0\t2001-01-01T00:00:00Z\tskipped: socket\n"]
    path = tmp_path / "m.txt"
    path.write_text("".join(lines), encoding="utf-8")
    assert restorecheck.missing(path, lambda n: True, dest) == [b"A/gone", b"B"]
    assert restorecheck.missing(path, lambda n: n.startswith(b"A/x"), dest) == []


def test_check_names_what_differs_and_conflicts_find_what_is_in_the_way(tmp_path):
    dest = tmp_path / "out"
    (dest / "A" / "sub").mkdir(parents=True)
    when = 1_700_000_000
    for name, data in (("A/x", b"12345"), ("A/y", b"abc"), ("A/sub/z", b"")):
        (dest / name).write_bytes(data)
        os.utime(dest / name, (when, when))
    iso = manifest.iso_time(when * 10**9)
    lines = [f"A/\t0\t{iso}\n", f"A/x\t5\t{iso}\n", f"A/y\t4\t{iso}\n",
             f"A/sub/\t0\t{iso}\n", "A/sub/z\t0\t2001-01-01T00:00:00Z\n",
             f"A/gone\t1\t{iso}\n", f"A/sock\t0\t{iso}\tskipped: socket\n"]
    path = tmp_path / "m.txt"
    path.write_text("".join(lines), encoding="utf-8")
    result = restorecheck.check(path, lambda n: True, dest)
    assert (result.files, result.bytes) == (3, 8)
    assert result.bad == ["A/y: 3 bytes, the manifest says 4",
                          f"A/sub/z: modified {iso}, the manifest says "
                          "2001-01-01T00:00:00Z", "A/gone: missing"]
    assert restorecheck.summary(result).startswith("3 files, 8 B restored; 3 do not "
                                                   "match the manifest: A/y: 3 bytes")
    fine = restorecheck.check(path, lambda n: n == b"A/x", dest)
    assert restorecheck.summary(fine) == "1 file, 5 B restored, all match the " \
                                         "manifest"
    assert restorecheck.conflicts(path, lambda n: True, dest) == [b"A/x", b"A/y",
                                                                  b"A/sub/z"]


# ---------------------------------------------------------------- pure choices


def test_wanted_matches_whole_path_components_and_loose_files_only():
    named = restore.wanted([restore.Target("m/Books", "k", b"Books")])
    assert named(b"Books/") and named(b"Books/a/b") and named(b"Books")
    assert not named(b"Books2/x") and not named(b"Book")
    loose = restore.wanted([restore.Target("m/.", "k", b"")])
    assert loose(b"notes.txt") and not loose(b"Books/") and not loose(b"Books/x")


def test_molecule_folders_are_slugs_made_unique():
    folders = restore.molecule_folders(["/data/photos", "/data-photos", "/home/me"])
    assert folders["/home/me"] == "home-me"
    assert folders["/data/photos"] != folders["/data-photos"]
    assert all(f.startswith("data-photos-") for k, f in folders.items() if "photo" in k)


def test_estimate_bills_retrieval_for_the_bag_and_transfer_for_the_ranges():
    record = BagRecord(size=400 * 10**9, atoms=["m/A", "m/B"])
    targets = (restore.Target("m/A", "2026-backup/b.tar", b"A/x"),)
    runs = (memberindex.Span(0, 2 * 10**6, ()),)
    ranged = restore.BagFetch("2026-backup/b.tar", record, targets, runs)
    whole = restore.BagFetch("2026-backup/b.tar", record, targets, None,
                            "encrypted: age has no random access")
    few = restore.estimate_lines([ranged], "Bulk", {})
    assert "downloads 2.0 MB: only the members asked for" in few[0]
    assert "transfer out $0.00" in few[1] and "retrieval $1.00" in few[1]
    lots = restore.estimate_lines([whole], "Bulk", {})
    assert "downloads all of it (encrypted: age has no random access)" in lots[0]
    assert "transfer out $27.00" in lots[1]


def test_poll_floor_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(restorer.MIN_POLL_ENV, raising=False)
    assert restorer.min_poll() == 60
    monkeypatch.setenv(restorer.MIN_POLL_ENV, "0.5")
    assert restorer.min_poll() == 0.5
    monkeypatch.setenv(restorer.MIN_POLL_ENV, "soon")
    with pytest.raises(ConfigError, match="GLACIER_MIN_POLL_SECONDS=soon"):
        restorer.min_poll()
